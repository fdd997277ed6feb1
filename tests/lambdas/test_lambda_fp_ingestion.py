"""fp-ingestion on moto: who may submit, what is stored as pending, what is refused, what is
counted, and how many AWS calls a warm event costs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from testing.aws import current_document
from testing.lambdas import (
    event_template,
    github_event,
    iam_event,
    mentions,
    record_calls,
    response_body,
)
from testing.orgs import grant, org_key
from testing.service import INTERNAL_SESSION, Service
from tests.lambdas import emf

OWNER = "4242"


def fixture_event(**changes: Any) -> dict[str, Any]:
    """The recorded FP event (tests/lambdas/events/fp_event.json) with ``changes``."""
    from pathlib import Path

    payload = json.loads((Path(__file__).parent / "events" / "fp_event.json").read_text())
    return {k: v for k, v in {**payload, **changes}.items() if v is not None}


@pytest.fixture
def joined(seeded: Service) -> Service:
    """OWNER admitted and consenting."""
    seeded.join(OWNER)
    return seeded


# --- the accepted event -------------------------------------------------------------------


def test_accepted_event_is_pending_and_publishes_nothing(joined: Service) -> None:
    status, body = joined.ingest(OWNER, fixture_event())
    assert (status, body) == (202, {"status": "pending"})
    salt = current_document(joined.sm, joined.salt_arn)
    [item] = joined.items("pending")
    import base64

    key = base64.b64decode(salt["salt"])
    assert item["orgHash"] == {"S": hmac.new(key, OWNER.encode(), hashlib.sha256).hexdigest()}
    assert item["saltVersion"] == {"S": salt["versionId"]}
    assert item["saltMonth"] == {"S": "2026-03"}
    assert item["ruleId"] == {"S": "MD-003"} and item["isFalsePositive"] == {"BOOL": True}
    received = int(joined.now.timestamp())
    assert item["receivedAt"] == {"N": str(received)}
    assert item["expiresAt"] == {"N": str(received + 70 * 86400)}
    assert set(item) == {
        "orgHash", "eventKey", "ruleId", "isFalsePositive", "saltVersion", "saltMonth",
        "receivedAt", "expiresAt",
    }  # fmt: skip
    # the de-duplication record holds its key and expiry, nothing of the organisation
    [dedup] = joined.items("dedup")
    assert dedup == {
        "eventKey": item["eventKey"],
        "expiresAt": {"N": str(received + 40 * 86400)},
    }
    assert joined.items("published") == []
    assert OWNER not in joined.stored_text().replace(
        org_key(joined.kms, joined.org_key_arn, OWNER), ""
    )


def test_the_context_is_validated_but_not_stored(joined: Service) -> None:
    assert joined.ingest(OWNER, fixture_event())[0] == 202
    assert "readme" not in joined.stored_text()


def test_the_internal_route_submits_for_the_body_org_when_allow_listed(joined: Service) -> None:
    assert joined.ingest_internal(fixture_event()) == (202, {"status": "pending"})
    assert len(joined.items("pending")) == 1


def test_the_internal_route_requires_an_org_and_an_allow_listed_principal(
    joined: Service,
) -> None:
    before = joined.snapshot()
    status, body = joined.ingest_internal(fixture_event(orgId=None))
    assert (status, body["field"]) == (400, "orgId")
    stranger = "arn:aws:sts::123456789012:assumed-role/AdministratorAccess/mallory"
    status, body = joined.ingest_internal(fixture_event(), user_arn=stranger)
    assert (status, body["field"]) == (403, "caller")
    # the allow-listed role of another account is someone else
    other = INTERNAL_SESSION.replace("123456789012", "210987654321")
    assert joined.ingest_internal(fixture_event(), user_arn=other)[0] == 403
    assert joined.snapshot() == before


# --- who is calling -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://accounts.google.com"},
        {"repository_owner_id": "0042"},  # not canonical: one owner, one spelling
        {"repository_owner_id": "\uff14\uff12"},  # fullwidth digits
        {"repository_owner_id": "4²"},
        {"repository_owner_id": ""},
        {"repository_owner_id": 4242},
    ],
)
def test_a_token_without_a_github_owner_is_refused(joined: Service, claims: dict[str, Any]) -> None:
    before = joined.snapshot()
    event = github_event(OWNER, body=fixture_event(orgId=None), claims=claims)
    status, body = response_body(joined.call("fp_ingestion", event))
    assert (status, body["error"], body["field"]) == (403, "forbidden", "caller")
    assert joined.snapshot() == before


def test_a_direct_invoke_has_no_caller(joined: Service) -> None:
    assert response_body(joined.call("fp_ingestion", fixture_event()))[0] == 403
    event = github_event(OWNER, body=fixture_event())
    del event["requestContext"]["authorizer"]
    assert response_body(joined.call("fp_ingestion", event))[0] == 403
    assert joined.items("pending") == []


def test_impersonation_is_refused_the_same_way_whatever_the_target(
    joined: Service, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN one target that consents, one admitted without consent, one unknown
    joined.join("1001")
    joined.admin("PUT", "1002")
    before = joined.snapshot()
    calls = [record_calls(c) for c in (joined.ddb, joined.sm, joined.kms)]
    # WHEN OWNER submits in each one's name
    answers = [
        joined.call("fp_ingestion", github_event(OWNER, body=fixture_event(orgId=target)))
        for target in ("1001", "1002", "1003")
    ]
    # THEN the three answers are identical, nothing was looked up and nothing written
    assert answers[0] == answers[1] == answers[2]
    assert response_body(answers[0]) == (
        403,
        {
            "error": "forbidden",
            "field": "orgId",
            "message": "orgId must be the caller's own organisation (repository_owner_id)",
        },
    )
    assert calls == [[], [], []]
    assert joined.snapshot() == before
    assert not any(mentions(json.dumps(logs()), t) for t in ("1001", "1002", "1003"))


def test_naming_itself_in_the_body_is_allowed(joined: Service) -> None:
    assert joined.ingest(OWNER, fixture_event(orgId=OWNER))[0] == 202


def test_an_owner_not_admitted_is_refused_and_nothing_written(seeded: Service) -> None:
    # consent without admission (e.g. admission withdrawn later) is not enough
    grant(seeded.ddb, seeded.tables["consent"], org_key(seeded.kms, seeded.org_key_arn, OWNER))
    before = seeded.snapshot()
    status, body = seeded.ingest(OWNER, fixture_event())
    assert (status, body["field"], body["message"]) == (
        403,
        "caller",
        "this organisation is not admitted",
    )
    assert seeded.snapshot() == before


@pytest.mark.parametrize(
    "consent",
    [
        None,
        {"revokedAt": {"S": "2026-03-01T00:00:00Z"}},
        {"expiresAt": {"N": "1773576000"}},  # NOW exactly: expired
        {"consentType": {"S": "implicit"}},
    ],
)
def test_without_active_explicit_consent_the_event_is_dropped(
    seeded: Service, consent: dict[str, Any] | None
) -> None:
    seeded.admin("PUT", OWNER)
    if consent is not None:
        key = org_key(seeded.kms, seeded.org_key_arn, OWNER)
        grant(seeded.ddb, seeded.tables["consent"], key, **consent)
    before = seeded.snapshot()
    assert seeded.ingest(OWNER, fixture_event()) == (
        200,
        {"status": "dropped", "reason": "no_consent"},
    )
    assert seeded.snapshot() == before


def test_consent_expiring_later_is_active(seeded: Service) -> None:
    seeded.admin("PUT", OWNER)
    later = str(int(seeded.now.timestamp()) + 60)
    key = org_key(seeded.kms, seeded.org_key_arn, OWNER)
    grant(seeded.ddb, seeded.tables["consent"], key, expiresAt={"N": later})
    assert seeded.ingest(OWNER, fixture_event())[0] == 202


# --- each event once ------------------------------------------------------------------------


def test_a_retry_is_counted_once_within_a_batch_and_after_a_release(joined: Service) -> None:
    for owner in ("1", "2"):
        joined.join(owner)
        joined.ingest(owner)
    assert joined.ingest(OWNER, fixture_event())[0] == 202
    assert joined.ingest(OWNER, fixture_event()) == (200, {"status": "duplicate"})
    assert joined.release()["eventsReleased"] == 3
    # the retry after the release finds the de-duplication record, not the pending event
    assert joined.ingest(OWNER, fixture_event()) == (200, {"status": "duplicate"})
    assert joined.items("pending") == []


def test_a_retry_after_the_salt_switch_is_counted_once(joined: Service) -> None:
    assert joined.ingest(OWNER, fixture_event())[0] == 202
    joined.now += timedelta(days=17)  # 1 April
    joined.rotate_salt()
    assert joined.ingest(OWNER, fixture_event()) == (200, {"status": "duplicate"})
    assert len(joined.items("pending")) == 1


def test_two_concurrent_copies_store_one_event(joined: Service) -> None:
    # GIVEN copy B of the event commits while copy A's transaction is in flight, so DynamoDB
    # cancels A with TransactionConflict (moto serialises, so the interleaving is staged)
    real = joined.ddb.transact_write_items
    attempts: list[str] = []

    def racing(**request: Any) -> Any:
        if not attempts:
            attempts.append("conflict")
            assert joined.ingest(OWNER, fixture_event()) == (202, {"status": "pending"})  # B
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}] * 2
                    + [{"Code": "TransactionConflict"}] * 2,
                },
                "TransactWriteItems",
            )
        attempts.append("write")
        return real(**request)

    joined.rewire("fp_ingestion", dynamodb=_Proxy(joined.ddb, transact_write_items=racing))
    # WHEN copy A finishes THEN it is a duplicate of B, after one retry
    assert joined.ingest(OWNER, fixture_event()) == (200, {"status": "duplicate"})
    assert attempts == ["conflict", "write", "write"]  # A cancelled, B's write, A's retry
    assert len(joined.items("pending")) == len(joined.items("dedup")) == 1


class _Proxy:
    """A client whose named methods are replaced."""

    def __init__(self, client: Any, **methods: Callable[..., Any]) -> None:
        self._client, self._methods = client, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


# --- failing dependencies -------------------------------------------------------------------


def _metric(joined: Service, capsys: pytest.CaptureFixture[str], name: str) -> list[float]:
    return emf.values(emf.metric_points(capsys.readouterr().out), name, Environment="staging")


def test_no_salt_yet_is_a_503_counted(
    service: Service, capsys, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    service.join(OWNER)
    capsys.readouterr()
    assert service.ingest(OWNER, fixture_event()) == (
        503,
        {"error": "salt_not_seeded", "message": "the first salt has not been created yet"},
    )
    assert _metric(service, capsys, "SaltNotSeeded") == [1.0]
    assert service.items("pending") == service.items("dedup") == []
    assert not mentions(json.dumps(logs()), OWNER)


def test_a_malformed_salt_is_a_503_counted(
    joined: Service, capsys, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    joined.sm.put_secret_value(SecretId=joined.salt_arn, SecretString=json.dumps({"salt": "x"}))
    capsys.readouterr()
    assert joined.ingest(OWNER, fixture_event())[1]["error"] == "anonymization_unavailable"
    assert _metric(joined, capsys, "AnonymizationErrors") == [1.0]
    assert not mentions(json.dumps(logs()), OWNER)


def test_kms_failing_is_a_503_counted_as_a_consent_check_failure(
    joined: Service, capsys, monkeypatch, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    def denied(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "KMSInvalidStateException"}}, "GenerateMac")

    orgs = joined.deps["fp_ingestion"].orgs
    monkeypatch.setattr(orgs, "_kms", _Proxy(joined.kms, generate_mac=denied))
    orgs._cache.clear()
    capsys.readouterr()
    assert joined.ingest(OWNER, fixture_event())[1]["error"] == "org_key_unavailable"
    assert _metric(joined, capsys, "ConsentCheckFailures") == [1.0]
    assert not mentions(json.dumps(logs()), OWNER)


def test_a_failed_write_is_a_503_counted_as_a_store_failure(
    joined: Service, capsys, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    joined.ddb.delete_table(TableName=joined.tables["pending"])
    capsys.readouterr()
    status, body = joined.ingest(OWNER, fixture_event())
    assert (status, body["error"]) == (503, "store_unavailable")
    assert _metric(joined, capsys, "EventStoreFailures") == [1.0]
    assert joined.items("dedup") == []  # the transaction wrote nothing
    assert not mentions(json.dumps(logs()), OWNER)


# --- cost per warm event ------------------------------------------------------------------


def test_a_warm_event_is_one_dynamodb_call_and_no_kms_or_secrets_call(seeded: Service) -> None:
    deps = seeded.deps["fp_ingestion"]
    seeded.rewire(
        "fp_ingestion", salts=type(deps.salts)(deps.salts._provider, seeded.salt_arn, 300)
    )
    seeded.join(OWNER)
    ddb, sm, kms = (record_calls(c) for c in (seeded.ddb, seeded.sm, seeded.kms))
    assert seeded.ingest(OWNER)[0] == 202  # the cold event reads the salt and the org key
    assert (sm, kms) == (["GetSecretValue"], ["GenerateMac"])
    ddb.clear(), sm.clear(), kms.clear()
    for _ in range(3):
        assert seeded.ingest(OWNER)[0] == 202
    assert ddb == ["TransactWriteItems"] * 3
    assert sm == kms == []


# --- metrics --------------------------------------------------------------------------------


def test_metrics_of_an_accepted_event(joined: Service, capsys) -> None:
    capsys.readouterr()
    joined.ingest(OWNER, fixture_event())
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "FPEventsIngested", Environment="staging", RuleId="MD-003") == [1.0]
    assert len(emf.values(points, "FPIngestLatency", Environment="staging")) == 1
    # The salt's age has one source, the scheduled check, which also reports it when no
    # event arrives: two sources would keep the alarm fed after the check stopped.
    assert emf.values(points, "SaltAgeDays", Environment="staging") == []
    assert {p.namespace for p in points} == {"PhaseMirror/FPCalibration"}


def test_the_recorded_http_api_events_parse(joined: Service) -> None:
    jwt, iam = event_template("http_api_jwt.json"), event_template("http_api_iam.json")
    assert jwt["requestContext"]["authorizer"]["jwt"]["claims"]["repository_owner_id"] == "4242"
    assert iam["requestContext"]["authorizer"]["iam"]["userArn"] == INTERNAL_SESSION
    assert iam_event(INTERNAL_SESSION)["requestContext"]["http"]["method"] == "POST"
