"""Which pending events a release may publish: pure decisions, no AWS.

A batch is one rule's unclaimed events under one salt version: its distinct organisations are
its distinct ``orgHash`` values, which are comparable only within one salt (the same
organisation hashes differently under each). Each organisation's first ``cap`` events (by
``receivedAt``, then ``eventKey``) count; the rest are excess, dropped when the batch is
released. A batch of fewer than ``k`` organisations waits for more events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pending:
    org_hash: str
    event_key: str
    rule_id: str
    is_false_positive: bool
    salt_version: str
    salt_month: str
    received_at: int
    batch: str | None = None
    claimed_at: int | None = None

    @property
    def key(self) -> dict[str, Any]:
        return {"orgHash": {"S": self.org_hash}, "eventKey": {"S": self.event_key}}


def parse_item(item: Mapping[str, Any]) -> Pending | None:
    """A stored pending event, or None when it lacks what a release needs (never released)."""
    try:
        return Pending(
            org_hash=item["orgHash"]["S"],
            event_key=item["eventKey"]["S"],
            rule_id=item["ruleId"]["S"],
            is_false_positive=bool(item["isFalsePositive"]["BOOL"]),
            salt_version=item["saltVersion"]["S"],
            salt_month=item["saltMonth"]["S"],
            received_at=int(item["receivedAt"]["N"]),
            batch=item["batch"]["S"] if "batch" in item else None,
            claimed_at=int(item["claimedAt"]["N"]) if "claimedAt" in item else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Batch:
    rule_id: str
    salt_version: str
    salt_month: str
    counted: list[Pending] = field(default_factory=list)
    excess: list[Pending] = field(default_factory=list)

    @property
    def organisations(self) -> int:
        return len({e.org_hash for e in self.counted})

    @property
    def events(self) -> list[Pending]:
        return self.counted + self.excess

    @property
    def false_positives(self) -> int:
        return sum(e.is_false_positive for e in self.counted)


def capped(events: Iterable[Pending], cap: int) -> tuple[list[Pending], list[Pending]]:
    """(counted, excess): each organisation's first ``cap`` events count."""
    counted: list[Pending] = []
    excess: list[Pending] = []
    seen: dict[str, int] = defaultdict(int)
    for event in sorted(events, key=lambda e: (e.org_hash, e.received_at, e.event_key)):
        seen[event.org_hash] += 1
        (counted if seen[event.org_hash] <= cap else excess).append(event)
    return counted, excess


def batches(events: Iterable[Pending], cap: int) -> list[Batch]:
    """The unclaimed events grouped per (rule, salt version), capped per organisation."""
    groups: dict[tuple[str, str], list[Pending]] = defaultdict(list)
    for event in events:
        groups[(event.rule_id, event.salt_version)].append(event)
    planned = []
    for (rule_id, version), members in sorted(groups.items()):
        counted, excess = capped(members, cap)
        planned.append(Batch(rule_id, version, members[0].salt_month, counted, excess))
    return planned
