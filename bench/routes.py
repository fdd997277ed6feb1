"""Every API route, warm, in-process: the handler's own work per request (its CPU minus the
CPU inside AWS calls, logging and metrics included) and its AWS calls.

The service is wired as deployed (testing/service.py) with the salt cached for 900 s (the most
``saltCacheSeconds`` allows, so that a slow run sees no expiry: on Lambda a container reads the
salt once per ``saltCacheSeconds``); each route gets one cold request first (the salt), then
``requests`` warm ones. Ingestion sends fresh events of 200 admitted, consenting
organisations, so every warm event is accepted and written.

Each route runs twice. First against moto, which answers every call and is recorded: that run
gives the calls per request and an "interleaved" own-work figure. moto's server runs in this
process, and its work between two slices of handler code evicts the handler's code and data
from the CPU caches (a burst of unrelated CPU work inside a stubbed call slows the same handler
code about 3x): on Lambda the service answers from elsewhere. So the same requests run again
with each DynamoDB call answered by its recorded response: that run's own work is the
handler's own CPU, the figure the budget is about.
"""

from __future__ import annotations

import copy
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto import mock_aws

from bench.timing import AwsTimer, percentile, silenced
from testing.aws import cheap_transactions
from testing.lambdas import github_event, iam_event
from testing.service import ADMIN_SESSION, INTERNAL_SESSION, Service

ORGS = 200


@dataclass(frozen=True)
class RouteFigures:
    route: str
    requests: int
    own_p50_ms: float  # DynamoDB answered by recorded responses
    own_p99_ms: float
    interleaved_p50_ms: float  # moto's server running between the handler's steps
    interleaved_p99_ms: float
    botocore_p50_ms: float  # serialising, signing and parsing the calls, in this process
    calls_per_request: dict[str, float]
    statuses: dict[int, int]


class Recorder:
    """A client that passes every call on and keeps the responses, in order."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.responses: deque[tuple[str, Any]] = deque()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def record(**request: Any) -> Any:
            response = method(**request)
            self.responses.append((name, copy.deepcopy(response)))
            return response

        return record


class Replay:
    """A client that answers each call with the next recorded response of that operation."""

    def __init__(self, responses: deque[tuple[str, Any]]) -> None:
        self._responses = responses

    def __getattr__(self, name: str) -> Any:
        def answer(**_: Any) -> Any:
            operation, response = self._responses.popleft()
            assert operation == name, (operation, name)
            return response

        return answer


def _run(
    service: Service, function: str, events: list[dict[str, Any]]
) -> tuple[list[float], list[float], Counter[str], Counter[int]]:
    own: list[float] = []
    client: list[float] = []
    statuses: Counter[int] = Counter()
    with AwsTimer() as aws:
        for event in events:
            before, server = aws.seconds, aws.server_seconds
            started = time.process_time()
            response = service.call(function, event)
            elapsed = time.process_time() - started
            inside = aws.seconds - before
            own.append((elapsed - inside) * 1000)
            client.append((inside - (aws.server_seconds - server)) * 1000)
            statuses[response["statusCode"]] += 1
    return own, client, aws.calls, statuses


def _measure(
    service: Service, route: str, function: str, make: Callable[[int], Any], requests: int
) -> RouteFigures:
    service.call(function, make(-1))  # cold: the salt is read once
    events = [make(n) for n in range(requests)]
    real = service.deps[function].dynamodb
    recorder = Recorder(real)
    service.rewire(function, dynamodb=recorder)
    interleaved, client, calls, statuses = _run(service, function, events)
    service.rewire(function, dynamodb=Replay(recorder.responses))
    own, _, _, replayed = _run(service, function, events)
    service.rewire(function, dynamodb=real)
    assert replayed == statuses and not recorder.responses
    return RouteFigures(
        route=route,
        requests=requests,
        own_p50_ms=percentile(own, 0.5),
        own_p99_ms=percentile(own, 0.99),
        interleaved_p50_ms=percentile(interleaved, 0.5),
        interleaved_p99_ms=percentile(interleaved, 0.99),
        botocore_p50_ms=percentile(client, 0.5),
        calls_per_request={op: c / requests for op, c in sorted(calls.items())},
        statuses=dict(statuses),
    )


def run(requests: int, seed: int = 15) -> list[RouteFigures]:
    rng = random.Random(seed)  # noqa: S311 - reproducible load, not secrets
    now = datetime.now(UTC).replace(microsecond=0)
    owners = [str(1000 + n) for n in range(ORGS)]
    rules = [f"MD-{n:03d}" for n in range(1, 6)]
    with mock_aws(), silenced(), cheap_transactions():
        service = Service(now=now, k=10, cap=10, salt_cache_seconds=900)
        service.install(setattr)
        service.rotate_salt()
        for owner in owners:
            service.join(owner)
            # each container derives an organisation's org secret once (KMS GenerateMac), on
            # its first event: measured here as steady state, counted in ``kms_first_contact``
            service.ingest(owner)
        # every event gets a fresh eventId: none is a duplicate
        ticks = iter(range(10**9))

        def body(n: int, **extra: Any) -> dict[str, Any]:
            return {
                "eventId": f"bench-{next(ticks):08d}",
                "ruleId": rng.choice(rules),
                "isFalsePositive": rng.random() < 0.3,
                "timestamp": now.isoformat(),
                **({"context": {"file": "docs/readme.md", "line": n}} if n % 2 else {}),
                **extra,
            }

        def jwt_ingest(n: int) -> dict[str, Any]:
            return github_event(rng.choice(owners), body=body(n))

        def internal_ingest(n: int) -> dict[str, Any]:
            return iam_event(INTERNAL_SESSION, body=body(n, orgId=rng.choice(owners)))

        def consent(method: str) -> Callable[[int], dict[str, Any]]:
            grant = {"consentType": "explicit"} if method == "PUT" else None
            return lambda n: github_event(owners[n % ORGS], method=method, path="/fp/consent",
                                          body=grant)  # fmt: skip

        def admin(method: str) -> Callable[[int], dict[str, Any]]:
            def make(n: int) -> dict[str, Any]:
                owner = owners[n % ORGS]
                return iam_event(ADMIN_SESSION, method=method, path=f"/admin/admissions/{owner}",
                                 route="/admin/admissions/{ownerId}",
                                 path_parameters={"ownerId": owner})  # fmt: skip

            return make

        def query(n: int) -> dict[str, Any]:
            rule = rules[n % len(rules)]
            return github_event(owners[0], method="GET", path=f"/fp/calibrate/{rule}",
                                route="/fp/calibrate/{ruleId}",
                                path_parameters={"ruleId": rule})  # fmt: skip

        def internal_query(n: int) -> dict[str, Any]:
            rule = rules[n % len(rules)]
            return iam_event(INTERNAL_SESSION, method="GET", path=f"/internal/fp/calibrate/{rule}",
                             route="/internal/fp/calibrate/{ruleId}",
                             path_parameters={"ruleId": rule})  # fmt: skip

        figures = [
            _measure(service, "POST /fp/ingest", "fp_ingestion", jwt_ingest, requests),
            _measure(service, "POST /internal/fp/ingest", "fp_ingestion", internal_ingest,
                     requests // 2),
        ]  # fmt: skip
        service.release()
        small = max(50, requests // 10)
        figures += [
            _measure(service, "GET /fp/calibrate/{ruleId}", "calibration_query", query, small),
            _measure(service, "GET /internal/fp/calibrate/{ruleId}", "calibration_query",
                     internal_query, small),
            _measure(service, "GET /fp/consent", "consent", consent("GET"), small),
            _measure(service, "PUT /fp/consent", "consent", consent("PUT"), small),
            _measure(service, "GET /admin/admissions/{ownerId}", "admission", admin("GET"), small),
            _measure(service, "PUT /admin/admissions/{ownerId}", "admission", admin("PUT"), small),
        ]  # fmt: skip
        # Last, as they end taking part: each revocation and withdrawal queries the owner's
        # pending events under both salts and deletes what it finds.
        for n in range(small):
            service.ingest(owners[n % ORGS])
        figures += [
            _measure(service, "DELETE /fp/consent", "consent", consent("DELETE"), small),
            _measure(service, "DELETE /admin/admissions/{ownerId}", "admission", admin("DELETE"),
                     small),
        ]  # fmt: skip
    return figures
