"""The on-demand list prices ``tools.cost`` multiplies: us-east-1, USD, dated, one source each.

AWS's pricing pages cannot be reached from CI or from the machine this table was written on, so
each price records the AWS page it belongs to (``source``) and where the figure was checked here
(``checked``): a stored copy of an AWS page that states it, a third-party page that quotes it, or
"not found" when no stored page showed the figure. A price marked "not found" is the last
published figure known to the author; confirm it on ``source`` before quoting the total.

To update: change ``usd``, ``checked`` and ``AS_OF`` together, then rewrite the generated
document with ``python -m tools.cost --write-doc`` (tests/test_cost.py fails while it is stale).
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2026-12-03"
REGION = "us-east-1"
# The month of the AWS Pricing Calculator: hourly prices times 730.
HOURS_PER_MONTH = 730


@dataclass(frozen=True, kw_only=True)
class Price:
    """One list price: ``usd`` for each ``per`` (``per_units`` base units, 1 unless stated)."""

    usd: float
    per: str
    source: str
    checked: str
    per_units: float = 1

    def cost(self, quantity: float) -> float:
        """What ``quantity`` base units (hours, GB-months, events, ...) cost."""
        return quantity / self.per_units * self.usd


VPC = "https://aws.amazon.com/vpc/pricing/"
PRIVATELINK = "https://aws.amazon.com/privatelink/pricing/"
EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
EBS = "https://aws.amazon.com/ebs/pricing/"
EKS = "https://aws.amazon.com/eks/pricing/"
RDS = "https://aws.amazon.com/rds/postgresql/pricing/"
ELASTICACHE = "https://aws.amazon.com/elasticache/pricing/"
KMS = "https://aws.amazon.com/kms/pricing/"
CLOUDTRAIL = "https://aws.amazon.com/cloudtrail/pricing/"
SECRETS_MANAGER = "https://aws.amazon.com/secrets-manager/pricing/"
CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
BACKUP = "https://aws.amazon.com/backup/pricing/"
DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"

NOT_FOUND = "not found in the stored pages or docs"

PRICES: dict[str, Price] = {
    "nat-gateway": Price(
        usd=0.045,
        per="hour",
        source=VPC,
        checked="third-party: basavytix.com/blog/aws-nat-gateway-pricing ('$0.045/hr ... "
        "us-east-1 rates'), cloudpipelines.pages.dev NAT pricing 2026 ('$0.045/hr')",
    ),
    "public-ipv4": Price(
        usd=0.005,
        per="hour",
        source=VPC,
        checked="AWS networking blog 'Identify and optimize public IPv4 address usage' (charge "
        "from 2024-02-01, rate not in the stored excerpt); third-party: doit.com and "
        "cloudburn.io ('$0.005/hour per IP', NAT gateway addresses included)",
    ),
    "interface-endpoint": Price(
        usd=0.01,
        per="endpoint-AZ-hour",
        source=PRIVATELINK,
        checked="aws.amazon.com/privatelink/pricing (stored copy: billed per hour in each "
        "Availability Zone; the hourly figure is not rendered); third-party: egresscost.com "
        "('VPC Endpoint (Interface) $7.20/AZ' a month)",
    ),
    "eks-cluster": Price(
        usd=0.10,
        per="hour",
        source=EKS,
        checked="AWS containers blog 'Amazon EKS extended support for Kubernetes versions "
        "pricing' ('standard support ... $0.10 per cluster per hour')",
    ),
    "ec2:t3.medium": Price(
        usd=0.0416,
        per="hour",
        source=EC2,
        checked=f"{NOT_FOUND} (public code repositories quote $0.0416)",
    ),
    "ec2:t3.large": Price(
        usd=0.0832,
        per="hour",
        source=EC2,
        checked="third-party: gist.github.com/danjellesma T3 vs M5 ('$0.0832 hourly')",
    ),
    "ebs-gp2": Price(
        usd=0.10,
        per="GB-month",
        source=EBS,
        checked=f"{NOT_FOUND}; gp2 is the managed node group's volume type without a launch "
        "template (aws/containers-roadmap#1417)",
    ),
    "rds:db.t4g.medium": Price(
        usd=0.065,
        per="instance-hour",
        source=RDS,
        checked="third-party: infratally.com RDS pricing 2026 (PostgreSQL db.t4g.medium "
        "Single-AZ $0.065, Multi-AZ $0.130)",
    ),
    "rds:db.t4g.large": Price(
        usd=0.129,
        per="instance-hour",
        source=RDS,
        checked=f"{NOT_FOUND} (twice db.t4g.medium's $0.065, less a tenth of a cent)",
    ),
    "rds-gp3": Price(
        usd=0.115,
        per="GB-month",
        source=RDS,
        checked="third-party: usage.ai RDS pricing (June 2026: 'GB provisioned x $0.115/month "
        "(gp3)'); Multi-AZ bills primary and standby storage: docs.aws.amazon.com "
        "AmazonRDS USER_OnDemandDBInstances",
    ),
    "elasticache:cache.t4g.small": Price(
        usd=0.032,
        per="node-hour",
        source=ELASTICACHE,
        checked=f"{NOT_FOUND} (the stored aws.amazon.com/elasticache/pricing copy does not "
        "render the node table; public code repositories quote $0.032)",
    ),
    "elasticache:cache.t4g.medium": Price(
        usd=0.065,
        per="node-hour",
        source=ELASTICACHE,
        checked=f"{NOT_FOUND}; public code repositories disagree ($0.054-$0.065): kept at "
        "the higher",
    ),
    "kms-key": Price(
        usd=1.00,
        per="key-month",
        source=KMS,
        checked="aws.amazon.com/kms/pricing ('Each AWS KMS key that you create in KMS costs "
        "$1/month'; each rotated backing key adds $1/month)",
    ),
    "cloudtrail-paid-copy": Price(
        usd=2.00,
        per="100,000 events",
        per_units=100_000,
        source=CLOUDTRAIL,
        checked="aws.amazon.com/cloudtrail/pricing ('The first copy of management events is "
        "delivered free of charge. Additional copies ... $2.00 per 100,000 events')",
    ),
    "secret": Price(
        usd=0.40,
        per="secret-month",
        source=SECRETS_MANAGER,
        checked="api-evangelist transcription of aws.amazon.com/secrets-manager/pricing "
        "('$0.40 per secret/month'); RDS-managed secrets bill as any secret: "
        "docs.aws.amazon.com AmazonRDS rds-secrets-manager",
    ),
    "alarm-metric": Price(
        usd=0.10,
        per="alarm metric-month",
        source=CLOUDWATCH,
        checked="third-party: c3x.dev aws_cloudwatch_metric_alarm ('$0.10/alarm-month for "
        "standard resolution'); that a metric-math alarm bills each metric: " + NOT_FOUND,
    ),
    "alarm-metric-high-resolution": Price(
        usd=0.30,
        per="alarm metric-month",
        source=CLOUDWATCH,
        checked="third-party: c3x.dev aws_cloudwatch_metric_alarm ('High-resolution alarms "
        "(10s) cost $0.30/month')",
    ),
    "dashboard": Price(
        usd=3.00,
        per="dashboard-month",
        source=CLOUDWATCH,
        checked="third-party: factualminds.com CloudWatch pricing ('dashboards at $3 each')",
    ),
    "custom-metric": Price(
        usd=0.30,
        per="metric-month",
        source=CLOUDWATCH,
        checked="third-party: signoz.io CloudWatch pricing ('$0.30/month for the first 10,000')",
    ),
    "log-ingestion": Price(
        usd=0.50,
        per="GB",
        source=CLOUDWATCH,
        checked="third-party: factualminds.com ('Logs ingestion at $0.50/GB'), c3x.dev "
        "aws_cloudwatch_log_group (vended logs such as flow logs: same ingestion price)",
    ),
    "backup-dynamodb": Price(
        usd=0.10,
        per="GB-month",
        source=BACKUP,
        checked="third-party: factualminds.com AWS Backup pricing (June 2026: 'DynamoDB "
        "on-demand backup ... $0.10 / GB-month warm')",
    ),
    "backup-rds": Price(
        usd=0.095,
        per="GB-month",
        source=BACKUP,
        checked="third-party: usage.ai RDS pricing ('backup storage above the provisioned DB "
        "size x ~$0.095/GB-month'); free up to 100% of provisioned storage: AWS database "
        "blog 'Demystifying Amazon RDS backup storage costs'",
    ),
    "dynamodb-write": Price(
        usd=0.625,
        per="million write request units",
        per_units=1_000_000,
        source=DYNAMODB,
        checked="third-party: airbyte.com DynamoDB pricing (after the November 2024 cut: "
        "'$0.625 per million write request units')",
    ),
    "dynamodb-read": Price(
        usd=0.125,
        per="million read request units",
        per_units=1_000_000,
        source=DYNAMODB,
        checked="third-party: airbyte.com DynamoDB pricing ('$0.125 per million read request "
        "units')",
    ),
}
