"""salt-age-check: the salt's age from DescribeSecret dates, on moto, and what it refuses to measure."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.observability.alarm_catalog import SERVICE_NAMESPACE
from testing.aws import create_salt_secret, salt_document
from testing.lambdas import REGION, SAMPLE_ENV, LambdaContext, load_handler, variables_read
from tests.lambdas import emf

VERSION = "00000000-0000-4000-8000-000000000001"  # a version id is a token of 32+ characters
SECRET_NAME = "/phase-mirror/test/fp-calibration/hmac-salt"
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
CURRENT = {"v1": ["AWSCURRENT"]}


@pytest.fixture(scope="module")
def salt_age() -> ModuleType:
    return load_handler("salt_age")


@pytest.fixture
def sm() -> Iterator[Any]:
    """Secrets Manager of a fresh moto account."""
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def measured(module: ModuleType, deps: object) -> tuple[float, list[emf.MetricPoint]]:
    out = io.StringIO()
    with redirect_stdout(out):
        age = module.measure(deps)
    return age, emf.metric_points(out.getvalue())


@pytest.mark.parametrize(
    ("metadata", "days"),
    [
        # rotated on the 1st, measured on the 11th at noon
        ({"LastRotatedDate": MARCH, "CreatedDate": MARCH - timedelta(days=90)}, 10.5),
        # never rotated: the first salt's age counts from the secret's creation
        ({"CreatedDate": MARCH - timedelta(days=20)}, 30.5),
        # a clock a little behind the service never gives a negative age
        ({"LastRotatedDate": MARCH + timedelta(days=11)}, 0.0),
    ],
)
def test_age_counts_from_the_last_rotation_else_from_creation(salt_age, metadata, days):
    now = MARCH + timedelta(days=10, hours=12)
    assert salt_age.salt_age_days({**metadata, "VersionIdsToStages": CURRENT}, now) == days


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"DeletedDate": MARCH, "CreatedDate": MARCH}, "scheduled for deletion"),
        ({"CreatedDate": MARCH, "VersionIdsToStages": {}}, "no AWSCURRENT version"),
        ({"CreatedDate": MARCH, "VersionIdsToStages": {"v1": ["AWSPENDING"]}}, "no AWSCURRENT"),
        ({"VersionIdsToStages": CURRENT}, "neither LastRotatedDate nor CreatedDate"),
    ],
)
def test_a_salt_that_cannot_be_measured_raises_instead_of_reporting_an_age(
    salt_age, metadata, reason
):
    with pytest.raises(salt_age.SaltUnmeasurable, match=reason):
        salt_age.salt_age_days(metadata, MARCH)


def test_publishes_salt_age_under_the_service_namespace_by_environment(salt_age, sm: Any):
    # GIVEN a salt secret created now, measured 40 days later (no rotation in between)
    arn = create_salt_secret(sm, SECRET_NAME, salt_document(bytes(32), "2026-03", VERSION))
    created = sm.describe_secret(SecretId=arn)["CreatedDate"]
    deps = salt_age.Dependencies(
        secret_id=arn,
        environment="production",
        client=sm,
        clock=lambda: created + timedelta(days=40),
    )
    # WHEN it measures
    age, points = measured(salt_age, deps)
    # THEN one SaltAgeDays point, by Environment only, in the namespace the alarms watch
    assert age == pytest.approx(40.0, abs=0.001)
    assert [(p.namespace, p.name, p.dimensions, p.value) for p in points] == [
        (SERVICE_NAMESPACE, "SaltAgeDays", {"Environment": "production"}, age)
    ]


def test_reads_only_metadata_never_the_salt(salt_age, sm: Any):
    arn = create_salt_secret(sm, SECRET_NAME, salt_document(bytes(32), "2026-03", VERSION))
    calls: list[str] = []
    sm.meta.events.register("before-call.*.*", lambda event_name, **_: calls.append(event_name))
    deps = salt_age.Dependencies(secret_id=arn, environment="staging", client=sm)
    measured(salt_age, deps)
    assert calls == ["before-call.secrets-manager.DescribeSecret"]


@pytest.mark.parametrize("state", ["deleted", "no version"])
def test_a_broken_secret_publishes_nothing_so_the_alarm_sees_missing_data(salt_age, sm: Any, state):
    value = salt_document(bytes(32), "2026-03", VERSION) if state == "deleted" else None
    arn = create_salt_secret(sm, SECRET_NAME, *([value] if value else []))
    if state == "deleted":
        sm.delete_secret(SecretId=arn, RecoveryWindowInDays=30)
    deps = salt_age.Dependencies(secret_id=arn, environment="staging", client=sm)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(salt_age.SaltUnmeasurable):
        salt_age.measure(deps)
    assert emf.metric_points(out.getvalue()) == []


def test_handler_builds_its_wiring_from_exactly_its_env_vars(salt_age, sm: Any, monkeypatch):
    arn = create_salt_secret(sm, SECRET_NAME, salt_document(bytes(32), "2026-03", VERSION))
    assert variables_read("salt_age", SAMPLE_ENV) == {"SALT_SECRET_ID", "ENVIRONMENT"}
    monkeypatch.setenv("SALT_SECRET_ID", arn)
    monkeypatch.setenv("ENVIRONMENT", "staging")
    salt_age.dependencies.cache_clear()
    try:
        out = io.StringIO()
        with redirect_stdout(out):
            answer = salt_age.handler({}, LambdaContext())
        assert 0 <= answer["saltAgeDays"] < 1
        monkeypatch.setenv("ENVIRONMENT", "prod")
        salt_age.dependencies.cache_clear()
        with pytest.raises(ValueError, match="ENVIRONMENT='prod'"):
            salt_age.dependencies()
    finally:
        salt_age.dependencies.cache_clear()
