"""calibration-query on moto: it reads only what the release job published, per salt month,
with a cost that does not grow with the number of events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from testing.lambdas import github_event, iam_event, record_calls, response_body
from testing.service import INTERNAL_SESSION, Service
from tests.lambdas import emf


@pytest.fixture
def released(seeded: Service) -> Service:
    """Three organisations' events on MD-003, released in March and again in April."""
    for owner in ("1", "2", "3"):
        seeded.join(owner)
        seeded.ingest(owner, isFalsePositive=owner == "1")
    seeded.release()
    seeded.now += timedelta(days=17)
    seeded.rotate_salt()
    for owner in ("1", "2", "3"):
        seeded.ingest(owner, isFalsePositive=True)
    seeded.release()
    return seeded


def test_the_answer_is_the_published_batches_per_salt_month(released: Service) -> None:
    assert released.query() == (
        200,
        {
            "ruleId": "MD-003",
            "k": 3,
            "eventCount": 6,
            "fpCount": 4,
            "fpRate": 0.6667,
            "batches": 2,
            "periods": [
                {"saltRotationMonth": "2026-03", "eventCount": 3, "fpCount": 1, "fpRate": 0.3333,
                 "batches": 1},
                {"saltRotationMonth": "2026-04", "eventCount": 3, "fpCount": 3, "fpRate": 1.0,
                 "batches": 1},
            ],
        },
    )  # fmt: skip


def test_pending_events_are_invisible_until_released(released: Service) -> None:
    before = released.query()
    for owner in ("1", "2", "3"):
        released.ingest(owner)
    assert released.query() == before


def test_a_rule_never_released_is_refused_as_an_ordinary_answer(seeded: Service) -> None:
    assert seeded.query("XY-1234") == (
        200,
        {
            "ruleId": "XY-1234",
            "k": 3,
            "error": "insufficient_k_anonymity",
            "message": "no batch of at least 3 organisations has been released for this rule",
        },
    )


def test_one_query_call_whatever_the_number_of_events(released: Service) -> None:
    calls = record_calls(released.ddb)
    released.query()
    assert calls == ["Query"]
    for _ in range(3):  # many more events, in more batches
        for owner in ("1", "2", "3"):
            released.ingest(owner)
        released.release()
    calls.clear()
    assert released.query()[1]["eventCount"] == 15
    assert calls == ["Query"]


def test_every_page_is_read(released: Service) -> None:
    deps = released.deps["calibration_query"]
    released.rewire("calibration_query", settings=type(deps.settings)(
        environment="staging", published_table=deps.settings.published_table,
        internal_principals=deps.settings.internal_principals, k=3, page_size=1))  # fmt: skip
    calls = record_calls(released.ddb)
    assert released.query()[1]["eventCount"] == 6
    assert calls.count("Query") >= 2


@pytest.mark.parametrize("rule", ["md-003", "MD-3", "MD-00003", "MD-00\u0663", "", "MD-003 "])
def test_a_bad_rule_id_is_a_400(released: Service, rule: str) -> None:
    status, body = released.query(rule)
    assert (status, body["field"]) == (400, "ruleId")


def test_internal_callers_must_be_allow_listed(released: Service, capsys) -> None:
    path = {"ruleId": "MD-003"}
    allowed = iam_event(INTERNAL_SESSION, method="GET", path="/internal/fp/calibrate/MD-003",
                        path_parameters=path)  # fmt: skip
    assert response_body(released.call("calibration_query", allowed))[0] == 200
    stranger = iam_event("arn:aws:sts::123456789012:assumed-role/Admin/eve", method="GET",
                         path="/internal/fp/calibrate/MD-003", path_parameters=path)  # fmt: skip
    capsys.readouterr()
    assert response_body(released.call("calibration_query", stranger))[0] == 403
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "CallerRefusals", Environment="staging") == [1.0]
    assert response_body(released.call("calibration_query", {"ruleId": "MD-003"}))[0] == 403


def test_a_store_failure_is_a_503_counted(released: Service, capsys) -> None:
    released.ddb.delete_table(TableName=released.tables["published"])
    capsys.readouterr()
    assert released.query()[1]["error"] == "store_unavailable"
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "QueryStoreFailures", Environment="staging") == [1.0]


def test_any_github_token_may_read(released: Service) -> None:
    event = github_event("999999", method="GET", path="/fp/calibrate/MD-003",
                         path_parameters={"ruleId": "MD-003"})  # fmt: skip
    assert response_body(released.call("calibration_query", event))[0] == 200
