"""SaltRotation: the HMAC salt, its key, and its monthly rotation.

The salt anonymises organisation ids in pending events (docs/privacy.md, "Keyed hashes"). The
salt's whole life lives here, so its key policy can name exactly the roles that use it:
- a customer-managed key only Secrets Manager may use, on behalf of the roles named in
  ``salt_reader_roles`` and the salt-rotator; the deploying identities may only make Secrets
  Manager's key-validation call;
- the secret ``/{prefix}/{stack}/fp-calibration/hmac-salt``, created WITHOUT a value: the
  rotation schedule starts with an immediate rotation whose ``createSecret`` step seeds the first
  salt, so no salt ever passes through the engine or its state (until then every reader answers
  ``503 salt_not_seeded``);
- Secrets Manager's own rotation on ``cron(0 0 1 * ? *)`` calling the salt-rotator (one copy at
  a time), so AWSPREVIOUS keeps last month's salt and ``rotate-secret`` is the emergency path.

It also owns the functions' environment key and the Powertools layer, which every function of
the service shares: the rotator needs both, and the calibration service needs the salt first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.base import managed_key, stateful
from components.core.context import StackContext
from components.core.function import (
    Function,
    FunctionArgs,
    Statement,
    allow,
    key_via_service,
    lambda_function,
    powertools_environment,
    powertools_layer,
)
from components.core.grants import Grants
from components.core.key_policy import (
    SECRETS_MANAGER_VALIDATION,
    by_name,
    for_aws_resource,
    key_policy,
    role_arn,
    via,
)

ROTATION_SCHEDULE = "cron(0 0 1 * ? *)"  # 00:00 UTC on the 1st of every month
ROTATOR_SECRET_ACTIONS = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
]
READER_SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]
# The release job's view: versions and stages, never a value (no KMS).
DESCRIBE_SECRET_ACTIONS = ["secretsmanager:DescribeSecret"]


@dataclass(frozen=True, kw_only=True)
class SaltRotationArgs:
    """Inputs of ``SaltRotation``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - salt_reader_roles: the functions (``naming`` roles such as ``fp-ingestion``) that read the
      salt; the key policy names their roles, and ``grant_read`` refuses any other role.
    """

    stack: StackContext
    salt_reader_roles: Sequence[str]


def secret_arn_pattern(account_id: str, region: str, secret_name: str) -> str:
    """The secret's ARN before it exists: Secrets Manager appends ``-`` and six characters."""
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{secret_name}-??????"


def salt_key_policy(
    stack: StackContext,
    *,
    secret_name: str,
    reader_role_arns: Sequence[str],
    rotator_role_arn: str,
) -> str:
    """Use only through Secrets Manager, for this one secret, by the roles named here.

    The deployers create the secret under this key, so Secrets Manager validates the key on
    their behalf (GenerateDataKey and Decrypt with ``SecretVersionId`` =
    ``RequestToValidateKeyAccess``): they may make exactly that call, never with a real
    version id. Nobody may create grants: Secrets Manager uses none ("Although Secrets Manager
    does not use grants", ibid.), so a grant could only hand the salt to someone unnamed here.
    ``kms:PutKeyPolicy`` stays with the deployers (``pulumi up`` writes this policy); each use
    of it, and every ``CreateGrant`` attempt, pages the on-call engineer
    (components/observability/key_alarms.py).
    """
    account_id, region = stack.account_id, stack.region
    through_secrets_manager = via("secretsmanager", region)
    this_secret = {
        "StringLike": {
            "kms:EncryptionContext:SecretARN": secret_arn_pattern(account_id, region, secret_name)
        }
    }
    return key_policy(
        account_id,
        stack.deployers,
        [
            {
                "Sid": "NobodyGrantsUseOfTheSalt",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:CreateGrant",
                "Resource": "*",
            },
            *by_name(
                "DeployersOnlyValidateTheKeyForSecretsManager",
                account_id,
                stack.deployers.arns,
                ["kms:GenerateDataKey", "kms:Decrypt"],
                through_secrets_manager,
                this_secret,
                {
                    "StringEquals": {
                        "kms:EncryptionContext:SecretVersionId": SECRETS_MANAGER_VALIDATION
                    }
                },
            ),
            *by_name(
                "SaltReadersDecryptThroughSecretsManager",
                account_id,
                reader_role_arns,
                ["kms:Decrypt"],
                through_secrets_manager,
                this_secret,
            ),
            *by_name(
                "SaltRotatorWritesThroughSecretsManager",
                account_id,
                [rotator_role_arn],
                ["kms:Decrypt", "kms:GenerateDataKey"],
                through_secrets_manager,
                this_secret,
            ),
        ],
    )


def environment_key_policy(stack: StackContext) -> str:
    """Lambda encrypts the functions' environment with this key through a grant it creates for
    the principal who configures the function ("Securing environment variables": that principal
    needs kms:CreateGrant and kms:Encrypt, and kms:Decrypt to read the variables back;
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html). The
    execution roles need nothing: Lambda decrypts with its grant."""
    account_id, deployers = stack.account_id, stack.deployers
    through_lambda = via("lambda", stack.region)
    return key_policy(
        account_id,
        deployers,
        [
            *by_name(
                "DeployersEncryptFunctionEnvironments",
                account_id,
                deployers.arns,
                ["kms:Encrypt", "kms:Decrypt"],
                through_lambda,
            ),
            *by_name(
                "DeployersLetLambdaGrantItselfUse",
                account_id,
                deployers.arns,
                ["kms:CreateGrant"],
                through_lambda,
                for_aws_resource(),
            ),
        ],
    )


class SaltRotation(pulumi.ComponentResource):
    key: aws.kms.Key
    secret: aws.secretsmanager.Secret
    rotator: Function
    env_key: aws.kms.Key
    powertools: aws.lambda_.LayerVersion

    def __init__(
        self, name: str, args: SaltRotationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:SaltRotation", name, None, opts)
        naming, protect = args.stack.naming, args.stack.protect
        self._region = args.stack.region
        self._readers = frozenset(args.salt_reader_roles)
        rotator_name = naming.physical("salt-rotator")
        secret_name = naming.path("fp-calibration", "hmac-salt")

        self.key = managed_key(
            f"{name}-key",
            parent=self,
            stack=args.stack,
            alias_role="salt",
            description=f"HMAC salt encryption ({naming.physical('salt')})",
            policy=salt_key_policy(
                args.stack,
                secret_name=secret_name,
                reader_role_arns=[
                    role_arn(args.stack.account_id, role)
                    for role in map(naming.physical, args.salt_reader_roles)
                ],
                rotator_role_arn=role_arn(args.stack.account_id, rotator_name),
            ),
        )
        self.env_key = managed_key(
            f"{name}-env-key",
            parent=self,
            stack=args.stack,
            alias_role="functions",
            description=f"Lambda environment encryption ({naming.physical('functions')})",
            policy=environment_key_policy(args.stack),
        )
        # No value here: the rotation below seeds the first salt, so it never enters state.
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=secret_name,
            description="HMAC salt for organisation id anonymisation (rotates monthly)",
            kms_key_id=self.key.arn,
            # Staging is rebuilt: a deleted secret's name stays taken for its recovery window.
            recovery_window_in_days=30 if protect else 0,
            opts=stateful(self, protect),
        )

        # Every function of the service uses this layer (CalibrationService takes its ARN).
        self.powertools = powertools_layer(
            self, f"{name}-powertools", naming.physical("powertools")
        )
        self.rotator = lambda_function(
            self,
            f"{name}-rotator",
            FunctionArgs(
                name=rotator_name,
                code="salt_rotator",
                description="Secrets Manager rotation of the HMAC salt (four steps)",
                grants=self._rotator_grants(),
                environment={
                    **powertools_environment("salt-rotator"),
                    "ENVIRONMENT": args.stack.environment,
                    "SALT_SECRET_ID": self.secret.arn,
                },
                # bench: peak RSS 50 MB after init (boto3 alone 43 MB); 12 runs a year, so
                # the smallest size with half of it free.
                memory_mb=128,
                timeout_s=30,
                # One rotation at a time: Secrets Manager retries steps, never in parallel.
                reserved_concurrency=1,
                env_key_arn=self.env_key.arn,
                log_key_arn=args.stack.log_key,
                log_retention_days=args.stack.log_retention_days,
                layers=[self.powertools.arn],
            ),
        )
        permission = aws.lambda_.Permission(
            f"{name}-rotator-invoke",
            action="lambda:InvokeFunction",
            function=self.rotator.function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=self.secret.arn,
            source_account=args.stack.account_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-rotation",
            secret_id=self.secret.id,
            rotation_lambda_arn=self.rotator.function.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                schedule_expression=ROTATION_SCHEDULE
            ),
            # Rotating on creation has the rotator seed the first salt (createSecret with no
            # AWSCURRENT); it then serves until the 1st of next month.
            rotate_immediately=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.register_outputs(
            {
                "secretArn": self.secret.arn,
                "keyArn": self.key.arn,
                "rotatorName": self.rotator.function.name,
            }
        )

    def grant_read(self, grants: Grants) -> None:
        """Read the current and previous salt (cached by the caller); the salt key's policy
        must name the role (``salt_reader_roles``)."""
        grants.require(self._readers, "the salt key")
        grants.add(
            allow("ReadSalt", READER_SECRET_ACTIONS, [self.secret.arn]),
            self._key_statement(["kms:Decrypt"]),
        )

    def grant_describe(self, grants: Grants) -> None:
        """List the salt's versions, stages and dates, never a value (no key use)."""
        grants.add(allow("ListSaltVersions", DESCRIBE_SECRET_ACTIONS, [self.secret.arn]))

    def _rotator_grants(self) -> Grants:
        """The four rotation steps on this one secret (as the AWS rotation templates need)."""
        return Grants("salt-rotator").add(
            allow("RotateSalt", ROTATOR_SECRET_ACTIONS, [self.secret.arn]),
            self._key_statement(["kms:Decrypt", "kms:GenerateDataKey"]),
        )

    def _key_statement(self, actions: list[str]) -> Statement:
        return key_via_service(
            "UseSaltKeyViaSecretsManager", actions, self.key.arn, "secretsmanager", self._region
        )
