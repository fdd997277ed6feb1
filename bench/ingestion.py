"""fp-ingestion in-process against moto: own work, whole handler, AWS calls per event.

The account holds the program's tables (``components.calibration_store.TABLES``), a salt secret
of the current and previous month and consent for every organisation. The handler runs with its
production wiring shape (``Dependencies``) on moto-backed clients; botocore's ``before-call``
hook counts each operation. "Own work" times the handler's pure steps alone (validation, consent
decision, salt selection from the warm cache, hashing, item and transaction building); "handler"
times the whole invocation, of which moto's in-process server is timed apart (``moto_ms``): on
Lambda that part is the DynamoDB round trip.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from bench import units
from tests.lambdas.harness import LambdaContext, create_program_tables, load_handler, salt_document

REGION = "us-east-1"


@dataclass(frozen=True)
class IngestionFigures:
    events: int
    own_p50_ms: float
    own_p99_ms: float
    handler_p50_ms: float
    handler_p99_ms: float
    client_p50_ms: float  # handler minus moto's server time: what Lambda's CPU does per event
    client_p99_ms: float
    calls_per_event: dict[str, float]
    secrets_calls_cold: int
    secrets_calls_per_1000_warm: float
    event_item_bytes: float
    aggregate_item_bytes: float
    statuses: dict[int, int]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Powertools writes every log line and EMF blob to stdout: to /dev/null while timing."""
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class MotoTimer:
    """Time spent inside moto's in-process server (its botocore stubber)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = BotocoreStubber.__call__

    def __enter__(self) -> MotoTimer:
        original, timer = self._original, self

        def timed(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(stubber, event_name, request, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - started

        BotocoreStubber.__call__ = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        BotocoreStubber.__call__ = self._original  # type: ignore[method-assign]


def _events(count: int, orgs: int, now: datetime, seed: int = 8) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    rules = [f"MD-{n:03d}" for n in range(1, 6)]
    events = []
    for n in range(count):
        event: dict[str, Any] = {
            "orgId": f"org-{rng.randrange(orgs):04d}",
            "ruleId": rng.choice(rules),
            "isFalsePositive": rng.random() < 0.3,
            "timestamp": (now - timedelta(minutes=rng.randrange(600))).isoformat(),
            "eventId": f"evt-{n:06d}",
        }
        if n % 2:
            event["context"] = {"file": f"docs/page-{n % 97}.md", "line": n % 400}
        events.append(event)
    return events


def run(count: int, orgs: int = 200) -> IngestionFigures:
    module = load_handler("fp_ingestion")
    fp_event = __import__("fp_event")
    fp_aggregate = __import__("fp_aggregate")
    now = datetime.now(UTC)
    month = now.strftime("%Y-%m")
    previous = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    # The handler module is shared (load_handler caches it): its wiring is put back afterwards.
    with mock_aws(), silenced(), mock.patch.object(module, "dependencies"):
        ddb = boto3.client("dynamodb", region_name=REGION)
        sm = boto3.client("secretsmanager", region_name=REGION)
        names = create_program_tables(ddb, ("consent", "calibration", "aggregates"), "bench")
        secret = sm.create_secret(
            Name="/phase-mirror/bench/hmac-salt",
            SecretString=__import__("json").dumps(
                salt_document(os.urandom(32), month, previous=(os.urandom(32), previous))
            ),
        )["ARN"]
        for org in range(orgs):
            ddb.put_item(
                TableName=names["consent"],
                Item={"orgId": {"S": f"org-{org:04d}"}, "consentType": {"S": "explicit"}},
            )
        settings = module.Settings(
            environment="staging",
            consent_table=names["consent"],
            calibration_table=names["calibration"],
            aggregates_table=names["aggregates"],
            salt_secret_id=secret,
            salt_cache_seconds=300,
        )
        deps = module.Dependencies(
            settings=settings,
            dynamodb=ddb,
            salts=module.SaltSource(SecretsProvider(boto3_client=sm), secret, 300),
        )
        setattr(module, "dependencies", lambda: deps)  # noqa: B010 - the container wiring, built once
        calls: Counter[str] = Counter()
        for client in (ddb, sm):
            client.meta.events.register(
                "before-call.*.*",
                lambda event_name, **_: calls.update([event_name.rsplit(".", 1)[-1]]),
            )
        context = LambdaContext()
        events = _events(count + 1, orgs, now)

        # the cold event: the salt is read once
        module.handler(events[0], context)
        cold_secrets = calls["GetSecretValue"]
        calls.clear()
        handler_ms, client_ms, statuses = [], [], Counter()
        with MotoTimer() as moto:
            for event in events[1:]:
                before = moto.seconds
                started = time.perf_counter()
                response = module.handler(event, context)
                elapsed = time.perf_counter() - started
                handler_ms.append(elapsed * 1000)
                client_ms.append((elapsed - (moto.seconds - before)) * 1000)
                statuses[response["statusCode"]] += 1
        warm_calls = dict(calls)

        # own work: the same events through the pure steps alone (consent items as read)
        consent = {"orgId": {"S": "x"}, "consentType": {"S": "explicit"}}
        own_ms = []
        for event in events[1:]:
            started = time.perf_counter()
            at = datetime.now(UTC)
            fp = fp_event.parse_event(fp_event.request_payload(event), at)
            kind, _ = module.consent_decision(consent, at)
            salts = deps.salts.salts_for(fp.timestamp.strftime("%Y-%m"))
            salt = salts.for_month(fp.timestamp.strftime("%Y-%m"))
            item = module.build_item(
                fp, salt, kind, module.stored_timestamp(fp.timestamp, at, deps.jitter)
            )
            fp_aggregate.transaction(item, names["calibration"], names["aggregates"])
            own_ms.append((time.perf_counter() - started) * 1000)

        event_items = ddb.scan(TableName=names["calibration"])["Items"]
        aggregates = ddb.scan(TableName=names["aggregates"])["Items"]
    stored = statuses[200]
    return IngestionFigures(
        events=count,
        own_p50_ms=percentile(own_ms, 0.5),
        own_p99_ms=percentile(own_ms, 0.99),
        handler_p50_ms=percentile(handler_ms, 0.5),
        handler_p99_ms=percentile(handler_ms, 0.99),
        client_p50_ms=percentile(client_ms, 0.5),
        client_p99_ms=percentile(client_ms, 0.99),
        calls_per_event={op: n / count for op, n in sorted(warm_calls.items())},
        secrets_calls_cold=cold_secrets,
        secrets_calls_per_1000_warm=warm_calls.get("GetSecretValue", 0) * 1000 / count,
        event_item_bytes=statistics.mean(units.item_size(i) for i in event_items),
        aggregate_item_bytes=statistics.mean(units.item_size(i) for i in aggregates),
        statuses=dict(statuses) | {200: stored},
    )
