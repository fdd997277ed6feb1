"""Fixtures of the Lambda tests: handler modules, a moto account holding the whole service
(testing/service.py), a Lambda context, the handlers' structured logs, and the hypothesis
profile (few examples, no deadline: the suite has a five-minute budget; set
HYPOTHESIS_PROFILE=thorough for a long run)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from testing.lambdas import LambdaContext, load_handler
from testing.service import Service, utc

NOW = utc(2026, 3, 15, 12, 0, 0)

_SHARED = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": False}
settings.register_profile("fast", max_examples=40, **_SHARED)
# print_blob: a nightly failure prints the @reproduce_failure line that replays it anywhere.
settings.register_profile("thorough", max_examples=1000, print_blob=True, **_SHARED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(scope="session")
def rotator() -> ModuleType:
    return load_handler("salt_rotator")


@pytest.fixture(scope="session")
def ingestion() -> ModuleType:
    return load_handler("fp_ingestion")


@pytest.fixture(scope="session")
def calibration_query() -> ModuleType:
    return load_handler("calibration_query")


@pytest.fixture(autouse=True)
def fresh_metrics(rotator: ModuleType) -> Iterator[None]:
    # Powertools' Metrics keeps its metric set and default dimensions at class level, shared by
    # every handler loaded in this process: start every test empty.
    rotator.metrics.clear_metrics()
    rotator.metrics.clear_default_dimensions()
    yield
    rotator.metrics.clear_metrics()


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """The service in a fresh moto account at NOW: k = 3, at most 2 events per organisation
    and batch, salt not cached, salt not seeded yet."""
    with mock_aws():
        yield Service(now=NOW).install(monkeypatch.setattr)


@pytest.fixture
def seeded(service: Service) -> Service:
    """The service with its first salt (seeded by the rotator in March)."""
    service.rotate_salt()
    return service


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def logs(rotator: ModuleType) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every structured log line the handlers write during the test, parsed.

    In the tests every handler's Powertools logger has the same service name, hence one
    logging handler: its stream is pointed at a buffer for the duration of the test."""
    handler = rotator.logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        # One log event per "\n", as Lambda reads stdout. Not splitlines(): a caller's field
        # name may hold U+0085 or U+2028, which the logger writes as they are (valid JSON).
        return [json.loads(line) for line in buffer.getvalue().split("\n") if line.strip()]

    yield lines
    handler.setStream(previous)
