"""The one way stored and answered timestamps are written: ISO 8601 in UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(moment: datetime, *, precise: bool = False) -> str:
    """``2026-03-15T12:00:00Z``; ``precise``: to the millisecond, where two writes in one
    second must still sort apart (audit keys)."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if precise else "seconds")
    return text.replace("+00:00", "Z")
