"""fp-ingestion: validation, consent, anonymisation, idempotency, salt cache and metrics, on moto."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from botocore.exceptions import ClientError

from tests.lambdas import emf
from tests.lambdas.conftest import Aws
from tests.lambdas.harness import (
    LambdaContext,
    Recording,
    create_salt_secret,
    event_fixture,
    function_module,
    http_event,
    load_handler,
    record_calls,
    response_body,
    salt_document,
)

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)
MARCH = bytes([3]) * 32
FEBRUARY = bytes([2]) * 32
JANUARY = bytes([1]) * 32
ORG = "acme-corp"
SECRET_NAME = "/phase-mirror/test/fp-calibration/hmac-salt"
SALT_CACHE = function_module("fp_ingestion", "salt_cache")


def mac(salt: bytes, message: str | bytes) -> str:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(salt, data, hashlib.sha256).hexdigest()


def event(**changes: Any) -> dict[str, Any]:
    """The recorded FP event (tests/lambdas/events/fp_event.json) with ``changes``; None drops."""
    payload = {**event_fixture("fp_event.json"), **changes}
    return {k: v for k, v in payload.items() if v is not None}


class Ingest:
    """fp-ingestion wired to moto: March's salt current, February's previous, a fixed clock."""

    def __init__(
        self,
        module: ModuleType,
        aws: Aws,
        context: LambdaContext,
        capsys: pytest.CaptureFixture[str],
        document: dict[str, str] | None,
        cache_seconds: int = 300,
    ) -> None:
        self.module, self.aws, self.context, self.capsys = module, aws, context, capsys
        self.now = NOW
        self.monotonic = 1000.0
        self.jitter: Callable[[int], int] = lambda n: 0
        name = SECRET_NAME
        self.secret_id = create_salt_secret(aws.sm, name=name, value=document) if document else name
        self.settings = module.Settings(
            environment="staging",
            consent_table=aws.consent_table,
            calibration_table=aws.calibration_table,
            aggregates_table=aws.aggregates_table,
            salt_secret_id=self.secret_id,
            salt_cache_seconds=cache_seconds,
        )
        salts = module.SaltSource(
            SecretsProvider(boto3_client=aws.sm),
            self.secret_id,
            cache_seconds,
            monotonic=lambda: self.monotonic,
        )
        self.deps = module.Dependencies(
            settings=self.settings,
            dynamodb=aws.ddb,
            salts=salts,
            clock=lambda: self.now,
            jitter=lambda n: self.jitter(n),
        )
        self.ddb_calls = record_calls(aws.ddb)
        self.sm_calls = record_calls(aws.sm)

    def send(self, request: Any) -> tuple[int, dict[str, Any]]:
        return response_body(self.module.handler(request, self.context))

    def consent(self, org: str = ORG, consent_type: str = "explicit", **extra: Any) -> None:
        item: dict[str, Any] = {
            "orgId": {"S": org},
            "consentType": {"S": consent_type},
            "grantedAt": {"S": "2026-01-01T00:00:00Z"},
            **extra,
        }
        self.aws.ddb.put_item(TableName=self.aws.consent_table, Item=item)
        self.ddb_calls.clear()

    def items(self) -> list[dict[str, Any]]:
        return self.aws.ddb.scan(TableName=self.aws.calibration_table)["Items"]

    def aggregates(self) -> list[dict[str, Any]]:
        return self.aws.ddb.scan(TableName=self.aws.aggregates_table)["Items"]

    def points(self) -> list[emf.MetricPoint]:
        return emf.metric_points(self.capsys.readouterr().out)


@pytest.fixture(autouse=True)
def fresh_metrics(ingestion: ModuleType) -> Iterator[None]:
    # Powertools' Metrics keeps its metric set at class level: start every test empty.
    ingestion.metrics.clear_metrics()
    yield
    ingestion.metrics.clear_metrics()


def wire(
    ingestion: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    ingest: Ingest,
) -> Ingest:
    monkeypatch.setattr(ingestion, "dependencies", lambda: ingest.deps)
    return ingest


@pytest.fixture
def make_ingest(
    ingestion: ModuleType,
    aws: Aws,
    context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Ingest]:
    """fp-ingestion wired to moto with the given salt document (None: no secret at all)."""

    def make(document: dict[str, str] | None, cache_seconds: int = 300) -> Ingest:
        ingest = Ingest(ingestion, aws, context, capsys, document, cache_seconds)
        return wire(ingestion, monkeypatch, ingest)

    return make


@pytest.fixture
def ingest(make_ingest: Callable[..., Ingest]) -> Ingest:
    return make_ingest(salt_document(MARCH, "2026-03", previous=(FEBRUARY, "2026-02")))


# --- the stored event -------------------------------------------------------------------------


def test_consented_event_is_stored_anonymised(ingest: Ingest) -> None:
    ingest.consent()
    status, body = ingest.send(event())
    assert (status, body) == (200, {"status": "stored"})
    [item] = ingest.items()
    assert item["orgIdHash"] == {"S": mac(MARCH, ORG)}
    assert item["saltRotationMonth"] == {"S": "2026-03"}
    assert item["saltId"] == {"S": mac(MARCH, b"phase-mirror-salt-id")[:16]}
    assert item["ruleId"] == {"S": "MD-003"}
    assert item["isFalsePositive"] == {"BOOL": True}
    assert item["consent"] == {"S": "explicit"}
    assert json.loads(item["context"]["S"]) == {"file": "docs/readme.md", "line": 12}
    assert item["timestamp"] == {"S": "2026-03-15T11:00:00Z"}  # jitter 0: start of its hour
    assert set(item) == {
        "id",
        "orgIdHash",
        "ruleId",
        "timestamp",
        "isFalsePositive",
        "context",
        "saltRotationMonth",
        "saltId",
        "consent",
    }
    assert ORG not in json.dumps(item)


def test_http_api_body_is_ingested_like_a_direct_invoke(ingest: Ingest) -> None:
    ingest.consent()
    status, _ = ingest.send(http_event(body=json.dumps(event())))
    assert status == 200
    encoded = http_event(body=base64.b64encode(json.dumps(event(eventId="e2")).encode()).decode())
    encoded["isBase64Encoded"] = True
    assert ingest.send(encoded)[0] == 200
    assert len(ingest.items()) == 2


def test_stored_timestamp_is_within_the_hour_and_never_after_now(ingest: Ingest) -> None:
    ingest.consent()
    ingest.jitter = lambda n: n - 1  # the latest second of the hour
    ingest.send(event(timestamp="2026-03-15T12:00:00Z", eventId="now"))
    ingest.send(event(timestamp="2026-03-15T09:10:00+00:00", eventId="earlier"))
    stored = sorted(i["timestamp"]["S"] for i in ingest.items())
    assert stored == ["2026-03-15T09:59:59Z", "2026-03-15T12:00:00Z"]


def test_metrics_of_a_stored_event(ingest: Ingest) -> None:
    ingest.consent()
    ingest.send(event())
    points = ingest.points()
    assert emf.values(points, "FPEventsIngested", Environment="staging", RuleId="MD-003") == [1.0]
    assert len(emf.values(points, "FPIngestLatency", Environment="staging")) == 1
    # the salt in use was rotated on 2026-03-01T00:00Z: 14.5 days before NOW
    assert emf.values(points, "SaltAgeDays", Environment="staging") == [14.5]
    assert {p.namespace for p in points} == {"PhaseMirror/FPCalibration"}
    assert all(set(p.dimensions) <= {"Environment", "RuleId"} for p in points), points
    assert ingest.module.FP_EVENTS_INGESTED == "FPEventsIngested"


# --- calls per event and the salt cache --------------------------------------------------------


def test_warm_events_make_two_dynamodb_calls_and_no_secrets_manager_call(ingest: Ingest) -> None:
    ingest.consent()
    ingest.send(event(eventId="cold"))
    assert ingest.sm_calls == ["GetSecretValue"]
    ingest.ddb_calls.clear()
    for n in range(3):
        assert ingest.send(event(eventId=f"warm-{n}"))[0] == 200
    assert ingest.ddb_calls == ["GetItem", "TransactWriteItems"] * 3
    assert ingest.sm_calls == ["GetSecretValue"]


def test_cache_age_comes_from_settings(make_ingest: Callable[..., Ingest]) -> None:
    document = salt_document(MARCH, "2026-03", previous=(FEBRUARY, "2026-02"))
    ingest = make_ingest(document, cache_seconds=0)
    ingest.consent()
    ingest.send(event(eventId="a"))
    ingest.send(event(eventId="b"))
    assert ingest.sm_calls == ["GetSecretValue"] * 2


def test_event_of_a_newer_month_rereads_the_salt_at_once(
    make_ingest: Callable[..., Ingest],
) -> None:
    # GIVEN a container that cached February's salt on the last day of February
    document = salt_document(FEBRUARY, "2026-02", previous=(JANUARY, "2026-01"))
    ingest = make_ingest(document)
    ingest.now = datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
    ingest.consent()
    ingest.send(event(timestamp="2026-02-28T23:50:00Z", eventId="feb"))
    # WHEN the salt rotates and a March event arrives a minute later, well within max_age
    ingest.aws.sm.put_secret_value(
        SecretId=ingest.secret_id,
        SecretString=json.dumps(salt_document(MARCH, "2026-03", previous=(FEBRUARY, "2026-02"))),
    )
    ingest.now = datetime(2026, 3, 1, 0, 1, tzinfo=UTC)
    ingest.sm_calls.clear()
    ingest.send(event(timestamp="2026-03-01T00:00:30Z", eventId="mar"))
    # THEN the salt was re-read once and the event hashed with March's salt
    assert ingest.sm_calls == ["GetSecretValue"]  # the forced read; the cache said February
    by_id = {i["saltRotationMonth"]["S"]: i for i in ingest.items()}
    assert by_id["2026-03"]["orgIdHash"]["S"] == mac(MARCH, ORG)
    assert by_id["2026-02"]["orgIdHash"]["S"] == mac(FEBRUARY, ORG)
    # AND the next March event uses the refreshed cache
    ingest.sm_calls.clear()
    ingest.send(event(timestamp="2026-03-01T00:00:40Z", eventId="mar-2"))
    assert ingest.sm_calls == []


def test_late_rotation_forces_at_most_one_reread_per_interval(
    make_ingest: Callable[..., Ingest],
) -> None:
    # GIVEN the rotation has not happened yet although March has begun
    document = salt_document(FEBRUARY, "2026-02", previous=(JANUARY, "2026-01"))
    ingest = make_ingest(document)
    ingest.now = datetime(2026, 3, 1, 0, 10, tzinfo=UTC)
    ingest.consent()
    for n in range(3):
        ingest.send(event(timestamp="2026-03-01T00:05:00Z", eventId=f"m{n}"))
    # THEN one forced re-read (plus the first load), and the events use the newest salt there is
    assert ingest.sm_calls == ["GetSecretValue"] * 2
    assert {i["saltRotationMonth"]["S"] for i in ingest.items()} == {"2026-02"}
    ingest.monotonic += SALT_CACHE.FORCED_REFRESH_INTERVAL_SECONDS + 1
    ingest.send(event(timestamp="2026-03-01T00:05:00Z", eventId="later"))
    assert ingest.sm_calls == ["GetSecretValue"] * 3


def test_event_of_the_previous_month_is_hashed_with_the_previous_salt(ingest: Ingest) -> None:
    ingest.consent()
    assert ingest.send(event(timestamp="2026-02-27T08:00:00Z"))[0] == 200
    [item] = ingest.items()
    assert item["orgIdHash"] == {"S": mac(FEBRUARY, ORG)}
    assert item["saltRotationMonth"] == {"S": "2026-02"}
    assert item["saltId"] == {"S": mac(FEBRUARY, b"phase-mirror-salt-id")[:16]}


def test_event_older_than_the_previous_salt_is_refused(ingest: Ingest) -> None:
    ingest.consent()
    status, body = ingest.send(event(timestamp="2026-01-31T23:59:59Z"))
    assert status == 422 and body["error"] == "event_too_old" and body["field"] == "timestamp"
    assert ingest.items() == []
    assert emf.values(ingest.points(), "ValidationErrors", Environment="staging") == [1.0]


# --- consent -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "reason"),
    [
        (None, "no_consent"),
        ({"consent_type": "none"}, "no_consent"),
        ({"consent_type": "maybe"}, "no_consent"),
        ({"revokedAt": {"S": "2026-03-01T00:00:00Z"}}, "revoked"),
        ({"expiresAt": {"N": str(int(NOW.timestamp()) - 1)}}, "expired"),
        ({"expiresAt": {"S": "soon"}}, "expired"),
    ],
)
def test_event_without_valid_consent_is_dropped(
    ingest: Ingest, consent: dict[str, Any] | None, reason: str
) -> None:
    if consent is not None:
        ingest.consent(**consent)
    status, body = ingest.send(event())
    assert (status, body) == (200, {"status": "dropped", "reason": reason})
    assert ingest.ddb_calls == ["GetItem"] and ingest.sm_calls == []
    assert ingest.items() == []
    assert emf.values(ingest.points(), "ConsentMissing", Environment="staging") == [1.0]


def test_unexpired_implicit_consent_is_accepted(ingest: Ingest) -> None:
    ingest.consent(consent_type="implicit", expiresAt={"N": str(int(NOW.timestamp()) + 3600)})
    assert ingest.send(event())[0] == 200
    assert ingest.items()[0]["consent"] == {"S": "implicit"}


def test_consent_table_unavailable_fails_closed(ingest: Ingest) -> None:
    ingest.aws.ddb.delete_table(TableName=ingest.aws.consent_table)
    status, body = ingest.send(event())
    assert (status, body) == (503, {"error": "consent_check_unavailable"})
    assert ingest.items() == []
    points = ingest.points()
    assert emf.values(points, "ConsentCheckFailures", Environment="staging") == [1.0]
    assert "FPEventsIngested" not in emf.names(points)


def test_calibration_table_unavailable_is_a_503_and_counts_nothing(ingest: Ingest) -> None:
    ingest.consent()
    ingest.aws.ddb.delete_table(TableName=ingest.aws.calibration_table)
    assert ingest.send(event()) == (503, {"error": "store_unavailable"})
    assert "FPEventsIngested" not in emf.names(ingest.points())


# --- the salt cannot be loaded -------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        None,  # no such secret
        {"salt": base64.b64encode(bytes(16)).decode(), "rotationMonth": "2026-03"},
        {"salt": "!!", "rotationMonth": "2026-03", "rotatedAt": "2026-03-01T00:00:00Z"},
        {"salt": base64.b64encode(MARCH).decode(), "rotationMonth": "March", "rotatedAt": "x"},
    ],
)
def test_salt_that_cannot_be_loaded_fails_closed(
    make_ingest: Callable[..., Ingest], document: dict[str, str] | None
) -> None:
    ingest = make_ingest(document)
    ingest.consent()
    status, body = ingest.send(event())
    assert (status, body) == (503, {"error": "anonymization_unavailable"})
    assert ingest.items() == []
    assert emf.values(ingest.points(), "AnonymizationErrors", Environment="staging") == [1.0]


# --- retries ---------------------------------------------------------------------------------------


def test_retried_request_is_stored_once(ingest: Ingest) -> None:
    ingest.consent()
    assert ingest.send(event())[1] == {"status": "stored"}
    ingest.jitter = lambda n: 17  # a retry draws another random second: still the same event
    assert ingest.send(event())[1] == {"status": "duplicate"}
    assert ingest.send(event(eventId=None))[1] == {"status": "stored"}
    assert ingest.send(event(eventId=None))[1] == {"status": "duplicate"}
    assert len(ingest.items()) == 2
    points = ingest.points()
    assert emf.values(points, "FPEventsIngested", Environment="staging", RuleId="MD-003") == [
        1.0,
        1.0,
    ]


def test_retried_event_never_counts_twice_in_its_aggregate(ingest: Ingest) -> None:
    # GIVEN two organisations' events, one of them sent three times
    ingest.consent()
    ingest.consent(org="globex")
    for _ in range(3):
        ingest.send(event())
    ingest.send(event(orgId="globex", isFalsePositive=False))
    # THEN each organisation's aggregate shard counted its event once
    shards = {a["periodShard"]["S"]: a for a in ingest.aggregates()}
    salt_id = mac(MARCH, b"phase-mirror-salt-id")[:16]
    acme = mac(MARCH, ORG)
    assert shards[f"2026-03#{salt_id}#{acme[:2]}"]["orgs"] == {"SS": [acme]}
    totals = {
        "events": sum(int(a["events"]["N"]) for a in shards.values()),
        "falsePositives": sum(int(a["falsePositives"]["N"]) for a in shards.values()),
        "orgs": sum(len(a["orgs"]["SS"]) for a in shards.values()),
    }
    assert totals == {"events": 2, "falsePositives": 1, "orgs": 2}
    assert {a["ruleId"]["S"] for a in shards.values()} == {"MD-003"}
    assert {a["saltRotationMonth"]["S"] for a in shards.values()} == {"2026-03"}


def test_event_and_aggregate_are_one_transaction(ingest: Ingest) -> None:
    # GIVEN the aggregates table is gone: the event's write must fail with it
    ingest.consent()
    ingest.aws.ddb.delete_table(TableName=ingest.aws.aggregates_table)
    assert ingest.send(event()) == (503, {"error": "store_unavailable"})
    assert ingest.items() == []


def test_transaction_conflict_is_retried(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a concurrent event of the same organisation holds the aggregate item once
    ingest.consent()
    real = ingest.aws.ddb.transact_write_items
    attempts: list[int] = []

    def conflicted_once(**request: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return real(**request)

    monkeypatch.setattr(ingest.aws.ddb, "transact_write_items", conflicted_once)
    assert ingest.send(event()) == (200, {"status": "stored"})
    assert len(attempts) == 2 and len(ingest.items()) == 1


def test_same_event_id_from_two_organisations_is_two_events(ingest: Ingest) -> None:
    ingest.consent()
    ingest.consent(org="globex")
    ingest.send(event())
    ingest.send(event(orgId="globex"))
    assert len(ingest.items()) == 2


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"orgId": None}, "orgId"),
        ({"orgId": 42}, "orgId"),
        ({"orgId": ""}, "orgId"),
        ({"orgId": "a" * 129}, "orgId"),
        ({"orgId": "acme corp"}, "orgId"),
        ({"orgId": "acme\n"}, "orgId"),
        ({"ruleId": None}, "ruleId"),
        ({"ruleId": "md-003"}, "ruleId"),
        ({"ruleId": "MD-3"}, "ruleId"),
        ({"ruleId": "MDXXXX-003"}, "ruleId"),
        ({"ruleId": "MD-003\n"}, "ruleId"),
        ({"ruleId": "MD-٠٠٣"}, "ruleId"),  # Arabic-Indic digits
        ({"ruleId": ["MD-003"]}, "ruleId"),
        ({"isFalsePositive": None}, "isFalsePositive"),
        ({"isFalsePositive": "true"}, "isFalsePositive"),
        ({"isFalsePositive": 1}, "isFalsePositive"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2026-03-15T11:00:00"}, "timestamp"),
        ({"timestamp": "2026-03-15"}, "timestamp"),
        ({"timestamp": "2026-03-15T12:05:01Z"}, "timestamp"),
        ({"timestamp": 1773572400}, "timestamp"),
        ({"timestamp": "2026-03-15T11:00:00.000000000000000000000Z"}, "timestamp"),
        ({"context": ["a"]}, "context"),
        ({"context": "text"}, "context"),
        ({"context": {"blob": "x" * 2100}}, "context"),
        ({"context": {"ratio": float("nan")}}, "context"),
        ({"eventId": ""}, "eventId"),
        ({"eventId": "has space"}, "eventId"),
        ({"eventId": "e" * 129}, "eventId"),
        ({"eventId": 7}, "eventId"),
        ({"orgName": "acme"}, "orgName"),
    ],
)
def test_bad_field_is_refused_naming_it_and_nothing_is_written(
    ingest: Ingest, change: dict[str, Any], field: str
) -> None:
    ingest.consent()
    status, body = ingest.send(event(**change))
    assert status == 400, body
    assert body["error"] == "invalid_field" and body["field"] == field, body
    assert ORG not in json.dumps(body)
    assert ingest.ddb_calls == [] and ingest.sm_calls == []
    assert ingest.items() == []
    assert emf.values(ingest.points(), "ValidationErrors", Environment="staging") == [1.0]


@pytest.mark.parametrize(
    ("request_event", "field"),
    [
        (http_event(body=None), "body"),
        (http_event(body="not json"), "body"),
        (http_event(body="[1, 2]"), "body"),
        (http_event(body='{"orgId": "acme-corp", "ruleId": "MD-003", "x": NaN}'), "body"),
        (http_event(body=json.dumps({**event(), "context": {"x": "y" * 17000}})), "body"),
        ({**http_event(body="%%%"), "isBase64Encoded": True}, "body"),
        (http_event(body=json.dumps({**event(), "ruleId": "bad"})), "ruleId"),
        (["not", "an", "object"], "body"),
    ],
)
def test_bad_http_request_is_refused(ingest: Ingest, request_event: Any, field: str) -> None:
    status, body = ingest.send(request_event)
    assert (status, body["field"]) == (400, field), body
    assert ingest.items() == []


# --- privacy of logs -------------------------------------------------------------------------------


def test_no_log_line_holds_the_org_id_or_a_salt(
    ingest: Ingest, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    ingest.consent()
    ingest.send(event())  # stored
    ingest.send(event())  # duplicate
    ingest.send(event(orgId="unknown-org"))  # dropped
    ingest.send(event(ruleId="bad"))  # invalid
    ingest.send(event(timestamp="2025-12-01T00:00:00Z"))  # too old
    ingest.aws.ddb.delete_table(TableName=ingest.aws.consent_table)
    ingest.send(event())  # consent check failed
    text = json.dumps(logs())
    assert len(logs()) >= 6
    for secret in (ORG, "unknown-org"):
        assert secret not in text
    for salt in (MARCH, FEBRUARY):
        assert base64.b64encode(salt).decode() not in text and salt.hex() not in text


def test_event_is_never_logged_even_if_powertools_is_told_to(
    ingest: Ingest,
    logs: Callable[[], list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the handler imported where POWERTOOLS_LOGGER_LOG_EVENT=true (read at import)
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    module = load_handler("fp_ingestion", copy="log_event")
    monkeypatch.setattr(module, "dependencies", lambda: ingest.deps)
    ingest.consent()
    assert response_body(module.handler(event(), ingest.context))[0] == 200
    assert logs() and ORG not in json.dumps(logs())


# --- settings from the environment -----------------------------------------------------------------


GOOD_ENV = {
    "CONSENT_TABLE_NAME": "consent",
    "CALIBRATION_TABLE_NAME": "calibration",
    "AGGREGATES_TABLE_NAME": "aggregates",
    "SALT_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:salt-AbCdEf",
    "SALT_CACHE_SECONDS": "120",
    "ENVIRONMENT": "production",
}


def test_settings_read_exactly_env_vars(ingestion: ModuleType) -> None:
    env = Recording(dict(GOOD_ENV))
    settings = ingestion.Settings.from_env(env)
    assert env.read == set(ingestion.ENV_VARS)
    assert (settings.salt_cache_seconds, settings.environment) == (120, "production")
    assert (
        ingestion.Settings.from_env(
            {k: v for k, v in GOOD_ENV.items() if k != "SALT_CACHE_SECONDS"}
        ).salt_cache_seconds
        == 300
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ENVIRONMENT", "dev"),
        ("ENVIRONMENT", ""),
        ("SALT_CACHE_SECONDS", "-1"),
        ("SALT_CACHE_SECONDS", "3601"),
        ("SALT_CACHE_SECONDS", "5m"),
    ],
)
def test_bad_settings_are_named(ingestion: ModuleType, key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        ingestion.Settings.from_env({**GOOD_ENV, key: value})


def test_missing_required_setting_fails(ingestion: ModuleType) -> None:
    with pytest.raises(KeyError, match="SALT_SECRET_ID"):
        ingestion.Settings.from_env({k: v for k, v in GOOD_ENV.items() if k != "SALT_SECRET_ID"})


def test_salt_selection_by_month() -> None:
    salts = SALT_CACHE.parse_salt_document(
        salt_document(MARCH, "2026-03", previous=(JANUARY, "2026-01"))
    )
    # February's events were hashed with the salt rotated in January (no rotation in February)
    assert [
        salts.for_month(m).month if salts.for_month(m) else None
        for m in ("2026-04", "2026-03", "2026-02", "2026-01", "2025-12")
    ] == ["2026-03", "2026-03", "2026-01", "2026-01", None]
    first = SALT_CACHE.parse_salt_document(salt_document(MARCH, "2026-03"))
    assert first.for_month("2026-02") is None


def test_response_is_an_http_api_response(ingest: Ingest) -> None:
    ingest.consent()
    response = ingest.module.handler(event(), ingest.context)
    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": "application/json"}
