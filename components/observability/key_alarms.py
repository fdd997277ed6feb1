"""KeyAlarms: pages the on-call engineer whenever someone changes who may use a watched key.

Two KMS calls can hand out use of a key: ``PutKeyPolicy`` (rewrite the policy) and
``CreateGrant``. The salt key denies every grant and leaves ``PutKeyPolicy`` only to the
identities that run ``pulumi up`` (components/core/key_policy.py); this rule makes each use of it,
and each attempt at either call (CloudTrail records refused calls too), a deliberate act that
someone sees. A deploy that changes the salt key's policy pages as well, on purpose.

EventBridge receives KMS management events as ``AWS API Call via CloudTrail`` from the trail
that logs them. The rule matches ``detail.requestParameters.keyId``, which holds the key as
the caller named it: PutKeyPolicy and CreateGrant accept a key id or a key ARN ("PutKeyPolicy",
"CreateGrant" in the AWS KMS API Reference), and a refused call keeps its request parameters
("Logging AWS KMS API calls with AWS CloudTrail", e.g.
https://docs.aws.amazon.com/kms/latest/developerguide/ct-put-key-policy.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext

WATCHED_CALLS = ("PutKeyPolicy", "CreateGrant")


def key_access_pattern(key_id: str, key_arn: str) -> dict[str, Any]:
    """The event pattern of a PutKeyPolicy or CreateGrant call on one key, allowed or not."""
    return {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": list(WATCHED_CALLS),
            "requestParameters": {"keyId": [key_id, key_arn]},
        },
    }


@dataclass(frozen=True, kw_only=True)
class KeyAlarmsArgs:
    """Inputs of ``KeyAlarms``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - keys: the watched keys by role (``{"salt": salt.key}``).
    - critical_topic_arn: where a matching call pages.
    """

    stack: StackContext
    keys: Mapping[str, aws.kms.Key]
    critical_topic_arn: pulumi.Input[str]


class KeyAlarms(pulumi.ComponentResource):
    rules: dict[str, aws.cloudwatch.EventRule]

    def __init__(
        self, name: str, args: KeyAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:KeyAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.rules = {}
        for role, key in args.keys.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{role}",
                name=args.stack.naming.physical(f"{role}-key-access"),
                description=(
                    f"PutKeyPolicy or CreateGrant on the {role} key: who may use it changed. "
                    f"Runbook: docs/runbooks/operations.md#{role}-key-access"
                ),
                event_pattern=pulumi.Output.all(key.key_id, key.arn).apply(
                    lambda ids: json.dumps(key_access_pattern(ids[0], ids[1]))
                ),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{role}-target", rule=rule.name, arn=args.critical_topic_arn, opts=child
            )
            self.rules[role] = rule
        self.register_outputs({"ruleNames": [rule.name for rule in self.rules.values()]})
