"""Every function's paths, each run as the program deploys it, for the metric contract.

A ``Scenario`` drives one function (``lambdas/<code>``) through one path in a fresh moto account
holding the tables and the salt secret the program run declares (testing/deployed.py). The
function is loaded cold (Powertools reads the metrics namespace when a handler module is
loaded) with exactly its declared environment, ``POWERTOOLS_METRICS_NAMESPACE`` included, and
builds its own clients as on Lambda; the other functions prepare the state it meets (admitted
and consenting organisations, a seeded salt, pending events) through ``Deployed.service``. The
handler's EMF output, its HTTP statuses and any exception make its ``Outcome``.
tests/lambdas/test_metric_contract.py holds the alarms to what these paths emit.

A function added to ``lambdas/`` plugs in with its scenarios in ``SCENARIOS``; the contract
fails until it has at least one ``success`` and one ``failure`` path. Kinds: ``success`` (an
ordinary answer, a dropped or duplicate event included), ``refused`` (the caller's fault: a 4xx),
``failure`` (a dependency of ours failed: a 5xx answer or an exception).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, Literal

import boto3
import pytest
from moto import mock_aws
from moto.kms.models import kms_backends

from testing.aws import begin_rotation, cheap_key_pairs, first_current_allowed
from testing.deployed import Account, account, function_for
from testing.lambdas import ACCOUNT, REGION, LambdaContext, github_event, iam_event, load_handler
from testing.service import ADMIN_SESSION, INTERNAL_SESSION, Service
from tests.lambdas import emf
from tools.mock_program import ProgramRun

Kind = Literal["success", "refused", "failure"]
OWNER = "4242"
STRANGER = f"arn:aws:sts::{ACCOUNT}:assumed-role/someone-else/session"


@dataclass(frozen=True)
class Outcome:
    points: tuple[emf.MetricPoint, ...]
    statuses: tuple[int, ...] = ()  # HTTP statuses answered, for the functions behind the API
    raised: str | None = None  # the exception's class, when the handler raised


class Deployed:
    """One function as the program deploys it, in a fresh moto account (module docstring)."""

    def __init__(
        self,
        run: ProgramRun,
        code: str,
        monkeypatch: pytest.MonkeyPatch,
        changes: Mapping[str, str] | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        self.account: Account = account(run, now=now, session=session)
        self.service: Service = self.account.service.install(monkeypatch.setattr)
        self.name: str = function_for(run, code).inputs["name"]
        # ``changes``: variables deployed otherwise than declared (a test of the contract)
        self.env = self.account.environment(code) | dict(changes or {})
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        # A cold container: the handler module loaded afresh under this environment.
        sys.modules.pop(f"lambda_{code}_deployed", None)
        self.module: ModuleType = load_handler(code, copy_name="deployed")

    def invoke(self, *events: object) -> Outcome:
        """Each event in turn, in one container; stops at the first exception."""
        out, statuses, raised = io.StringIO(), list[int](), None
        # Powertools keeps one metric set per process, shared by every handler module: what
        # the preparing steps added without a handler's flush (a rotation run step by step)
        # is not this function's.
        self.service.modules["salt_rotator"].metrics.clear_metrics()
        with redirect_stdout(out):
            for event in events:
                try:
                    answer = self.module.handler(event, LambdaContext(function_name=self.name))
                except Exception as exc:  # noqa: BLE001 - the outcome records which
                    raised = type(exc).__name__
                    break
                if isinstance(answer, dict) and "statusCode" in answer:
                    statuses.append(int(answer["statusCode"]))
        return Outcome(tuple(emf.metric_points(out.getvalue())), tuple(statuses), raised)

    # --- what the other functions (or AWS) leave behind ----------------------------------------

    def ready(self, *owners: str) -> Service:
        """The salt seeded, and ``owners`` admitted and consenting."""
        self.service.rotate_salt()
        for owner in owners:
            self.service.join(owner)
        return self.service

    def break_salt(self) -> None:
        self.service.sm.put_secret_value(SecretId=self.service.salt_arn, SecretString="{}")

    def drop_table(self, logical: str) -> None:
        self.service.ddb.delete_table(TableName=self.service.tables[logical])

    def lose_org_key(self) -> None:
        """KMS answers NotFoundException for the org key (moto refuses no call of a disabled key,
        so the key leaves moto's backend)."""
        keys = kms_backends[ACCOUNT][REGION].keys
        keys.pop(self.service.org_key_arn.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Scenario:
    code: str
    name: str
    kind: Kind
    run: Callable[[Deployed], Outcome]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


# --- requests ------------------------------------------------------------------------------------


def ingest(d: Deployed, owner: str | None = OWNER, **changes: Any) -> dict[str, Any]:
    return github_event(owner, body=d.service.event(**changes))


def consent(owner: str, method: str, body: object = None) -> dict[str, Any]:
    return github_event(owner, method=method, path="/fp/consent", body=body)


GRANT = {"consentType": "explicit"}


def admin(method: str, owner: str, user_arn: str = ADMIN_SESSION) -> dict[str, Any]:
    return iam_event(user_arn, method=method, path=f"/admin/admissions/{owner}",
                     route="/admin/admissions/{ownerId}", path_parameters={"ownerId": owner})  # fmt: skip


def calibrate(rule: str = "MD-003") -> dict[str, Any]:
    return github_event(OWNER, method="GET", path=f"/fp/calibrate/{rule}",
                        route="/fp/calibrate/{ruleId}", path_parameters={"ruleId": rule})  # fmt: skip


def rotation(d: Deployed, token: str, *steps: str) -> Outcome:
    begin_rotation(d.service.salt_arn, token)
    event = {"SecretId": d.service.salt_arn, "ClientRequestToken": token}
    with first_current_allowed():
        return d.invoke(*(event | {"Step": step} for step in steps))


STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
TOKEN = "11111111-2222-3333-4444-555555555555"


# --- fp-ingestion ---------------------------------------------------------------------------------


def ingest_stored(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d))


def ingest_retried(d: Deployed) -> Outcome:
    d.ready(OWNER)
    event = ingest(d)
    return d.invoke(event, event)


def ingest_without_consent(d: Deployed) -> Outcome:
    d.ready()
    d.service.admin("PUT", OWNER)
    return d.invoke(ingest(d))


def ingest_invalid(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d, ruleId="not a rule"))


def ingest_for_another(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d, orgId="77"))


def ingest_without_identity(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d, owner=None))


def ingest_internal_stranger(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(iam_event(STRANGER, body=d.service.event(orgId=OWNER)))


def ingest_not_admitted(d: Deployed) -> Outcome:
    d.ready()
    return d.invoke(ingest(d))


def ingest_internal(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(iam_event(INTERNAL_SESSION, body=d.service.event(orgId=OWNER)))


def ingest_salt_not_seeded(d: Deployed) -> Outcome:
    d.service.join(OWNER)
    return d.invoke(ingest(d))


def ingest_salt_malformed(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.break_salt()
    return d.invoke(ingest(d))


def ingest_org_key_lost(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.lose_org_key()
    return d.invoke(ingest(d))


def ingest_store_down(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.drop_table("pending")
    return d.invoke(ingest(d))


# --- fp-consent -----------------------------------------------------------------------------------


def consent_granted(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    return d.invoke(consent(OWNER, "PUT", GRANT))


def consent_read(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(consent(OWNER, "GET"))


def consent_revoked(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)
    return d.invoke(consent(OWNER, "DELETE"))


def consent_invalid(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    return d.invoke(consent(OWNER, "PUT", {"consentType": "implied"}))


def consent_by_iam(d: Deployed) -> Outcome:
    event = iam_event(INTERNAL_SESSION, method="PUT", path="/fp/consent", body=GRANT)
    return d.invoke(event)


def consent_not_admitted(d: Deployed) -> Outcome:
    return d.invoke(consent(OWNER, "PUT", GRANT))


def consent_store_down(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    d.drop_table("consent")
    return d.invoke(consent(OWNER, "PUT", GRANT))


def consent_salt_malformed(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.break_salt()
    return d.invoke(consent(OWNER, "DELETE"))


def consent_org_key_lost(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.lose_org_key()
    return d.invoke(consent(OWNER, "GET"))


# --- fp-admission ---------------------------------------------------------------------------------


def admitted(d: Deployed) -> Outcome:
    return d.invoke(admin("PUT", OWNER))


def admission_read(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    return d.invoke(admin("GET", OWNER))


def withdrawn(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)
    return d.invoke(admin("DELETE", OWNER))


def admission_by_stranger(d: Deployed) -> Outcome:
    return d.invoke(admin("PUT", OWNER, user_arn=INTERNAL_SESSION))


def admission_invalid(d: Deployed) -> Outcome:
    return d.invoke(admin("PUT", "0042"))


def admission_store_down(d: Deployed) -> Outcome:
    d.drop_table("admission")
    return d.invoke(admin("PUT", OWNER))


# --- fp-release -----------------------------------------------------------------------------------


def released(d: Deployed) -> Outcome:
    # As many organisations as the deployed K_ANONYMITY asks for, one event each.
    owners = [str(100 + n) for n in range(int(d.env["K_ANONYMITY"]))]
    d.ready(*owners)
    for owner in owners:
        assert d.service.ingest(owner)[0] == 202
    outcome = d.invoke({"source": "aws.scheduler"})
    assert d.service.items("pending") == [], "the batch was not released"
    return outcome


def released_nothing(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)  # one organisation: below k, it waits
    return d.invoke({"source": "aws.scheduler"})


def release_store_down(d: Deployed) -> Outcome:
    d.ready()
    d.drop_table("pending")
    return d.invoke({"source": "aws.scheduler"})


# --- calibration-query ----------------------------------------------------------------------------


def query_before_release(d: Deployed) -> Outcome:
    return d.invoke(calibrate())


def query_released(d: Deployed) -> Outcome:
    owners = [str(100 + n) for n in range(3)]
    d.ready(*owners)
    for owner in owners:
        d.service.ingest(owner)
    assert d.service.release()["batchesReleased"] == 1  # k = 3 in the preparing service
    return d.invoke(calibrate())


def query_invalid(d: Deployed) -> Outcome:
    return d.invoke(calibrate("md-3"))


def query_by_stranger(d: Deployed) -> Outcome:
    event = iam_event(STRANGER, method="GET", path="/internal/fp/calibrate/MD-003",
                      route="/internal/fp/calibrate/{ruleId}", path_parameters={"ruleId": "MD-003"})  # fmt: skip
    return d.invoke(event)


def query_store_down(d: Deployed) -> Outcome:
    d.drop_table("published")
    return d.invoke(calibrate())


# --- salt-rotator ---------------------------------------------------------------------------------


def rotator_seeds(d: Deployed) -> Outcome:
    return rotation(d, TOKEN, *STEPS)


def rotator_rotates(d: Deployed) -> Outcome:
    d.ready()
    return rotation(d, TOKEN, *STEPS)


def rotator_out_of_order(d: Deployed) -> Outcome:
    d.ready()
    return rotation(d, TOKEN, "testSecret")


def rotator_stale_pending(d: Deployed) -> Outcome:
    # Last month's rotation stopped after createSecret; this month finds its pending value.
    today = d.service.now
    d.service.now = today - timedelta(days=40)
    d.ready()
    begin_rotation(d.service.salt_arn, TOKEN)
    event = {"SecretId": d.service.salt_arn, "ClientRequestToken": TOKEN, "Step": "createSecret"}
    d.service.modules["salt_rotator"].rotate(event, d.service.deps["salt_rotator"])
    d.service.now = today
    return d.invoke(event | {"Step": "testSecret"})


# --- salt-age-check -------------------------------------------------------------------------------


def salt_age_measured(d: Deployed) -> Outcome:
    d.ready()
    return d.invoke({})


def salt_age_unseeded(d: Deployed) -> Outcome:
    return d.invoke({})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("fp_ingestion", "event stored", "success", ingest_stored),
    Scenario("fp_ingestion", "retried event counted once", "success", ingest_retried),
    Scenario("fp_ingestion", "no consent: dropped", "success", ingest_without_consent),
    Scenario("fp_ingestion", "internal caller on the allow-list", "success", ingest_internal),
    Scenario("fp_ingestion", "invalid field", "refused", ingest_invalid),
    Scenario("fp_ingestion", "another organisation's orgId", "refused", ingest_for_another),
    Scenario("fp_ingestion", "no identity", "refused", ingest_without_identity),
    Scenario("fp_ingestion", "internal caller not allow-listed", "refused",
             ingest_internal_stranger),
    Scenario("fp_ingestion", "organisation not admitted", "refused", ingest_not_admitted),
    Scenario("fp_ingestion", "salt not seeded", "failure", ingest_salt_not_seeded),
    Scenario("fp_ingestion", "salt malformed", "failure", ingest_salt_malformed),
    Scenario("fp_ingestion", "org key lost", "failure", ingest_org_key_lost),
    Scenario("fp_ingestion", "pending table gone", "failure", ingest_store_down),
    Scenario("consent", "granted", "success", consent_granted),
    Scenario("consent", "read", "success", consent_read),
    Scenario("consent", "revoked, pending events purged", "success", consent_revoked),
    Scenario("consent", "invalid consent type", "refused", consent_invalid),
    Scenario("consent", "IAM caller", "refused", consent_by_iam),
    Scenario("consent", "grant by an organisation not admitted", "refused",
             consent_not_admitted),
    Scenario("consent", "consent table gone", "failure", consent_store_down),
    Scenario("consent", "salt malformed at revocation", "failure", consent_salt_malformed),
    Scenario("consent", "org key lost", "failure", consent_org_key_lost),
    Scenario("admission", "admitted", "success", admitted),
    Scenario("admission", "read with its audit", "success", admission_read),
    Scenario("admission", "withdrawn, pending events purged", "success", withdrawn),
    Scenario("admission", "principal not allow-listed", "refused", admission_by_stranger),
    Scenario("admission", "owner id not canonical", "refused", admission_invalid),
    Scenario("admission", "admission table gone", "failure", admission_store_down),
    Scenario("release", "a batch of k organisations released", "success", released),
    Scenario("release", "below k: everything waits", "success", released_nothing),
    Scenario("release", "pending table gone", "failure", release_store_down),
    Scenario("calibration_query", "before the first release", "success", query_before_release),
    Scenario("calibration_query", "released numbers", "success", query_released),
    Scenario("calibration_query", "invalid rule id", "refused", query_invalid),
    Scenario("calibration_query", "internal caller not allow-listed", "refused",
             query_by_stranger),
    Scenario("calibration_query", "published table gone", "failure", query_store_down),
    Scenario("salt_rotator", "first rotation seeds the salt", "success", rotator_seeds),
    Scenario("salt_rotator", "monthly rotation", "success", rotator_rotates),
    Scenario("salt_rotator", "a step out of order", "failure", rotator_out_of_order),
    Scenario("salt_rotator", "a pending value of last month", "failure", rotator_stale_pending),
    Scenario("salt_age", "age measured", "success", salt_age_measured),
    Scenario("salt_age", "salt never seeded", "failure", salt_age_unseeded),
)  # fmt: skip


@contextmanager
def deployed(
    run: ProgramRun, code: str, changes: Mapping[str, str] | None = None
) -> Iterator[Deployed]:
    """A fresh moto account and the function loaded cold in it; everything undone afterwards."""
    with mock_aws(), cheap_key_pairs(), pytest.MonkeyPatch.context() as monkeypatch:
        yield Deployed(run, code, monkeypatch, changes)


def play(run: ProgramRun, scenario: Scenario, changes: Mapping[str, str] | None = None) -> Outcome:
    with deployed(run, scenario.code, changes) as d:
        return scenario.run(d)


def play_all(run: ProgramRun, scenarios: Iterable[Scenario]) -> dict[Scenario, Outcome]:
    """Each scenario in an emptied moto account. One mock and one boto3 session for all keep
    the loaded service models between them (a new session loads them again, 0.1 s each)."""
    outcomes: dict[Scenario, Outcome] = {}
    with mock_aws() as mock, cheap_key_pairs():
        session = boto3.Session(region_name=REGION)
        for scenario in scenarios:
            mock.reset()
            with pytest.MonkeyPatch.context() as monkeypatch:
                d = Deployed(run, scenario.code, monkeypatch, session=session)
                outcomes[scenario] = scenario.run(d)
    return outcomes
