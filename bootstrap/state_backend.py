"""StateBackend: the self-managed Pulumi state bucket and the KMS keys for state and secrets.

The state backend and its disaster recovery. The bucket is a ``SecureBucket``
(versioning, SSE-KMS, all public access blocked, TLS-only policy), protected and retained,
whose policy also keeps the state history: nobody may delete an object version or the bucket.
Pulumi's S3 backend keeps its locks as objects in the same bucket, so no lock table is needed.

With a replica region, every object version and delete marker is copied there within 15
minutes (S3 Replication Time Control), and both keys are multi-Region keys with a replica and
the same alias in that region, so the replicated state and the stacks' secrets stay readable
when the primary region is down. Each key and replica carries an explicit key policy
(``bootstrap/key_policies.py``): nobody uses them through IAM alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from bootstrap.config import state_bucket_name
from bootstrap.key_policies import (
    REPLICATION_DESTINATION,
    REPLICATION_SOURCE,
    KeyUsers,
    secrets_key_policy,
    state_key_policy,
)
from components.config import Naming
from components.core.base import service_trust
from components.core.key_policy import role_arn, via
from components.core.secure_bucket import SecureBucket, SecureBucketArgs, bucket_arn

KEY_ROLES = ("state", "secrets")
REPLICATION_ROLE = "state-replication"
REPLICATION_MINUTES = 15
# S3 deletes noncurrent versions itself (lifecycle); people and CI may not.
HISTORY_DENIED_ACTIONS = ("s3:DeleteBucket", "s3:DeleteObjectVersion")


@dataclass(frozen=True)
class Replica:
    """Where the replica lives: its region and an AWS provider (tagged) for that region."""

    region: str
    provider: aws.Provider


@dataclass(frozen=True, kw_only=True)
class StateBackendArgs:
    """Inputs of ``StateBackend``.

    - naming: the bootstrap stack's physical-name rule.
    - account_id, region: the bucket is ``{prefix}-state-{account}-{region}-{stack}``.
    - deploy_role_arn, preview_role_arn: the CI roles (created after the keys), which use them.
    - operator_role_arn_pattern: the administrators' role pattern (none: left out, dry run only).
    - replica: the disaster-recovery region and its provider (default none: no replication).
    """

    naming: Naming
    account_id: str
    region: str
    deploy_role_arn: str
    preview_role_arn: str
    operator_role_arn_pattern: str | None = None
    replica: Replica | None = None

    @property
    def key_users(self) -> KeyUsers:
        return KeyUsers(
            account_id=self.account_id,
            deploy_role_arn=self.deploy_role_arn,
            preview_role_arn=self.preview_role_arn,
            operator_role_arn_pattern=self.operator_role_arn_pattern,
            replication_role_arn=(
                role_arn(self.account_id, self.naming.physical(REPLICATION_ROLE))
                if self.replica
                else None
            ),
        )


def history_kept_statements(bucket_name: str) -> list[dict[str, Any]]:
    """Bucket-policy denies that keep every state checkpoint recoverable."""
    arn = bucket_arn(bucket_name)
    return [
        {
            "Sid": "StateHistoryIsKept",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(HISTORY_DENIED_ACTIONS),
            "Resource": [arn, f"{arn}/*"],
        }
    ]


def replication_policy(
    *,
    source: str,
    destination: str,
    source_key: str,
    destination_key: str,
    regions: tuple[str, str],
) -> dict[str, Any]:
    """What S3 needs to copy KMS-encrypted versions (and delete markers) to the replica."""
    source_region, destination_region = regions
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSourceConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": bucket_arn(source),
            },
            {
                "Sid": "ReadSourceVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": f"{bucket_arn(source)}/*",
            },
            {
                "Sid": "WriteReplica",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": f"{bucket_arn(destination)}/*",
            },
            {
                "Sid": "DecryptSource",
                "Effect": "Allow",
                "Action": list(REPLICATION_SOURCE),
                "Resource": source_key,
                "Condition": via("s3", source_region),
            },
            {
                # Decrypt too: S3 checks the replica bucket's S3 Bucket Key as this role.
                "Sid": "EncryptReplica",
                "Effect": "Allow",
                "Action": list(REPLICATION_DESTINATION),
                "Resource": destination_key,
                "Condition": via("s3", destination_region),
            },
        ],
    }


def secrets_provider_url(alias: str, region: str) -> str:
    """The ``--secrets-provider`` value of ``pulumi stack init`` for the main project."""
    return f"awskms://{alias}?region={region}"


class StateBackend(pulumi.ComponentResource):
    """State bucket, its optional replica, and the state and secrets keys."""

    bucket: aws.s3.Bucket
    replica_bucket: aws.s3.Bucket | None
    replication_role: aws.iam.Role | None
    keys: dict[str, aws.kms.Key]
    replica_keys: dict[str, aws.kms.ReplicaKey]
    login_url: pulumi.Output[str]
    secrets_provider: str

    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:bootstrap:StateBackend", name, None, opts)
        naming, replica = args.naming, args.replica
        self.keys, self.replica_keys = {}, {}
        bucket_name = state_bucket_name(naming, args.account_id, args.region)
        for role in KEY_ROLES:
            self._key(name, args, role)
        primary = SecureBucket(
            f"{name}-bucket",
            SecureBucketArgs(
                bucket_name=bucket_name,
                kms_key_arn=self.keys["state"].arn,
                # S3 server access logs cannot land in a KMS-encrypted bucket; every state read
                # and write already shows in CloudTrail through the key's Decrypt calls.
                access_log_bucket=None,
                extra_statements=history_kept_statements(bucket_name),
                protect=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bucket = primary.bucket
        self.replica_bucket = self.replication_role = None
        if replica is not None:
            self._replicate(name, args, replica, primary, bucket_name)
        self.login_url = pulumi.Output.concat("s3://", self.bucket.bucket)
        self.secrets_provider = secrets_provider_url(naming.alias("pulumi-secrets"), args.region)
        self.register_outputs(
            {"loginUrl": self.login_url, "secretsProvider": self.secrets_provider}
        )

    def _key_policy(self, args: StateBackendArgs, role: str, region: str, primary: bool) -> str:
        users = args.key_users
        if role == "secrets":
            return secrets_key_policy(users, primary=primary)
        return state_key_policy(
            users,
            region=region,
            bucket=state_bucket_name(args.naming, args.account_id, region),
            primary=primary,
            replication=REPLICATION_SOURCE if primary else REPLICATION_DESTINATION,
        )

    def _key(self, name: str, args: StateBackendArgs, role: str) -> None:
        naming, replica = args.naming, args.replica
        description = f"Pulumi {role} of {naming.prefix} ({naming.physical('bootstrap')})"
        # Multi-Region from the start: the setting cannot change without replacing the key,
        # and only a multi-Region key can be replicated for disaster recovery.
        key = aws.kms.Key(
            f"{name}-{role}-key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            multi_region=True,
            policy=self._key_policy(args, role, args.region, primary=True),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        alias = naming.alias(f"pulumi-{role}")
        aws.kms.Alias(
            f"{name}-{role}-key-alias",
            name=alias,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.keys[role] = key
        if replica is None:
            return
        in_replica = pulumi.ResourceOptions(parent=self, provider=replica.provider)
        replica_key = aws.kms.ReplicaKey(
            f"{name}-{role}-key-replica",
            primary_key_arn=key.arn,
            description=description,
            policy=self._key_policy(args, role, replica.region, primary=False),
            deletion_window_in_days=30,
            opts=pulumi.ResourceOptions.merge(
                in_replica, pulumi.ResourceOptions(protect=True, retain_on_delete=True)
            ),
        )
        # The same alias in the replica region: only ``?region=`` changes in a failover.
        aws.kms.Alias(
            f"{name}-{role}-key-replica-alias",
            name=alias,
            target_key_id=replica_key.arn,
            opts=in_replica,
        )
        self.replica_keys[role] = replica_key

    def _replicate(
        self,
        name: str,
        args: StateBackendArgs,
        replica: Replica,
        primary: SecureBucket,
        bucket_name: str,
    ) -> None:
        replica_name = state_bucket_name(args.naming, args.account_id, replica.region)
        secondary = SecureBucket(
            f"{name}-replica-bucket",
            SecureBucketArgs(
                bucket_name=replica_name,
                kms_key_arn=self.replica_keys["state"].arn,
                access_log_bucket=None,
                extra_statements=history_kept_statements(replica_name),
                protect=True,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": replica.provider}),
        )
        self.replica_bucket = secondary.bucket
        role = aws.iam.Role(
            f"{name}-replication-role",
            name=args.naming.physical(REPLICATION_ROLE),
            assume_role_policy=service_trust("s3.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.replication_role = role
        policy = aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.name,
            policy=pulumi.Output.all(self.keys["state"].arn, self.replica_keys["state"].arn).apply(
                lambda arns: json.dumps(
                    replication_policy(
                        source=bucket_name,
                        destination=replica_name,
                        source_key=arns[0],
                        destination_key=arns[1],
                        regions=(args.region, replica.region),
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        enabled = "Enabled"
        # Replication needs versioning on both buckets first (they are SecureBucket children).
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=self.bucket.id,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="state-to-replica",
                    status=enabled,
                    priority=1,
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status=enabled
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status=enabled
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=secondary.bucket.arn,
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=self.replica_keys["state"].arn
                        ),
                        replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                            status=enabled,
                            time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(
                                minutes=REPLICATION_MINUTES
                            ),
                        ),
                        metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                            status=enabled,
                            event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                                minutes=REPLICATION_MINUTES
                            ),
                        ),
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[primary, secondary, policy]),
        )
