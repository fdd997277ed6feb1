"""DynamoDB item sizes and capacity units, as DynamoDB computes and bills them.

Item size: the UTF-8 length of each attribute name plus its value (string: UTF-8 length; number:
~1 byte per two significant digits + 1; boolean/null: 1; sets: the sum of their members). Reads:
one RCU per 4 KB of a strongly consistent GetItem, a Query is billed on the sum of the item sizes
it returns, rounded up per 4 KB, and an eventually consistent read costs half. Writes: one WRU
per 1 KB of the larger item image, twice that inside a transaction; a GSI write is a standard
write of the projected item.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from tools.prices import PRICES

QUERY_PAGE_BYTES = 1024 * 1024  # a Query page stops at 1 MB
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024

# us-east-1 on-demand prices, USD: DynamoDB's from the dated table tools.cost uses; Lambda x86.
PRICE_PER_MILLION_WRU = PRICES["dynamodb-write"].usd
PRICE_PER_MILLION_RRU = PRICES["dynamodb-read"].usd
PRICE_PER_GB_SECOND = 0.0000166667
PRICE_PER_MILLION_REQUESTS = 0.20
FULL_CPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits.rstrip("0") or "0") / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in data)
    if kind == "NS":
        return sum(_number_size(v) for v in data)
    if kind == "M":
        return 3 + item_size(data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    raise ValueError(f"unsized attribute type {kind}")


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def query_read_units(sizes: Iterable[int], *, consistent: bool = False) -> float:
    """Read units of a Query returning items of these sizes (every 1 MB page rounded apart)."""
    units, page = 0, 0
    for size in sizes:
        if page + size > QUERY_PAGE_BYTES:
            units += math.ceil(page / READ_UNIT_BYTES)
            page = 0
        page += size
    units += math.ceil(page / READ_UNIT_BYTES)
    return units if consistent else units / 2


def query_pages(sizes: Iterable[int]) -> int:
    pages, page = 1, 0
    for size in sizes:
        if page + size > QUERY_PAGE_BYTES:
            pages, page = pages + 1, 0
        page += size
    return pages


def write_units(size: int, *, transactional: bool = False) -> int:
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


def get_item_read_units(size: int, *, consistent: bool = True) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def lambda_cost_per_million(memory_mb: int, duration_ms: float) -> float:
    """Lambda compute and request price of a million invocations (billed per 1 ms)."""
    gb_seconds = memory_mb / 1024 * math.ceil(duration_ms) / 1000 * 1_000_000
    return gb_seconds * PRICE_PER_GB_SECOND + PRICE_PER_MILLION_REQUESTS


def duration_at(memory_mb: int, cpu_ms: float, wait_ms: float) -> float:
    """A warm invocation's duration: CPU work slowed by the memory's CPU share, plus waiting."""
    return cpu_ms * max(1.0, FULL_CPU_MB / memory_mb) + wait_ms
