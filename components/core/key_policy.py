"""Key policies: one model for every customer-managed key of the program.

- The account (``arn:aws:iam::ACCOUNT:root``) keeps ADMINISTRATION of every key, delegated to
  IAM, so a key never becomes unmanageable ("Default key policy", "Allows access to the AWS
  account and enables IAM policies":
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html). It gets the
  console's key-administrator actions minus the two that hand out use: ``kms:CreateGrant`` and
  ``kms:PutKeyPolicy`` (the same page warns that administrators holding them "can give
  themselves and others AWS KMS permissions not specified in this policy").
- ``kms:PutKeyPolicy`` stays with the identities that run ``pulumi up`` (it is how the program
  writes these policies) and the account root user (the break-glass principal that cannot be
  deleted). ``kms:CreateGrant`` only for grants an AWS service creates for its resource.
- No data-plane use is delegated to IAM as a whole: each use is granted by name to the callers
  that need it, and only through the AWS service (``kms:ViaService``) or for the encryption
  context that service sends. Roles created after the key are named by ``aws:PrincipalArn`` on
  the account principal, because KMS rejects a key policy naming a role that does not exist
  yet ("Key policies in AWS KMS", the Principal element:
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html); such a
  statement also needs the role's own identity policy to allow the call.

The key table in tests/test_key_policies.py evaluates every policy built here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Statement = dict[str, Any]
Condition = Mapping[str, Mapping[str, Any]]

# "Default key policy", key administrators statement, without kms:Create* (CreateGrant) and
# kms:Put* (PutKeyPolicy); kms:CreateAlias and kms:RotateKeyOnDemand named instead.
ADMIN_ACTIONS = (
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)


# Secrets Manager validates a key for the principal who puts a secret under it, with this
# SecretVersionId in the encryption context ("Secret encryption and decryption in AWS Secrets
# Manager", "Validating access to the KMS key":
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
SECRETS_MANAGER_VALIDATION = "RequestToValidateKeyAccess"


@dataclass(frozen=True, kw_only=True)
class Deployers:
    """The identities that run ``pulumi up``; an unset one is absent from every policy.

    - deploy_role_arn: the CI deploy role from ``bootstrap/`` (config ``deployRoleArn``).
    - operator_role_arn_pattern: the operators' administrator role, an ``ArnLike`` pattern
      (config ``operatorRoleArnPattern``), which runs the documented first deploy.
    """

    deploy_role_arn: str | None = None
    operator_role_arn_pattern: str | None = None

    @property
    def arns(self) -> list[str]:
        """``ArnLike`` patterns of every configured deploying identity (an exact ARN is one)."""
        return [a for a in (self.deploy_role_arn, self.operator_role_arn_pattern) if a]

    @property
    def operators(self) -> list[str]:
        """The human operators' role pattern, for the few reads only a person does."""
        return [self.operator_role_arn_pattern] if self.operator_role_arn_pattern else []


def root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def role_arn(account_id: str, role_name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{role_name}"


def via(service: str, region: str) -> dict[str, dict[str, str]]:
    """``kms:ViaService``: the request comes from ``service`` in ``region`` for the caller."""
    return {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}}


def for_aws_resource() -> dict[str, dict[str, str]]:
    """``kms:GrantIsForAWSResource``: a grant an integrated AWS service creates for its resource
    ("AWS KMS condition keys":
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
    return {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def merge(*conditions: Condition) -> dict[str, dict[str, Any]]:
    """Conditions joined with AND (one operator's keys are merged; a key may appear once)."""
    merged: dict[str, dict[str, Any]] = {}
    for condition in conditions:
        for operator, keys in condition.items():
            into = merged.setdefault(operator, {})
            for key, value in keys.items():
                if key in into:
                    raise ValueError(f"condition key {key} given twice under {operator}")
                into[key] = value
    return merged


def by_name(
    sid: str,
    account_id: str,
    principals: Sequence[str],
    actions: Sequence[str],
    *conditions: Condition,
) -> list[Statement]:
    """Allow ``actions`` to the roles whose ARN is one of ``principals`` (``ArnEquals``), or
    matches one of them (``ArnLike``) when any is a pattern.

    Empty when no principal is configured, so an unset deploying identity is simply absent.
    """
    if not principals:
        return []
    pattern = any("*" in p or "?" in p for p in principals)
    operator = "ArnLike" if pattern else "ArnEquals"
    condition = merge({operator: {"aws:PrincipalArn": list(principals)}}, *conditions)
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": root(account_id)},
            "Action": list(actions),
            "Resource": "*",
            "Condition": condition,
        }
    ]


def service(
    sid: str, services: Sequence[str], actions: Sequence[str], *conditions: Condition
) -> Statement:
    """Allow an AWS service principal that acts on its own behalf (CloudWatch Logs, CloudTrail,
    the publishers of an encrypted SNS topic)."""
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": services[0] if len(services) == 1 else list(services)},
        "Action": list(actions),
        "Resource": "*",
    }
    if conditions:
        statement["Condition"] = merge(*conditions)
    return statement


def key_policy(account_id: str, deployers: Deployers, statements: Sequence[Statement]) -> str:
    """The account administers; the deployers and the root user may rewrite the policy; then
    each key's own ``statements``."""
    base: list[Statement] = [
        {
            "Sid": "AccountAdministersWithoutUse",
            "Effect": "Allow",
            "Principal": {"AWS": root(account_id)},
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        },
        # PutKeyPolicy checks that the caller may call it again under the new policy (the
        # policy lockout safety check, "PutKeyPolicy" in the AWS KMS API Reference): the
        # identity running ``pulumi up`` must be named here, or its update is refused.
        *by_name(
            "DeployersAndRootUserSetThePolicy",
            account_id,
            [root(account_id), *deployers.arns],
            ["kms:PutKeyPolicy"],
        ),
    ]
    sids = [s["Sid"] for s in [*base, *statements]]
    if len(sids) != len(set(sids)):
        raise ValueError(f"key policy statements share a Sid: {sids}")
    return json.dumps({"Version": "2012-10-17", "Statement": [*base, *statements]})


def deployer_grants(
    account_id: str, deployers: Deployers, *conditions: Condition
) -> list[Statement]:
    """The deploying identities may let an AWS service create a grant for the resource it
    encrypts with this key (DynamoDB, RDS, ElastiCache, EKS, Lambda and Backup each document
    ``kms:CreateGrant`` for the principal who creates the resource)."""
    return by_name(
        "DeployersLetServicesGrantThemselvesUse",
        account_id,
        deployers.arns,
        ["kms:CreateGrant"],
        for_aws_resource(),
        *conditions,
    )
