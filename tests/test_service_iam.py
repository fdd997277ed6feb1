"""Least privilege of the calibration service, proven on the policies the program registers.

1. Each function role's one inline policy is exactly docs/privacy.md's table ("IAM: the exact
   actions and resources"): the same Sids, actions, resources and conditions, plus its own log
   group and X-Ray.
2. Who may do what: every access a function needs, and the ones it must not have, evaluated
   for every role with testing/policy_eval.py ("Policy evaluation logic": an action is allowed
   only if some statement allows it and its conditions hold). Transaction-only grants are
   evaluated with and without ``dynamodb:EnclosingOperation`` ("Using IAM with DynamoDB
   transactions"), KMS use with and without ``kms:ViaService`` ("AWS KMS condition keys").
3. The salt key and the org key: their key policies with each role's identity policy ("Key
   policies in AWS KMS": no IAM policy alone grants use of a key).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from testing.policy_eval import Decision, identity_decision, key_decision, role_request
from testing.program import ACCOUNT_ID, ProgramRun

ROLES = ("fp-ingestion", "fp-consent", "fp-admission", "fp-release", "calibration-query")
ALL_ROLES = (*ROLES, "salt-rotator")
TABLE_ROLES = {
    "consent": "consent-store",
    "admission": "org-admission",
    "pending": "pending-events",
    "dedup": "event-dedup",
    "published": "calibration-published",
    "fpEvents": "fp-events",
    "blockCounter": "block-counter",
}
REGION = "us-east-1"
TX = {"ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}}
VIA_DYNAMODB = {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}}
VIA_SECRETS = {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}
MAC = {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}

# (Sid, actions, resources, condition); resources as "table:<logical>", "key:<name>", "salt".
Row = tuple[str, list[str], list[str], dict[str, Any] | None]
TABLE_KEY: Row = ("UseTableKeyViaDynamoDB", ["kms:Decrypt"], ["key:tables"], VIA_DYNAMODB)
READ_SALT: Row = ("ReadSalt", ["secretsmanager:GetSecretValue"], ["salt"], None)
SALT_KEY: Row = ("UseSaltKeyViaSecretsManager", ["kms:Decrypt"], ["key:salt"], VIA_SECRETS)
DERIVE: Row = ("DeriveOrgPseudonym", ["kms:GenerateMac"], ["key:org"], MAC)
PURGE: Row = (
    "PurgePendingEvents",
    ["dynamodb:Query", "dynamodb:DeleteItem"],
    ["table:pending"],
    None,
)
CONTRACT: dict[str, list[Row]] = {
    "fp-ingestion": [
        (
            "CheckAdmissionAndConsent",
            ["dynamodb:ConditionCheckItem"],
            ["table:admission", "table:consent"],
            TX,
        ),
        ("StorePendingEvent", ["dynamodb:PutItem"], ["table:pending", "table:dedup"], TX),
        TABLE_KEY,
        READ_SALT,
        SALT_KEY,
        DERIVE,
    ],
    "fp-consent": [
        ("ReadAdmission", ["dynamodb:GetItem"], ["table:admission"], None),
        (
            "WriteConsent",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            ["table:consent"],
            None,
        ),
        PURGE,
        TABLE_KEY,
        READ_SALT,
        SALT_KEY,
        DERIVE,
    ],
    "fp-admission": [
        (
            "ManageAdmission",
            ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            ["table:admission"],
            None,
        ),
        PURGE,
        TABLE_KEY,
        READ_SALT,
        SALT_KEY,
        DERIVE,
    ],
    "fp-release": [
        (
            "ReleasePendingEvents",
            ["dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
            ["table:pending"],
            None,
        ),
        ("PublishBatches", ["dynamodb:PutItem", "dynamodb:UpdateItem"], ["table:published"], TX),
        ("ReadBatchRecords", ["dynamodb:GetItem"], ["table:published"], None),
        TABLE_KEY,
        ("ListSaltVersions", ["secretsmanager:DescribeSecret"], ["salt"], None),
    ],
    "calibration-query": [
        ("ReadPublished", ["dynamodb:Query"], ["table:published"], None),
        TABLE_KEY,
    ],
    "salt-rotator": [
        (
            "RotateSalt",
            [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            ["salt"],
            None,
        ),
        (
            "UseSaltKeyViaSecretsManager",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            ["key:salt"],
            VIA_SECRETS,
        ),
    ],
}
KEYS = {
    "tables": "calibration-store-key",
    "salt": "salt-rotation-key",
    "org": "calibration-store-org-key",
}


def arn(run: ProgramRun, ref: str) -> str:
    kind, _, name = ref.partition(":")
    if kind == "table":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/phase-mirror-{TABLE_ROLES[name]}-{run.stack}"
    if kind == "key":
        return run.one("aws:kms/key:Key", KEYS[name]).outputs["arn"]
    assert ref == "salt", ref
    return run.one("aws:secretsmanager/secret:Secret", "salt-rotation-secret").outputs["arn"]


def role_arn(run: ProgramRun, role: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-{role}-{run.stack}"


def policy(run: ProgramRun, role: str) -> dict[str, Any]:
    name = f"phase-mirror-{role}-{run.stack}"
    (found,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == name]
    return json.loads(found.inputs["policy"])


# --- 1. the policy documents are the contract's table ---------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_policy_is_exactly_the_contract(program, role):
    statements = {s["Sid"]: s for s in policy(program, role)["Statement"]}
    own = {k: statements.pop(k) for k in ("WriteOwnLogs", "WriteTraces")}
    assert own["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    expected = {
        sid: (actions, resources, condition)
        for sid, actions, resources, condition in CONTRACT[role]
    }
    assert set(statements) == set(expected), role
    for sid, (actions, resources, condition) in expected.items():
        statement = statements[sid]
        assert statement["Effect"] == "Allow", (role, sid)
        assert statement["Action"] == actions, (role, sid)
        assert statement["Resource"] == [arn(program, r) for r in resources], (role, sid)
        assert statement.get("Condition") == condition, (role, sid)


# --- 2. who may do what ---------------------------------------------------------------------

IN_TX = {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
NONE: frozenset[str] = frozenset()
PSEUDONYMS = frozenset({"fp-ingestion", "fp-consent", "fp-admission"})
SALT_USERS = PSEUDONYMS | {"salt-rotator"}
TABLE_USERS = frozenset(ROLES)

# (what, action, resource, request context, the roles allowed: every other role is denied)
ACCESS: list[tuple[str, str, str, dict[str, Any], frozenset[str]]] = [
    # scans: the release job reads the pending table whole; nothing else is scanned
    *(
        (f"scan {t}", "dynamodb:Scan", f"table:{t}", {}, frozenset({"fp-release"}) if t == "pending" else NONE)
        for t in TABLE_ROLES
    ),
    # pending events: stored in ingestion's transaction, found and deleted by a revocation or
    # withdrawal, claimed and deleted by the release job; never read one by one
    ("store a pending event in a transaction", "dynamodb:PutItem", "table:pending", IN_TX, frozenset({"fp-ingestion"})),
    ("store a pending event alone", "dynamodb:PutItem", "table:pending", {}, NONE),
    ("query pending events", "dynamodb:Query", "table:pending", {}, frozenset({"fp-consent", "fp-admission"})),
    ("read one pending event", "dynamodb:GetItem", "table:pending", {}, NONE),
    ("delete a pending event", "dynamodb:DeleteItem", "table:pending", {}, frozenset({"fp-consent", "fp-admission"})),
    ("claim pending events", "dynamodb:UpdateItem", "table:pending", IN_TX, frozenset({"fp-release"})),
    ("delete released events", "dynamodb:BatchWriteItem", "table:pending", {}, frozenset({"fp-release"})),
    # de-duplication: written with the event, read by nobody
    ("record an eventKey in a transaction", "dynamodb:PutItem", "table:dedup", IN_TX, frozenset({"fp-ingestion"})),
    ("record an eventKey alone", "dynamodb:PutItem", "table:dedup", {}, NONE),
    ("read the dedup table", "dynamodb:GetItem", "table:dedup", {}, NONE),
    # consent: the organisation's own, through fp-consent; ingestion only checks it
    ("check consent in a transaction", "dynamodb:ConditionCheckItem", "table:consent", IN_TX, frozenset({"fp-ingestion"})),
    ("check consent outside a transaction", "dynamodb:ConditionCheckItem", "table:consent", {}, NONE),
    ("read consent", "dynamodb:GetItem", "table:consent", {}, frozenset({"fp-consent"})),
    ("write consent", "dynamodb:PutItem", "table:consent", {}, frozenset({"fp-consent"})),
    ("revoke consent", "dynamodb:UpdateItem", "table:consent", {}, frozenset({"fp-consent"})),
    ("delete a consent record", "dynamodb:DeleteItem", "table:consent", {}, NONE),
    # admission: operators through fp-admission; consent reads it, ingestion checks it
    ("check admission in a transaction", "dynamodb:ConditionCheckItem", "table:admission", IN_TX, frozenset({"fp-ingestion"})),
    ("read an admission", "dynamodb:GetItem", "table:admission", {}, frozenset({"fp-consent", "fp-admission"})),
    ("read the audit trail", "dynamodb:Query", "table:admission", {}, frozenset({"fp-admission"})),
    ("admit", "dynamodb:PutItem", "table:admission", {}, frozenset({"fp-admission"})),
    ("withdraw", "dynamodb:DeleteItem", "table:admission", {}, frozenset({"fp-admission"})),
    ("rewrite an audit record", "dynamodb:UpdateItem", "table:admission", {}, NONE),
    # published numbers: written only in the release transaction, read by the query
    ("publish a batch in a transaction", "dynamodb:PutItem", "table:published", IN_TX, frozenset({"fp-release"})),
    ("publish a batch alone", "dynamodb:PutItem", "table:published", {}, NONE),
    ("add to a period alone", "dynamodb:UpdateItem", "table:published", {}, NONE),
    ("read a batch record", "dynamodb:GetItem", "table:published", {}, frozenset({"fp-release"})),
    ("query a rule's numbers", "dynamodb:Query", "table:published", {}, frozenset({"calibration-query"})),
    ("delete published numbers", "dynamodb:DeleteItem", "table:published", {}, NONE),
    # the tables of other jobs
    ("write fp-events", "dynamodb:PutItem", "table:fpEvents", IN_TX, NONE),
    ("write the block counter", "dynamodb:UpdateItem", "table:blockCounter", {}, NONE),
    # the salt: read by the three pseudonym functions, listed by the release job, written by
    # the rotator only
    ("read the salt", "secretsmanager:GetSecretValue", "salt", {}, SALT_USERS),
    ("list the salt's versions", "secretsmanager:DescribeSecret", "salt", {}, frozenset({"fp-release", "salt-rotator"})),
    ("write a salt", "secretsmanager:PutSecretValue", "salt", {}, frozenset({"salt-rotator"})),
    ("decrypt the salt through Secrets Manager", "kms:Decrypt", "key:salt", {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}, SALT_USERS),
    ("decrypt the salt directly", "kms:Decrypt", "key:salt", {}, NONE),
    # the org key: pseudonyms only, with the one algorithm
    ("derive an org secret", "kms:GenerateMac", "key:org", {"kms:MacAlgorithm": "HMAC_SHA_256"}, PSEUDONYMS),
    ("derive with another algorithm", "kms:GenerateMac", "key:org", {"kms:MacAlgorithm": "HMAC_SHA_512"}, NONE),
    ("verify a MAC", "kms:VerifyMac", "key:org", {"kms:MacAlgorithm": "HMAC_SHA_256"}, NONE),
    # the tables' key, only through DynamoDB
    ("decrypt table items through DynamoDB", "kms:Decrypt", "key:tables", {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}, TABLE_USERS),
    ("decrypt with the tables' key directly", "kms:Decrypt", "key:tables", {}, NONE),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "action", "resource", "context", "allowed"), ACCESS, ids=[a[0] for a in ACCESS]
)
def test_who_may_do_what(staging, what, action, resource, context, allowed):
    decided = {
        role: identity_decision(
            [policy(staging, role)],
            role_request(role_arn(staging, role), action, arn(staging, resource), **context),
        )
        for role in ALL_ROLES
    }
    assert {role for role, d in decided.items() if d.allowed} == allowed, what
    # A denial is for want of a grant: no policy of the service writes a Deny.
    assert all(d in (Decision.ALLOW, Decision.IMPLICIT_DENY) for d in decided.values())


# --- 3. the key policies --------------------------------------------------------------------

ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/account-administrator"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def key_policy(run: ProgramRun, key: str) -> dict[str, Any]:
    return json.loads(run.one("aws:kms/key:Key", KEYS[key]).inputs["policy"])


def test_salt_key_lets_exactly_the_salt_roles_decrypt_through_secrets_manager(staging):
    document = key_policy(staging, "salt")
    # What Secrets Manager sends when it decrypts the salt for GetSecretValue.
    via = {
        "kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com",
        "kms:EncryptionContext:SecretARN": arn(staging, "salt"),
    }
    for role in ALL_ROLES:
        request = role_request(
            role_arn(staging, role), "kms:Decrypt", arn(staging, "key:salt"), **via
        )
        # with its own policy: the key and IAM both allow exactly the salt's users
        assert key_decision(document, request, [policy(staging, role)]).allowed is (
            role in SALT_USERS
        )
        # even a role holding every IAM permission is refused unless the key names it
        assert key_decision(document, request, [EVERYTHING]).allowed is (role in SALT_USERS)
    direct = role_request(
        role_arn(staging, "fp-ingestion"), "kms:Decrypt", arn(staging, "key:salt")
    )
    assert key_decision(document, direct, [EVERYTHING]) is Decision.IMPLICIT_DENY


def test_org_key_lets_exactly_the_pseudonym_roles_generate_macs(staging):
    document = key_policy(staging, "org")
    key = arn(staging, "key:org")
    for role in ALL_ROLES:
        request = role_request(
            role_arn(staging, role), "kms:GenerateMac", key, kms__MacAlgorithm="HMAC_SHA_256"
        )
        assert key_decision(document, request, [policy(staging, role)]).allowed is (
            role in PSEUDONYMS
        )
        assert key_decision(document, request, [EVERYTHING]).allowed is (role in PSEUDONYMS)
    other = role_request(
        role_arn(staging, "fp-ingestion"), "kms:GenerateMac", key, kms__MacAlgorithm="HMAC_SHA_384"
    )
    assert key_decision(document, other, [EVERYTHING]) is Decision.IMPLICIT_DENY


def test_the_account_administers_the_org_key_but_cannot_use_it(staging):
    document = key_policy(staging, "org")
    key = arn(staging, "key:org")
    for action in ("kms:DescribeKey", "kms:ScheduleKeyDeletion", "kms:TagResource"):
        assert key_decision(document, role_request(ADMIN, action, key), [EVERYTHING]).allowed, (
            action
        )
    for action in ("kms:GenerateMac", "kms:VerifyMac"):
        request = role_request(ADMIN, action, key, kms__MacAlgorithm="HMAC_SHA_256")
        assert key_decision(document, request, [EVERYTHING]) is Decision.IMPLICIT_DENY, action
    # and no role of another account, whatever it holds
    foreign = role_request(
        "arn:aws:iam::444455556666:role/fp-ingestion",
        "kms:GenerateMac",
        key,
        kms__MacAlgorithm="HMAC_SHA_256",
    )
    assert key_decision(document, foreign, [EVERYTHING]) is Decision.IMPLICIT_DENY
