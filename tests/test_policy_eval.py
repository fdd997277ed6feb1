"""The policy evaluator itself: allow, explicit deny, missing condition keys, delegation.

Every key-policy and trust-policy table in this suite rests on testing/policy_eval.py, so each
rule it implements from AWS's "Policy evaluation logic" and "Condition operators" pages is
pinned here with the smallest policy that shows it.
"""

from __future__ import annotations

import pytest

from testing.policy_eval import (
    Decision,
    Request,
    Unsupported,
    conditions_hold,
    identity_decision,
    key_decision,
    role_request,
    service_request,
    trust_decision,
)

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/other"
FOREIGN_ROLE = "arn:aws:iam::444455556666:role/app"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="kms:Decrypt", principal=None, condition=None, resource="*", effect="Allow"):
    statement = {"Effect": effect, "Action": action, "Resource": resource}
    if principal is not None:
        statement["Principal"] = principal
    if condition:
        statement["Condition"] = condition
    return statement


IAM_DECRYPT = policy(allow("kms:Decrypt", resource=KEY))


def test_a_key_policy_naming_the_role_allows_without_an_identity_policy():
    key = policy(allow(principal={"AWS": ROLE}))
    assert key_decision(key, role_request(ROLE, "kms:Decrypt", KEY)) is Decision.ALLOW
    assert key_decision(key, role_request(OTHER_ROLE, "kms:Decrypt", KEY)) is (
        Decision.IMPLICIT_DENY
    )


def test_a_statement_for_the_account_delegates_to_iam_and_needs_an_identity_allow():
    key = policy(allow(principal={"AWS": ROOT}))
    request = role_request(ROLE, "kms:Decrypt", KEY)
    assert key_decision(key, request) is Decision.IMPLICIT_DENY
    assert key_decision(key, request, [IAM_DECRYPT]) is Decision.ALLOW
    # Another account's role is not covered by this account's root.
    assert key_decision(key, role_request(FOREIGN_ROLE, "kms:Decrypt", KEY), [IAM_DECRYPT]) is (
        Decision.IMPLICIT_DENY
    )


def test_an_identity_policy_alone_never_opens_a_key():
    silent = policy(allow("kms:DescribeKey", principal={"AWS": ROOT}))
    assert key_decision(silent, role_request(ROLE, "kms:Decrypt", KEY), [IAM_DECRYPT]) is (
        Decision.IMPLICIT_DENY
    )


def test_an_explicit_deny_wins_in_either_policy():
    request = role_request(ROLE, "kms:Decrypt", KEY)
    key = policy(allow(principal={"AWS": ROLE}), allow(principal="*", effect="Deny"))
    assert key_decision(key, request) is Decision.EXPLICIT_DENY
    identity_deny = policy(allow("kms:*", effect="Deny"))
    assert key_decision(policy(allow(principal={"AWS": ROLE})), request, [identity_deny]) is (
        Decision.EXPLICIT_DENY
    )


def test_actions_match_case_insensitively_with_wildcards_and_not_action():
    assert identity_decision(
        [policy(allow("KMS:generatedatakey*"))],
        role_request(ROLE, "kms:GenerateDataKeyWithoutPlaintext"),
    ).allowed
    not_decrypt = policy({"Effect": "Allow", "NotAction": "kms:Decrypt", "Resource": "*"})
    assert identity_decision([not_decrypt], role_request(ROLE, "kms:Encrypt")).allowed
    assert not identity_decision([not_decrypt], role_request(ROLE, "kms:Decrypt")).allowed


def test_resources_match_with_wildcards_only_where_written():
    table = "arn:aws:dynamodb:us-east-1:111122223333:table/events"
    grant = policy(allow("dynamodb:Query", resource=f"{table}/index/*"))
    assert identity_decision([grant], role_request(ROLE, "dynamodb:Query", f"{table}/index/a"))
    assert not identity_decision([grant], role_request(ROLE, "dynamodb:Query", table)).allowed


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        # A key missing from the request: false for a plain operator ...
        ({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, {}, False),
        # ... true for a negated one and for ...IfExists.
        ({"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, {}, True),
        ({"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, {}, True),
        # Values of one key: OR; negated: NOR.
        ({"StringEquals": {"aws:SourceAccount": ["1", "2"]}}, {"aws:SourceAccount": "2"}, True),
        ({"StringNotEquals": {"aws:SourceAccount": ["1", "2"]}}, {"aws:SourceAccount": "2"}, False),
        # Keys of one operator: AND.
        (
            {"StringEquals": {"aws:SourceAccount": "1", "aws:SourceArn": "x"}},
            {"aws:SourceAccount": "1"},
            False,
        ),
        # Context key names are case-insensitive, values are not.
        ({"StringEquals": {"KMS:VIASERVICE": "a"}}, {"kms:ViaService": "a"}, True),
        ({"StringEquals": {"kms:ViaService": "A"}}, {"kms:ViaService": "a"}, False),
        ({"StringEqualsIgnoreCase": {"kms:ViaService": "A"}}, {"kms:ViaService": "a"}, True),
        ({"StringLike": {"k": "secret:salt-??????"}}, {"k": "secret:salt-AbCdEf"}, True),
        ({"StringLike": {"k": "secret:salt-??????"}}, {"k": "secret:salt-AbCdE"}, False),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1:role/sso/*/Admin_*"}},
            {"aws:PrincipalArn": "arn:aws:iam::1:role/sso/x/y/Admin_42"},
            True,
        ),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1:role/Admin_*"}},
            {"aws:PrincipalArn": "arn:aws:iam::2:role/Admin_1"},
            False,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, True),
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, {"s3:TlsVersion": "1.1"}, True),
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, {"s3:TlsVersion": "1.3"}, False),
        ({"Null": {"kms:GrantIsForAWSResource": "true"}}, {}, True),
        (
            {"Null": {"kms:GrantIsForAWSResource": "true"}},
            {"kms:GrantIsForAWSResource": True},
            False,
        ),
        # Set operators over a multivalued key.
        (
            {"ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}},
            {"dynamodb:EnclosingOperation": ["TransactWriteItems"]},
            True,
        ),
        (
            {"ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}},
            {},
            False,
        ),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "c"]}, False),
    ],
)
def test_condition_operators_follow_the_documented_rules(condition, context, holds):
    request = Request(principal=ROLE, action="kms:Decrypt", context=context)
    assert conditions_hold(condition, request) is holds


def test_a_condition_on_the_account_statement_still_needs_the_identity_allow():
    key = policy(
        allow(
            principal={"AWS": ROOT},
            condition={
                "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
            },
        )
    )
    direct = role_request(ROLE, "kms:Decrypt", KEY)
    via = role_request(
        ROLE, "kms:Decrypt", KEY, kms__ViaService="secretsmanager.us-east-1.amazonaws.com"
    )
    assert key_decision(key, direct, [IAM_DECRYPT]) is Decision.IMPLICIT_DENY
    assert key_decision(key, via, [IAM_DECRYPT]) is Decision.ALLOW


def test_service_principals_match_by_name_only():
    key = policy(allow(principal={"Service": "logs.us-east-1.amazonaws.com"}))
    assert key_decision(key, service_request("logs.us-east-1.amazonaws.com", "kms:Decrypt")).allowed
    assert not key_decision(
        key, service_request("logs.eu-west-1.amazonaws.com", "kms:Decrypt")
    ).allowed
    # A role is not a service, whatever its name.
    assert not key_decision(key, role_request(ROLE, "kms:Decrypt")).allowed


def test_a_federated_trust_policy_decides_alone_on_sub_and_aud():
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:*"},
            },
        }
    )

    def token(sub, aud="sts.amazonaws.com", issuer=provider):
        return Request(
            principal=issuer,
            action="sts:AssumeRoleWithWebIdentity",
            kind="Federated",
            context={
                "token.actions.githubusercontent.com:sub": sub,
                "token.actions.githubusercontent.com:aud": aud,
            },
        )

    assert trust_decision(trust, token("repo:o/r:pull_request")).allowed
    assert not trust_decision(trust, token("repo:o/other:pull_request")).allowed
    assert not trust_decision(trust, token("repo:o/r:pull_request", aud="other")).allowed
    other_provider = "arn:aws:iam::444455556666:oidc-provider/token.actions.githubusercontent.com"
    assert not trust_decision(trust, token("repo:o/r:x", issuer=other_provider)).allowed


@pytest.mark.parametrize(
    "statement",
    [
        allow(condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
        allow(condition={"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}),
        allow(condition={"ForSomeValues:StringEquals": {"k": "v"}}),
        {"Effect": "Allow", "NotPrincipal": {"AWS": ROLE}, "Action": "kms:*", "Resource": "*"},
    ],
)
def test_what_it_does_not_implement_is_refused_not_guessed(statement):
    if "Principal" not in statement and "NotPrincipal" not in statement:
        statement = {**statement, "Principal": "*"}
    request = role_request(ROLE, "kms:Decrypt", KEY, k="v")
    with pytest.raises(Unsupported):
        key_decision(policy(statement), request)
