"""Resource rules: ``(type, props, ctx) -> violation messages`` over one resource's inputs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policy.values import (
    UNKNOWN,
    Context,
    Undecidable,
    as_json,
    effective_tags,
    get,
    is_set,
    is_true,
    known,
    known_list,
)

REQUIRED_TAGS = ("Project", "Component", "Environment", "ManagedBy")
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
MIN_RDS_BACKUP_DAYS = 7
WORLD = ("0.0.0.0/0", "::/0")
WEB_PORTS = (80, 443)


def _aws_managed(key: Any) -> bool:
    return isinstance(key, str) and (key.startswith("alias/aws/") or key == "AES256")


def encryption_with_cmk(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    """Data at rest is encrypted with a customer-managed KMS key wherever the service allows."""
    match type_:
        case "aws:dynamodb/table:Table":
            if not is_true(props, "serverSideEncryption.enabled"):
                return ["serverSideEncryption.enabled must be true (a customer-managed key)"]
            return _cmk(
                get(props, "serverSideEncryption.kmsKeyArn"), "serverSideEncryption.kmsKeyArn"
            )
        case (
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            | "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
        ):
            rules = known(props, "rules") or []
            if not rules:
                return ["rules must set applyServerSideEncryptionByDefault with aws:kms"]
            out: list[str] = []
            for i, _ in enumerate(rules):
                base = f"rules.{i}.applyServerSideEncryptionByDefault"
                algorithm = known(props, f"{base}.sseAlgorithm")
                if algorithm == "AES256":
                    continue  # only on a server access log target: stack rule sse-s3-...
                if algorithm not in ("aws:kms", "aws:kms:dsse"):
                    out.append(f"{base}.sseAlgorithm is {algorithm!r}: must be aws:kms")
                out += _cmk(get(props, f"{base}.kmsMasterKeyId"), f"{base}.kmsMasterKeyId")
            return out
        case "aws:rds/instance:Instance" | "aws:rds/cluster:Cluster":
            if not is_true(props, "storageEncrypted"):
                return ["storageEncrypted must be true"]
            return _cmk(get(props, "kmsKeyId"), "kmsKeyId")
        case "aws:elasticache/replicationGroup:ReplicationGroup":
            out = []
            if not is_true(props, "atRestEncryptionEnabled"):
                out.append("atRestEncryptionEnabled must be true")
            if not is_true(props, "transitEncryptionEnabled"):
                out.append("transitEncryptionEnabled must be true (Redis in transit)")
            return out + _cmk(get(props, "kmsKeyId"), "kmsKeyId")
        case "aws:elasticache/cluster:Cluster":
            if get(props, "engine") == "redis" and not is_set(get(props, "replicationGroupId")):
                return ["a Redis cache must be a ReplicationGroup (a lone cluster cannot encrypt)"]
            return []
        case "aws:sns/topic:Topic":
            return _cmk(get(props, "kmsMasterKeyId"), "kmsMasterKeyId")
        case "aws:cloudwatch/logGroup:LogGroup" | "aws:secretsmanager/secret:Secret":
            return _cmk(get(props, "kmsKeyId"), "kmsKeyId")
        case "aws:ssm/parameter:Parameter":
            if known(props, "type") != "SecureString":
                return [f"type is {get(props, 'type')!r}: parameters must be SecureString"]
            return _cmk(get(props, "keyId"), "keyId")
    return []


def _cmk(key: Any, path: str) -> list[str]:
    if not is_set(key):
        return [f"{path} must name a customer-managed KMS key"]
    if _aws_managed(key):
        return [f"{path} is {key!r}, an AWS-managed key: use a customer-managed key"]
    return []


def point_in_time_recovery(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    if not is_true(props, "pointInTimeRecovery.enabled"):
        return ["pointInTimeRecovery.enabled must be true"]
    return []


# The AWS flag that refuses deletion, per type.
DELETION_FLAGS = {
    "aws:dynamodb/table:Table": "deletionProtectionEnabled",
    "aws:rds/instance:Instance": "deletionProtection",
    "aws:rds/cluster:Cluster": "deletionProtection",
    "aws:lb/loadBalancer:LoadBalancer": "enableDeletionProtection",
    "aws:alb/loadBalancer:LoadBalancer": "enableDeletionProtection",
    "aws:eks/cluster:Cluster": "deletionProtection",
    "eks:index:Cluster": "deletionProtection",
}
# Data-holding types that must also carry Pulumi ``protect`` in production.
STATEFUL_TYPES = frozenset(
    {
        "aws:dynamodb/table:Table",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:kms/key:Key",
        "aws:secretsmanager/secret:Secret",
        "aws:backup/vault:Vault",
    }
)


def deletion_protection(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    """In production, stateful resources refuse deletion: AWS's flag and Pulumi ``protect``."""
    if ctx.environment != "production":
        return []
    out = []
    flag = DELETION_FLAGS.get(type_)
    if flag and not is_true(props, flag):
        out.append(f"{flag} must be true in production")
    if type_ in STATEFUL_TYPES and not ctx.protect:
        out.append("the Pulumi protect option must be set in production")
    return out


def s3_public_access_block(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    return [f"{flag} must be true" for flag in flags if not is_true(props, flag)]


def s3_versioning(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    status = known(props, "versioningConfiguration.status")
    if status != "Enabled":
        return [f"versioningConfiguration.status is {status!r}: must be Enabled"]
    return []


def denies_insecure_transport(policy: Any) -> bool:
    """The policy has a Deny for every principal when ``aws:SecureTransport`` is false."""
    statements = get(policy, "Statement") if isinstance(policy, Mapping) else None
    if isinstance(statements, Mapping):
        statements = [statements]
    for st in statements or []:
        if not isinstance(st, Mapping) or st.get("Effect") != "Deny":
            continue
        principal = st.get("Principal")
        if principal not in ("*", {"AWS": "*"}):
            continue
        actions = st.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        if not {"s3:*", "*"} & set(actions):
            continue
        secure = get(st, "Condition.Bool.aws:SecureTransport")
        if str(secure).lower() == "false" or secure == ["false"]:
            return True
    return False


def s3_tls_only(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    policy = as_json(get(props, "policy"), "policy")
    if not denies_insecure_transport(policy):
        return ["policy must deny s3:* to every principal when aws:SecureTransport is false"]
    return []


def kms_rotation(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    spec = get(props, "customerMasterKeySpec") or get(props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec is not UNKNOWN and spec != "SYMMETRIC_DEFAULT":
        return []  # AWS rotates only symmetric keys
    if not is_true(props, "enableKeyRotation"):
        return ["enableKeyRotation must be true"]
    return []


def cloudtrail(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    out = []
    if not is_true(props, "isMultiRegionTrail"):
        out.append("isMultiRegionTrail must be true")
    if not is_true(props, "enableLogFileValidation"):
        out.append("enableLogFileValidation must be true")
    if get(props, "enableLogging") in (False, "false"):
        out.append("enableLogging must not be false")
    return out + _cmk(get(props, "kmsKeyId"), "kmsKeyId")


def _world_ingress(props: Mapping[str, Any], base: str) -> list[str]:
    cidrs = [
        *known_list(props, f"{base}cidrBlocks"),
        *known_list(props, f"{base}ipv6CidrBlocks"),
    ]
    cidrs += [c for c in (known(props, f"{base}cidrIpv4"), known(props, f"{base}cidrIpv6")) if c]
    return [c for c in cidrs if c in WORLD]


def _web_only(props: Mapping[str, Any], base: str) -> bool:
    protocol = known(props, f"{base}protocol") or known(props, f"{base}ipProtocol")
    if str(protocol) in ("-1", "all"):
        return False  # every port, whatever fromPort says
    low, high = known(props, f"{base}fromPort"), known(props, f"{base}toPort")
    return low == high and low in WEB_PORTS


def no_world_ingress(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    """Ingress from anywhere only on 80/443 (which group it may reach: ``web_ingress_only_on_lb``)."""
    entries: list[str] = []
    if type_ == "aws:ec2/securityGroup:SecurityGroup":
        entries = [f"ingress.{i}." for i, _ in enumerate(known(props, "ingress") or [])]
    elif type_ == "aws:ec2/securityGroupRule:SecurityGroupRule":
        entries = [""] if known(props, "type") == "ingress" else []
    else:
        entries = [""]
    out = []
    for base in entries:
        world = _world_ingress(props, base)
        if world and not _web_only(props, base):
            ports = f"{get(props, base + 'fromPort')}-{get(props, base + 'toPort')}"
            out.append(
                f"{base or ''}ingress from {world[0]} on ports {ports}: only 80/443 may be open to anywhere"
            )
    return out


def rds_hardening(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    out = []
    if type_ != "aws:rds/cluster:Cluster" and is_true(props, "publiclyAccessible"):
        out.append("publiclyAccessible must be false")
    if type_ == "aws:rds/clusterInstance:ClusterInstance":
        return out
    if not is_true(props, "iamDatabaseAuthenticationEnabled"):
        out.append("iamDatabaseAuthenticationEnabled must be true")
    days = known(props, "backupRetentionPeriod")
    if not isinstance(days, int | float) or days < MIN_RDS_BACKUP_DAYS:
        out.append(f"backupRetentionPeriod is {days!r}: at least {MIN_RDS_BACKUP_DAYS} days")
    return out


def eks_hardening(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    base = "vpcConfig." if type_ == "aws:eks/cluster:Cluster" else ""
    out = []
    if not is_true(props, f"{base}endpointPrivateAccess"):
        out.append(f"{base}endpointPrivateAccess must be true")
    public = known(props, f"{base}endpointPublicAccess")
    # Both SDKs default the public endpoint to on, open to the world.
    if public is None or public is True:
        cidrs = known_list(props, f"{base}publicAccessCidrs") or list(WORLD[:1])
        if set(cidrs) & set(WORLD):
            out.append(f"{base}endpointPublicAccess must be false or limited by publicAccessCidrs")
    logs = set(known_list(props, "enabledClusterLogTypes"))
    missing = [t for t in EKS_LOG_TYPES if t not in logs]
    if missing:
        out.append("enabledClusterLogTypes lacks " + ", ".join(missing))
    if type_ == "aws:eks/cluster:Cluster":
        configs = known(props, "encryptionConfig")
        configs = [configs] if isinstance(configs, Mapping) else configs or []
        ok = any(
            "secrets" in known_list(c, "resources") and is_set(get(c, "provider.keyArn"))
            for c in configs
        )
    else:
        ok = is_set(get(props, "encryptionConfigKeyArn"))
    if not ok:
        out.append("Kubernetes secrets must be envelope-encrypted with a KMS key")
    return out


def log_retention(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    days = known(props, "retentionInDays")
    if not days:
        return ["retentionInDays must be set (unset keeps logs forever)"]
    return []


SECRET_NAME = re.compile(
    r"SECRET|PASSWORD|PASSWD|PWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|SALT|NONCE", re.I
)
REFERENCE_NAME = re.compile(r"_(ARN|NAME|ID|PATH|PARAM|PARAMETER|URL|TTL|SECONDS|ENDPOINT)$", re.I)
SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}"
)


def lambda_environment(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    """No secret in a function's environment: pass its ARN or name and read it at run time."""
    variables = get(props, "environment.variables")
    if variables is UNKNOWN:
        raise Undecidable("environment.variables")
    out = []
    for key, value in (variables or {}).items():
        if value is UNKNOWN:
            if SECRET_NAME.search(key) and not REFERENCE_NAME.search(key):
                raise Undecidable(f"environment.variables.{key}")
            continue
        text = str(value)
        if SECRET_VALUE.search(text):
            out.append(f"environment.variables.{key} holds a credential-shaped value")
        elif (
            SECRET_NAME.search(key)
            and not REFERENCE_NAME.search(key)
            and not text.startswith("arn:")
        ):
            out.append(
                f"environment.variables.{key} looks like a secret: pass its ARN or name instead"
            )
    return out


def required_tags(type_: str, props: Mapping[str, Any], ctx: Context) -> list[str]:
    tags = effective_tags(props, ctx)
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        return ["missing tags " + ", ".join(missing) + " (set them in the provider's defaultTags)"]
    return []
