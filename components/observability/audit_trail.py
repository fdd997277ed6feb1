"""AuditTrail: the account's CloudTrail, where it is kept, and the CIS security alarms on it.

The trail is multi-region, validates its log files (a digest chain that shows tampering) and
encrypts them with its own key; it writes to a ``SecureBucket`` kept ``trailRetentionDays``
(at least 90, a year in production) and streams to a KMS-encrypted log group carrying the CIS
metric filters of components/observability/cis_controls.py, each with an alarm paging ``critical``.

Created after ``DataTier`` in ``__main__.py`` because its bucket sends S3 access logs to the
data tier's access-log bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core.base import log_group, managed_key, service_trust, stateful
from components.core.context import StackContext
from components.core.key_policy import by_name, key_policy, service, via
from components.core.secure_bucket import Lifecycle, SecureBucket, SecureBucketArgs, bucket_arn
from components.observability.cis_controls import CIS_CONTROLS, PERIOD_S, THRESHOLD

CIS_NAMESPACE = "PhaseMirror/Security"


@dataclass(frozen=True, kw_only=True)
class AuditTrailArgs:
    """Inputs of ``AuditTrail``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - retention_days: days log files stay in the bucket (config ``trailRetentionDays``, >= 90).
    - access_log_bucket: the bucket receiving the trail bucket's S3 access logs.
    - critical_topic_arn: where the CIS alarms go.
    """

    stack: StackContext
    retention_days: int
    access_log_bucket: pulumi.Input[str]
    critical_topic_arn: pulumi.Input[str]


def trail_arn(account_id: str, region: str, trail_name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{trail_name}"


def trail_key_policy(stack: StackContext, source_trail_arn: str) -> str:
    """The required elements of "Configure AWS KMS key policies for CloudTrail"
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html),
    limited to this trail; log files are decrypted by name: the operators, through S3."""
    trail_context = {
        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{stack.account_id}:trail/*"
    }
    account_id, region, deployers = stack.account_id, stack.region, stack.deployers
    return key_policy(
        account_id,
        deployers,
        [
            service(
                "CloudTrailEncryptsLogs",
                ["cloudtrail.amazonaws.com"],
                ["kms:GenerateDataKey*"],
                {"StringEquals": {"aws:SourceArn": source_trail_arn}},
                {"StringLike": trail_context},
            ),
            service(
                "CloudTrailDescribesKey",
                ["cloudtrail.amazonaws.com"],
                ["kms:DescribeKey"],
                {"StringEquals": {"aws:SourceArn": source_trail_arn}},
            ),
            *by_name(
                "OperatorsReadLogFiles",
                account_id,
                deployers.operators,
                ["kms:Decrypt", "kms:ReEncryptFrom"],
                via("s3", region),
                {"StringLike": trail_context},
            ),
        ],
    )


def trail_bucket_statements(
    account_id: str, bucket_name: str, source_trail_arn: str
) -> list[dict[str, Any]]:
    """What CloudTrail needs on its bucket: read the ACL, write under AWSLogs/<account>/."""
    only_this_trail = {"StringEquals": {"aws:SourceArn": source_trail_arn}}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn(bucket_name),
            "Condition": only_this_trail,
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn(bucket_name)}/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {
                    "aws:SourceArn": source_trail_arn,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                }
            },
        },
    ]


def trail_role_trust(source_trail_arn: str) -> str:
    return service_trust(
        "cloudtrail.amazonaws.com", {"StringEquals": {"aws:SourceArn": source_trail_arn}}
    )


class AuditTrail(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail
    key: aws.kms.Key
    bucket: SecureBucket
    log_group: aws.cloudwatch.LogGroup
    cis_alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(
        self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:AuditTrail", name, None, opts)
        self._trail(name, args)
        self._cis_alarms(name, args)
        self.register_outputs(
            {
                "trailArn": self.trail.arn,
                "bucketName": self.bucket.bucket.bucket,
                "logGroupName": self.log_group.name,
            }
        )

    def _trail(self, name: str, args: AuditTrailArgs) -> None:
        naming = args.stack.naming
        child = pulumi.ResourceOptions(parent=self)
        trail_name = naming.physical("trail")
        arn = trail_arn(args.stack.account_id, args.stack.region, trail_name)
        self.key = managed_key(
            f"{name}-trail-key",
            parent=self,
            stack=args.stack,
            alias_role="trail",
            description=f"CloudTrail log file encryption for {trail_name}",
            policy=trail_key_policy(args.stack, arn),
        )
        bucket_name = naming.bucket("cloudtrail", args.stack.account_id, args.stack.region)
        self.bucket = SecureBucket(
            f"{name}-trail-bucket",
            SecureBucketArgs(
                bucket_name=bucket_name,
                kms_key_arn=self.key.arn,
                access_log_bucket=args.access_log_bucket,
                lifecycle=Lifecycle(expire_days=args.retention_days),
                extra_statements=trail_bucket_statements(args.stack.account_id, bucket_name, arn),
                protect=args.stack.protect,
                # With an S3 Bucket Key, CreateTrail and UpdateTrail need kms:Decrypt for
                # CloudTrail ("Configure AWS KMS key policies for CloudTrail", required
                # elements); without one, the trail key stays encrypt-only for CloudTrail, for
                # under a dollar a month of extra KMS requests.
                bucket_key=False,
                # A stack without protection (staging) can be torn down with its logs.
                force_destroy=not args.stack.protect,
            ),
            opts=child,
        )
        self.log_group = log_group(
            f"{name}-trail-logs",
            f"/aws/cloudtrail/{trail_name}",
            key_arn=args.stack.log_key,
            retention_days=args.stack.log_retention_days,
            # The audit record: CloudWatch Logs refuses to delete it while protected, and the
            # replacement gate names it (tools/replacement.py, by URN).
            deletion_protection=args.stack.protect,
            opts=stateful(self, args.stack.protect),
        )
        role = aws.iam.Role(
            f"{name}-trail-role",
            name=naming.physical("trail-logs"),
            assume_role_policy=trail_role_trust(arn),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-trail-role-policy",
            name=naming.physical("trail-logs"),
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "WriteTrailLogGroup",
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": self.log_group.arn.apply(lambda a: f"{a}:log-stream:*"),
                        }
                    ],
                }
            ),
            opts=child,
        )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=self.bucket.bucket.bucket,
            kms_key_id=self.key.arn,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            cloud_watch_logs_group_arn=self.log_group.arn.apply(lambda a: f"{a}:*"),
            cloud_watch_logs_role_arn=role.arn,
            # All management events, KMS included: CloudWatch.7 fails if kms is excluded.
            event_selectors=[
                aws.cloudtrail.TrailEventSelectorArgs(
                    read_write_type="All", include_management_events=True
                )
            ],
            # CloudTrail checks bucket policy and role when the trail is created; a deleted
            # trail stops the audit record, so it is protected like the data it writes.
            opts=pulumi.ResourceOptions.merge(
                stateful(self, args.stack.protect),
                pulumi.ResourceOptions(depends_on=[self.bucket, role_policy]),
            ),
        )

    def _cis_alarms(self, name: str, args: AuditTrailArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.cis_alarms = []
        for control in CIS_CONTROLS:
            metric_name = args.stack.naming.physical(control.role)
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{control.role}-filter",
                name=metric_name,
                log_group_name=self.log_group.name,
                pattern=control.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric_name, namespace=CIS_NAMESPACE, value="1", default_value="0"
                ),
                opts=child,
            )
            self.cis_alarms.append(
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{control.role}-alarm",
                    name=metric_name,
                    alarm_description=(
                        f"CIS {control.control}: {control.title} seen in CloudTrail. "
                        f"Runbook: docs/runbooks/operations.md#security-alarms"
                    ),
                    namespace=CIS_NAMESPACE,
                    metric_name=metric_name,
                    statistic="Sum",
                    period=PERIOD_S,
                    evaluation_periods=1,
                    threshold=THRESHOLD,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[args.critical_topic_arn],
                    opts=child,
                )
            )
