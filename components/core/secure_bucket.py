"""SecureBucket: the one S3 building block every bucket of the project is made from.

Always: versioning, SSE-KMS (with a bucket key unless turned off; SSE-S3 on a server access log
target, the only default encryption S3 log delivery accepts), all four public-access blocks,
bucket-owner-enforced ownership (ACLs off), a bucket policy that denies plain HTTP and TLS below
1.2,
server access logging to a log bucket (except for the log bucket itself), and lifecycle rules
that abort incomplete multipart uploads after 7 days and expire noncurrent versions. Each
bucket adds its own transitions / expiration through a ``Lifecycle`` (``LOGS``, ``DOCUMENTS``).
Callers that need more policy statements (CloudTrail, the log-delivery service) pass them in
``extra_statements``; the bucket's ARN is known before creation (``bucket_arn``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core.base import stateful

ABORT_MULTIPART_DAYS = 7
STORAGE_CLASSES = ("STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")


@dataclass(frozen=True)
class Lifecycle:
    """Per-bucket lifecycle: ``transitions`` as (days, storage class), then ``expire_days``."""

    transitions: tuple[tuple[int, str], ...] = ()
    expire_days: int | None = None
    noncurrent_expire_days: int = 90

    def __post_init__(self) -> None:
        days = [d for d, _ in self.transitions]
        if days != sorted(set(days)) or any(d < 1 for d in days):
            raise ValueError(f"lifecycle transitions {self.transitions}: days must increase")
        for _, storage_class in self.transitions:
            if storage_class not in STORAGE_CLASSES:
                raise ValueError(f"lifecycle storage class {storage_class!r}: {STORAGE_CLASSES}")
        if self.expire_days is not None and days and self.expire_days <= days[-1]:
            raise ValueError(f"lifecycle expire_days {self.expire_days}: after the last transition")
        if self.noncurrent_expire_days < 1:
            raise ValueError(f"noncurrent_expire_days {self.noncurrent_expire_days}: at least 1")


# Access logs: cold after a month, gone after 90 days.
LOGS = Lifecycle(transitions=((30, "GLACIER"),), expire_days=90)
# Documents (baselines): Glacier after a year, Deep Archive after seven (kept for audits).
DOCUMENTS = Lifecycle(transitions=((365, "GLACIER"), (7 * 365, "DEEP_ARCHIVE")))


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    """Inputs of ``SecureBucket``.

    - bucket_name: the physical name (``naming.physical(role)``); changing it replaces the bucket.
    - kms_key_arn: the customer-managed key for SSE-KMS (a bucket key keeps KMS calls cheap);
      ``None`` only for a server access log target, which gets SSE-S3 (``AES256``): "Default
      server-side encryption with AWS KMS keys (SSE-KMS) is not supported" for the target
      bucket (S3 user guide, "Enabling Amazon S3 server access logging").
    - access_log_bucket: name of the bucket receiving server access logs; ``None`` only for the
      log bucket itself (logging into itself would log its own log writes forever).
    - lifecycle: per-bucket transitions and expiration (default: none beyond the base rules).
    - extra_statements: further bucket-policy statements, appended after the TLS-only denies.
    - protect: Pulumi ``protect`` and retain-on-delete on the bucket.
    - force_destroy: let a deletion empty the bucket first (default false; staging only).
    - bucket_key: an S3 Bucket Key, which cuts KMS requests (default true; the trail's bucket
      turns it off, see components/observability/audit_trail.py).
    """

    bucket_name: str
    kms_key_arn: pulumi.Input[str] | None
    access_log_bucket: pulumi.Input[str] | None
    lifecycle: Lifecycle = Lifecycle()
    extra_statements: Sequence[Mapping[str, Any]] = ()
    protect: bool = True
    force_destroy: bool = False
    bucket_key: bool = True


def bucket_arn(bucket_name: str) -> str:
    return f"arn:aws:s3:::{bucket_name}"


def tls_only_statements(bucket_name: str) -> list[dict[str, Any]]:
    """Deny any request over plain HTTP, or over TLS older than 1.2 (encryption in transit)."""
    resources = [bucket_arn(bucket_name), f"{bucket_arn(bucket_name)}/*"]
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]


def lifecycle_rules(lifecycle: Lifecycle) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    everything = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=everything,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_MULTIPART_DAYS
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=everything,
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=lifecycle.noncurrent_expire_days
            ),
        ),
    ]
    if lifecycle.transitions or lifecycle.expire_days:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="age-current-versions",
                status="Enabled",
                filter=everything,
                transitions=[
                    aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=days, storage_class=storage_class
                    )
                    for days, storage_class in lifecycle.transitions
                ],
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    days=lifecycle.expire_days
                )
                if lifecycle.expire_days
                else None,
            )
        )
    return rules


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket

    def __init__(
        self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            opts=stateful(self, args.protect),
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                    ),
                    bucket_key_enabled=args.bucket_key,
                )
                if args.kms_key_arn is not None
                else aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=lifecycle_rules(args.lifecycle),
            opts=child,
        )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=self.bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=f"{args.bucket_name}/",
                opts=child,
            )
        policy = {
            "Version": "2012-10-17",
            "Statement": [*tls_only_statements(args.bucket_name), *args.extra_statements],
        }
        # After the public-access block, so S3 never sees the policy on an unblocked bucket.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=json.dumps(policy),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        self.register_outputs({"bucketName": self.bucket.bucket, "bucketArn": self.bucket.arn})
