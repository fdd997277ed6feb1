"""What a consent grant may hold: pure validation, no AWS."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from caller import InvalidField

GRANT_FIELDS = frozenset({"consentType", "expiresAt"})
CONSENT_TYPES = ("explicit",)
# A consent longer than about a year and a month should be renewed; it also makes a value in
# milliseconds (about 1000x today's seconds) impossible to accept.
MAX_CONSENT = timedelta(days=400)
MILLISECONDS_FROM = 10**11  # year 5138 in seconds; any current time in milliseconds is above


def grant_expiry(payload: Mapping[str, object], now: datetime) -> int | None:
    """Validate a grant; the expiry in Unix seconds, or None (until revoked)."""
    if payload.get("consentType") not in CONSENT_TYPES:
        raise InvalidField("consentType", "is required and must be explicit")
    if "expiresAt" not in payload:
        return None
    expires = payload["expiresAt"]
    # bool is an int in Python; JSON true must not become 1970-01-01T00:00:01.
    if type(expires) is not int:
        raise InvalidField("expiresAt", "must be an integer number of Unix seconds")
    current = int(now.timestamp())
    if expires >= MILLISECONDS_FROM:
        raise InvalidField("expiresAt", "must be Unix seconds, not milliseconds")
    if expires <= current:
        raise InvalidField("expiresAt", "must be in the future")
    if expires > current + int(MAX_CONSENT.total_seconds()):
        raise InvalidField("expiresAt", "must be at most 400 days ahead")
    return expires
