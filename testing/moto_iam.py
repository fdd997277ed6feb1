"""Resource-level IAM enforcement for moto, and sessions that hold exactly one role's policy.

moto 5.2.5 enforces IAM actions once authentication is on, but asks every DynamoDB and Secrets
Manager request for permission on resource ``*``, so a policy scoped to exact ARNs (as ours are)
is either denied everywhere or, rewritten to ``*``, proves nothing about scope. ``resource_arns``
gives those two services the resource AWS itself authorises: the table (or
``table/T/index/I`` for an index query) and the secret's ARN. moto would authorise a
``TransactWriteItems`` call as that action on ``*``; AWS authorises each of its items as the
underlying action on its own table (Put -> PutItem, Update -> UpdateItem, Delete -> DeleteItem,
ConditionCheck -> ConditionCheckItem: DynamoDB developer guide, "Using IAM with DynamoDB
transactions"), so ``resource_arns`` makes moto do the same. A ``BatchWriteItem`` is authorised
once per table it writes to (as ``dynamodb:BatchWriteItem`` on each), and a KMS request on the
key it names (``KeyId`` resolved to the key's ARN, as AWS does). Conditions are still ignored by
moto; tests read them from the policy document instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.core import enable_iam_authentication
from moto.core.authorization import ActionAuthenticatorMixin
from moto.dynamodb.responses import DynamoHandler
from moto.kms.models import kms_backends
from moto.kms.responses import KmsResponse
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.responses import SecretsManagerResponse

ACCOUNT = "123456789012"


# What AWS authorises each item of a transaction as.
TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _dynamodb_body(self: Any) -> dict[str, Any]:
    return getattr(self, "params", None) or json.loads(self.body or "{}")


def _table_arn(self: Any, table: str) -> str:
    return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"


def _dynamodb_resource(self: Any) -> str:
    body = _dynamodb_body(self)
    arn = _table_arn(self, body.get("TableName", "*"))
    return f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn


def _dynamodb_authorize(self: Any, resource: str = "*") -> None:
    """As moto does, except a transaction (every item as its own action on its own table) and a
    batch write (once per table)."""
    authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
    if self._get_action() == "BatchWriteItem":
        for table in _dynamodb_body(self).get("RequestItems", {}):
            authorize(self, _table_arn(self, table))
        return
    if self._get_action() != "TransactWriteItems":
        authorize(self, resource)
        return
    for entry in _dynamodb_body(self).get("TransactItems", []):
        ((kind, request),) = entry.items()
        action = TRANSACT_WRITE_ACTIONS[kind]
        self._get_action = lambda action=action: action  # the IAM request reads the action here
        try:
            authorize(self, _table_arn(self, request["TableName"]))
        finally:
            del self._get_action


def _secret_resource(self: Any) -> str:
    secret_id = json.loads(self.body or "{}").get("SecretId", "*")
    if secret_id.startswith("arn:"):
        return secret_id
    backend = secretsmanager_backends[self.current_account][self.region]
    secret = backend.secrets.get(secret_id) if secret_id in backend.secrets else None
    return secret.arn if secret else secret_id


def _kms_resource(self: Any) -> str:
    key_id = json.loads(self.body or "{}").get("KeyId", "*")
    backend = kms_backends[self.current_account][self.region]
    key = backend.keys.get(backend.get_key_id(key_id))
    return key.arn if key is not None else key_id


@contextmanager
def resource_arns() -> Iterator[None]:
    """Within the block, DynamoDB, Secrets Manager and KMS requests are authorised per resource."""
    DynamoHandler._determine_resource = _dynamodb_resource  # type: ignore[attr-defined]
    DynamoHandler._authenticate_and_authorize_normal_action = _dynamodb_authorize  # type: ignore[method-assign]
    SecretsManagerResponse._determine_resource = _secret_resource  # type: ignore[attr-defined]
    KmsResponse._determine_resource = _kms_resource  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del DynamoHandler._determine_resource  # type: ignore[attr-defined]
        del DynamoHandler._authenticate_and_authorize_normal_action  # type: ignore[attr-defined]
        del SecretsManagerResponse._determine_resource  # type: ignore[attr-defined]
        del KmsResponse._determine_resource  # type: ignore[attr-defined]


def session_with_policy(role_name: str, policy: str, region: str = "us-east-1") -> boto3.Session:
    """Create ``role_name`` holding only ``policy`` (inline) and return its assumed-role session."""
    iam = boto3.client("iam", region_name=region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=role_name, PolicyName="program-policy", PolicyDocument=policy)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role_name}", RoleSessionName="iam-proof"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@contextmanager
def enforced() -> Iterator[None]:
    """IAM enforced, with resource ARNs, for every request made inside the block."""
    with resource_arns(), enable_iam_authentication():
        yield
