"""DataTier: PostgreSQL (RDS), Redis (ElastiCache), the S3 buckets and the EKS cluster.

Everything sits in the network's data subnets behind the data security group (EKS: in the app
subnets), encrypted with the tier's customer-managed key. The RDS master password is created
and rotated by RDS in Secrets Manager, so it never enters Pulumi state. Redis has no password
at all: clients authenticate as the application user with a short-lived IAM token
(``grant_redis_connect`` grants it; docs/redis.md shows how to connect). The database
joins the AWS Backup plan through ``db_arn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.config import DataSettings
from components.core.base import log_group, managed_key, service_trust, stateful
from components.core.context import StackContext
from components.core.grants import Grants
from components.core.key_policy import (
    SECRETS_MANAGER_VALIDATION,
    by_name,
    for_aws_resource,
    key_policy,
    via,
)
from components.core.secure_bucket import (
    DOCUMENTS,
    LOGS,
    SecureBucket,
    SecureBucketArgs,
    bucket_arn,
)
from components.data_tier.backup import backup_role_arn
from components.data_tier.eks_cluster import EksClusterArgs, build_cluster
from components.data_tier.redis_cache import RedisArgs, RedisCache, build_redis

DB_PORT = 5432
DB_NAME = "phase_mirror"
DB_USERNAME = "phase_mirror_admin"
DB_LOG_EXPORTS = ("postgresql", "upgrade")
# The RSA 2048 G1 CA is valid until 2061; rds-ca-2019 expired in 2024.
DB_CA_CERTIFICATE = "rds-ca-rsa2048-g1"
DB_PARAMETERS = {
    "rds.force_ssl": "1",
    "log_min_duration_statement": "1000",  # slow-query log: statements over one second
    "log_statement": "ddl",  # "all" would copy every row value into the logs
    "shared_preload_libraries": "pg_stat_statements",
}
STATIC_DB_PARAMETERS = {"shared_preload_libraries"}
ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
MONITORING_INTERVAL_SECONDS = 60
BASELINES = "baselines"


@dataclass(frozen=True, kw_only=True)
class DataTierArgs:
    """Inputs of ``DataTier``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - settings: the RDS / Redis / EKS keys of the stack config (``DataSettings``).
    - vpc_id, app_subnet_ids, data_subnet_ids, data_security_group_id: from ``Network``.
    """

    stack: StackContext
    settings: DataSettings
    vpc_id: pulumi.Input[str]
    app_subnet_ids: Sequence[pulumi.Input[str]]
    data_subnet_ids: Sequence[pulumi.Input[str]]
    data_security_group_id: pulumi.Input[str]


# Secrets RDS creates for a DB instance's master user are named ``rds!db-<uuid>``
# ("Password management with Amazon RDS and AWS Secrets Manager").
RDS_MANAGED_NAMES = "rds!db-*"


def data_key_policy(stack: StackContext, baselines_bucket: str) -> str:
    """Who uses the data tier's key, each through the service that owns the data.

    - RDS acts for the principal who creates or changes the instance (kms:GenerateDataKey and
      kms:Decrypt through RDS, "Authorizing use of a customer managed key":
      https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html);
      storage, Performance Insights and snapshots then run on grants RDS creates.
    - The RDS-managed master-user secret is created under this key on the same principal's
      behalf: Secrets Manager's key-validation call, and GenerateDataKey for the versions it
      writes (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html,
      https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html);
      only the operators decrypt the master password, for break-glass access.
    - ElastiCache encrypts at rest on a grant per replication group and "does not support
      kms:ViaService" (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/at-rest-encryption.html),
      so grants are limited by kms:GrantIsForAWSResource instead of the calling service.
    - AWS Backup restores the database as its own role, creating the new instance's grants.
    - The baselines bucket: only the operators, through S3, for that bucket (with an S3 Bucket
      Key the encryption context is the bucket's ARN, "Encryption context" in
      https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
    """
    account_id, region, naming, deployers = (
        stack.account_id,
        stack.region,
        stack.naming,
        stack.deployers,
    )
    through_secrets_manager = via("secretsmanager", region)
    rds_secrets = {
        "StringLike": {
            "kms:EncryptionContext:SecretARN": (
                f"arn:aws:secretsmanager:{region}:{account_id}:secret:{RDS_MANAGED_NAMES}"
            )
        }
    }
    return key_policy(
        account_id,
        deployers,
        [
            *by_name(
                "DeployersAndBackupLetServicesGrantThemselvesUse",
                account_id,
                [*deployers.arns, backup_role_arn(account_id, naming)],
                ["kms:CreateGrant"],
                for_aws_resource(),
            ),
            *by_name(
                "DeployersUseThroughRds",
                account_id,
                deployers.arns,
                ["kms:GenerateDataKey", "kms:Decrypt"],
                via("rds", region),
            ),
            *by_name(
                "DeployersWriteRdsMasterSecret",
                account_id,
                deployers.arns,
                ["kms:GenerateDataKey"],
                through_secrets_manager,
                rds_secrets,
            ),
            *by_name(
                "DeployersValidateKeyForRdsMasterSecret",
                account_id,
                deployers.arns,
                ["kms:Decrypt"],
                through_secrets_manager,
                rds_secrets,
                {
                    "StringEquals": {
                        "kms:EncryptionContext:SecretVersionId": SECRETS_MANAGER_VALIDATION
                    }
                },
            ),
            *by_name(
                "OperatorsReadRdsMasterSecret",
                account_id,
                deployers.operators,
                ["kms:Decrypt"],
                through_secrets_manager,
                rds_secrets,
            ),
            *by_name(
                "OperatorsUseBaselinesThroughS3",
                account_id,
                deployers.operators,
                ["kms:GenerateDataKey", "kms:Decrypt"],
                via("s3", region),
                {
                    "StringEquals": {
                        "kms:EncryptionContext:aws:s3:arn": bucket_arn(baselines_bucket)
                    }
                },
            ),
        ],
    )


def log_delivery_statement(bucket_name: str, account_id: str) -> dict[str, object]:
    """S3 server access logging writes through the bucket policy (ACLs are off)."""
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn(bucket_name)}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


class DataTier(pulumi.ComponentResource):
    key: aws.kms.Key
    db: aws.rds.Instance
    redis: aws.elasticache.ReplicationGroup
    cache: RedisCache
    buckets: dict[str, SecureBucket]
    cluster: eks.Cluster | None

    def __init__(
        self, name: str, args: DataTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:DataTier", name, None, opts)
        protect = args.stack.protect
        self.key = managed_key(
            f"{name}-key",
            parent=self,
            stack=args.stack,
            alias_role="data",
            description=f"Data tier encryption for {args.stack.naming.physical('data')}",
            policy=data_key_policy(
                args.stack,
                args.stack.naming.bucket(BASELINES, args.stack.account_id, args.stack.region),
            ),
        )
        self.db = self._database(name, args)
        self.cache = build_redis(
            self,
            name,
            RedisArgs(
                naming=args.stack.naming,
                settings=args.settings,
                subnet_ids=args.data_subnet_ids,
                security_group_id=args.data_security_group_id,
                key_arn=self.key.arn,
                log_key_arn=args.stack.log_key,
                log_retention_days=args.stack.log_retention_days,
                protect=protect,
            ),
        )
        self.redis = self.cache.group
        self.buckets = self._buckets(name, args)
        self.cluster = (
            build_cluster(
                f"{name}-eks",
                EksClusterArgs(
                    stack=args.stack,
                    settings=args.settings,
                    vpc_id=args.vpc_id,
                    subnet_ids=args.app_subnet_ids,
                ),
                parent=self,
            )
            if args.settings.eks_enabled
            else None
        )
        self.register_outputs(
            {
                "dbEndpoint": self.db.endpoint,
                "redisEndpoint": self.redis.primary_endpoint_address,
                "redisUserName": self.cache.user.user_name,
                **{f"{k}BucketName": b.bucket.bucket for k, b in self.buckets.items()},
            }
        )

    def _log_group(self, name: str, physical: str, args: DataTierArgs) -> aws.cloudwatch.LogGroup:
        return log_group(
            name,
            physical,
            key_arn=args.stack.log_key,
            retention_days=args.stack.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _database(self, name: str, args: DataTierArgs) -> aws.rds.Instance:
        s, naming, protect = args.settings, args.stack.naming, args.stack.protect
        child = pulumi.ResourceOptions(parent=self)
        identifier = naming.physical("db")
        major = s.db_engine_version.split(".")[0]
        # The family is in the name so a major upgrade creates the new group beside the old one.
        params = aws.rds.ParameterGroup(
            f"{name}-db-params",
            name=naming.physical(f"db-postgres{major}"),
            family=f"postgres{major}",
            description="Phase Mirror PostgreSQL: TLS only, slow-query logging",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name=key,
                    value=value,
                    apply_method="pending-reboot" if key in STATIC_DB_PARAMETERS else "immediate",
                )
                for key, value in DB_PARAMETERS.items()
            ],
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-db-subnets",
            name=naming.physical("db"),
            description="Phase Mirror data subnets",
            subnet_ids=args.data_subnet_ids,
            opts=child,
        )
        monitoring = aws.iam.Role(
            f"{name}-db-monitoring-role",
            name=naming.physical("db-monitoring"),
            assume_role_policy=service_trust(
                "monitoring.rds.amazonaws.com",
                {"StringEquals": {"aws:SourceAccount": args.stack.account_id}},
            ),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-db-monitoring-policy",
            role=monitoring.name,
            policy_arn=ENHANCED_MONITORING_POLICY,
            opts=child,
        )
        # RDS would create these itself, unencrypted and kept forever: create them first.
        log_groups = [
            self._log_group(
                f"{name}-db-log-{export}", f"/aws/rds/instance/{identifier}/{export}", args
            )
            for export in DB_LOG_EXPORTS
        ]
        return aws.rds.Instance(
            f"{name}-db",
            identifier=identifier,
            engine="postgres",
            engine_version=s.db_engine_version,
            instance_class=s.db_instance_class,
            allocated_storage=s.db_allocated_storage_gb,
            max_allocated_storage=s.db_max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=self.key.arn,
            db_name=DB_NAME,
            username=DB_USERNAME,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=self.key.arn,
            iam_database_authentication_enabled=True,
            port=DB_PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[args.data_security_group_id],
            publicly_accessible=False,
            multi_az=s.db_multi_az,
            parameter_group_name=params.name,
            ca_cert_identifier=DB_CA_CERTIFICATE,
            backup_retention_period=s.db_backup_retention_days,
            backup_window=s.db_backup_window,
            maintenance_window=s.db_maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=not protect,
            deletion_protection=protect,
            skip_final_snapshot=not protect,
            final_snapshot_identifier=naming.physical("db-final") if protect else None,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=self.key.arn,
            performance_insights_retention_period=7,
            monitoring_interval=MONITORING_INTERVAL_SECONDS,
            monitoring_role_arn=monitoring.arn,
            enabled_cloudwatch_logs_exports=list(DB_LOG_EXPORTS),
            opts=pulumi.ResourceOptions.merge(
                stateful(self, protect),
                pulumi.ResourceOptions(depends_on=[attachment, *log_groups]),
            ),
        )

    def grant_redis_connect(self, grants: Grants) -> Grants:
        """Connect to Redis as the application user with an IAM token (docs/redis.md)."""
        return self.cache.grant_connect(grants)

    def _buckets(self, name: str, args: DataTierArgs) -> dict[str, SecureBucket]:
        naming, protect = args.stack.naming, args.stack.protect
        logs_name = naming.bucket("access-logs", args.stack.account_id, args.stack.region)
        access_logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                bucket_name=logs_name,
                # A server access log target takes SSE-S3 only (SecureBucketArgs.kms_key_arn).
                kms_key_arn=None,
                access_log_bucket=None,
                lifecycle=LOGS,
                extra_statements=[log_delivery_statement(logs_name, args.stack.account_id)],
                protect=protect,
                force_destroy=not protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        baselines = SecureBucket(
            f"{name}-baselines",
            SecureBucketArgs(
                bucket_name=naming.bucket(BASELINES, args.stack.account_id, args.stack.region),
                kms_key_arn=self.key.arn,
                access_log_bucket=access_logs.bucket.bucket,
                lifecycle=DOCUMENTS,
                protect=protect,
                force_destroy=not protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return {"accessLogs": access_logs, "baselines": baselines}

    @property
    def db_arn(self) -> pulumi.Output[str]:
        return self.db.arn
