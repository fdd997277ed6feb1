"""fp-admission on moto: only allow-listed operators admit and withdraw, every change is
audited, a withdrawal stops ingestion and deletes the organisation's pending events."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from testing.lambdas import github_event, mentions, response_body
from testing.orgs import org_key
from testing.service import ADMIN_SESSION, INTERNAL_SESSION, Service
from tests.lambdas import emf

OWNER = "4242"


def test_admitting_is_audited_and_lets_the_organisation_in(seeded: Service) -> None:
    key = org_key(seeded.kms, seeded.org_key_arn, OWNER)
    assert seeded.admin("PUT", OWNER) == (
        200,
        {"status": "admitted", "orgKey": key, "admittedAt": "2026-03-15T12:00:00Z"},
    )
    records = {i["record"]["S"]: i for i in seeded.items("admission")}
    assert records.pop("admission") == {
        "orgKey": {"S": key},
        "record": {"S": "admission"},
        "admittedAt": {"S": "2026-03-15T12:00:00Z"},
        "admittedBy": {"S": ADMIN_SESSION},
    }
    [(audit_key, audit)] = records.items()
    assert audit_key.startswith("audit#2026-03-15T12:00:00.000Z#")
    assert (audit["action"], audit["actor"]) == ({"S": "admit"}, {"S": ADMIN_SESSION})
    seeded.consent(OWNER, "PUT", {"consentType": "explicit"})
    assert seeded.ingest(OWNER)[0] == 202


def test_readmitting_keeps_the_first_admission_and_audits_again(seeded: Service) -> None:
    seeded.admin("PUT", OWNER)
    seeded.now = seeded.now.replace(hour=13)
    assert seeded.admin("PUT", OWNER)[1]["admittedAt"] == "2026-03-15T12:00:00Z"
    status, shown = seeded.admin("GET", OWNER)
    assert status == 200 and shown["status"] == "admitted"
    assert [a["at"] for a in shown["audit"]] == ["2026-03-15T13:00:00Z", "2026-03-15T12:00:00Z"]


def test_withdrawing_stops_ingestion_and_deletes_pending_events(seeded: Service) -> None:
    seeded.join(OWNER)
    seeded.join("777")
    seeded.ingest(OWNER)
    seeded.ingest(OWNER)
    seeded.ingest("777")
    seeded.now += timedelta(minutes=1)
    status, body = seeded.admin("DELETE", OWNER)
    assert (status, body["status"], body["pendingEventsDeleted"]) == (200, "withdrawn", 2)
    assert len(seeded.items("pending")) == 1
    assert seeded.ingest(OWNER)[0] == 403
    shown = seeded.admin("GET", OWNER)[1]
    assert shown["status"] == "not_admitted"
    assert [a["action"] for a in shown["audit"]] == ["withdraw", "admit"]
    withdraw = next(i for i in seeded.items("admission") if i.get("action") == {"S": "withdraw"})
    assert withdraw["pendingEventsDeleted"] == {"N": "2"}


@pytest.mark.parametrize(
    "arn",
    [
        INTERNAL_SESSION,  # allow-listed for ingestion, not for administration
        "arn:aws:sts::123456789012:assumed-role/AdministratorAccess/mallory",
        "arn:aws:sts::210987654321:assumed-role/phase-mirror-operator/alice",  # other account
        "arn:aws:iam::123456789012:root",
    ],
)
def test_principals_outside_the_allow_list_are_refused(seeded: Service, arn: str, capsys) -> None:
    capsys.readouterr()
    status, body = seeded.admin("PUT", OWNER, user_arn=arn)
    assert (status, body["field"]) == (403, "caller")
    assert seeded.items("admission") == []
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "AdminRefusals", Environment="staging") == [1.0]


def test_a_github_token_cannot_administer(seeded: Service) -> None:
    event = github_event(
        OWNER, method="PUT", path=f"/admin/admissions/{OWNER}", path_parameters={"ownerId": OWNER}
    )
    assert response_body(seeded.call("admission", event))[0] == 403
    assert seeded.items("admission") == []


@pytest.mark.parametrize("owner", ["0042", "42a", "", "4²", "\uff11\uff12", "1" * 21])
def test_a_bad_owner_id_is_a_400(seeded: Service, owner: str) -> None:
    status, body = seeded.admin("PUT", owner)
    assert (status, body["field"]) == (400, "ownerId")
    assert seeded.items("admission") == []


def test_a_body_other_than_empty_is_a_400(seeded: Service) -> None:
    assert seeded.admin("PUT", OWNER, {})[0] == 200
    status, body = seeded.admin("PUT", "43", {"note": "sock puppet?"})
    assert (status, body["field"]) == (400, "body")


def test_no_raw_id_is_stored_or_logged(
    seeded: Service, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    seeded.admin("PUT", OWNER)
    seeded.admin("GET", OWNER)
    seeded.admin("DELETE", OWNER)
    text = seeded.stored_text() + json.dumps(logs())
    assert not mentions(text, OWNER)
