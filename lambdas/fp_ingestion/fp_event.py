"""The fp-ingestion request: where its fields come from and what each may hold.

Pure functions, no AWS: ``request_payload`` takes the fields from a direct invoke or an HTTP API
(payload 2.0) body, ``parse_event`` validates every one and raises ``InvalidField`` naming the
first bad field (never echoing its value, which may be an organisation id).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

FIELDS = frozenset({"orgId", "ruleId", "isFalsePositive", "timestamp", "context", "eventId"})
ORG_ID = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII: ids, slugs, UUIDs
RULE_ID = re.compile(r"[A-Z]{2,5}-[0-9]{3,4}")
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_BODY_BYTES = 16_384
MAX_CONTEXT_BYTES = 2_048
MAX_TIMESTAMP_CHARS = 40
CLOCK_SKEW = timedelta(minutes=5)


class InvalidField(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class FpEvent:
    org_id: str = field(repr=False)
    rule_id: str
    is_false_positive: bool
    timestamp: datetime
    context: str | None
    event_id: str | None


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def request_payload(event: object) -> Mapping[str, object]:
    """The event's fields, from a direct invoke or an HTTP API body."""
    if not isinstance(event, Mapping):
        raise InvalidField("body", "must be a JSON object")
    event = cast(Mapping[str, object], event)
    if "requestContext" not in event:
        return event
    body = event.get("body")
    if not isinstance(body, str):
        raise InvalidField("body", "is required")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode()
        except (ValueError, binascii.Error) as exc:
            raise InvalidField("body", "is not valid base64 UTF-8") from exc
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidField("body", f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidField("body", "is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidField("body", "must be a JSON object")
    return cast(Mapping[str, object], payload)


def _text(payload: Mapping[str, object], key: str, pattern: re.Pattern[str], rule: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise InvalidField(key, "is required and must be a string")
    if not pattern.fullmatch(value):
        raise InvalidField(key, f"must be {rule}")
    return value


def _timestamp(value: object, now: datetime) -> datetime:
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_CHARS:
        raise InvalidField(
            "timestamp", f"must be an ISO 8601 string of at most {MAX_TIMESTAMP_CHARS}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField("timestamp", "is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise InvalidField("timestamp", "must include a UTC offset, e.g. Z")
    if parsed > now + CLOCK_SKEW:
        raise InvalidField("timestamp", "is in the future")
    return parsed.astimezone(UTC)


def _context(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidField("context", "must be a JSON object")
    try:
        text = canonical(value)
    except (TypeError, ValueError) as exc:
        raise InvalidField("context", "must hold only JSON values") from exc
    if len(text.encode()) > MAX_CONTEXT_BYTES:
        raise InvalidField("context", f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")
    return text


def parse_event(payload: Mapping[str, object], now: datetime) -> FpEvent:
    """Validate every field; raises ``InvalidField`` naming the first bad one (never its value)."""
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise InvalidField(unknown[0][:64], "is not a known field")
    org_id = _text(payload, "orgId", ORG_ID, "1-128 visible ASCII characters")
    rule_id = _text(payload, "ruleId", RULE_ID, "like MD-003 (2-5 capitals, dash, 3-4 digits)")
    flag = payload.get("isFalsePositive")
    if not isinstance(flag, bool):
        raise InvalidField("isFalsePositive", "is required and must be true or false")
    event_id = None
    if payload.get("eventId") is not None:
        event_id = _text(payload, "eventId", EVENT_ID, "1-128 characters of [A-Za-z0-9._:-]")
    return FpEvent(
        org_id=org_id,
        rule_id=rule_id,
        is_false_positive=flag,
        timestamp=_timestamp(payload.get("timestamp"), now),
        context=_context(payload.get("context")),
        event_id=event_id,
    )


def event_identity(fp: FpEvent) -> str:
    """What makes a retry the same event: its eventId, else all its fields."""
    if fp.event_id is not None:
        return canonical({"orgId": fp.org_id, "eventId": fp.event_id})
    return canonical(
        {
            "orgId": fp.org_id,
            "ruleId": fp.rule_id,
            "isFalsePositive": fp.is_false_positive,
            "timestamp": fp.timestamp.isoformat(),
            "context": fp.context,
        }
    )
