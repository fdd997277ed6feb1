"""Production floors: the least a production stack may be configured with.

Each floor is declared with its key in components/config/keys.py (``floor=``), and
``keys.PRODUCTION_FLOORS`` collects them; ``violations`` judges a parsed config and
``components.config.parse`` refuses the first one at program start with the key, the value and
the allowed range. The floors apply to the stack named ``production`` whatever its
``environment`` says (a stack file copied from staging must not skip them), and to any stack
whose ``environment`` is ``production``. docs/configuration.md lists them (generated).
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


def is_production(stack: str, environment: str) -> bool:
    return stack == PRODUCTION_STACK or environment == PRODUCTION_STACK


def violations(cfg: Any, floors: tuple[Floor, ...]) -> list[Floor]:
    """The floors ``cfg`` breaks (none outside production)."""
    if not is_production(cfg.stack, cfg.environment):
        return []
    return [floor for floor in floors if not floor.rule.holds(floor.value(cfg))]


def shown(value: Any) -> str:
    """A config value as the stack file spells it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
