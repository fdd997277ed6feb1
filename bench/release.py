"""The release job per N pending events, and calibration-query before and after: in-process
against moto, as deployed (testing/service.py), k = 10, cap 10 per organisation and batch.

Pending events are written as fp-ingestion writes them (its own ``transaction`` builder),
200 organisations over 5 rules, then one release run publishes them. The figures: the run's
own CPU (minus the time inside AWS calls), its AWS calls by operation, and what the query reads
for a rule before and after: the published items, whose number does not grow with events.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from bench import units
from bench.timing import AwsTimer, silenced
from testing.aws import cheap_transactions
from testing.lambdas import function_module
from testing.service import Service

ORGS = 200
RULES = tuple(f"MD-{n:03d}" for n in range(1, 6))


@dataclass(frozen=True)
class ReleaseFigures:
    pending: int
    released: int
    dropped: int
    batches: int
    own_ms: float
    aws_ms: float
    calls: dict[str, int]
    query_items_before: int
    query_items_after: int
    query_calls: int
    query_rru: float
    query_own_ms: float


def _pending(service: Service, count: int, rng: random.Random) -> None:
    """``count`` pending events (and their de-duplication records), as ingestion writes them."""
    ingestion = service.modules["fp_ingestion"]
    fp_event = function_module("fp_ingestion", "fp_event")
    org_identity = function_module("fp_ingestion", "org_identity")
    deps = service.deps["fp_ingestion"]
    salts = deps.salts.salts()
    owners = [(str(1000 + n), org_identity.Pseudonyms(os.urandom(32))) for n in range(ORGS)]
    writes: dict[str, list[dict[str, Any]]] = {}
    for n in range(count):
        owner, org = rng.choice(owners)
        event = fp_event.FpEvent(org_id=None, rule_id=rng.choice(RULES),
                                 is_false_positive=rng.random() < 0.3,
                                 timestamp=service.now, event_id=f"bench-{n:07d}")  # fmt: skip
        moment = service.now - timedelta(seconds=count - n)
        for item in ingestion.transaction(deps.settings, org, event, salts, owner, moment)[2:]:
            put = item["Put"]
            writes.setdefault(put["TableName"], []).append({"PutRequest": {"Item": put["Item"]}})
    for table, requests in writes.items():
        for start in range(0, len(requests), 25):
            service.ddb.batch_write_item(RequestItems={table: requests[start : start + 25]})


def _query(service: Service) -> tuple[int, int, float, float]:
    """(items read, Query calls, read units, own CPU ms) of one rule's answer."""
    read: list[int] = []
    original = service.ddb.query

    def counting(**request: Any) -> Any:
        page = original(**request)
        read.extend(units.item_size(i) for i in page["Items"])
        return page

    service.rewire("calibration_query", dynamodb=_Proxy(service.ddb, query=counting))
    with AwsTimer() as aws:
        started = time.process_time()
        service.query(RULES[0])
        elapsed = time.process_time() - started
    service.rewire("calibration_query", dynamodb=service.ddb)
    own = (elapsed - aws.seconds) * 1000
    return len(read), aws.calls["Query"], units.query_read_units(read), own


class _Proxy:
    def __init__(self, client: Any, **methods: Any) -> None:
        self._client, self._methods = client, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


def run(count: int, seed: int = 10) -> ReleaseFigures:
    rng = random.Random(seed)  # noqa: S311 - reproducible load, not secrets
    now = datetime.now(UTC).replace(microsecond=0)
    with mock_aws(), silenced(), cheap_transactions():
        service = Service(now=now, k=10, cap=10, salt_cache_seconds=300).install(setattr)
        service.rotate_salt()
        # a first, small release: the query's "before" already has a published answer
        _pending(service, 500, rng)
        service.release()
        before, _, _, _ = _query(service)
        _pending(service, count, rng)
        with AwsTimer() as aws:
            started = time.process_time()
            summary = service.release()
            elapsed = time.process_time() - started
        after, calls, rru, query_own = _query(service)
        assert service.items("pending") == [] or summary["eventsWaiting"] > 0
    return ReleaseFigures(
        pending=count,
        released=summary["eventsReleased"],
        dropped=summary["excessEventsDropped"],
        batches=summary["batchesReleased"],
        own_ms=(elapsed - aws.seconds) * 1000,
        aws_ms=aws.seconds * 1000,
        calls=dict(sorted(aws.calls.items())),
        query_items_before=before,
        query_items_after=after,
        query_calls=calls,
        query_rru=rru,
        query_own_ms=query_own,
    )
