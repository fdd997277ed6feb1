"""Observability: the log-encryption key and the alert topics every other component uses.

Created first in ``__main__.py`` so that each component encrypts its log groups with
``log_key`` and routes alarms to ``critical_topic`` / ``warning_topic``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import managed_key
from components.config import Naming


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs:
    """Inputs of ``Observability``.

    - naming: the stack's physical-name rule.
    - account_id, region: where the log groups and topics live (key policies name them).
    - deletion_protection: Pulumi ``protect`` and retain-on-delete on the keys.
    """

    naming: Naming
    account_id: str
    region: str
    deletion_protection: bool


def log_key_policy(account_id: str, region: str) -> str:
    """Account root administers the key; CloudWatch Logs may use it for this account's groups."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncrypts",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:aws:logs:{region}:{account_id}:log-group:*"
                            )
                        }
                    },
                },
            ],
        }
    )


class Observability(pulumi.ComponentResource):
    log_key: aws.kms.Key

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:Observability", name, None, opts)
        self.log_key = managed_key(
            f"{name}-log-key",
            parent=self,
            protect=args.deletion_protection,
            description=f"CloudWatch Logs encryption for {args.naming.physical('logs')}",
            alias=args.naming.alias("logs"),
            policy=log_key_policy(args.account_id, args.region),
        )
        self.register_outputs({"logKeyArn": self.log_key.arn})
