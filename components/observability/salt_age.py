"""SaltAgeCheck: measures the HMAC salt's age every 15 minutes, whether or not traffic flows.

The salt rotates monthly, and an alarm looks back at most 7 days (period x evaluation periods
<= 604,800 s), so neither the rotator's runs nor ingestion's traffic can tell a quiet stack's
missed rotation from silence. This component's function (lambdas/salt_age) reads the secret's
``DescribeSecret`` dates, never its value, and publishes ``SaltAgeDays``; the salt-age alarm
(components/observability/alarm_catalog.py) treats missing data as breaching. An EventBridge rule invokes it
(a Lambda target needs no role, only the permission below, limited to this rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext
from components.core.function import Function, FunctionArgs, allow, lambda_function
from components.core.grants import Grants
from components.observability.alarm_catalog import SERVICE_NAMESPACE

SCHEDULE = "rate(15 minutes)"
DESCRIBE_ACTIONS = ["secretsmanager:DescribeSecret"]


@dataclass(frozen=True, kw_only=True)
class SaltAgeCheckArgs:
    """Inputs of ``SaltAgeCheck``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - secret_arn: the salt secret (``SaltRotation.secret``); the role may describe it, nothing
      else.
    - env_key_arn, layers: as for every function.
    """

    stack: StackContext
    secret_arn: pulumi.Input[str]
    env_key_arn: pulumi.Input[str]
    layers: Sequence[pulumi.Input[str]] = ()


def grant_describe(grants: Grants, secret_arn: pulumi.Input[str]) -> Grants:
    """Read the secret's metadata (dates, stages); DescribeSecret never returns the value and
    needs no KMS permission."""
    return grants.add(allow("DescribeSaltDates", DESCRIBE_ACTIONS, [secret_arn]))


class SaltAgeCheck(pulumi.ComponentResource):
    checker: Function
    schedule: aws.cloudwatch.EventRule

    def __init__(
        self, name: str, args: SaltAgeCheckArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:SaltAgeCheck", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.checker = lambda_function(
            self,
            f"{name}-check",
            FunctionArgs(
                name=args.stack.naming.physical("salt-age-check"),
                code="salt_age",
                description="Publishes the HMAC salt's age (SaltAgeDays) every 15 minutes",
                grants=grant_describe(Grants("salt-age-check"), args.secret_arn),
                environment={
                    "ENVIRONMENT": args.stack.environment,
                    "POWERTOOLS_SERVICE_NAME": "salt-age-check",
                    "POWERTOOLS_METRICS_NAMESPACE": SERVICE_NAMESPACE,
                    "SALT_SECRET_ID": args.secret_arn,
                },
                # One DescribeSecret per run: the smallest size suffices.
                memory_mb=128,
                timeout_s=30,
                reserved_concurrency=1,
                env_key_arn=args.env_key_arn,
                log_key_arn=args.stack.log_key,
                log_retention_days=args.stack.log_retention_days,
                layers=args.layers,
            ),
        )
        self.schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=args.stack.naming.physical("salt-age-check"),
            description="Invokes the salt-age check; the salt-age alarm needs a frequent source",
            schedule_expression=SCHEDULE,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.checker.function.name,
            principal="events.amazonaws.com",
            source_arn=self.schedule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=self.schedule.name,
            arn=self.checker.function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.register_outputs(
            {"functionName": self.checker.function.name, "scheduleName": self.schedule.name}
        )
