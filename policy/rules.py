"""Phase Mirror's mandatory infrastructure rules, as plain functions.

The CrossGuard pack (``policy/__main__.py``) and the offline preview (``tools/preview.py``) run
these same functions. A resource rule takes ``(type, props, ctx)`` with ``props`` the resource's
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

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# pulumi_policy.proxy's sentinels for unknown values (tests/test_policy.py keeps them in step).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
# The engine's signature of a secret value (pulumi.runtime.rpc); not a credential.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105

REQUIRED_TAGS = ("Project", "Component", "Environment", "ManagedBy")
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
MIN_RDS_BACKUP_DAYS = 7
WORLD = ("0.0.0.0/0", "::/0")
WEB_PORTS = (80, 443)


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Undecidable(Exception):
    """The rule needs a value that stays unknown until the update runs."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is unknown during preview")
        self.path = path


@dataclass(frozen=True)
class Context:
    """What a resource rule knows besides the resource's own inputs.

    - environment: ``production``, ``staging``, ... (see ``environment_of``).
    - default_tags: the tags its AWS provider adds (``defaultTags``).
    - protect: the resource's Pulumi ``protect`` option.
    """

    environment: str = "production"
    default_tags: Any = field(default_factory=dict)
    protect: bool = False


@dataclass(frozen=True)
class Subject:
    """One resource of the stack, as a stack rule sees it (props: inputs or outputs)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    id: Any = None
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


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


# --- values as the engine gives them -------------------------------------------------------


def plain(value: Any) -> Any:
    """Props from the engine, a CrossGuard proxy or the mocks -> plain dicts, lists, UNKNOWN.

    Secrets are unwrapped (the rules judge content; the preview masks secrets separately).
    """
    kind = type(value).__name__
    if kind in ("_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"):
        return plain(value["__target"])
    if kind == "Secret" and hasattr(value, "value"):
        return plain(value.value)
    if kind == "Unknown" and type(value).__module__.startswith("pulumi"):
        return UNKNOWN
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def get(props: Any, path: str) -> Any:
    """The value at a dotted path, ``None`` when absent, ``UNKNOWN`` when any step is."""
    node = props
    for part in path.split("."):
        if node is UNKNOWN:
            return UNKNOWN
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def known(props: Any, path: str) -> Any:
    """Like ``get`` but the rule needs the content: an unknown value is ``Undecidable``."""
    value = get(props, path)
    if value is UNKNOWN:
        raise Undecidable(path)
    return value


def is_set(value: Any) -> bool:
    """A reference is present: a non-empty value, or an unknown one (an output)."""
    return value is UNKNOWN or value not in (None, "", [], {})


def is_true(props: Any, path: str) -> bool:
    return known(props, path) in (True, "true")


def as_json(value: Any, path: str) -> Any:
    if value is UNKNOWN:
        raise Undecidable(path)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def effective_tags(props: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    provider = as_json(ctx.default_tags, "provider.defaultTags") or {}
    tags = dict(get(provider, "tags") or {}) if isinstance(provider, Mapping) else {}
    for key in ("tagsAll", "tags"):
        own = known(props, key)
        if isinstance(own, Mapping):
            tags.update(own)
    return tags


def environment_of(configured: Any, tags: Mapping[str, Any]) -> str:
    """Policy config ``environment`` first, else the ``Environment`` tag, else production.

    Unlabelled resources are judged as production: the stricter reading wins.
    """
    if isinstance(configured, str) and configured:
        return configured
    tag = tags.get("Environment")
    return tag if isinstance(tag, str) and tag else "production"


# --- resource rules ------------------------------------------------------------------------


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
        *(known(props, f"{base}cidrBlocks") or []),
        *(known(props, f"{base}ipv6CidrBlocks") or []),
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
        cidrs = known(props, f"{base}publicAccessCidrs") or list(WORLD[:1])
        if set(cidrs) & set(WORLD):
            out.append(f"{base}endpointPublicAccess must be false or limited by publicAccessCidrs")
    logs = set(known(props, "enabledClusterLogTypes") or [])
    missing = [t for t in EKS_LOG_TYPES if t not in logs]
    if missing:
        out.append("enabledClusterLogTypes lacks " + ", ".join(missing))
    if type_ == "aws:eks/cluster:Cluster":
        configs = known(props, "encryptionConfig")
        configs = [configs] if isinstance(configs, Mapping) else configs or []
        ok = any(
            "secrets" in (known(c, "resources") or []) and is_set(get(c, "provider.keyArn"))
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


# --- stack rules ---------------------------------------------------------------------------

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_COMPANIONS = {
    "public access block": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",),
    "versioning": (
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    ),
    "KMS encryption configuration": (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ),
    "TLS-only bucket policy": ("aws:s3/bucketPolicy:BucketPolicy",),
}
LB_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
# The ALB may come from the in-cluster load balancer controller, not this program: then its group
# is known by the naming rule's role (``{prefix}-lb-{stack}``, ``...-alb-...``).
LB_GROUP_NAME = re.compile(r"(^|-)a?lb(-|$)")


def refers_to(source: Subject, prop: str, target: Subject, *identities: str) -> bool | None:
    """``source.props[prop]`` points at ``target``: by the engine's property dependencies, or
    by value (the target's id or one of its ``identities`` props). ``None`` when that cannot be
    told: the value is unknown and no property dependencies were given."""
    if target.urn in source.property_dependencies.get(prop, ()):
        return True
    values = get(source.props, prop)
    values = values if isinstance(values, list) else [values]
    ids = {target.id, *(get(target.props, i) for i in identities)} - {None, "", UNKNOWN}
    if any(v in ids for v in values if v is not UNKNOWN and isinstance(v, str)):
        return True
    if UNKNOWN in values and prop not in source.property_dependencies:
        return None
    return False


def _found(matches: Iterable[bool | None], what: str) -> bool:
    """Any match; else, if some candidate could not be told, the rule cannot decide."""
    seen = list(matches)
    if True in seen:
        return True
    if None in seen:
        raise Undecidable(what)
    return False


def buckets_complete(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """Every bucket has its public access block, versioning, KMS encryption and TLS policy."""
    out = []
    for bucket in (r for r in resources if r.type in BUCKET_TYPES):
        for what, types in BUCKET_COMPANIONS.items():
            candidates = (r for r in resources if r.type in types)
            matches = (refers_to(r, "bucket", bucket, "bucket", "name") for r in candidates)
            if not _found(matches, f"the {what} of bucket {bucket.name}"):
                out.append((bucket.urn, f"bucket {bucket.name} has no {what}"))
    return out


def web_ingress_only_on_lb(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """80/443 from anywhere only into the load balancer's group: one a load balancer here uses,
    or one whose physical name has the role ``lb`` / ``alb``."""
    lbs = [r for r in resources if r.type in LB_TYPES]
    groups = [r for r in resources if r.type == "aws:ec2/securityGroup:SecurityGroup"]
    lb_groups = {
        g.urn
        for g in groups
        if any(refers_to(lb, "securityGroups", g, "arn") is True for lb in lbs)
        or LB_GROUP_NAME.search(str(get(g.props, "name") or ""))
    }
    out = []
    for r in resources:
        open_inline = r.type == "aws:ec2/securityGroup:SecurityGroup" and any(
            set(WORLD) & {*(get(e, "cidrBlocks") or []), *(get(e, "ipv6CidrBlocks") or [])}
            for e in get(r.props, "ingress") or []
            if isinstance(e, Mapping)
        )
        if open_inline and r.urn not in lb_groups:
            out.append(
                (r.urn, f"{r.name} allows ingress from anywhere but no load balancer uses it")
            )
        if r.type in (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:ec2/securityGroupRule:SecurityGroupRule",
        ):
            if r.type.endswith("SecurityGroupRule") and get(r.props, "type") != "ingress":
                continue
            world = {
                get(r.props, "cidrIpv4"),
                get(r.props, "cidrIpv6"),
                *(get(r.props, "cidrBlocks") or []),
                *(get(r.props, "ipv6CidrBlocks") or []),
            }
            if not set(WORLD) & world:
                continue
            into_lb = (
                refers_to(r, "securityGroupId", g, "arn") for g in groups if g.urn in lb_groups
            )
            if not _found(into_lb, f"{r.name}.securityGroupId"):
                out.append(
                    (
                        r.urn,
                        f"{r.name} opens a security group to anywhere that no load balancer uses",
                    )
                )
    return out


def functions_have_log_groups(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """Every Lambda logs to a log group this program manages (so retention and KMS are set)."""
    groups = [r for r in resources if r.type == "aws:cloudwatch/logGroup:LogGroup"]
    names = {get(g.props, "name") for g in groups} - {None, UNKNOWN}
    out = []
    for fn in (r for r in resources if r.type == "aws:lambda/function:Function"):
        if any(refers_to(fn, "loggingConfig", g, "name", "arn") is True for g in groups):
            continue
        target = get(fn.props, "loggingConfig.logGroup")
        if target is None:
            name = get(fn.props, "name")
            target = UNKNOWN if name is UNKNOWN else f"/aws/lambda/{name}"
        if target is UNKNOWN:
            raise Undecidable(f"{fn.name}.loggingConfig.logGroup")
        if target not in names:
            out.append(
                (fn.urn, f"function {fn.name} logs to {target}, which no LogGroup here manages")
            )
    return out


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
