"""A function's environment, read strictly: a bad value stops the container's first invocation
with a ``ValueError`` naming the variable (and never more than 20 characters of the value)."""

from __future__ import annotations

import re
from collections.abc import Mapping

ENVIRONMENTS = ("staging", "production")


def env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer variable in [low, high]; ``ValueError`` naming it for anything else."""
    raw = env.get(name, str(default))
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not low <= int(raw) <= high:
        raise ValueError(f"{name}={raw[:20]!r}: must be an integer {low}-{high}")
    return int(raw)


def env_environment(env: Mapping[str, str]) -> str:
    """``ENVIRONMENT``: the value of every metric's ``Environment`` dimension the alarms select."""
    environment = env.get("ENVIRONMENT", "")
    if environment not in ENVIRONMENTS:
        raise ValueError(f"ENVIRONMENT={environment[:20]!r}: must be staging or production")
    return environment
