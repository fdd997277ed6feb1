"""DynamoDB request units of one ingested event, metered on moto from what the handlers send.

fp-ingestion stores one fresh event per organisation and rule (``orgs`` admitted, consenting
organisations, ``rules`` rules), then one fp-release run publishes them: with k = ``orgs`` each
rule's events make one batch of exactly k events, the smallest batch, where the publishing
write weighs most per event. Every DynamoDB call of the two functions passes through a
``Meter``: it reads the image of every item a call touches before and after it (through the
same client, unmetered) and bills the call by DynamoDB's capacity rules (bench/units.py):

- a write: the larger of the item's images before and after, in 1 KB units; a ``Delete`` in a
  ``BatchWriteItem``: the deleted item's size ("DynamoDB read and write operations");
- every item of a ``TransactWriteItems``, a ``ConditionCheck`` included, twice: "DynamoDB
  performs two underlying reads or writes of every item in the transaction: one to prepare the
  transaction and one to commit the transaction" (DynamoDB developer guide, "Amazon DynamoDB
  Transactions: How it works", Capacity management for transactions). A ``ConditionCheck``
  writes nothing but is an item of a write transaction: it is billed as the write units of the
  item it checks (AWS's pages give no other rule; a published measurement on DynamoDB,
  martinhicks.dev "What a conditional DynamoDB transaction actually costs", found 2 WCU for a
  check of an item under 1 KB);
- a strongly consistent ``Scan``: the items it returns, summed per page and rounded up to 4 KB.

tools/cost/model.py declares these units (``INGESTED_EVENT``) for the cost estimate;
tests/test_cost.py holds the declaration to this meter. A call the meter does not know fails:
a new DynamoDB call on the per-event path must be priced before it is made.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto import mock_aws

from bench import units
from bench.timing import silenced
from testing.lambdas import github_event
from testing.service import Service

Key = tuple[str, str]  # (action, logical table), e.g. ("ConditionCheck", "consent")


class Meter:
    """A DynamoDB client that passes the per-event calls on and bills each item as DynamoDB does."""

    def __init__(self, client: Any, tables: Mapping[str, str]) -> None:
        self._client = client
        self._logical = {name: logical for logical, name in tables.items()}
        self._key_names: dict[str, list[str]] = {}
        self.calls: Counter[str] = Counter()
        self.write_units: Counter[Key] = Counter()
        self.read_units: defaultdict[Key, float] = defaultdict(float)
        self.read_bytes: Counter[Key] = Counter()  # what the read units were billed on
        self.items: Counter[Key] = Counter()
        self.item_bytes: defaultdict[Key, list[int]] = defaultdict(list)  # written or read
        self.transaction_sizes: Counter[int] = Counter()  # items per TransactWriteItems

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the meter does not price DynamoDB {name}: add its rule first")

    # --- what DynamoDB holds, unmetered --------------------------------------------------------

    def _key(self, table: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if "Key" in body:
            return dict(body["Key"])
        if table not in self._key_names:
            schema = self._client.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_names[table] = [k["AttributeName"] for k in schema]
        return {name: body["Item"][name] for name in self._key_names[table]}

    def _size(self, table: str, key: Mapping[str, Any]) -> int:
        found = self._client.get_item(TableName=table, Key=key, ConsistentRead=True)
        return units.item_size(found["Item"]) if "Item" in found else 0

    def _bill_write(self, action: str, table: str, size: int, *, transactional: bool) -> None:
        key = (action, self._logical[table])
        self.items[key] += 1
        self.item_bytes[key].append(size)
        self.write_units[key] += units.write_units(size, transactional=transactional)

    def _bill_read(self, action: str, table: str, sizes: list[int], consistent: bool) -> None:
        key = (action, self._logical[table])
        self.items[key] += len(sizes)
        self.item_bytes[key] += sizes
        self.read_bytes[key] += sum(sizes)
        self.read_units[key] += units.query_read_units(sizes, consistent=consistent)

    # --- the calls of fp-ingestion and fp-release ----------------------------------------------

    def transact_write_items(self, **request: Any) -> Any:
        self.calls["TransactWriteItems"] += 1
        entries = [(action, body, body["TableName"]) for e in request["TransactItems"]
                   for action, body in e.items()]  # fmt: skip
        keys = [self._key(table, body) for _, body, table in entries]
        before = [self._size(table, key) for (_, _, table), key in zip(entries, keys, strict=True)]
        response = self._client.transact_write_items(**request)
        self.transaction_sizes[len(entries)] += 1
        for (action, _, table), key, old in zip(entries, keys, before, strict=True):
            new = 0 if action in ("ConditionCheck", "Delete") else self._size(table, key)
            self._bill_write(action, table, max(old, new), transactional=True)
        return response

    def batch_write_item(self, **request: Any) -> Any:
        self.calls["BatchWriteItem"] += 1
        billed = []
        for table, requests in request["RequestItems"].items():
            for entry in requests:
                if "DeleteRequest" in entry:
                    size = self._size(table, entry["DeleteRequest"]["Key"])
                    billed.append(("Delete", table, size))
                else:
                    item = entry["PutRequest"]["Item"]
                    size = max(self._size(table, self._key(table, {"Item": item})),
                               units.item_size(item))  # fmt: skip
                    billed.append(("Put", table, size))
        response = self._client.batch_write_item(**request)
        assert not response.get("UnprocessedItems"), "moto left items unprocessed"
        for action, table, size in billed:
            self._bill_write(action, table, size, transactional=False)
        return response

    def update_item(self, **request: Any) -> Any:
        self.calls["UpdateItem"] += 1
        table = request["TableName"]
        old = self._size(table, request["Key"])
        response = self._client.update_item(**request)
        new = self._size(table, request["Key"])
        self._bill_write("UpdateItem", table, max(old, new), transactional=False)
        return response

    def scan(self, **request: Any) -> Any:
        self.calls["Scan"] += 1
        page = self._client.scan(**request)
        sizes = [units.item_size(i) for i in page.get("Items", [])]
        self._bill_read("Scan", request["TableName"], sizes, bool(request.get("ConsistentRead")))
        return page

    def get_item(self, **request: Any) -> Any:
        self.calls["GetItem"] += 1
        found = self._client.get_item(**request)
        sizes = [units.item_size(found["Item"])] if "Item" in found else [0]
        table = request["TableName"]
        self._bill_read("GetItem", table, sizes, bool(request.get("ConsistentRead")))
        return found


@dataclass(frozen=True)
class EventUnits:
    """Per ingested event: request units and item counts by (action, table), calls per function."""

    events: int
    batches: int
    write_units: dict[Key, float]
    read_units: dict[Key, float]
    read_bytes: dict[Key, float]
    items: dict[Key, float]
    largest_item_bytes: dict[Key, int]
    calls: dict[str, dict[str, float]]  # function -> operation -> calls per event
    transaction_sizes: dict[str, dict[int, int]]  # function -> items -> transactions

    def total_write_units(self) -> float:
        return sum(self.write_units.values())


def _per_event(counter: Mapping[Key, float], events: int) -> dict[Key, float]:
    return {key: value / events for key, value in sorted(counter.items())}


def run(orgs: int = 10, rules: int = 3) -> EventUnits:
    """``orgs`` organisations send one event for each of ``rules`` rules; one release, k = orgs."""
    now = datetime.now(UTC).replace(microsecond=0)
    owners = [str(1000 + n) for n in range(orgs)]
    rule_ids = [f"MD-{n:03d}" for n in range(1, rules + 1)]
    with mock_aws(), silenced():
        service = Service(now=now, k=orgs, cap=orgs).install(setattr)
        service.rotate_salt()
        for owner in owners:
            service.join(owner)
        meters = {f: Meter(service.ddb, service.tables) for f in ("fp_ingestion", "release")}
        for function, meter in meters.items():
            service.rewire(function, dynamodb=meter)
        for rule in rule_ids:
            for owner in owners:
                body = service.event(ruleId=rule)
                answer = service.call("fp_ingestion", github_event(owner, body=body))
                assert answer["statusCode"] == 202, answer
        summary = service.release()
        assert summary["eventsReleased"] == orgs * rules, summary
    events = orgs * rules
    merged: dict[str, Counter[Key]] = {"write": Counter(), "read": Counter(), "bytes": Counter(),
                                       "items": Counter()}  # fmt: skip
    largest: dict[Key, int] = {}
    for meter in meters.values():
        merged["write"].update(meter.write_units)
        merged["read"].update(meter.read_units)
        merged["bytes"].update(meter.read_bytes)
        merged["items"].update(meter.items)
        for key, sizes in meter.item_bytes.items():
            largest[key] = max(largest.get(key, 0), *sizes)
    return EventUnits(
        events=events,
        batches=summary["batchesReleased"],
        write_units=_per_event(merged["write"], events),
        read_units=_per_event(merged["read"], events),
        read_bytes=_per_event(merged["bytes"], events),
        items=_per_event(merged["items"], events),
        largest_item_bytes=dict(sorted(largest.items())),
        calls={f: {op: n / events for op, n in sorted(m.calls.items())} for f, m in meters.items()},
        transaction_sizes={f: dict(m.transaction_sizes) for f, m in meters.items()},
    )
