"""The three-tier VPC, its routes, security groups, flow logs and endpoints; the subnet math."""
