"""fp-consent on moto: an admitted organisation grants, reads and revokes its own consent;
bad input is a 400 with nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from testing.lambdas import github_event, iam_event, mentions, response_body
from testing.orgs import org_key
from testing.service import INTERNAL_SESSION, Service
from tests.lambdas import emf

OWNER = "4242"
GRANT = json.loads((Path(__file__).parent / "events" / "consent_grant.json").read_text())


@pytest.fixture
def admitted(seeded: Service) -> Service:
    assert seeded.admin("PUT", OWNER)[0] == 200
    return seeded


def test_grant_then_read(admitted: Service) -> None:
    status, body = admitted.consent(OWNER, "PUT", GRANT)
    assert (status, body) == (
        200,
        {
            "status": "granted",
            "consentType": "explicit",
            "grantedAt": "2026-03-15T12:00:00Z",
            "expiresAt": GRANT["expiresAt"],
        },
    )
    [item] = admitted.items("consent")
    assert item == {
        "orgKey": {"S": org_key(admitted.kms, admitted.org_key_arn, OWNER)},
        "consentType": {"S": "explicit"},
        "grantedAt": {"S": "2026-03-15T12:00:00Z"},
        "expiresAt": {"N": str(GRANT["expiresAt"])},
    }
    assert admitted.consent(OWNER, "GET") == (
        200,
        {
            "status": "active",
            "consentType": "explicit",
            "grantedAt": "2026-03-15T12:00:00Z",
            "expiresAt": GRANT["expiresAt"],
        },
    )


def test_reading_an_expired_or_absent_consent(admitted: Service) -> None:
    assert admitted.consent(OWNER, "GET") == (200, {"status": "none"})
    admitted.consent(OWNER, "PUT", GRANT)
    admitted.now += timedelta(days=200)
    assert admitted.consent(OWNER, "GET")[1]["status"] == "expired"


def test_revocation_stops_ingestion_and_deletes_unreleased_events_under_both_salts(
    admitted: Service,
) -> None:
    # GIVEN events of OWNER pending under March's salt and, after the switch, April's
    admitted.consent(OWNER, "PUT", {"consentType": "explicit"})
    other = "777"
    admitted.join(other)
    admitted.ingest(OWNER)
    admitted.ingest(other)
    admitted.now += timedelta(days=17)
    admitted.rotate_salt()
    admitted.ingest(OWNER)
    admitted.ingest(OWNER)
    assert len(admitted.items("pending")) == 4
    # WHEN it revokes
    status, body = admitted.consent(OWNER, "DELETE")
    # THEN its three events are gone, the other organisation's stays
    assert (status, body) == (
        200,
        {"status": "revoked", "revokedAt": "2026-04-01T12:00:00Z", "pendingEventsDeleted": 3},
    )
    assert len(admitted.items("pending")) == 1
    # AND from now on its events are dropped, and reading says so
    assert admitted.ingest(OWNER) == (200, {"status": "dropped", "reason": "no_consent"})
    assert admitted.consent(OWNER, "GET")[1]["status"] == "revoked"
    # AND a second revocation keeps the first time
    admitted.now += timedelta(hours=1)
    assert admitted.consent(OWNER, "DELETE")[1]["revokedAt"] == "2026-04-01T12:00:00Z"


def test_a_grant_after_a_revocation_replaces_it(admitted: Service) -> None:
    admitted.consent(OWNER, "PUT", GRANT)
    admitted.consent(OWNER, "DELETE")
    assert admitted.consent(OWNER, "PUT", {"consentType": "explicit"})[0] == 200
    assert admitted.consent(OWNER, "GET")[1]["status"] == "active"
    assert admitted.ingest(OWNER)[0] == 202


def test_revoking_without_a_record_or_a_salt_writes_nothing(service: Service) -> None:
    before = service.snapshot()
    assert service.consent(OWNER, "DELETE") == (
        200,
        {"status": "revoked", "revokedAt": None, "pendingEventsDeleted": 0},
    )
    assert service.snapshot() == before


def test_a_revocation_that_cannot_read_the_salt_fails_loudly(
    admitted: Service, capsys, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    admitted.consent(OWNER, "PUT", GRANT)
    admitted.sm.put_secret_value(SecretId=admitted.salt_arn, SecretString="not json")
    capsys.readouterr()
    status, body = admitted.consent(OWNER, "DELETE")
    assert (status, body["error"]) == (503, "anonymization_unavailable")
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "ConsentStoreFailures", Environment="staging") == [1.0]
    assert emf.values(points, "AnonymizationErrors", Environment="staging") == [1.0]
    # on-call can tell which organisation's revocation may not have purged: by its keyed hash,
    # which the admission route shows for an owner id, never by the raw id
    (failure,) = [line for line in logs() if line["message"] == "consent request failed"]
    assert failure["method"] == "DELETE"
    assert failure["orgKey"] == org_key(admitted.kms, admitted.org_key_arn, OWNER)
    assert not mentions(json.dumps(logs()), OWNER)  # in no line of the failed request


NOW = 1773576000  # 2026-03-15T12:00:00Z


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"consentType": "explicit", "expiresAt": NOW * 1000 + 86_400_000}, "expiresAt"),  # ms
        ({"consentType": "explicit", "expiresAt": NOW - 1}, "expiresAt"),  # past
        ({"consentType": "explicit", "expiresAt": NOW}, "expiresAt"),  # now is not the future
        ({"consentType": "explicit", "expiresAt": NOW + 401 * 86400}, "expiresAt"),  # too far
        ({"consentType": "explicit", "expiresAt": True}, "expiresAt"),
        ({"consentType": "explicit", "expiresAt": float(NOW + 60)}, "expiresAt"),
        ({"consentType": "explicit", "expiresAt": str(NOW + 60)}, "expiresAt"),
        ({"consentType": "explicit", "expiresAt": None}, "expiresAt"),
        ({"consentType": "implicit"}, "consentType"),
        ({"consentType": "none"}, "consentType"),
        ({}, "consentType"),
        ({"consentType": "explicit", "metadata": {"team": "x"}}, "metadata"),
        (["explicit"], "body"),
        ("not json", "body"),
    ],
)
def test_a_bad_grant_is_a_400_naming_the_field_with_nothing_written(
    admitted: Service, body: object, field: str
) -> None:
    before = admitted.snapshot()
    event = github_event(OWNER, method="PUT", path="/fp/consent")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    status, answer = response_body(admitted.call("consent", event))
    assert (status, answer["error"], answer["field"]) == (400, "invalid_field", field)
    assert admitted.snapshot() == before


def test_the_longest_consent_is_accepted(admitted: Service) -> None:
    body = {"consentType": "explicit", "expiresAt": NOW + 400 * 86400}
    assert admitted.consent(OWNER, "PUT", body)[0] == 200


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_take_no_body(admitted: Service, method: str) -> None:
    before = admitted.snapshot()
    status, answer = admitted.consent(OWNER, method, {"consentType": "explicit"})
    assert (status, answer["field"]) == (400, "body")
    assert admitted.snapshot() == before


def test_an_owner_not_admitted_may_not_grant(seeded: Service) -> None:
    status, answer = seeded.consent(OWNER, "PUT", GRANT)
    assert (status, answer["field"]) == (403, "caller")
    assert seeded.items("consent") == []


def test_a_withdrawn_organisation_may_still_read_and_revoke(admitted: Service) -> None:
    admitted.consent(OWNER, "PUT", GRANT)
    admitted.now += timedelta(minutes=1)
    admitted.admin("DELETE", OWNER)
    assert admitted.consent(OWNER, "GET")[1]["status"] == "active"
    assert admitted.consent(OWNER, "DELETE")[1]["revokedAt"] == "2026-03-15T12:01:00Z"
    # and a stranger's revocation writes nothing
    before = admitted.snapshot()
    assert admitted.consent("31337", "DELETE") == (
        200,
        {"status": "revoked", "revokedAt": None, "pendingEventsDeleted": 0},
    )
    assert admitted.snapshot() == before


def test_only_the_organisations_own_token_may_change_consent(admitted: Service) -> None:
    before = admitted.snapshot()
    event = iam_event(INTERNAL_SESSION, method="PUT", path="/fp/consent", body=GRANT)
    assert response_body(admitted.call("consent", event))[0] == 403
    assert response_body(admitted.call("consent", GRANT))[0] == 403  # a direct invoke
    assert admitted.snapshot() == before


def test_no_raw_id_is_stored_or_logged(
    admitted: Service, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    admitted.consent(OWNER, "PUT", GRANT)
    admitted.consent(OWNER, "GET")
    admitted.consent(OWNER, "DELETE")
    text = admitted.stored_text() + json.dumps(logs())
    assert not mentions(text, OWNER)


def test_a_field_name_with_a_line_separator_is_refused_and_logged_as_one_event(
    admitted: Service, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    # U+0085 and U+2028 end a line for str.splitlines, not for Lambda's stdout or for JSON
    name = "x\u0085y\u2028z"
    status, body = admitted.consent(OWNER, "PUT", {"consentType": "explicit", name: 1})
    assert (status, body["field"]) == (400, name)
    (rejected,) = [line for line in logs() if line["message"] == "consent request rejected"]
    assert rejected["field"] == name
