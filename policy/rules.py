"""Phase Mirror's mandatory infrastructure rules, as plain functions.

The CrossGuard pack (``policy/__main__.py``) and the offline preview (``tools/preview.py``) run
these same functions; this module is their registry (names, descriptions, types), the rules
live in ``resource_rules.py`` and ``stack_rules.py``, the value readers in ``values.py``. A resource rule takes ``(type, props, ctx)`` with ``props`` the resource's
inputs in the engine's camelCase and returns violation messages; a stack rule takes every
resource of the stack (``Subject``) and returns ``(urn, message)`` pairs. The module uses only
the standard library, so it runs in the pack's own virtualenv unchanged.

Unknown values (a real preview does not know outputs of resources not yet created) reach the
rules as ``UNKNOWN`` after ``plain``. Each rule decides:
- where only a reference is required (a KMS key ARN, a log group name), an unknown value is a
  reference to a resource of this program and counts as set;
- where the rule needs the content (a flag, a number, a CIDR, a policy document), it raises
  ``Undecidable``: the pack turns that into CrossGuard's "can't run policy during preview"
  advisory, and the engine runs the rule again with the known value before it creates the
  resource during ``pulumi up``, where a violation still blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy.resource_rules import (
    DELETION_FLAGS,
    EKS_LOG_TYPES,
    MIN_RDS_BACKUP_DAYS,
    REQUIRED_TAGS,
    STATEFUL_TYPES,
    cloudtrail,
    deletion_protection,
    eks_hardening,
    encryption_with_cmk,
    kms_rotation,
    lambda_environment,
    log_retention,
    no_world_ingress,
    point_in_time_recovery,
    rds_hardening,
    required_tags,
    s3_public_access_block,
    s3_tls_only,
    s3_versioning,
)
from policy.stack_rules import (
    BUCKET_COMPANIONS,
    BUCKET_TYPES,
    buckets_complete,
    functions_have_log_groups,
    refers_to,
    sse_s3_only_on_log_targets,
    web_ingress_only_on_lb,
)
from policy.values import (
    SECRET_SIG,
    SECRET_SIG_KEY,
    UNKNOWN,
    UNKNOWN_SENTINELS,
    Context,
    Subject,
    Undecidable,
    effective_tags,
    environment_of,
    get,
    is_set,
    plain,
)

__all__ = [
    "BUCKET_COMPANIONS",
    "BUCKET_TYPES",
    "EKS_LOG_TYPES",
    "RESOURCE_RULES",
    "SECRET_SIG",
    "SECRET_SIG_KEY",
    "STACK_RULES",
    "UNKNOWN",
    "UNKNOWN_SENTINELS",
    "Context",
    "ResourceCheck",
    "ResourceRule",
    "StackRule",
    "Subject",
    "Undecidable",
    "Violation",
    "buckets_complete",
    "check_resource",
    "check_stack",
    "cloudtrail",
    "deletion_protection",
    "effective_tags",
    "eks_hardening",
    "encryption_with_cmk",
    "environment_of",
    "functions_have_log_groups",
    "get",
    "is_set",
    "kms_rotation",
    "lambda_environment",
    "log_retention",
    "no_world_ingress",
    "plain",
    "point_in_time_recovery",
    "rds_hardening",
    "refers_to",
    "required_tags",
    "s3_public_access_block",
    "s3_tls_only",
    "s3_versioning",
    "web_ingress_only_on_lb",
]  # fmt: skip

ResourceCheck = Callable[[str, Mapping[str, Any], Context], list[str]]
StackCheck = Callable[[Sequence[Subject]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    types: frozenset[str]
    check: ResourceCheck

    def applies(self, type_: str) -> bool:
        return type_ in self.types or ("*" in self.types and type_.startswith("aws:"))


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: StackCheck


# --- the pack ------------------------------------------------------------------------------

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "encryption-with-customer-managed-keys",
        "DynamoDB, S3, RDS, Redis (at rest and in transit), SNS, log groups, secrets and SSM "
        "parameters are encrypted with a customer-managed KMS key.",
        frozenset(
            {
                "aws:dynamodb/table:Table",
                *BUCKET_COMPANIONS["KMS encryption configuration"],
                "aws:rds/instance:Instance",
                "aws:rds/cluster:Cluster",
                "aws:elasticache/replicationGroup:ReplicationGroup",
                "aws:elasticache/cluster:Cluster",
                "aws:sns/topic:Topic",
                "aws:cloudwatch/logGroup:LogGroup",
                "aws:secretsmanager/secret:Secret",
                "aws:ssm/parameter:Parameter",
            }
        ),
        encryption_with_cmk,
    ),
    ResourceRule(
        "dynamodb-point-in-time-recovery",
        "DynamoDB tables have point-in-time recovery on.",
        frozenset({"aws:dynamodb/table:Table"}),
        point_in_time_recovery,
    ),
    ResourceRule(
        "deletion-protection-in-production",
        "In production, stateful resources carry AWS deletion protection and Pulumi protect.",
        frozenset({*DELETION_FLAGS, *STATEFUL_TYPES}),
        deletion_protection,
    ),
    ResourceRule(
        "s3-public-access-block",
        "S3 public access blocks set all four flags.",
        frozenset(
            {
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
            }
        ),
        s3_public_access_block,
    ),
    ResourceRule(
        "s3-versioning",
        "S3 versioning configurations are Enabled.",
        frozenset(BUCKET_COMPANIONS["versioning"]),
        s3_versioning,
    ),
    ResourceRule(
        "s3-tls-only",
        "S3 bucket policies deny requests without TLS.",
        frozenset({"aws:s3/bucketPolicy:BucketPolicy"}),
        s3_tls_only,
    ),
    ResourceRule(
        "kms-key-rotation",
        "Symmetric KMS keys rotate yearly.",
        frozenset({"aws:kms/key:Key"}),
        kms_rotation,
    ),
    ResourceRule(
        "cloudtrail-multi-region-validated",
        "CloudTrail trails are multi-region, logging, with log file validation and a CMK.",
        frozenset({"aws:cloudtrail/trail:Trail"}),
        cloudtrail,
    ),
    ResourceRule(
        "no-ingress-from-anywhere",
        "Security groups accept traffic from 0.0.0.0/0 or ::/0 only on ports 80 and 443.",
        frozenset(
            {
                "aws:ec2/securityGroup:SecurityGroup",
                "aws:ec2/securityGroupRule:SecurityGroupRule",
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            }
        ),
        no_world_ingress,
    ),
    ResourceRule(
        "rds-private-iam-auth-backups",
        f"RDS is not public, uses IAM authentication and keeps {MIN_RDS_BACKUP_DAYS}+ days of backups.",
        frozenset(
            {
                "aws:rds/instance:Instance",
                "aws:rds/cluster:Cluster",
                "aws:rds/clusterInstance:ClusterInstance",
            }
        ),
        rds_hardening,
    ),
    ResourceRule(
        "eks-private-logged-encrypted",
        "EKS has a private endpoint (public off or limited), all control-plane logs and KMS "
        "envelope encryption of secrets.",
        frozenset({"aws:eks/cluster:Cluster", "eks:index:Cluster"}),
        eks_hardening,
    ),
    ResourceRule(
        "log-retention-set",
        "Log groups (the Lambdas' among them) have a retention period.",
        frozenset({"aws:cloudwatch/logGroup:LogGroup"}),
        log_retention,
    ),
    ResourceRule(
        "lambda-no-secret-environment",
        "Lambda environment variables hold no secret-looking values.",
        frozenset({"aws:lambda/function:Function"}),
        lambda_environment,
    ),
    ResourceRule(
        "required-tags",
        "Every AWS resource carries " + ", ".join(REQUIRED_TAGS) + " (from provider defaultTags).",
        frozenset({"*"}),
        required_tags,
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "s3-bucket-controls-present",
        "Every S3 bucket has a public access block, versioning, KMS encryption and a TLS-only policy.",
        buckets_complete,
    ),
    StackRule(
        "web-ingress-only-on-load-balancer",
        "Ingress from anywhere (80/443) only into a security group a load balancer uses.",
        web_ingress_only_on_lb,
    ),
    StackRule(
        "sse-s3-only-on-access-log-targets",
        "A server access log target bucket uses SSE-S3 (S3 accepts no SSE-KMS there); no other.",
        sse_s3_only_on_log_targets,
    ),
    StackRule(
        "lambda-log-groups-managed",
        "Every Lambda logs to a log group this program manages (retention and KMS set).",
        functions_have_log_groups,
    ),
)


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str


def check_resource(
    type_: str, urn: str, props: Mapping[str, Any], ctx: Context
) -> tuple[list[Violation], list[Violation]]:
    """All resource rules over one resource: (violations, undecidable as advisories)."""
    found: list[Violation] = []
    undecided: list[Violation] = []
    props = plain(props)
    for rule in RESOURCE_RULES:
        if not rule.applies(type_):
            continue
        try:
            found += [Violation(rule.name, urn, m) for m in rule.check(type_, props, ctx)]
        except Undecidable as exc:
            undecided.append(Violation(rule.name, urn, str(exc)))
    return found, undecided


def check_stack(resources: Iterable[Subject]) -> tuple[list[Violation], list[Violation]]:
    subjects = list(resources)
    found: list[Violation] = []
    undecided: list[Violation] = []
    for rule in STACK_RULES:
        try:
            found += [Violation(rule.name, urn, m) for urn, m in rule.check(subjects)]
        except Undecidable as exc:
            undecided.append(Violation(rule.name, "", str(exc)))
    return found, undecided
