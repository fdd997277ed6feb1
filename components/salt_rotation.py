"""SaltRotation: the HMAC salt, its key, its monthly rotation, and the function that uses it.

The salt anonymises organisation ids (spec 000, Day 25-26). Everything that touches the salt
lives here, so the key policy can name exactly the roles that use it:
- a customer-managed key only Secrets Manager may use, on behalf of two roles;
- the secret ``/{prefix}/{stack}/fp-calibration/hmac-salt``, first value 32 random bytes from
  pulumi-random; after that the salt-rotator owns the value (see ``initial_version``);
- Secrets Manager's own rotation on ``cron(0 0 1 * ? *)`` calling the salt-rotator (one copy at
  a time), so AWSPREVIOUS keeps last month's salt and ``rotate-secret`` is the emergency path;
- the fp-ingestion function, which reads the salt, checks consent and writes events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.alarm_catalog import SERVICE_NAMESPACE
from components.base import managed_key, stateful
from components.calibration_store import CalibrationStore
from components.config import Naming
from components.function import (
    Function,
    FunctionArgs,
    Statement,
    allow,
    key_via_service,
    lambda_function,
    powertools_layer,
)

ROTATION_SCHEDULE = "cron(0 0 1 * ? *)"  # 00:00 UTC on the 1st of every month
# The service's one namespace definition: the alarms watch the same constant.
METRICS_NAMESPACE = SERVICE_NAMESPACE
SALT_BYTES = 32

# Administration without use: nobody can decrypt the salt outside Secrets Manager.
KEY_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
KEY_USE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
ROTATOR_SECRET_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]
READER_SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]


@dataclass(frozen=True, kw_only=True)
class SaltRotationArgs:
    """Inputs of ``SaltRotation``.

    - naming, account_id, region, environment: where it lives; roles and the secret are named
      by ``naming``; ``environment`` is the metrics' Environment dimension.
    - store: the CalibrationStore whose consent and calibration tables ingestion uses.
    - deletion_protection: ``protect`` + retain-on-delete on the key, secret and its version.
    - log_key_arn, log_retention_days: the functions' log groups.
    - ingestion_concurrency: reserved concurrency of fp-ingestion (the DDoS bound).
    - salt_cache_seconds: how long a warm ingestion container trusts its cached salt.
    """

    naming: Naming
    account_id: str
    region: str
    environment: str
    store: CalibrationStore
    deletion_protection: bool
    log_key_arn: pulumi.Input[str]
    log_retention_days: int
    ingestion_concurrency: int
    salt_cache_seconds: int


def salt_key_policy(account_id: str, region: str, user_role_arns: list[str]) -> str:
    root = f"arn:aws:iam::{account_id}:root"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministratorsManageKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": KEY_ADMIN_ACTIONS,
                    "Resource": "*",
                },
                {
                    "Sid": "SaltRolesUseKeyThroughSecretsManager",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": KEY_USE_ACTIONS,
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                            "kms:CallerAccount": account_id,
                        },
                        # By ARN, not principal: a key policy naming a role that does not
                        # exist yet is rejected, and the roles are created after the key.
                        "ArnEquals": {"aws:PrincipalArn": user_role_arns},
                    },
                },
            ],
        }
    )


class SaltRotation(pulumi.ComponentResource):
    key: aws.kms.Key
    secret: aws.secretsmanager.Secret
    rotator: Function
    ingestion: Function
    env_key: aws.kms.Key

    def __init__(
        self, name: str, args: SaltRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:SaltRotation", name, None, opts)
        naming, protect = args.naming, args.deletion_protection
        self._region = args.region
        rotator_name = naming.physical("salt-rotator")
        ingestion_name = naming.physical("fp-ingestion")
        role_arns = [
            f"arn:aws:iam::{args.account_id}:role/{role}" for role in (ingestion_name, rotator_name)
        ]

        self.key = managed_key(
            f"{name}-key",
            parent=self,
            protect=protect,
            description=f"HMAC salt encryption ({naming.physical('salt')})",
            alias=naming.alias("salt"),
            policy=salt_key_policy(args.account_id, args.region, role_arns),
        )
        self.env_key = managed_key(
            f"{name}-env-key",
            parent=self,
            protect=protect,
            description=f"Lambda environment encryption ({naming.physical('functions')})",
            alias=naming.alias("functions"),
        )
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=naming.path("fp-calibration", "hmac-salt"),
            description="HMAC salt for organisation id anonymisation (rotates monthly)",
            kms_key_id=self.key.arn,
            recovery_window_in_days=30,
            opts=stateful(self, protect),
        )
        self.initial_version = self._initial_version(name, protect)

        # Both components' functions share this layer (CalibrationApi takes its ARN).
        self.powertools = powertools_layer(
            self, f"{name}-powertools", naming.physical("powertools")
        )
        layers = [self.powertools.arn]
        self.rotator = lambda_function(
            self,
            f"{name}-rotator",
            FunctionArgs(
                name=rotator_name,
                code="salt_rotator",
                description="Secrets Manager rotation of the HMAC salt (four steps)",
                statements=self.rotator_statements(),
                environment={
                    "POWERTOOLS_SERVICE_NAME": "salt-rotator",
                    "SALT_SECRET_ID": self.secret.arn,
                },
                # bench: peak RSS 50 MB after init (boto3 alone 43 MB); 12 runs a year, so
                # the smallest size with half of it free.
                memory_mb=128,
                timeout_s=30,
                # One rotation at a time: Secrets Manager retries steps, never in parallel.
                reserved_concurrency=1,
                env_key_arn=self.env_key.arn,
                log_key_arn=args.log_key_arn,
                log_retention_days=args.log_retention_days,
                layers=layers,
            ),
        )
        store = args.store
        self.ingestion = lambda_function(
            self,
            f"{name}-ingestion",
            FunctionArgs(
                name=ingestion_name,
                code="fp_ingestion",
                description="Validates, consent-checks, anonymises and stores FP events",
                statements=[
                    *store.consent_read_statements(),
                    *store.calibration_write_statements(),
                    *self.read_statements(),
                ],
                environment={
                    "ENVIRONMENT": args.environment,
                    "POWERTOOLS_SERVICE_NAME": "fp-ingestion",
                    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                    "CONSENT_TABLE_NAME": store.tables["consent"].name,
                    "CALIBRATION_TABLE_NAME": store.tables["calibration"].name,
                    "AGGREGATES_TABLE_NAME": store.tables["aggregates"].name,
                    "SALT_SECRET_ID": self.secret.arn,
                    "SALT_CACHE_SECONDS": str(args.salt_cache_seconds),
                },
                # bench (`python -m bench`): 2.3 ms CPU per warm event at p50, 3.5 ms at p99,
                # peak RSS 52 MB; 256 MB is the smallest size keeping the modelled warm p99
                # under 50 ms (41 ms; 128 MB: 65 ms) for $0.34 per million events.
                memory_mb=256,
                timeout_s=10,
                reserved_concurrency=args.ingestion_concurrency,
                env_key_arn=self.env_key.arn,
                log_key_arn=args.log_key_arn,
                log_retention_days=args.log_retention_days,
                layers=layers,
            ),
        )

        permission = aws.lambda_.Permission(
            f"{name}-rotator-invoke",
            action="lambda:InvokeFunction",
            function=self.rotator.function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=self.secret.arn,
            source_account=args.account_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-rotation",
            secret_id=self.secret.id,
            rotation_lambda_arn=self.rotator.function.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                schedule_expression=ROTATION_SCHEDULE
            ),
            # The first salt serves until the 1st of next month.
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission, self.initial_version]),
        )
        self.register_outputs(
            {
                "secretArn": self.secret.arn,
                "keyArn": self.key.arn,
                "rotatorName": self.rotator.function.name,
                "ingestionName": self.ingestion.function.name,
            }
        )

    def _initial_version(self, name: str, protect: bool) -> aws.secretsmanager.SecretVersion:
        """The first salt, written once; the rotator owns every later value.

        ``ignore_changes`` on the value and its stages: after rotations move AWSCURRENT away,
        neither ``pulumi up`` nor ``pulumi refresh && pulumi up`` writes the initial salt back
        (terraform-provider-aws#37302). The random bytes are a Pulumi secret end to end.
        """
        salt = random.RandomBytes(
            f"{name}-initial-salt", length=SALT_BYTES, opts=pulumi.ResourceOptions(parent=self)
        )
        now = datetime.now(UTC)
        return aws.secretsmanager.SecretVersion(
            f"{name}-initial-version",
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.json_dumps(
                    {
                        "salt": salt.base64,
                        "rotationMonth": now.strftime("%Y-%m"),
                        "rotatedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                )
            ),
            opts=pulumi.ResourceOptions.merge(
                stateful(self, protect),
                pulumi.ResourceOptions(ignore_changes=["secretString", "versionStages"]),
            ),
        )

    def read_statements(self) -> list[Statement]:
        """Read the current salt (cached by the caller)."""
        return [
            allow("ReadSalt", READER_SECRET_ACTIONS, [self.secret.arn]),
            self._key_statement(["kms:Decrypt"]),
        ]

    def rotator_statements(self) -> list[Statement]:
        """The four rotation steps on this one secret (as the AWS rotation templates need)."""
        return [
            allow("RotateSalt", ROTATOR_SECRET_ACTIONS, [self.secret.arn]),
            self._key_statement(["kms:Decrypt", "kms:GenerateDataKey"]),
        ]

    def _key_statement(self, actions: list[str]) -> Statement:
        return key_via_service(
            "UseSaltKeyViaSecretsManager", actions, self.key.arn, "secretsmanager", self._region
        )
