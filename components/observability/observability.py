"""Observability: the log-encryption key and the two alert topics every alarm goes to.

Created first in ``__main__.py`` so that each component encrypts its log groups with
``log_key``; ``AuditTrail`` and ``Alarms`` route their alarms to ``topics["critical"]`` (pages
the on-call engineer) and ``topics["warning"]`` (email). Both topics are encrypted with a
customer-managed key that CloudWatch and EventBridge may use, and only this account's alarms
and rules may publish to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.config import AlertSettings
from components.core.base import managed_key
from components.core.context import StackContext
from components.core.key_policy import key_policy, service

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")
# Services that publish to the topics: CloudWatch alarms and EventBridge rules.
PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com")
LOGS_KEY_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
TOPIC_OWNER_ACTIONS = [
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:DeleteTopic",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
]


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs:
    """Inputs of ``Observability``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - alerts: the topics' email recipients (``AlertSettings``; default: nobody subscribed).
    """

    stack: StackContext
    alerts: AlertSettings = field(default_factory=AlertSettings)


def log_key_policy(stack: StackContext) -> str:
    """CloudWatch Logs encrypts and decrypts this account's log groups in this region as its own
    principal, for the group named in the encryption context ("Encrypt log data in CloudWatch
    Logs using AWS Key Management Service", key policy step:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
    Nobody else uses the key: readers of a group are authorised by CloudWatch Logs."""
    region = stack.region
    groups = f"arn:aws:logs:{region}:{stack.account_id}:log-group:*"
    return key_policy(
        stack.account_id,
        stack.deployers,
        [
            service(
                "CloudWatchLogsEncryptsThisAccountsGroups",
                [f"logs.{region}.amazonaws.com"],
                LOGS_KEY_ACTIONS,
                {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": groups}},
            )
        ],
    )


def alert_key_policy(stack: StackContext, topic_names: list[str]) -> str:
    """CloudWatch alarms and EventBridge rules publish to the encrypted topics: SNS is not a
    principal, the publishing service is, and it needs kms:Decrypt and kms:GenerateDataKey*
    ("Enable compatibility between event sources from AWS services and encrypted topics",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services),
    only for these topics (SNS's encryption context ``aws:sns:topicArn``). The topic policies
    limit publishing to this account's alarms and rules."""
    topics = [topic_arn(stack.account_id, stack.region, name) for name in topic_names]
    return key_policy(
        stack.account_id,
        stack.deployers,
        [
            service(
                "AlarmsAndRulesPublishToEncryptedTopics",
                PUBLISHERS,
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topics}},
            )
        ],
    )


def topic_arn(account_id: str, region: str, topic_name: str) -> str:
    return f"arn:aws:sns:{region}:{account_id}:{topic_name}"


def topic_policy(account_id: str, region: str, topic_name: str) -> str:
    """The account manages the topic; only this account's alarms and rules may publish; TLS only."""
    arn = topic_arn(account_id, region, topic_name)
    own_account = {"StringEquals": {"aws:SourceAccount": account_id}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountManages",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": TOPIC_OWNER_ACTIONS,
                    "Resource": arn,
                },
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": {
                        **own_account,
                        "ArnLike": {
                            "aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"
                        },
                    },
                },
                {
                    "Sid": "EventBridgeRulesPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": {
                        **own_account,
                        "ArnLike": {
                            "aws:SourceArn": f"arn:aws:events:{region}:{account_id}:rule/*"
                        },
                    },
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def recipients(alerts: AlertSettings, severity: Severity) -> list[str]:
    """Each topic's addresses: the shared list plus the topic's own, without duplicates."""
    own = alerts.critical_emails if severity == "critical" else alerts.warning_emails
    return list(dict.fromkeys([*alerts.alarm_emails, *own]))


class Observability(pulumi.ComponentResource):
    log_key: aws.kms.Key
    alert_key: aws.kms.Key
    topics: dict[Severity, aws.sns.Topic]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:Observability", name, None, opts)
        naming = args.stack.naming
        self.log_key = managed_key(
            f"{name}-log-key",
            parent=self,
            stack=args.stack,
            alias_role="logs",
            description=f"CloudWatch Logs encryption for {naming.physical('logs')}",
            policy=log_key_policy(args.stack),
        )
        self._alert_topics(name, args)
        self.register_outputs(
            {
                "logKeyArn": self.log_key.arn,
                "criticalTopicArn": self.topics["critical"].arn,
                "warningTopicArn": self.topics["warning"].arn,
            }
        )

    def _alert_topics(self, name: str, args: ObservabilityArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.alert_key = managed_key(
            f"{name}-alert-key",
            parent=self,
            stack=args.stack,
            alias_role="alerts",
            description=f"SNS alert topic encryption for {args.stack.naming.physical('alerts')}",
            policy=alert_key_policy(
                args.stack,
                [args.stack.naming.physical(f"{severity}-alerts") for severity in SEVERITIES],
            ),
        )
        self.topics = {}
        for severity in SEVERITIES:
            topic_name = args.stack.naming.physical(f"{severity}-alerts")
            topic = aws.sns.Topic(
                f"{name}-{severity}-topic",
                name=topic_name,
                kms_master_key_id=self.alert_key.arn,
                opts=child,
            )
            aws.sns.TopicPolicy(
                f"{name}-{severity}-topic-policy",
                arn=topic.arn,
                policy=topic_policy(args.stack.account_id, args.stack.region, topic_name),
                opts=child,
            )
            # Named by address, not position: removing one recipient must not re-subscribe
            # (and re-confirm) everyone listed after it.
            for email in recipients(args.alerts, severity):
                aws.sns.TopicSubscription(
                    f"{name}-{severity}-email-{email}",
                    topic=topic.arn,
                    protocol="email",
                    endpoint=email,
                    opts=child,
                )
            self.topics[severity] = topic
