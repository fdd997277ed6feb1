"""The estimate's vocabulary: stated usage, priced lines, the request pattern of an event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.prices import PRICES, Price


class CostError(Exception):
    """Something in the stack that no price covers; the message names the resource and why."""


class Registered(Protocol):
    """What the estimate reads of a registered resource (``tools.mock_program.Resource``)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, kw_only=True)
class Usage:
    """What the resource graph cannot tell; every figure is printed with the estimate.

    - flow_log_gb: VPC flow-log records delivered to CloudWatch Logs a month, per flow log.
    - management_events: management events a month in the whole account, all Regions (each
      trail copies all of them).
    - trail_record_kb: average size of a CloudTrail record sent to CloudWatch Logs.
    - trails_before: trails already delivering the account's management events before this
      stack's (the first copy is free; every further trail pays for its copy).
    - dynamodb_gb: data held by the backed-up tables (each DynamoDB backup is a full copy).
    - rds_backup_billed_gb: database backup storage beyond the free allowance (backups up to
      the provisioned storage are free).
    """

    flow_log_gb: float
    management_events: int
    trail_record_kb: float
    trails_before: int
    dynamodb_gb: float
    rds_backup_billed_gb: float = 0

    def describe(self) -> list[str]:
        return [
            f"flow logs: {self.flow_log_gb:g} GB a month into CloudWatch Logs per flow log",
            f"management events: {self.management_events:,} a month in the account, "
            f"{self.trail_record_kb:g} KB a record in CloudWatch Logs",
            f"trails already copying them in the account: {self.trails_before} "
            "(the first copy is free)",
            f"DynamoDB data in the backed-up tables: {self.dynamodb_gb:g} GB "
            "(every backup a full copy)",
            f"database backup storage billed: {self.rds_backup_billed_gb:g} GB "
            "(free up to the provisioned storage, which a new database stays under)",
        ]


@dataclass(frozen=True)
class Request:
    """One DynamoDB request of an ingested event, in on-demand request units."""

    what: str
    write_units: int = 0
    read_units: float = 0


# The requests lambdas/fp_ingestion makes per stored event: one consent GetItem and one
# TransactWriteItems (the event's conditional Put and its aggregate's Update). Units as
# bench/units.py computes them: a strongly consistent read of up to 4 KB is 1 unit, a
# transactional write 2 units per KB of the item, the GSI copy a standard write of the
# projected item. tests/test_cost.py runs the handler against moto and checks this pattern.
INGESTED_EVENT: tuple[Request, ...] = (
    Request("consent GetItem, strongly consistent, item under 4 KB", read_units=1),
    Request("event Put in TransactWriteItems, item under 1 KB", write_units=2),
    Request("rule-index copy of the event (projection ALL), item under 1 KB", write_units=1),
    Request("aggregate Update in TransactWriteItems, shard item under 1 KB", write_units=2),
)


@dataclass(frozen=True)
class Line:
    """One priced item: ``quantity`` base units of a price (``basis`` says how they were counted)."""

    group: str
    item: str
    quantity: float
    price_key: str
    basis: str
    note: str = ""


@dataclass
class Estimate:
    stack: str
    usage: Usage
    floor: list[Line] = field(default_factory=list)
    per_million_events: list[Line] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    unpriced: dict[str, int] = field(default_factory=dict)
    prices: Mapping[str, Price] = field(default_factory=lambda: PRICES)

    def price(self, line: Line) -> Price:
        return self.prices[line.price_key]

    def monthly(self, line: Line) -> float:
        return self.price(line).cost(line.quantity)

    @property
    def total(self) -> float:
        return sum(self.monthly(line) for line in self.floor)

    @property
    def per_million(self) -> float:
        return sum(self.monthly(line) for line in self.per_million_events)
