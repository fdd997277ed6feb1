"""The HMAC salts: the secret's AWSCURRENT document, cached by Powertools.

The document is ``{salt, rotationMonth, rotatedAt, versionId[, previousSalt,
previousRotationMonth]}``, written by the salt-rotator only; ``versionId`` is the Secrets
Manager version holding it, so a stored item can name its salt's version and the release job
can tell from ``DescribeSecret`` alone (no salt read) whether that salt is still in the secret.
Until the rotator's first rotation seeds it, the secret has no AWSCURRENT: ``SaltNotSeeded``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from botocore.exceptions import ClientError

MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
# Secrets Manager version ids are client request tokens: 32-64 characters.
VERSION_ID = re.compile(r"[A-Za-z0-9-]{32,64}")
SALT_BYTES = 32


class SaltUnavailable(RuntimeError):
    """The salt could not be read or is malformed (the message never holds a salt)."""


class SaltNotSeeded(SaltUnavailable):
    """The secret has no AWSCURRENT value yet: the first rotation has not run."""


@dataclass(frozen=True, kw_only=True)
class Salt:
    key: bytes = field(repr=False)
    month: str

    def org_hash(self, owner_id: str) -> str:
        return hmac.new(self.key, owner_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True)
class SaltSet:
    current: Salt
    version: str
    rotated_at: datetime
    previous: Salt | None

    @property
    def salts(self) -> tuple[Salt, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)


def _salt(value: object, month: object, name: str) -> Salt:
    if not isinstance(month, str) or not MONTH.fullmatch(month):
        raise SaltUnavailable(f"{name} month is malformed")
    try:
        key = base64.b64decode(cast(str, value), validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        raise SaltUnavailable(f"{name} is not base64") from exc
    if len(key) != SALT_BYTES:
        raise SaltUnavailable(f"{name} is not {SALT_BYTES} bytes")
    return Salt(key=key, month=month)


def parse_salt_document(raw: object) -> SaltSet:
    if not isinstance(raw, dict):
        raise SaltUnavailable("the salt secret is not a JSON object")
    doc = cast(dict[str, object], raw)
    current = _salt(doc.get("salt"), doc.get("rotationMonth"), "salt")
    version = doc.get("versionId")
    if not isinstance(version, str) or not VERSION_ID.fullmatch(version):
        raise SaltUnavailable("versionId is malformed")
    try:
        rotated_at = datetime.fromisoformat(cast(str, doc.get("rotatedAt")))
    except (TypeError, ValueError) as exc:
        raise SaltUnavailable("rotatedAt is malformed") from exc
    if rotated_at.tzinfo is None:
        raise SaltUnavailable("rotatedAt has no UTC offset")
    previous = None
    if "previousSalt" in doc:
        previous = _salt(doc["previousSalt"], doc.get("previousRotationMonth"), "previousSalt")
    return SaltSet(current=current, version=version, rotated_at=rotated_at, previous=previous)


class SaltSource:
    """The salt document through Powertools' cache (only AWSCURRENT: the cache keys on the name)."""

    def __init__(self, provider: SecretsProvider, secret_id: str, max_age: int) -> None:
        self._provider = provider
        self._secret_id = secret_id
        self._max_age = max_age
        # Powertools hands back the same cached document until it re-reads the secret: parse
        # each document once, not once per event.
        self._parsed: tuple[object, SaltSet] | None = None

    def salts(self, *, fresh: bool = False) -> SaltSet:
        """The cached document; ``fresh`` reads it now (a revocation must see a new salt)."""
        try:
            raw = self._provider.get(
                self._secret_id,
                max_age=self._max_age,
                transform="json",
                force_fetch=fresh,
                VersionStage="AWSCURRENT",
            )
        except GetParameterError as exc:
            # Powertools wraps the SDK error; it is still the context of what it raises.
            cause = exc.__context__
            if isinstance(cause, ClientError) and (
                cause.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
            ):
                raise SaltNotSeeded("the salt secret has no AWSCURRENT value yet") from exc
            raise SaltUnavailable("the salt secret could not be read") from exc
        except TransformParameterError as exc:
            raise SaltUnavailable("the salt secret is not JSON") from exc
        if self._parsed is None or self._parsed[0] is not raw:
            self._parsed = (raw, parse_salt_document(raw))
        return self._parsed[1]
