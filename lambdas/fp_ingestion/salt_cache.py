"""The HMAC salts of fp-ingestion: the secret's AWSCURRENT document, cached by Powertools.

The document is ``{salt, rotationMonth, rotatedAt[, previousSalt, previousRotationMonth]}``
(written by the salt-rotator). Each salt serves from its ``rotationMonth`` until the next
rotation, so an event is hashed with the salt in force in the event's own month.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
SALT_BYTES = 32
SALT_ID_MESSAGE = b"phase-mirror-salt-id"
# A month's late events force one re-read, not one per event while a rotation is still pending.
FORCED_REFRESH_INTERVAL_SECONDS = 30.0


class SaltUnavailable(RuntimeError):
    """The salt could not be read or is malformed (the message never holds a salt)."""


@dataclass(frozen=True, kw_only=True)
class Salt:
    """One salt; ``salt_id`` tells two salts of the same month apart (an emergency rotation)."""

    key: bytes = field(repr=False)
    month: str
    salt_id: str


@dataclass(frozen=True, kw_only=True)
class SaltSet:
    current: Salt
    rotated_at: datetime
    previous: Salt | None

    def for_month(self, month: str) -> Salt | None:
        """The salt in force in ``month``; None when that salt is already gone."""
        if month >= self.current.month:
            return self.current
        if self.previous is not None and month >= self.previous.month:
            return self.previous
        return None


def _salt(value: object, month: object, name: str) -> Salt:
    if not isinstance(month, str) or not MONTH.fullmatch(month):
        raise SaltUnavailable(f"{name} month is malformed")
    try:
        key = base64.b64decode(cast(str, value), validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        raise SaltUnavailable(f"{name} is not base64") from exc
    if len(key) != SALT_BYTES:
        raise SaltUnavailable(f"{name} is not {SALT_BYTES} bytes")
    salt_id = hmac.new(key, SALT_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]
    return Salt(key=key, month=month, salt_id=salt_id)


def parse_salt_document(raw: object) -> SaltSet:
    if not isinstance(raw, dict):
        raise SaltUnavailable("the salt secret is not a JSON object")
    doc = cast(dict[str, object], raw)
    current = _salt(doc.get("salt"), doc.get("rotationMonth"), "salt")
    try:
        rotated_at = datetime.fromisoformat(cast(str, doc.get("rotatedAt")))
    except (TypeError, ValueError) as exc:
        raise SaltUnavailable("rotatedAt is malformed") from exc
    if rotated_at.tzinfo is None:
        raise SaltUnavailable("rotatedAt has no UTC offset")
    previous = None
    if "previousSalt" in doc:
        previous = _salt(doc["previousSalt"], doc.get("previousRotationMonth"), "previousSalt")
    return SaltSet(current=current, rotated_at=rotated_at, previous=previous)


class SaltSource:
    """The salt document through Powertools' cache, re-read early when a newer month shows up."""

    def __init__(
        self,
        provider: SecretsProvider,
        secret_id: str,
        max_age: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._secret_id = secret_id
        self._max_age = max_age
        self._monotonic = monotonic
        self._forced_at: float | None = None

    def _load(self, force: bool) -> SaltSet:
        try:
            # Only AWSCURRENT is ever read through this cache: it keys on the name alone.
            raw = self._provider.get(
                self._secret_id,
                max_age=self._max_age,
                transform="json",
                force_fetch=force,
                VersionStage="AWSCURRENT",
            )
        except (GetParameterError, TransformParameterError) as exc:
            raise SaltUnavailable("the salt secret could not be read") from exc
        return parse_salt_document(raw)

    def salts_for(self, month: str) -> SaltSet:
        """The salts, re-read at once (at most every 30 s) for an event newer than the cache."""
        salts = self._load(force=False)
        now = self._monotonic()
        recently = self._forced_at is not None and now - self._forced_at < (
            FORCED_REFRESH_INTERVAL_SECONDS
        )
        if month > salts.current.month and not recently:
            self._forced_at = now
            salts = self._load(force=True)
        return salts
