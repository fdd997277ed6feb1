"""The bootstrap's key table: the state and secrets keys and their replicas, for every caller
that must get in and every one that must not.

Each row is one call: a caller, a KMS action on one key, and the request context the calling
service sends (S3 sends ``kms:ViaService`` and the bucket as ``kms:EncryptionContext:aws:s3:arn``;
the Pulumi CLI calls KMS itself for ``awskms://`` and sends neither). The decision comes from
testing/policy_eval.py over the key policy the bootstrap run registers and the caller's identity
policies from the same run (the CI roles', the replication role's); people's roles get the worst
case, ``Action: *``. Each row names the AWS page its context and expectation come from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bootstrap.config import check_operator_account, parse
from components.config import ConfigError
from testing.key_table import ANY_ACTION, Row, role_policies
from testing.policy_eval import Decision, key_decision, role_request, service_request
from testing.program import (
    ACCOUNT_ID,
    OPERATOR_ROLE_PATTERN,
    ProgramRun,
    run_bootstrap,
)

PROJECT = "phase-mirror-bootstrap"
IAM = f"arn:aws:iam::{ACCOUNT_ID}"
REGIONS = {"primary": "us-east-1", "replica": "us-west-2"}
BUCKETS = {
    where: f"arn:aws:s3:::phase-mirror-state-{ACCOUNT_ID}-{region}-bootstrap"
    for where, region in REGIONS.items()
}
# key -> (resource type, resource name, where it lives)
KEYS = {
    "state": ("aws:kms/key:Key", "state-backend-state-key", "primary"),
    "state replica": (
        "aws:kms/replicaKey:ReplicaKey",
        "state-backend-state-key-replica",
        "replica",
    ),
    "secrets": ("aws:kms/key:Key", "state-backend-secrets-key", "primary"),
    "secrets replica": (
        "aws:kms/replicaKey:ReplicaKey",
        "state-backend-secrets-key-replica",
        "replica",
    ),
}
STATE_KEYS = ("state", "state replica")
SECRETS_KEYS = ("secrets", "secrets replica")

# The AWS pages each row comes from.
DEFAULT_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
PUT_KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html"
REPLICATE_KEY = "https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html"
KMS_CONDITIONS = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"
S3_SSE_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
S3_BUCKET_KEY = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html"
REPLICATION = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html"
)
KMS_ENCRYPT = "https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html"
KMS_DECRYPT = "https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html"
FAILOVER = "https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdatePrimaryRegion.html"


@dataclass(frozen=True)
class Caller:
    principal: str
    role_name: str | None = None  # identity policies from the run; none: ``Action: *``
    service: bool = False


CALLERS = {
    "deploy role": Caller(f"{IAM}:role/phase-mirror-ci-deploy-bootstrap", "ci-deploy"),
    "preview role": Caller(f"{IAM}:role/phase-mirror-ci-preview-bootstrap", "ci-preview"),
    "preview role, any policy": Caller(f"{IAM}:role/phase-mirror-ci-preview-bootstrap"),
    "replication role": Caller(
        f"{IAM}:role/phase-mirror-state-replication-bootstrap", "state-replication"
    ),
    # Matches OPERATOR_ROLE_PATTERN; AdministratorAccess.
    "administrator": Caller(
        f"{IAM}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_9f"
    ),
    "root user": Caller(f"{IAM}:root"),
    "developer, kms:*": Caller(f"{IAM}:role/developer"),
    "another SSO role, kms:*": Caller(
        f"{IAM}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PowerUserAccess_9f"
    ),
    "main program's function, kms:*": Caller(f"{IAM}:role/phase-mirror-fp-ingestion-production"),
    "s3": Caller("s3.amazonaws.com", service=True),
}
CI_AND_ADMINISTRATOR = ("deploy role", "administrator")
OUTSIDERS = ("developer, kms:*", "another SSO role, kms:*", "main program's function, kms:*")
DATA_PLANE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


def through_s3(where: str, *, bucket: str | None = None, region: str | None = None) -> dict:
    """What S3 sends when it uses the state key for the caller (an S3 Bucket Key: the bucket)."""
    return {
        "kms:ViaService": f"s3.{region or REGIONS[where]}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": bucket or BUCKETS[where],
    }


def where(key: str) -> str:
    return KEYS[key][2]


# --- rows ---------------------------------------------------------------------------------


def administration_rows() -> Iterator[Row]:
    for key in KEYS:
        for caller in ("administrator", "root user"):
            yield Row(key, caller, "kms:PutKeyPolicy", True, PUT_KEY_POLICY, why="lockout check")
        for action in ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:TagResource"):
            yield Row(key, "administrator", action, True, DEFAULT_POLICY, why="refresh, tags")
        yield Row(key, "administrator", "kms:UpdatePrimaryRegion", True, FAILOVER, why="failover")
        # The deploy role's own policy denies it the keys' policies (KeysAreFixed).
        for caller in ("deploy role", "preview role, any policy", *OUTSIDERS):
            yield Row(key, caller, "kms:PutKeyPolicy", False, PUT_KEY_POLICY, why="rewrite")
        for caller in ("administrator", "deploy role", *OUTSIDERS):
            grant = {"kms:GrantIsForAWSResource": True}
            yield Row(key, caller, "kms:CreateGrant", False, KMS_CONDITIONS, grant, "no grants")
    for key in ("state", "secrets"):
        for caller in ("administrator", "root user"):
            yield Row(key, caller, "kms:ReplicateKey", True, REPLICATE_KEY, why="replica")
        # A replica carries a policy of its creator's choosing and the same key material.
        for caller in ("deploy role", *OUTSIDERS):
            yield Row(key, caller, "kms:ReplicateKey", False, REPLICATE_KEY, why="use in disguise")


def state_rows() -> Iterator[Row]:
    for key in STATE_KEYS:
        here = where(key)
        context = through_s3(here)
        an_object = through_s3(here, bucket=f"{BUCKETS[here]}/.pulumi/stacks/x/production.json")
        for caller in CI_AND_ADMINISTRATOR:
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                yield Row(key, caller, action, True, S3_SSE_KMS, context, "state via S3")
            yield Row(key, caller, "kms:Decrypt", True, S3_SSE_KMS, an_object, "no bucket key")
            # The deploy role's PowerUserAccess allows kms:*: the key policy alone refuses.
            yield Row(key, caller, "kms:Decrypt", False, KMS_CONDITIONS, {}, "not through S3")
            other = through_s3(here, bucket="arn:aws:s3:::someone-elses-bucket")
            yield Row(key, caller, "kms:GenerateDataKey", False, S3_SSE_KMS, other, "other bucket")
            elsewhere = through_s3(here, region="eu-west-1")
            yield Row(key, caller, "kms:Decrypt", False, KMS_CONDITIONS, elsewhere, "other region")
        yield Row(key, "preview role", "kms:Decrypt", True, S3_SSE_KMS, context, "reads state")
        for caller in ("preview role", "preview role, any policy"):
            yield Row(key, caller, "kms:GenerateDataKey", False, S3_SSE_KMS, context, "writes")
            yield Row(key, caller, "kms:Decrypt", False, KMS_CONDITIONS, {}, "not through S3")
        for caller in OUTSIDERS:
            for action in DATA_PLANE:
                yield Row(key, caller, action, False, S3_SSE_KMS, context, "not a state user")
                yield Row(key, caller, action, False, KMS_CONDITIONS, {}, "direct")
        # S3 acts for the caller; it is never a principal of the key.
        yield Row(key, "s3", "kms:GenerateDataKey", False, S3_SSE_KMS, context, "S3 itself")


def replication_rows() -> Iterator[Row]:
    source, destination = through_s3("primary"), through_s3("replica")
    yield Row("state", "replication role", "kms:Decrypt", True, REPLICATION, source, "source")
    for action in ("kms:Encrypt", "kms:GenerateDataKey"):
        yield Row("state replica", "replication role", action, True, REPLICATION, destination)
    yield Row(
        "state replica",
        "replication role",
        "kms:Decrypt",
        True,
        S3_BUCKET_KEY,
        destination,
        "bucket key check",
    )
    yield Row("state", "replication role", "kms:GenerateDataKey", False, REPLICATION, source)
    wrong_region = through_s3("primary", region="us-west-2")
    yield Row("state", "replication role", "kms:Decrypt", False, REPLICATION, wrong_region)
    for key in SECRETS_KEYS:
        yield Row(key, "replication role", "kms:Decrypt", False, KMS_DECRYPT, why="no secrets")


def secrets_rows() -> Iterator[Row]:
    for key in SECRETS_KEYS:
        yield Row(key, "administrator", "kms:Encrypt", True, KMS_ENCRYPT, why="stack init")
        for caller in ("administrator", "deploy role", "preview role"):
            yield Row(key, caller, "kms:Decrypt", True, KMS_DECRYPT, why="stack's data key")
        # CI never creates a stack: only `pulumi stack init` encrypts a new data key.
        for caller in ("deploy role", "preview role", "preview role, any policy"):
            yield Row(key, caller, "kms:Encrypt", False, KMS_ENCRYPT, why="no stack init")
        for caller in (*CI_AND_ADMINISTRATOR, "preview role"):
            yield Row(key, caller, "kms:GenerateDataKey", False, KMS_ENCRYPT, why="not needed")
            yield Row(key, caller, "kms:ReEncryptFrom", False, KMS_DECRYPT, why="not needed")
        for caller in OUTSIDERS:
            for action in DATA_PLANE:
                yield Row(key, caller, action, False, KMS_DECRYPT, why="not a secrets user")


ROWS = [*administration_rows(), *state_rows(), *replication_rows(), *secrets_rows()]


# --- evaluation ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def boot() -> ProgramRun:
    return run_bootstrap()


def key_of(run: ProgramRun, key: str) -> tuple[str, dict[str, Any]]:
    type_, name, _ = KEYS[key]
    resource = run.one(type_, name)
    return resource.outputs["arn"], json.loads(resource.inputs["policy"])


def decide(run: ProgramRun, row: Row) -> Decision:
    arn, policy = key_of(run, row.key)
    caller = CALLERS[row.caller]
    if caller.service:
        return key_decision(
            policy, service_request(caller.principal, row.action, arn, **row.context)
        )
    identity = (
        role_policies(run, f"phase-mirror-{caller.role_name}-bootstrap")
        if caller.role_name
        else []
        if caller.principal.endswith(":root")
        else [ANY_ACTION]
    )
    request = role_request(caller.principal, row.action, arn, **row.context)
    return key_decision(policy, request, identity)


@pytest.mark.parametrize("key", KEYS)
def test_key_table(boot, key):
    rows = [row for row in ROWS if row.key == key]
    wrong = [
        f"{row}: {decision.value} ({row.source})"
        for row in rows
        if (decision := decide(boot, row)).allowed is not row.allowed
    ]
    assert not wrong, f"{len(wrong)} of {len(rows)} rows:\n" + "\n".join(wrong)


def test_every_key_and_replica_has_rows_and_an_explicit_policy(boot):
    names = {
        r.name
        for t in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey")
        for r in boot.of_type(t)
    }
    assert names == {name for _, name, _ in KEYS.values()}
    assert {row.key for row in ROWS} == set(KEYS)
    assert all(row.source.startswith("https://docs.aws.amazon.com/") for row in ROWS)
    for key in KEYS:
        _, policy = key_of(boot, key)
        # Nothing is delegated to IAM as a whole beyond administration without use.
        unconditioned = [s for s in policy["Statement"] if "Condition" not in s]
        assert [s["Sid"] for s in unconditioned] == ["AccountAdministersWithoutUse"], key


def test_the_keys_name_the_ci_roles_the_run_creates(boot):
    roles = {r.inputs["name"]: r.outputs["arn"] for r in boot.of_type("aws:iam/role:Role")}
    for caller in ("deploy role", "preview role", "replication role"):
        assert CALLERS[caller].principal in roles.values(), caller
    text = json.dumps([key_of(boot, key)[1] for key in KEYS])
    assert OPERATOR_ROLE_PATTERN in text


def test_without_the_administrators_a_preview_names_only_the_ci_roles_and_up_refuses():
    shipped = run_bootstrap(preview=True, operatorRoleArnPattern=None)
    assert any("'operatorRoleArnPattern'" in w for w in shipped.warnings), shipped.warnings
    for key in KEYS:
        _, policy = key_of(shipped, key)
        assert "AWSReservedSSO" not in json.dumps(policy), key
        setters = [s for s in policy["Statement"] if "kms:PutKeyPolicy" in s["Action"]]
        assert [s["Condition"]["ArnEquals"]["aws:PrincipalArn"] for s in setters] == [
            [f"{IAM}:root"]
        ], key
    with pytest.raises(ConfigError, match=r"stack 'bootstrap' .*'operatorRoleArnPattern'"):
        run_bootstrap(operatorRoleArnPattern=None)


@pytest.mark.parametrize(
    "pattern",
    [f"{IAM}:role/*", f"{IAM}:user/admin", "arn:aws:iam::*:role/Admin*", "AWSReservedSSO_*"],
)
def test_a_bad_administrators_pattern_is_refused_naming_the_key(pattern):
    raw = {"githubRepository": "OWNER/REPO", "operatorRoleArnPattern": pattern}
    with pytest.raises(ConfigError, match="operatorRoleArnPattern"):
        parse(raw, stack="bootstrap", region="us-east-1")


def test_the_administrators_pattern_must_be_of_this_account():
    raw = {"githubRepository": "OWNER/REPO", "operatorRoleArnPattern": OPERATOR_ROLE_PATTERN}
    cfg = parse(raw, stack="bootstrap", region="us-east-1")
    check_operator_account(cfg, ACCOUNT_ID)
    with pytest.raises(ConfigError, match=re.escape(OPERATOR_ROLE_PATTERN)):
        check_operator_account(cfg, "444455556666")
