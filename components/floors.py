"""Production floors: the least a production stack may be configured with, declared as data.

Each floor is one line: the config key, the ``StackConfig`` attribute it lands in, the rule and
why. ``violations`` judges a parsed config; ``components.config.parse`` refuses the first one at
program start with the key, the value and the allowed range. The floors apply to the stack
named ``production`` whatever its ``environment`` says (a stack file copied from staging must
not skip them), and to any stack whose ``environment`` is ``production``.
A later restructure generates the configuration docs from ``PRODUCTION_FLOORS``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

PRODUCTION_STACK = "production"


@dataclass(frozen=True)
class AtLeast:
    minimum: int

    def holds(self, value: Any) -> bool:
        return value >= self.minimum

    def __str__(self) -> str:
        return f"at least {self.minimum}"


@dataclass(frozen=True)
class Exactly:
    required: Any

    def holds(self, value: Any) -> bool:
        return value == self.required

    def __str__(self) -> str:
        shown = str(self.required).lower() if isinstance(self.required, bool) else self.required
        return f"{shown}"


@dataclass(frozen=True)
class Floor:
    """``key`` (config key) must satisfy ``rule`` in production; ``attribute`` is its dotted
    path in ``StackConfig``; ``why`` ends the refusal message."""

    key: str
    attribute: str
    rule: AtLeast | Exactly
    why: str

    def value(self, cfg: object) -> Any:
        return operator.attrgetter(self.attribute)(cfg)


PRODUCTION_FLOORS: tuple[Floor, ...] = (
    Floor("kAnonymity", "k_anonymity", AtLeast(10), "fewer organisations let one be singled out"),
    Floor("logRetentionDays", "log_retention_days", AtLeast(365), "CIS: a year of logs"),
    Floor("deletionProtection", "deletion_protection", Exactly(True), "data survives a slip"),
    Floor("dbMultiAz", "data.db_multi_az", Exactly(True), "the database survives a zone"),
    Floor("redisNodes", "data.redis_nodes", AtLeast(2), "a replica to fail over to"),
    Floor("natGateways", "network.nat_gateways", Exactly("one_per_az"), "egress survives a zone"),
    Floor("trailRetentionDays", "alerts.trail_retention_days", AtLeast(365), "CIS: a year"),
    Floor(
        "releaseIntervalMinutes",
        "service.release_interval_minutes",
        AtLeast(60),
        "events wait at least an hour for their batch",
    ),
)


def is_production(stack: str, environment: str) -> bool:
    return stack == PRODUCTION_STACK or environment == PRODUCTION_STACK


def violations(cfg: Any, floors: tuple[Floor, ...] = PRODUCTION_FLOORS) -> list[Floor]:
    """The floors ``cfg`` breaks (none outside production)."""
    if not is_production(cfg.stack, cfg.environment):
        return []
    return [floor for floor in floors if not floor.rule.holds(floor.value(cfg))]


def shown(value: Any) -> str:
    """A config value as the stack file spells it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
