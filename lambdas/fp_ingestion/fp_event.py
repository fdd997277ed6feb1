"""The fp-ingestion request body: what each field may hold.

Pure functions, no AWS: ``parse_event`` validates every field and raises ``InvalidField``
naming the first bad one (never echoing its value, which may be an organisation id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from caller import OWNER_ID, InvalidField

FIELDS = frozenset({"orgId", "ruleId", "isFalsePositive", "timestamp", "context", "eventId"})
RULE_ID = re.compile(r"[A-Z]{2,5}-[0-9]{3,4}")
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_CONTEXT_BYTES = 2_048
MAX_TIMESTAMP_CHARS = 40
CLOCK_SKEW = timedelta(minutes=5)
# The de-duplication record lives 40 days: an event older than this could be a retry whose
# record is gone, so it is refused rather than counted twice.
MAX_EVENT_AGE = timedelta(days=30)


@dataclass(frozen=True, kw_only=True)
class FpEvent:
    org_id: str | None = field(repr=False)
    rule_id: str
    is_false_positive: bool
    timestamp: datetime
    event_id: str


def _text(payload: Mapping[str, object], key: str, pattern: re.Pattern[str], rule: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise InvalidField(key, "is required and must be a string")
    if not pattern.fullmatch(value):
        raise InvalidField(key, f"must be {rule}")
    return value


def _timestamp(value: object, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_CHARS:
        raise InvalidField(
            "timestamp", f"is required: an ISO 8601 string of at most {MAX_TIMESTAMP_CHARS}"
        )
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise InvalidField("timestamp", "must include a UTC offset, e.g. Z")
        # Year 1 with a positive offset is before datetime.min in UTC: OverflowError.
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, InvalidField):
            raise
        raise InvalidField("timestamp", "is not an ISO 8601 time") from exc
    if parsed > now + CLOCK_SKEW:
        raise InvalidField("timestamp", "is in the future")
    if parsed < now - MAX_EVENT_AGE:
        raise InvalidField("timestamp", "is more than 30 days old")
    return parsed


def _context(value: object) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidField("context", "must be a JSON object")
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidField("context", "must hold only JSON values") from exc
    if len(text.encode(errors="replace")) > MAX_CONTEXT_BYTES:
        raise InvalidField("context", f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")


def parse_event(payload: Mapping[str, object], now: datetime, *, org_required: bool) -> FpEvent:
    """Validate every field; ``org_required`` on the internal route (no token names the org)."""
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise InvalidField(unknown[0][:64], "is not a known field")
    event_id = _text(payload, "eventId", EVENT_ID, "1-128 characters of [A-Za-z0-9._:-]")
    rule_id = _text(payload, "ruleId", RULE_ID, "like MD-003 (2-5 capitals, dash, 3-4 digits)")
    flag = payload.get("isFalsePositive")
    if not isinstance(flag, bool):
        raise InvalidField("isFalsePositive", "is required and must be true or false")
    timestamp = _timestamp(payload.get("timestamp"), now)
    _context(payload.get("context"))
    org_id = None
    if org_required or "orgId" in payload:
        org_id = _text(payload, "orgId", OWNER_ID, "a GitHub repository_owner_id (digits)")
    return FpEvent(
        org_id=org_id,
        rule_id=rule_id,
        is_false_positive=flag,
        timestamp=timestamp,
        event_id=event_id,
    )
