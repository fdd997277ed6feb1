"""fp-release on moto: batches of at least k organisations counted within one salt, the
per-organisation cap, expiry with the salt, and runs that repeat, overlap or die half-way."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from testing.lambdas import mentions
from testing.service import Service
from tests.lambdas import emf

ORGS = ("101", "102", "103", "104")


@pytest.fixture
def four(seeded: Service) -> Service:
    """Four admitted, consenting organisations; k = 3, cap = 2."""
    for owner in ORGS:
        seeded.join(owner)
    return seeded


def published(service: Service, rule: str = "MD-003") -> dict[str, Any]:
    status, body = service.query(rule)
    assert status == 200
    return body


def test_a_batch_below_k_waits_and_merges_with_the_next(four: Service) -> None:
    four.ingest("101", isFalsePositive=True)
    four.ingest("102", isFalsePositive=False)
    # two organisations: nothing is published, nothing is lost
    assert four.release()["batchesReleased"] == 0
    assert published(four)["error"] == "insufficient_k_anonymity"
    assert len(four.items("pending")) == 2
    # a third organisation: the waiting events go out with it, in one batch
    four.now += timedelta(hours=1)
    four.ingest("103", isFalsePositive=True)
    summary = four.release()
    assert (summary["batchesReleased"], summary["eventsReleased"]) == (1, 3)
    answer = published(four)
    assert (answer["eventCount"], answer["fpCount"], answer["batches"]) == (3, 2, 1)
    assert answer["periods"] == [
        {"saltRotationMonth": "2026-03", "eventCount": 3, "fpCount": 2, "fpRate": 0.6667,
         "batches": 1}
    ]  # fmt: skip
    assert four.items("pending") == []
    [record] = [i for i in four.items("published") if i["entry"]["S"].startswith("batch#")]
    assert record["organisations"] == {"N": "3"} and record["dropped"] == {"N": "0"}


def test_one_organisations_excess_is_dropped_not_released(four: Service, capsys) -> None:
    for _ in range(5):
        four.ingest("101", isFalsePositive=True)
    four.ingest("102", isFalsePositive=False)
    four.ingest("103", isFalsePositive=False)
    capsys.readouterr()
    summary = four.release()
    assert (summary["eventsReleased"], summary["excessEventsDropped"]) == (4, 3)
    answer = published(four)
    assert (answer["eventCount"], answer["fpCount"]) == (4, 2)  # 101 counts twice, not five times
    assert four.items("pending") == []
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "ExcessEventsDropped", Environment="staging") == [3.0]


def test_rules_are_batched_apart(four: Service) -> None:
    for owner in ("101", "102", "103"):
        four.ingest(owner, ruleId="MD-003")
    for owner in ("101", "102"):
        four.ingest(owner, ruleId="XY-1234")
    assert four.release()["batchesReleased"] == 1
    assert published(four, "XY-1234")["error"] == "insufficient_k_anonymity"
    assert len(four.items("pending")) == 2


def test_organisations_are_counted_within_one_salt_never_across(four: Service) -> None:
    # GIVEN two organisations in March and two in April, one of them the same as in March
    four.ingest("101")
    four.ingest("102")
    four.now += timedelta(days=17)
    four.rotate_salt()
    four.ingest("102")
    four.ingest("103")
    # THEN three distinct organisations exist, but neither salt's batch holds three
    assert four.release()["batchesReleased"] == 0
    assert len(four.items("pending")) == 4
    # AND a third April organisation releases April's batch alone
    four.ingest("104")
    summary = four.release()
    assert (summary["batchesReleased"], summary["eventsReleased"]) == (1, 3)
    assert [p["saltRotationMonth"] for p in published(four)["periods"]] == ["2026-04"]


def test_events_whose_salt_left_the_secret_are_dropped_unreleased(four: Service, capsys) -> None:
    four.ingest("101")
    four.ingest("102")
    four.now += timedelta(days=17)
    four.rotate_salt()  # March's salt is AWSPREVIOUS: still findable, still waiting
    assert four.release()["pendingEventsExpired"] == 0
    four.now += timedelta(days=30)
    four.rotate_salt()  # March's salt is gone: a revocation could no longer find them
    four.ingest("103")
    capsys.readouterr()
    summary = four.release()
    assert (summary["pendingEventsExpired"], summary["batchesReleased"]) == (2, 0)
    assert len(four.items("pending")) == 1
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "PendingEventsExpired", Environment="staging") == [2.0]


def test_a_second_run_releases_nothing_again(four: Service) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    four.release()
    before = published(four)
    again = four.release()
    assert (again["batchesReleased"], again["eventsReleased"]) == (0, 0)
    assert published(four) == before


class _Proxy:
    def __init__(self, client: Any, **methods: Callable[..., Any]) -> None:
        self._client, self._methods = client, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


class Crash(Exception):
    pass


def test_a_run_that_dies_after_publishing_is_finished_without_counting_twice(
    four: Service, capsys
) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    # GIVEN a run that dies after its publish transaction, before deleting the batch
    four.rewire("release", dynamodb=_Proxy(four.ddb, batch_write_item=_crash))
    capsys.readouterr()
    with pytest.raises(Crash):
        four.release()
    assert emf.values(emf.metric_points(capsys.readouterr().out), "ReleaseFailures",
                      Environment="staging") == [1.0]  # fmt: skip
    assert published(four)["eventCount"] == 3
    assert len(four.items("pending")) == 3  # still there, claimed
    # WHEN the next run comes THEN it deletes them and counts nothing again
    four.rewire("release", dynamodb=four.ddb)
    summary = four.release()
    assert (summary["batchesReleased"], summary["eventsReleased"]) == (0, 0)
    assert four.items("pending") == []
    assert published(four)["eventCount"] == 3


def _crash(**_: Any) -> Any:
    raise Crash


def test_a_claim_abandoned_before_publishing_is_released_once_after_its_lease(
    four: Service,
) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    calls: list[int] = []
    real = four.ddb.transact_write_items

    def claim_then_die(**request: Any) -> Any:
        if "Put" in request["TransactItems"][0]:  # the publish transaction
            raise Crash
        calls.append(len(request["TransactItems"]))
        return real(**request)

    four.rewire("release", dynamodb=_Proxy(four.ddb, transact_write_items=claim_then_die))
    with pytest.raises(Crash):
        four.release()
    assert calls == [3] and "error" in published(four)
    four.rewire("release", dynamodb=four.ddb)
    # within the lease the claim may belong to a run still going: it is left alone
    four.now += timedelta(minutes=10)
    assert four.release()["batchesReleased"] == 0
    assert all("batch" in i for i in four.items("pending"))
    # after it, the claim is cleared and the events go out, once
    four.now += timedelta(minutes=10)
    assert four.release()["eventsReleased"] == 3
    assert published(four)["eventCount"] == 3 and four.items("pending") == []


def test_overlapping_runs_release_each_event_once(four: Service) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    # GIVEN run B scans, then run A runs whole before B claims (reserved concurrency 1 makes
    # this rare in AWS; the claims' conditions make it harmless)
    real_scan = four.ddb.scan
    summaries: list[dict[str, int]] = []

    def scan_then_interleave(**request: Any) -> Any:
        page = real_scan(**request)
        if not summaries:
            four.rewire("release", dynamodb=four.ddb)
            summaries.append(four.release())  # run A, complete
        return page

    four.rewire("release", dynamodb=_Proxy(four.ddb, scan=scan_then_interleave))
    b = four.release()
    assert summaries[0]["eventsReleased"] == 3
    assert (b["batchesReleased"], b["eventsReleased"]) == (0, 0)
    assert published(four)["eventCount"] == 3


def test_an_event_revoked_after_the_scan_is_not_claimed(four: Service) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    real_scan = four.ddb.scan

    def scan_then_revoke(**request: Any) -> Any:
        page = real_scan(**request)
        assert four.consent("103", "DELETE")[1]["pendingEventsDeleted"] == 1
        return page

    four.rewire("release", dynamodb=_Proxy(four.ddb, scan=scan_then_revoke))
    # the batch lost its third organisation: it waits (its own claims cleared)
    assert four.release()["batchesReleased"] == 0
    assert "error" in published(four)
    assert [("batch" in i) for i in four.items("pending")] == [False, False]


def test_a_failure_is_counted_and_raised(four: Service, capsys) -> None:
    four.ddb.delete_table(TableName=four.tables["pending"])
    capsys.readouterr()
    with pytest.raises(ClientError):
        four.release()
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "ReleaseFailures", Environment="staging") == [1.0]
    assert emf.values(points, "ReleaseRuns", Environment="staging") == []


def test_metrics_of_a_run(four: Service, capsys) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    four.ingest("104", ruleId="XY-1234")
    four.now += timedelta(hours=2)
    capsys.readouterr()
    four.release()
    points = emf.metric_points(capsys.readouterr().out)
    expected = {
        "ReleaseRuns": [1.0],
        "BatchesReleased": [1.0],
        "EventsReleased": [3.0],
        "ExcessEventsDropped": [0.0],
        "PendingEventsExpired": [0.0],
        # the XY-1234 event waits; it was received 2 h 0 min before the run
        "OldestPendingEventAgeSeconds": [7200.0],
    }
    for name, value in expected.items():
        assert emf.values(points, name, Environment="staging") == value, name


def test_nothing_raw_is_stored_or_logged(four: Service, logs) -> None:
    for owner in ORGS[:3]:
        four.ingest(owner)
    four.release()
    text = four.stored_text() + json.dumps(logs())
    assert not any(mentions(text, owner) for owner in ORGS)


def test_the_benchmarks_cheap_transactions_keep_all_or_nothing(four: Service) -> None:
    """testing.aws.cheap_transactions (the benchmark's fast moto backups) must still cancel a
    transaction whole: the ingestion of a non-admitted owner writes nothing, a retry nothing,
    an accepted event both its items."""
    from testing.aws import cheap_transactions

    with cheap_transactions():
        before = four.snapshot()
        assert four.ingest("999")[0] == 403
        assert four.snapshot() == before
        body = four.event()
        assert four.ingest("101", body)[0] == 202
        after = four.snapshot()
        assert len(after["pending"]) == len(after["dedup"]) == 1
        assert four.ingest("101", body)[1] == {"status": "duplicate"}
        assert four.snapshot() == after
        for owner in ("102", "103"):
            four.ingest(owner)
        assert four.release()["eventsReleased"] == 3
