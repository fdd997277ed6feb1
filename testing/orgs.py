"""Organisations as the service records them: admitted and consenting, keyed by ``orgKey``."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

ORG_KEY_MESSAGE = b"phase-mirror/org-key"


def org_secret(kms: Any, key_arn: str, owner_id: str) -> bytes:
    return bytes(
        kms.generate_mac(
            KeyId=key_arn,
            Message=f"phase-mirror/org/{owner_id}".encode(),
            MacAlgorithm="HMAC_SHA_256",
        )["Mac"]
    )


def org_key(kms: Any, key_arn: str, owner_id: str) -> str:
    return hmac.new(org_secret(kms, key_arn, owner_id), ORG_KEY_MESSAGE, hashlib.sha256).hexdigest()


def admit(ddb: Any, table: str, key: str) -> None:
    ddb.put_item(
        TableName=table,
        Item={
            "orgKey": {"S": key},
            "record": {"S": "admission"},
            "admittedAt": {"S": "2026-01-01T00:00:00Z"},
            "admittedBy": {"S": "arn:aws:iam::123456789012:role/operator"},
        },
    )


def grant(ddb: Any, table: str, key: str, **extra: Any) -> None:
    ddb.put_item(
        TableName=table,
        Item={
            "orgKey": {"S": key},
            "consentType": {"S": "explicit"},
            "grantedAt": {"S": "2026-01-01T00:00:00Z"},
            **extra,
        },
    )
