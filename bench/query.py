"""calibration-query at 1k, 10k and 100k events of one rule: the full-scan path against the
aggregates path, in items read, DynamoDB read units (from item sizes) and moto's time.

The events are generated directly (into moto's backend, as ``batch_write_item`` would), with their aggregates folded exactly
as fp-ingestion's transaction updates them (``fp_aggregate``): ``ADD`` of the org hash to the
period shard's set and of 1 / isFalsePositive to its counters. At 1k events the bench also
ingests through the real transactions and checks the folded aggregates are the same.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from bench import units
from bench.ingestion import MotoTimer
from components.calibration_store import RULE_INDEX
from tests.lambdas.harness import (
    ACCOUNT,
    create_program_tables,
    create_table,
    function_module,
    load_handler,
)

REGION = "us-east-1"
RULE = "MD-003"
PERIODS = (("2026-10", "salt-october"), ("2026-11", "salt-november"))


@dataclass(frozen=True)
class QueryFigures:
    events: int
    orgs: int
    path: str  # "full scan" or "aggregates"
    items_read: int
    bytes_read: int
    query_calls: int  # DynamoDB's pages of 1 MB
    rru_eventual: float
    rru_strong: float
    moto_ms: float  # the whole read path, moto's in-process server included
    client_ms: float  # the read path minus moto's server: the function's own CPU
    answer: dict[str, Any]


def full_scan_items(ddb: Any, table: str, rule: str) -> Iterator[Mapping[str, Any]]:
    """The old path (issue 3): every event of the rule through the rule index, every page."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": RULE_INDEX,
        "KeyConditionExpression": "#rule = :rule",
        "ExpressionAttributeNames": {"#rule": "ruleId"},
        "ExpressionAttributeValues": {":rule": {"S": rule}},
    }
    while True:
        page = ddb.query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def full_scan_answer(items: list[Mapping[str, Any]], k: int) -> dict[str, Any]:
    """The old path's counting: distinct hashes per salt period from the events themselves."""
    periods: dict[str, dict[str, Any]] = {}
    for item in items:
        period = periods.setdefault(
            item["saltId"]["S"],
            {"month": item["saltRotationMonth"]["S"], "orgs": set(), "events": 0, "fp": 0},
        )
        period["orgs"].add(item["orgIdHash"]["S"])
        period["events"] += 1
        period["fp"] += item["isFalsePositive"]["BOOL"]
    answered = sorted(
        (p["month"], p["events"], p["fp"]) for p in periods.values() if len(p["orgs"]) >= k
    )
    return {"periods": answered}


def _event(n: int, org: int, month: str, salt_id: str, rng: random.Random) -> dict[str, Any]:
    org_hash = hashlib.sha256(f"{salt_id}:{org}".encode()).hexdigest()
    return {
        "id": {"S": hashlib.sha256(f"event:{n}".encode()).hexdigest()},
        "orgIdHash": {"S": org_hash},
        "ruleId": {"S": RULE},
        "timestamp": {"S": f"{month}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"},
        "isFalsePositive": {"BOOL": rng.random() < 0.3},
        "saltRotationMonth": {"S": month},
        "saltId": {"S": salt_id},
        "consent": {"S": "explicit"},
        **({"context": {"S": '{"file":"docs/readme.md","line":12}'}} if n % 2 else {}),
    }


def _fold(aggregates: dict[str, dict[str, Any]], item: dict[str, Any], table: str) -> None:
    """What the transaction's Update does to the item it names (fp_aggregate.aggregate_update)."""
    update = function_module("fp_ingestion", "fp_aggregate").aggregate_update(item, table)
    key = update["Key"]
    values = update["ExpressionAttributeValues"]
    current = aggregates.setdefault(
        key["periodShard"]["S"], {**key, "orgs": {"SS": []}, "events": {"N": "0"}}
    )
    current["orgs"]["SS"] = sorted(set(current["orgs"]["SS"]) | set(values[":org"]["SS"]))
    current["events"] = {"N": str(int(current["events"]["N"]) + 1)}
    fps = int(current.get("falsePositives", {"N": "0"})["N"]) + int(values[":fp"]["N"])
    current["falsePositives"] = {"N": str(fps)}
    current["saltRotationMonth"] = values[":month"]
    current["saltId"] = values[":salt"]


def _load(table: str, items: list[dict[str, Any]]) -> None:
    """Straight into moto's backend: what 4,000 BatchWriteItem calls would store, minutes faster."""
    backend = dynamodb_backends[ACCOUNT][REGION]
    for item in items:
        backend.put_item(table, item)


def _normal(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: sorted(v["SS"]) if "SS" in v else v for k, v in item.items()}


def _sizes(items: list[Mapping[str, Any]]) -> list[int]:
    return [units.item_size(i) for i in items]


def run(
    counts: tuple[int, ...], orgs: int = 150, k: int = 10, scan_limit: int = 10_000
) -> list[QueryFigures]:
    """Both paths at each event count; above ``scan_limit`` events the full scan is sized from
    the generated items without running it in moto (moto re-reads the whole table for each of
    its 1 MB pages: 100k events take minutes there, and the units do not need it)."""
    module = load_handler("calibration_query")
    fp_aggregate = function_module("fp_ingestion", "fp_aggregate")
    figures: list[QueryFigures] = []
    for count in counts:
        rng = random.Random(count)  # noqa: S311 - reproducible test data, not secrets
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            names = create_program_tables(ddb, ("calibration", "aggregates"), "bench")
            events, folded = [], {}
            for n in range(count):
                month, salt_id = PERIODS[n % len(PERIODS)]
                item = _event(n, rng.randrange(orgs), month, salt_id, rng)
                events.append(item)
                _fold(folded, item, names["aggregates"])
            _load(names["calibration"], events)
            if count <= 1000:  # the folded aggregates are what the real transactions write
                check = create_table(
                    ddb, name="bench-check", hash_key="ruleId", range_key="periodShard"
                )
                for item in events:
                    ddb.transact_write_items(
                        TransactItems=fp_aggregate.transaction(item, "bench-none", check)[1:]
                    )
                written = {
                    i["periodShard"]["S"]: _normal(i) for i in ddb.scan(TableName=check)["Items"]
                }
                expected = {key: _normal(i) for key, i in folded.items()}
                assert written == expected, "folded aggregates differ from the transactions'"
            _load(names["aggregates"], list(folded.values()))

            if count <= scan_limit:
                started = time.perf_counter()
                scanned: list[Mapping[str, Any]] = list(
                    full_scan_items(ddb, names["calibration"], RULE)
                )
                scan_ms = (time.perf_counter() - started) * 1000
            else:  # the rule's items are exactly the events generated: sized without moto
                scanned, scan_ms = list(events), float("nan")
            old = full_scan_answer(scanned, k)

            deps = module.Dependencies(
                settings=module.Settings(
                    environment="staging", aggregates_table=names["aggregates"], k=k
                ),
                dynamodb=ddb,
            )
            runs = []  # the median of 5: one read is too short to time alone
            read: list[Mapping[str, Any]] = []
            answer: dict[str, Any] = {}
            for _ in range(5):
                with MotoTimer() as moto:
                    started = time.perf_counter()
                    read = list(module.rule_aggregates(deps, RULE))
                    periods = module.periods_of(iter(read))
                    answer = module.calibration(RULE, periods, k)
                    elapsed = (time.perf_counter() - started) * 1000
                runs.append((elapsed, elapsed - moto.seconds * 1000))
            aggregate_ms = statistics.median(r[0] for r in runs)
            client_ms = statistics.median(r[1] for r in runs)
        new = {
            "periods": sorted(
                (p["saltRotationMonth"], p["eventCount"], p["fpCount"])
                for p in answer.get("periods", [])
            )
        }
        assert new == old, f"the two paths disagree at {count} events: {new} != {old}"
        for path, items, ms, own in (
            ("full scan", scanned, scan_ms, float("nan")),
            ("aggregates", read, aggregate_ms, client_ms),
        ):
            sizes = _sizes(items)
            figures.append(
                QueryFigures(
                    events=count,
                    orgs=orgs,
                    path=path,
                    items_read=len(items),
                    bytes_read=sum(sizes),
                    query_calls=units.query_pages(sizes),
                    rru_eventual=units.query_read_units(sizes),
                    rru_strong=units.query_read_units(sizes, consistent=True),
                    moto_ms=ms,
                    client_ms=own,
                    answer=new,
                )
            )
    return figures
