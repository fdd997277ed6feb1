"""The key table: every KMS key of both stacks, evaluated for every caller that must get in and
every one that must not, at deploy time and at run time.

Each row is one call: a caller, a KMS action on one key, and the request context that the
calling service sends (``kms:ViaService``, the encryption context, ``aws:SourceArn``). The
decision comes from testing/policy_eval.py ("Policy evaluation logic":
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
over the key policy the program registers and the caller's identity policies as the runs
register them: the functions' role policies from this program, the CI roles' from the
bootstrap program. Each row names the AWS page its context and expectation come from.

The stacks run with both deploying identities configured (``deployRoleArn``,
``operatorRoleArnPattern``), as the first deploy and the deploy workflow have them.

One module over 400 lines because it is one table: its rows are the length.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testing.key_table import ANY_ACTION, Row, role_policies
from testing.policy_eval import Decision, key_decision, role_request, service_request
from testing.program import ACCOUNT_ID, ROOT, ProgramRun, run_bootstrap, run_program

REGION = "us-east-1"
IAM = f"arn:aws:iam::{ACCOUNT_ID}"
DEPLOY_ROLE = f"{IAM}:role/phase-mirror-ci-deploy-bootstrap"
PREVIEW_ROLE = f"{IAM}:role/phase-mirror-ci-preview-bootstrap"
OPERATOR_PATTERN = (
    f"{IAM}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_AdministratorAccess_*"
)
OPERATOR_ROLE = (
    f"{IAM}:role/aws-reserved/sso.amazonaws.com/{REGION}/AWSReservedSSO_AdministratorAccess_0a1b"
)
ROOT_USER = f"{IAM}:root"
DEVELOPER_ROLE = f"{IAM}:role/developer"
FOREIGN_ROLE = "arn:aws:iam::444455556666:role/phase-mirror-ci-deploy-bootstrap"
CONFIG = {
    "phase-mirror-infra:deployRoleArn": DEPLOY_ROLE,
    "phase-mirror-infra:operatorRoleArnPattern": OPERATOR_PATTERN,
    # Each stack as the one holding its account's baseline, so the trail key is in both tables.
    "phase-mirror-infra:accountBaseline": "true",
}
KEYS = {
    "salt": "salt-rotation-key",
    "env": "salt-rotation-env-key",
    "tables": "calibration-store-key",
    "org": "calibration-store-org-key",
    "logs": "observability-log-key",
    "alerts": "observability-alert-key",
    "trail": "audit-trail-trail-key",
    "data": "data-tier-key",
    "eks": "data-tier-eks-secrets-key",
    "backup": "backup-key",
}

# The AWS pages each row comes from.
DEFAULT_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
PUT_KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html"
KMS_CONDITIONS = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"
SECRETS = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html"
LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html"
DYNAMODB = "https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html"
LOGS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
SNS = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
TRAIL = (
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/"
    "create-kms-key-policy-for-cloudtrail.html"
)
RDS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html"
RDS_SECRET = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html"
ELASTICACHE = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/at-rest-encryption.html"
EKS = "https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html"
BACKUP = "https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html"
S3 = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
S3_LOGGING = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"
)


def via(service: str) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}


AWS_RESOURCE = {"kms:GrantIsForAWSResource": True}


# --- callers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bootstrap() -> ProgramRun:
    return run_bootstrap()


@dataclass(frozen=True)
class Caller:
    principal: str
    identity: Callable[[ProgramRun, ProgramRun], list[dict[str, Any]]] = lambda run, boot: [
        ANY_ACTION
    ]
    service: bool = False


def function(role: str) -> Caller:
    def identity(run: ProgramRun, _boot: ProgramRun) -> list[dict[str, Any]]:
        return role_policies(run, f"phase-mirror-{role}-{run.stack}")

    return Caller(f"{IAM}:role/phase-mirror-{role}-STACK", identity)


CALLERS: dict[str, Caller] = {
    "deploy role": Caller(
        DEPLOY_ROLE, lambda _run, boot: role_policies(boot, "phase-mirror-ci-deploy-bootstrap")
    ),
    "operator role": Caller(OPERATOR_ROLE),  # AdministratorAccess
    "root user": Caller(ROOT_USER, lambda _run, _boot: []),
    "preview role": Caller(
        PREVIEW_ROLE, lambda _run, boot: role_policies(boot, "phase-mirror-ci-preview-bootstrap")
    ),
    "preview role, any policy": Caller(PREVIEW_ROLE),
    "developer role, any policy": Caller(DEVELOPER_ROLE),
    "another account's role": Caller(FOREIGN_ROLE),
    "ingestion": function("fp-ingestion"),
    "consent": function("fp-consent"),
    "admission": function("fp-admission"),
    "release": function("fp-release"),
    "rotator": function("salt-rotator"),
    "query": function("calibration-query"),
    "salt-age check": function("salt-age-check"),
    "backup role": Caller(f"{IAM}:role/phase-mirror-backup-STACK"),
    "logs": Caller(f"logs.{REGION}.amazonaws.com", service=True),
    "logs, another region": Caller("logs.eu-west-1.amazonaws.com", service=True),
    "cloudwatch": Caller("cloudwatch.amazonaws.com", service=True),
    "events": Caller("events.amazonaws.com", service=True),
    "sns": Caller("sns.amazonaws.com", service=True),
    "cloudtrail": Caller("cloudtrail.amazonaws.com", service=True),
    "s3 log delivery": Caller("logging.s3.amazonaws.com", service=True),
}
DEPLOYERS = ("deploy role", "operator role")
SALT_READERS = ("ingestion", "consent", "admission")
TABLE_USERS = ("ingestion", "consent", "admission", "release", "query")
OUTSIDERS = ("preview role", "preview role, any policy", "developer role, any policy")


# --- rows ---------------------------------------------------------------------------------


def every_key_rows() -> Iterator[Row]:
    """Administration: what create, update, refresh and destroy of a key and its alias call."""
    for key in KEYS:
        for caller in (*DEPLOYERS, "root user"):
            yield Row(key, caller, "kms:PutKeyPolicy", True, PUT_KEY_POLICY, why="create/update")
        for action in (
            "kms:DescribeKey",  # refresh
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListResourceTags",
            "kms:EnableKeyRotation",  # create
            "kms:TagResource",
            "kms:UpdateKeyDescription",  # update
            "kms:CreateAlias",
            "kms:DeleteAlias",
            "kms:ScheduleKeyDeletion",  # destroy
        ):
            yield Row(key, "deploy role", action, True, DEFAULT_POLICY, why="administration")
        # No use delegated to IAM: nobody uses a key directly, whatever its identity policy.
        for caller in (*DEPLOYERS, *OUTSIDERS, "another account's role"):
            for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptTo"):
                yield Row(key, caller, action, False, DEFAULT_POLICY, why="direct use")
        # A grant to a person, not to an AWS resource, would hand out use.
        for caller in (*DEPLOYERS, *OUTSIDERS):
            yield Row(
                key, caller, "kms:CreateGrant", False, KMS_CONDITIONS, why="grant to a person"
            )
        for caller in (*OUTSIDERS, "another account's role"):
            yield Row(key, caller, "kms:PutKeyPolicy", False, PUT_KEY_POLICY, why="rewrite policy")
        yield Row(key, "another account's role", "kms:DescribeKey", False, DEFAULT_POLICY)
        # A preview's refresh reads key metadata: the key lets whatever the role's policy allows.
        for action in ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"):
            yield Row(key, "preview role, any policy", action, True, DEFAULT_POLICY, why="refresh")


def salt_rows() -> Iterator[Row]:
    validation = {
        **via("secretsmanager"),
        "kms:EncryptionContext:SecretARN": "{salt_secret}",
        "kms:EncryptionContext:SecretVersionId": "RequestToValidateKeyAccess",
    }
    version = {**validation, "kms:EncryptionContext:SecretVersionId": "6e1f0c8a-real-version"}
    other_secret = {**validation, "kms:EncryptionContext:SecretARN": "{other_secret}"}
    for caller in DEPLOYERS:
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            yield Row("salt", caller, action, True, SECRETS, validation, "CreateSecret validation")
            yield Row("salt", caller, action, False, SECRETS, version, "a real salt version")
            yield Row("salt", caller, action, False, SECRETS, other_secret, "another secret")
    grant = {**via("secretsmanager"), **AWS_RESOURCE}
    for caller in (*DEPLOYERS, "root user", "ingestion", "rotator"):
        yield Row("salt", caller, "kms:CreateGrant", False, SECRETS, grant, "no grants at all")
    for reader in SALT_READERS:
        yield Row("salt", reader, "kms:Decrypt", True, SECRETS, version, "GetSecretValue")
        yield Row("salt", reader, "kms:Decrypt", False, SECRETS, other_secret, "other secret")
        yield Row("salt", reader, "kms:GenerateDataKey", False, SECRETS, version, "no writes")
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        yield Row("salt", "rotator", action, True, SECRETS, version, "the four rotation steps")
    yield Row("salt", "rotator", "kms:Decrypt", False, SECRETS, {}, "not through Secrets Manager")
    for caller in ("release", "query", "salt-age check", *OUTSIDERS, "another account's role"):
        yield Row("salt", caller, "kms:Decrypt", False, SECRETS, version, "not a salt reader")


def env_rows() -> Iterator[Row]:
    for caller in DEPLOYERS:
        grant = {**via("lambda"), **AWS_RESOURCE}
        yield Row("env", caller, "kms:CreateGrant", True, LAMBDA, grant, "CreateFunction")
        yield Row("env", caller, "kms:Encrypt", True, LAMBDA, via("lambda"), "create/update")
        yield Row("env", caller, "kms:Decrypt", True, LAMBDA, via("lambda"), "refresh reads env")
    for caller in (*TABLE_USERS, "rotator", "salt-age check", *OUTSIDERS):
        yield Row("env", caller, "kms:Decrypt", False, LAMBDA, via("lambda"), "Lambda's grant")


def table_rows() -> Iterator[Row]:
    grant = {**via("dynamodb"), **AWS_RESOURCE}
    for caller in (*DEPLOYERS, "backup role"):
        yield Row("tables", caller, "kms:CreateGrant", True, DYNAMODB, grant, "Create/UpdateTable")
    yield Row("tables", "deploy role", "kms:DescribeKey", True, DYNAMODB, via("dynamodb"))
    for caller in TABLE_USERS:
        yield Row("tables", caller, "kms:Decrypt", True, DYNAMODB, via("dynamodb"), "items")
    yield Row("tables", "ingestion", "kms:Decrypt", False, DYNAMODB, {}, "not through DynamoDB")
    for caller in ("rotator", "salt-age check", *DEPLOYERS, *OUTSIDERS):
        yield Row("tables", caller, "kms:Decrypt", False, DYNAMODB, via("dynamodb"), "no items")


def org_rows() -> Iterator[Row]:
    sha256 = {"kms:MacAlgorithm": "HMAC_SHA_256"}
    for caller in SALT_READERS:
        yield Row("org", caller, "kms:GenerateMac", True, KMS_CONDITIONS, sha256, "pseudonyms")
        weaker = {"kms:MacAlgorithm": "HMAC_SHA_224"}
        yield Row("org", caller, "kms:GenerateMac", False, KMS_CONDITIONS, weaker, "algorithm")
        yield Row("org", caller, "kms:VerifyMac", False, KMS_CONDITIONS, sha256, "never verifies")
    for caller in ("release", "query", "rotator", *DEPLOYERS, *OUTSIDERS, "another account's role"):
        yield Row("org", caller, "kms:GenerateMac", False, KMS_CONDITIONS, sha256, "no pseudonyms")


def log_rows() -> Iterator[Row]:
    group = {"kms:EncryptionContext:aws:logs:arn": "{log_group}"}
    foreign = {"kms:EncryptionContext:aws:logs:arn": "{foreign_log_group}"}
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"):
        yield Row("logs", "logs", action, True, LOGS, group, "this account's groups")
    yield Row("logs", "logs", "kms:GenerateDataKey", False, LOGS, foreign, "another account")
    yield Row("logs", "logs, another region", "kms:GenerateDataKey", False, LOGS, group)
    for caller in ("ingestion", *DEPLOYERS, *OUTSIDERS):
        yield Row("logs", caller, "kms:Decrypt", False, LOGS, {**via("logs"), **group})


def alert_rows() -> Iterator[Row]:
    for publisher in ("cloudwatch", "events"):
        for topic in ("{critical_topic}", "{warning_topic}"):
            context = {"kms:EncryptionContext:aws:sns:topicArn": topic}
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield Row("alerts", publisher, action, True, SNS, context, "publish")
        other = {"kms:EncryptionContext:aws:sns:topicArn": "{other_topic}"}
        yield Row("alerts", publisher, "kms:GenerateDataKey", False, SNS, other, "other topic")
    critical = {"kms:EncryptionContext:aws:sns:topicArn": "{critical_topic}"}
    yield Row("alerts", "sns", "kms:GenerateDataKey", False, SNS, critical, "SNS is no principal")
    for caller in (*DEPLOYERS, *OUTSIDERS):
        yield Row("alerts", caller, "kms:Decrypt", False, SNS, {**via("sns"), **critical})


def trail_rows() -> Iterator[Row]:
    context = {"aws:SourceArn": "{trail}", "kms:EncryptionContext:aws:cloudtrail:arn": "{trail}"}
    yield Row("trail", "cloudtrail", "kms:GenerateDataKey", True, TRAIL, context, "log files")
    yield Row("trail", "cloudtrail", "kms:DescribeKey", True, TRAIL, {"aws:SourceArn": "{trail}"})
    other = {**context, "aws:SourceArn": "{other_trail}"}
    yield Row("trail", "cloudtrail", "kms:GenerateDataKey", False, TRAIL, other, "other trail")
    # No S3 Bucket Key on the trail bucket: CreateTrail needs no kms:Decrypt for CloudTrail.
    yield Row("trail", "cloudtrail", "kms:Decrypt", False, TRAIL, context, "no bucket key")
    read = {**via("s3"), "kms:EncryptionContext:aws:cloudtrail:arn": "{trail}"}
    yield Row("trail", "operator role", "kms:Decrypt", True, TRAIL, read, "read log files")
    for caller in ("deploy role", "ingestion", *OUTSIDERS):
        yield Row("trail", caller, "kms:Decrypt", False, TRAIL, read, "not a log reader")


def data_rows() -> Iterator[Row]:
    validation = {
        **via("secretsmanager"),
        "kms:EncryptionContext:SecretARN": "{rds_secret}",
        "kms:EncryptionContext:SecretVersionId": "RequestToValidateKeyAccess",
    }
    version = {**validation, "kms:EncryptionContext:SecretVersionId": "1a2b-real-version"}
    baselines = {**via("s3"), "kms:EncryptionContext:aws:s3:arn": "{baselines}"}
    for caller in (*DEPLOYERS, "backup role"):
        rds_grant = {**via("rds"), **AWS_RESOURCE}
        yield Row("data", caller, "kms:CreateGrant", True, RDS, rds_grant, "CreateDBInstance")
    # ElastiCache sends no kms:ViaService.
    yield Row("data", "deploy role", "kms:CreateGrant", True, ELASTICACHE, AWS_RESOURCE)
    for caller in DEPLOYERS:
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            yield Row("data", caller, action, True, RDS, via("rds"), "create/modify instance")
            yield Row("data", caller, action, True, RDS_SECRET, validation, "master secret")
        yield Row("data", caller, "kms:GenerateDataKey", True, RDS_SECRET, version, "password")
    yield Row("data", "deploy role", "kms:Decrypt", False, RDS_SECRET, version, "no password")
    yield Row("data", "operator role", "kms:Decrypt", True, RDS_SECRET, version, "break-glass")
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        yield Row("data", "operator role", action, True, S3, baselines, "baselines bucket")
        yield Row("data", "deploy role", action, False, S3, baselines, "baselines bucket")
    for caller in ("ingestion", *OUTSIDERS):
        for context in (via("rds"), version, baselines):
            yield Row("data", caller, "kms:Decrypt", False, RDS, context, "no data-tier reader")
    # Access-log targets are SSE-S3: log delivery never uses this key.
    yield Row("data", "s3 log delivery", "kms:GenerateDataKey", False, S3_LOGGING)


def eks_rows() -> Iterator[Row]:
    grant = {**via("eks"), **AWS_RESOURCE}
    for caller in DEPLOYERS:
        yield Row("eks", caller, "kms:CreateGrant", True, EKS, grant, "CreateCluster")
    for caller in (*DEPLOYERS, *OUTSIDERS):
        yield Row("eks", caller, "kms:Decrypt", False, EKS, via("eks"), "EKS's grant only")


def backup_rows() -> Iterator[Row]:
    grant = {**via("backup"), **AWS_RESOURCE}
    for caller in (*DEPLOYERS, "backup role"):
        yield Row("backup", caller, "kms:CreateGrant", True, BACKUP, grant, "vault, jobs")
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            yield Row("backup", caller, action, True, BACKUP, via("backup"), "vault, jobs")
    yield Row("backup", "backup role", "kms:Decrypt", False, BACKUP, {}, "not through Backup")
    for caller in ("ingestion", *OUTSIDERS):
        yield Row("backup", caller, "kms:Decrypt", False, BACKUP, via("backup"))


ROWS = [
    *every_key_rows(),
    *salt_rows(),
    *env_rows(),
    *table_rows(),
    *org_rows(),
    *log_rows(),
    *alert_rows(),
    *trail_rows(),
    *data_rows(),
    *eks_rows(),
    *backup_rows(),
]


# --- evaluation ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["staging", "production"])
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_program(request.param, overrides=CONFIG)


def placeholders(run: ProgramRun) -> dict[str, str]:
    """Values of the context that only the run knows (ARNs of the stack's own resources)."""
    stack = run.stack
    salt = run.one("aws:secretsmanager/secret:Secret", "salt-rotation-secret").outputs["arn"]
    topics = {t.inputs["name"]: t.outputs["arn"] for t in run.of_type("aws:sns/topic:Topic")}
    trail = run.one("aws:cloudtrail/trail:Trail", "audit-trail-trail").outputs["arn"]
    group = run.one("aws:cloudwatch/logGroup:LogGroup", "calibration-service-ingestion-logs")
    return {
        "salt_secret": salt,
        "other_secret": salt.replace("hmac-salt", "other"),
        "critical_topic": topics[f"phase-mirror-critical-alerts-{stack}"],
        "warning_topic": topics[f"phase-mirror-warning-alerts-{stack}"],
        "other_topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:someone-elses-topic",
        "trail": trail,
        "other_trail": trail.replace(f"trail-{stack}", "other"),
        "log_group": group.outputs["arn"],
        "foreign_log_group": group.outputs["arn"].replace(ACCOUNT_ID, "444455556666"),
        "rds_secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:rds!db-3f2a-AbCdEf",
        "baselines": next(
            b.outputs["arn"]
            for b in run.of_type("aws:s3/bucket:Bucket")
            if b.name == "data-tier-baselines-bucket"
        ),
    }


def decide(run: ProgramRun, boot: ProgramRun, row: Row, values: dict[str, str]) -> Decision:
    key = run.one("aws:kms/key:Key", KEYS[row.key])
    context = {
        name: value.format(**values) if isinstance(value, str) else value
        for name, value in row.context.items()
    }
    caller = CALLERS[row.caller]
    principal = caller.principal.replace("STACK", run.stack)
    arn = key.outputs["arn"]
    if caller.service:
        request = service_request(principal, row.action, arn, **context)
        return key_decision(json.loads(key.inputs["policy"]), request)
    request = role_request(principal, row.action, arn, **context)
    return key_decision(json.loads(key.inputs["policy"]), request, caller.identity(run, boot))


@pytest.mark.parametrize("key", KEYS)
def test_key_table(run, bootstrap, key):
    values = placeholders(run)
    rows = [row for row in ROWS if row.key == key]
    wrong = [
        f"{row}: {decision.value} ({row.source})"
        for row in rows
        if (decision := decide(run, bootstrap, row, values)).allowed is not row.allowed
    ]
    assert not wrong, f"{run.stack}, {len(wrong)} of {len(rows)} rows:\n" + "\n".join(wrong)


def test_every_key_of_both_stacks_has_rows(run):
    assert {k.name for k in run.of_type("aws:kms/key:Key")} == set(KEYS.values())
    assert {row.key for row in ROWS} == set(KEYS)
    assert all(row.source.startswith("https://docs.aws.amazon.com/") for row in ROWS)


def test_an_unset_deploying_identity_is_absent_from_every_key_policy():
    # The shipped stack files leave both unset (a preview of them still runs): no statement then
    # names a deployer.
    shipped = run_program("staging", preview=True, team=False)
    for key in shipped.of_type("aws:kms/key:Key"):
        text = key.inputs["policy"]
        assert "ci-deploy" not in text and "AWSReservedSSO" not in text, key.urn
        policy = json.loads(text)
        set_policy = [s for s in policy["Statement"] if "kms:PutKeyPolicy" in s["Action"]]
        assert [s["Condition"]["ArnEquals"]["aws:PrincipalArn"] for s in set_policy] == [
            [ROOT_USER]
        ], key.urn


def test_docs_keys_has_a_row_for_every_key(run):
    table = (ROOT / "docs" / "keys.md").read_text()
    for alias in run.of_type("aws:kms/alias:Alias"):
        role = (
            alias.inputs["name"].removeprefix("alias/phase-mirror-").removesuffix(f"-{run.stack}")
        )
        assert f"| `{role}` |" in table, alias.inputs["name"]
