"""Keyed pseudonyms of an organisation, from a KMS HMAC key whose secret never leaves KMS.

The org secret is ``GenerateMac(org key, "phase-mirror/org/<owner id>")``; it is never stored
or logged, only cached in memory per owner (one KMS call per owner per warm container). Two
pseudonyms derive from it: ``org_key`` keys the consent and admission tables, and
``event_key(eventId)`` keys the de-duplication record. Neither reveals the other or the owner
without the KMS key, and neither changes with the monthly salt.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from botocore.exceptions import BotoCoreError, ClientError

MAC_ALGORITHM = "HMAC_SHA_256"
ORG_MESSAGE = "phase-mirror/org/"
ORG_KEY_MESSAGE = b"phase-mirror/org-key"
EVENT_MESSAGE = "phase-mirror/event/"
# An admitted organisation's entry is 32 bytes plus its id: 10,000 stay well under a megabyte.
CACHE_ENTRIES = 10_000
# boto3 ships no type stubs and the project adds no stub dependency.
KmsClient: TypeAlias = Any


class OrgKeyUnavailable(RuntimeError):
    """KMS could not derive the org secret (the message holds the error code, never an id)."""


def _mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Pseudonyms:
    """An organisation's keyed hashes; the secret they come from stays out of repr and logs."""

    secret: bytes = field(repr=False)

    @functools.cached_property
    def org_key(self) -> str:
        return _mac(self.secret, ORG_KEY_MESSAGE)

    def event_key(self, event_id: str) -> str:
        return _mac(self.secret, (EVENT_MESSAGE + event_id).encode())


class OrgIdentity:
    """``pseudonyms(owner_id)`` through KMS ``GenerateMac``, cached per owner."""

    def __init__(self, kms: KmsClient, key_id: str, entries: int = CACHE_ENTRIES) -> None:
        self._kms = kms
        self._key_id = key_id
        self._entries = entries
        self._cache: OrderedDict[str, Pseudonyms] = OrderedDict()

    def pseudonyms(self, owner_id: str) -> Pseudonyms:
        found = self._cache.get(owner_id)
        if found is not None:
            self._cache.move_to_end(owner_id)
            return found
        try:
            response = self._kms.generate_mac(
                KeyId=self._key_id,
                Message=(ORG_MESSAGE + owner_id).encode(),
                MacAlgorithm=MAC_ALGORITHM,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code") or "ClientError"
            raise OrgKeyUnavailable(code) from exc
        except BotoCoreError as exc:
            raise OrgKeyUnavailable(type(exc).__name__) from exc
        found = Pseudonyms(bytes(response["Mac"]))
        self._cache[owner_id] = found
        if len(self._cache) > self._entries:
            self._cache.popitem(last=False)
        return found
