"""Fixtures of the Lambda tests (helpers in harness.py): handler modules, a moto account with the
program's tables, a Lambda context, and the handlers' structured logs."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.lambdas.harness import REGION, LambdaContext, create_program_tables, load_handler


@pytest.fixture(scope="session")
def rotator() -> ModuleType:
    return load_handler("salt_rotator")


@pytest.fixture(scope="session")
def ingestion() -> ModuleType:
    return load_handler("fp_ingestion")


@pytest.fixture(scope="session")
def calibration_query() -> ModuleType:
    return load_handler("calibration_query")


@dataclass
class Aws:
    ddb: Any
    sm: Any
    consent_table: str
    calibration_table: str
    aggregates_table: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    """A fresh moto account holding the program's consent, calibration and aggregates tables."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        sm = boto3.client("secretsmanager", region_name=REGION)
        names = create_program_tables(
            ddb, ("consent", "calibration", "aggregates"), "phase-mirror-test"
        )
        yield Aws(
            ddb=ddb,
            sm=sm,
            consent_table=names["consent"],
            calibration_table=names["calibration"],
            aggregates_table=names["aggregates"],
        )


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def logs(rotator: ModuleType) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every structured log line the handlers write during the test, parsed.

    In the tests the three handlers' Powertools loggers share one service name, hence one
    logging handler: its stream is pointed at a buffer for the duration of the test."""
    handler = rotator.logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield lines
    handler.setStream(previous)
