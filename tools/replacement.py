"""Stateful resource types and the inputs whose change makes AWS replace them.

One table by type (``STATEFUL``) and one by URN (``STATEFUL_RESOURCES``), read by three guards: ``tools.against`` (offline comparison of two git refs under
mocks), ``tools.preview_gate`` (the real ``pulumi preview --json`` in CI) and the tests that
assert ``protect`` / ``retain_on_delete`` on every stateful resource.

Where the list comes from: pulumi-aws bridges the Terraform AWS provider, and an input forces a
replacement exactly when the provider schema marks the argument ``ForceNew`` (or a
``CustomizeDiff`` forces it). Each entry cites the schema file in
``hashicorp/terraform-provider-aws`` that says so, and the argument's documentation in the
installed SDK (``.venv/.../pulumi_aws/<module>.py``) or the provider docs. Input names are the
engine's camelCase names, as ``testing.program`` records them; a dotted name walks into a
nested block (``kubernetesNetworkConfig.serviceIpv4Cidr``).

Deliberately absent: the RDS instance ``identifier``. It forced replacement until the Terraform
provider v5 (pulumi/pulumi-aws#589); since then it is renamed in place (ModifyDBInstance
``NewDBInstanceIdentifier``, hashicorp/terraform-provider-aws#32687, which removed
"Forces new resource" from the docs). Renaming still moves the endpoint clients connect to, so
``RENAMES_IN_PLACE`` lists it and ``tools.against`` reports it as well.
"""

from __future__ import annotations

from dataclasses import dataclass

TF = "https://github.com/hashicorp/terraform-provider-aws/blob/main/"
SDK = ".venv/lib/python3.11/site-packages/"


@dataclass(frozen=True)
class Forcing:
    """One replace-forcing input: its engine name and where the provider says so."""

    name: str
    source: str


@dataclass(frozen=True)
class StatefulType:
    """A resource type that holds data (or the identity of data, like a key)."""

    token: str
    label: str
    forcing: tuple[Forcing, ...]
    # Inputs whose values never appear in a report (``tools.against`` masks them).
    secret_inputs: tuple[str, ...] = ()


def _f(schema_file: str, doc: str, *names: str) -> tuple[Forcing, ...]:
    source = f"{TF}{schema_file} (ForceNew); documented in {doc}"
    return tuple(Forcing(name, source) for name in names)


_DYNAMODB = _f(
    "internal/service/dynamodb/table.go",
    f"{SDK}pulumi_aws/dynamodb/table.py",
    "name",
    "hashKey",
    "rangeKey",
    "localSecondaryIndexes",
    "restoreSourceName",
    "restoreSourceTableArn",
    "restoreToLatestTime",
    "restoreDateTime",
    "importTable",
)

_RDS_INSTANCE = _f(
    "internal/service/rds/instance.go",
    f"{SDK}pulumi_aws/rds/instance.py",
    "availabilityZone",
    "characterSetName",
    "customIamInstanceProfile",
    "dbName",
    "engine",
    "kmsKeyId",
    "ncharCharacterSetName",
    "restoreToPointInTime",
    "s3Import",
    "snapshotIdentifier",
    "storageEncrypted",
    "timezone",
    "username",
)

_ELASTICACHE_RG = (
    *_f(
        "internal/service/elasticache/replication_group.go",
        f"{SDK}pulumi_aws/elasticache/replication_group.py",
        "replicationGroupId",
        "atRestEncryptionEnabled",
        "kmsKeyId",
        "dataTieringEnabled",
        "globalReplicationGroupId",
        "networkType",
        "port",
        "securityGroupNames",
        "snapshotArns",
        "snapshotName",
        "subnetGroupName",
    ),
    Forcing(
        "transitEncryptionEnabled",
        f"{SDK}pulumi_aws/elasticache/replication_group.py: 'Changing this argument with an "
        "engine_version < 7.0.5 will force a replacement'",
    ),
)

_S3_BUCKET = _f(
    "internal/service/s3/bucket.go",
    "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket",
    "bucket",
    "bucketPrefix",
    "objectLockEnabled",
)

_SECRET = _f(
    "internal/service/secretsmanager/secret.go",
    f"{SDK}pulumi_aws/secretsmanager/secret.py",
    "name",
    "namePrefix",
)

_SECRET_VERSION = _f(
    "internal/service/secretsmanager/secret_version.go",
    f"{SDK}pulumi_aws/secretsmanager/secret_version.py",
    "secretId",
    "secretString",
    "secretBinary",
    "secretStringWoVersion",
)

_KMS_KEY = _f(
    "internal/service/kms/key.go",
    f"{SDK}pulumi_aws/kms/key.py",
    "customerMasterKeySpec",
    "keyUsage",
    "multiRegion",
    "customKeyStoreId",
    "xksKeyId",
)

_EKS_CLUSTER = _f(
    "internal/service/eks/cluster.go",
    f"{SDK}pulumi_aws/eks/cluster.py",
    "name",
    "roleArn",
    "bootstrapSelfManagedAddons",
    "accessConfig.bootstrapClusterCreatorAdminPermissions",
    "kubernetesNetworkConfig.ipFamily",
    "kubernetesNetworkConfig.serviceIpv4Cidr",
    "outpostConfig",
    "remoteNetworkConfig",
)

# pulumi-eks's component passes these straight to its aws.eks.Cluster child (name -> name,
# serviceRole -> roleArn, ...), so a change replaces the control plane. The component is remote:
# under mocks only its own inputs exist, and aliases into remote components are unreliable
# (pulumi/pulumi#17278).
_EKS_COMPONENT = tuple(
    Forcing(name, f"{TF}internal/service/eks/cluster.go via {SDK}pulumi_eks/cluster.py ({arg})")
    for name, arg in (
        ("name", "name -> aws_eks_cluster.name, ForceNew"),
        ("serviceRole", "serviceRole -> aws_eks_cluster.role_arn, ForceNew"),
        ("bootstrapSelfManagedAddons", "-> aws_eks_cluster.bootstrap_self_managed_addons"),
        ("ipFamily", "ipFamily -> kubernetes_network_config.ip_family, ForceNew"),
        (
            "kubernetesServiceIpAddressRange",
            "-> kubernetes_network_config.service_ipv4_cidr, ForceNew",
        ),
        ("encryptionConfigKeyArn", "-> encryption_config; removing it forces a new cluster"),
    )
)

_CLOUDTRAIL = _f(
    "internal/service/cloudtrail/trail.go",
    f"{SDK}pulumi_aws/cloudtrail/trail.py",
    "name",
)

_LOG_GROUP = _f(
    "internal/service/logs/group.go",
    f"{SDK}pulumi_aws/cloudwatch/log_group.py",
    "name",
    "namePrefix",
    "logGroupClass",
)

_BACKUP_VAULT = _f(
    "internal/service/backup/vault.go",
    f"{SDK}pulumi_aws/backup/vault.py",
    "name",
    "kmsKeyArn",
)

_TYPES = (
    StatefulType("aws:rds/instance:Instance", "RDS instance", _RDS_INSTANCE, ("password",)),
    StatefulType(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "ElastiCache replication group",
        _ELASTICACHE_RG,
        ("authToken",),
    ),
    StatefulType("aws:dynamodb/table:Table", "DynamoDB table", _DYNAMODB),
    StatefulType("aws:s3/bucket:Bucket", "S3 bucket", _S3_BUCKET),
    StatefulType("aws:s3/bucketV2:BucketV2", "S3 bucket (v2 token)", _S3_BUCKET),
    StatefulType("aws:secretsmanager/secret:Secret", "Secrets Manager secret", _SECRET),
    StatefulType(
        "aws:secretsmanager/secretVersion:SecretVersion",
        "Secrets Manager secret version",
        _SECRET_VERSION,
        ("secretString", "secretBinary", "secretStringWo"),
    ),
    StatefulType("aws:kms/key:Key", "KMS key", _KMS_KEY),
    StatefulType("aws:eks/cluster:Cluster", "EKS cluster", _EKS_CLUSTER),
    StatefulType("eks:index:Cluster", "EKS cluster (pulumi-eks component)", _EKS_COMPONENT),
    StatefulType("aws:cloudtrail/trail:Trail", "CloudTrail trail", _CLOUDTRAIL),
    StatefulType("aws:backup/vault:Vault", "Backup vault", _BACKUP_VAULT),
)

STATEFUL: dict[str, StatefulType] = {t.token: t for t in _TYPES}

# Resources of a type that mostly holds nothing worth keeping, gated one by one. Gating every
# log group by type would block each rename of a function's log group; the trail's holds the
# audit record the CIS filters read. Keyed by the URN without stack and project (the parent
# type chain and the name), so one entry serves every stack.
STATEFUL_RESOURCES: dict[str, StatefulType] = {
    "phase-mirror:index:AuditTrail$aws:cloudwatch/logGroup:LogGroup::audit-trail-trail-logs": (
        StatefulType(
            "aws:cloudwatch/logGroup:LogGroup", "CloudTrail log group (audit record)", _LOG_GROUP
        )
    ),
}

# Inputs that are updated in place but rename what clients connect to: reported, not gated.
RENAMES_IN_PLACE: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": ("identifier", "identifierPrefix"),
}


def urn_key(urn: str) -> str:
    """A URN without its stack and project: ``Parent$type::name``."""
    parts = urn.split("::")
    if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    return "::".join(parts[2:])


def stateful_entry(type_: str, urn: str = "") -> StatefulType | None:
    """The entry gating a resource: by its type, else by its URN (``None``: holds no data)."""
    by_type = STATEFUL.get(type_)
    if by_type is not None or not urn:
        return by_type
    entry = STATEFUL_RESOURCES.get(urn_key(urn))
    return entry if entry is not None and entry.token == type_ else None


def is_stateful(type_: str, urn: str = "") -> bool:
    return stateful_entry(type_, urn) is not None


def forcing_inputs(type_: str, urn: str = "") -> tuple[str, ...]:
    """The replace-forcing input names of a resource (empty for one that holds no data)."""
    stateful = stateful_entry(type_, urn)
    return tuple(f.name for f in stateful.forcing) if stateful else ()


def secret_inputs(type_: str, urn: str = "") -> tuple[str, ...]:
    stateful = stateful_entry(type_, urn)
    return stateful.secret_inputs if stateful else ()


def type_of_urn(urn: str) -> str:
    """The resource type in a URN ``urn:pulumi:stack::project::parent$type::name``."""
    parts = urn.split("::")
    if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    return parts[2].split("$")[-1]
