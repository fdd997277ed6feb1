"""The estimate's vocabulary: stated usage, priced lines, the request pattern of an event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.prices import PRICES, Price


class CostError(Exception):
    """Something in the stack that no price covers; the message names the resource and why."""


class Registered(Protocol):
    """What the estimate reads of a registered resource (``testing.program.Resource``)."""

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
    """One DynamoDB request (or one item of a request) per ingested event, in on-demand units.

    ``action`` and ``table`` (the logical table) name it as bench/event_units.py meters it."""

    what: str
    action: str
    table: str
    write_units: float = 0
    read_units: float = 0


# The smallest batch the release job publishes: kAnonymity's default and production floor, one
# event per organisation. A batch's publishing write is shared by its events, so the smallest
# batch is the dearest per event.
BATCH_EVENTS = 10
# A pending item: two 64-character keyed hashes, a 36-character salt version, the rule, the
# flag, the month and two times (bench/event_units.py measures 265 bytes for MD-003).
PENDING_ITEM_BYTES = 270

# What one event costs from ingestion to publication, as lambdas/fp_ingestion and
# lambdas/release make the requests (docs/privacy.md sections 7 and 8), in the units
# bench/units.py computes by DynamoDB's rules: a write is 1 unit per KB of the larger of the
# item's images before and after; every item of a TransactWriteItems, a ConditionCheck
# included, costs two underlying writes, one to prepare the transaction and one to commit it
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
# "Capacity management for transactions"); a strongly consistent Scan is 1 unit per 4 KB of the
# items it returns (.../developerguide/read-write-operations.html). Every item here is under
# 1 KB. The release job's rows assume the event is released by the first run that scans it (a
# batch below k waits, and each run that finds it waiting scans it again).
# tests/test_cost.py holds this table to what the handlers do on moto (bench/event_units.py).
INGESTED_EVENT: tuple[Request, ...] = (
    Request("admission ConditionCheck in the ingestion TransactWriteItems",
            "ConditionCheck", "admission", write_units=2),
    Request("consent ConditionCheck in the ingestion TransactWriteItems",
            "ConditionCheck", "consent", write_units=2),
    Request("de-duplication record Put in the ingestion TransactWriteItems",
            "Put", "dedup", write_units=2),
    Request("pending event Put in the ingestion TransactWriteItems",
            "Put", "pending", write_units=2),
    Request(f"release: the event's share of the consistent Scan ({PENDING_ITEM_BYTES} B of 4 KB)",
            "Scan", "pending", read_units=round(PENDING_ITEM_BYTES / 4096, 4)),
    Request("release: claim Update in a TransactWriteItems", "Update", "pending", write_units=2),
    Request("release: delete in a BatchWriteItem", "Delete", "pending", write_units=1),
    Request(f"release: batch record Put in the publishing TransactWriteItems, shared by a "
            f"batch of {BATCH_EVENTS} events", "Put", "published", write_units=2 / BATCH_EVENTS),
    Request(f"release: period counters Update in the publishing TransactWriteItems, shared by "
            f"a batch of {BATCH_EVENTS} events", "Update", "published",
            write_units=2 / BATCH_EVENTS),
)  # fmt: skip


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
