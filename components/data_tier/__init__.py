"""RDS PostgreSQL, Redis, the S3 buckets, the EKS cluster and the AWS Backup plan."""
