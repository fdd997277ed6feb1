"""Every function's paths, run as the program deploys it, for the metric contract.

A ``Scenario`` drives one function (``lambdas/<code>``) through one path against a fresh moto
account built from the staging program's declarations: its tables, its salt secret, and the
function's declared environment (table names, the secret's ARN, ``ENVIRONMENT`` and
``POWERTOOLS_METRICS_NAMESPACE``), loaded cold. The handler's EMF output, its HTTP status and
any exception make its ``Outcome``. tests/lambdas/test_metric_contract.py holds the alarms to
what these paths emit.

A function added to ``lambdas/`` plugs in by adding its scenarios to ``SCENARIOS``; the
contract fails until it has at least one ``success`` and one ``failure`` path. Kinds:
``success`` (a normal answer, even a refusal below k or a dropped event), ``refused`` (the
caller's fault: a 4xx), ``failure`` (a dependency of ours failed: a 5xx answer or an error).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Literal

import boto3
import pytest
from moto import mock_aws

from components.calibration_store import Index
from tests.lambdas import emf
from tests.lambdas.harness import (
    LambdaContext,
    begin_rotation,
    create_table,
    load_handler,
    salt_document,
)
from tools.mock_program import ProgramRun, Resource

Kind = Literal["success", "refused", "failure"]
FUNCTION = "aws:lambda/function:Function"


@dataclass(frozen=True)
class Outcome:
    points: tuple[emf.MetricPoint, ...]
    statuses: tuple[int, ...] = ()  # HTTP statuses answered, for functions that answer HTTP
    raised: str | None = None  # the exception class, when the handler raised


def code_of(function: Resource) -> str:
    """The ``lambdas/`` folder a function's package was built from."""
    return function.inputs["code"].assets["handler.py"].path.split("/")[1]


def function_for(run: ProgramRun, code: str) -> Resource:
    (function,) = [f for f in run.of_type(FUNCTION) if code_of(f) == code]
    return function


class Deployed:
    """One function as the program deploys it, in a fresh moto account (see module docstring)."""

    def __init__(
        self,
        run: ProgramRun,
        code: str,
        monkeypatch: pytest.MonkeyPatch,
        env: Mapping[str, str] | None = None,
    ) -> None:
        function = function_for(run, code)
        self.name: str = function.inputs["name"]
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.sm = boto3.client("secretsmanager", region_name="us-east-1")
        self.tables = {t.inputs["name"] for t in run.of_type("aws:dynamodb/table:Table")}
        for table in run.of_type("aws:dynamodb/table:Table"):
            inputs = table.inputs
            create_table(
                self.ddb,
                name=inputs["name"],
                hash_key=inputs["hashKey"],
                range_key=inputs.get("rangeKey"),
                indexes=[
                    Index(
                        gsi["name"],
                        gsi["keySchemas"][0]["attributeName"],
                        gsi["keySchemas"][1]["attributeName"]
                        if len(gsi["keySchemas"]) > 1
                        else None,
                    )
                    for gsi in inputs.get("globalSecondaryIndexes") or []
                ],
                ttl_attribute=(inputs.get("ttl") or {}).get("attributeName"),
            )
        (secret,) = [
            s
            for s in run.of_type("aws:secretsmanager/secret:Secret")
            if s.inputs["name"].endswith("/fp-calibration/hmac-salt")
        ]
        # Created without a value: each scenario decides whether a salt exists.
        self.salt_arn: str = self.sm.create_secret(Name=secret.inputs["name"])["ARN"]
        declared = dict(env if env is not None else function.inputs["environment"]["variables"])
        for name, value in declared.items():
            monkeypatch.setenv(name, value.replace(secret.outputs["arn"], self.salt_arn))
        self.env = {k: v.replace(secret.outputs["arn"], self.salt_arn) for k, v in declared.items()}
        # A cold container: the module is loaded afresh under this environment (Powertools
        # reads the namespace when its Metrics object is built).
        copy = f"lambda_{code}_deployed"
        sys.modules.pop(copy, None)
        self.module: ModuleType = load_handler(code, copy="deployed")

    def put_salt(self, document: Mapping[str, str] | None = None) -> None:
        month = datetime.now(UTC).strftime("%Y-%m")
        value = document or salt_document(
            bytes([7]) * 32, month, previous=(bytes([6]) * 32, "2000-01")
        )
        self.sm.put_secret_value(SecretId=self.salt_arn, SecretString=json.dumps(value))

    def invoke(self, *events: object) -> Outcome:
        """Each event in turn, in one container; stops at the first exception."""
        out, statuses, raised = io.StringIO(), [], None
        metrics = getattr(self.module, "metrics", None)
        if metrics is not None:
            metrics.clear_metrics()  # Powertools keeps its metric set at class level
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


@dataclass(frozen=True)
class Scenario:
    code: str
    name: str
    kind: Kind
    run: Callable[[Deployed], Outcome]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


# --- fp-ingestion ------------------------------------------------------------------------------


def fp_event(**changes: Any) -> dict[str, Any]:
    """An event of today (no timestamp: the function stamps it now)."""
    payload = {"orgId": "acme-corp", "ruleId": "MD-003", "isFalsePositive": True, "eventId": "e-1"}
    return {**payload, **changes}


def consent(d: Deployed, org: str = "acme-corp") -> None:
    d.ddb.put_item(
        TableName=d.env["CONSENT_TABLE_NAME"],
        Item={"orgId": {"S": org}, "consentType": {"S": "explicit"}},
    )


def ingest_stored(d: Deployed) -> Outcome:
    d.put_salt()
    consent(d)
    return d.invoke(fp_event())


def ingest_no_consent(d: Deployed) -> Outcome:
    d.put_salt()
    return d.invoke(fp_event(orgId="no-consent-org"))


def ingest_invalid(d: Deployed) -> Outcome:
    d.put_salt()
    return d.invoke(fp_event(ruleId="not a rule"))


def ingest_consent_store_down(d: Deployed) -> Outcome:
    d.put_salt()
    d.ddb.delete_table(TableName=d.env["CONSENT_TABLE_NAME"])
    return d.invoke(fp_event())


def ingest_salt_missing(d: Deployed) -> Outcome:
    consent(d)  # the secret exists but holds no value
    return d.invoke(fp_event())


def ingest_event_store_down(d: Deployed) -> Outcome:
    d.put_salt()
    consent(d)
    d.ddb.delete_table(TableName=d.env["CALIBRATION_TABLE_NAME"])
    return d.invoke(fp_event())


# --- calibration-query -------------------------------------------------------------------------


def query_answered(d: Deployed) -> Outcome:
    return d.invoke({"ruleId": "MD-003"})


def query_invalid(d: Deployed) -> Outcome:
    return d.invoke({"ruleId": "md-3"})


def query_store_down(d: Deployed) -> Outcome:
    d.ddb.delete_table(TableName=d.env["AGGREGATES_TABLE_NAME"])
    return d.invoke({"ruleId": "MD-003"})


# --- salt-rotator --------------------------------------------------------------------------------

TOKEN = "11111111-2222-3333-4444-555555555555"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def rotation(d: Deployed) -> Outcome:
    begin_rotation(d.salt_arn, TOKEN)
    return d.invoke(
        *({"SecretId": d.salt_arn, "ClientRequestToken": TOKEN, "Step": s} for s in STEPS)
    )


def rotate(d: Deployed) -> Outcome:
    d.put_salt(salt_document(bytes([5]) * 32, "2000-01"))
    return rotation(d)


def rotate_malformed_current(d: Deployed) -> Outcome:
    d.sm.put_secret_value(SecretId=d.salt_arn, SecretString=json.dumps({"salt": "short"}))
    return rotation(d)


# --- salt-age-check --------------------------------------------------------------------------------


def salt_age_measured(d: Deployed) -> Outcome:
    d.put_salt()
    return d.invoke({})


def salt_age_no_salt(d: Deployed) -> Outcome:
    return d.invoke({})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("fp_ingestion", "event stored", "success", ingest_stored),
    Scenario("fp_ingestion", "no consent: dropped", "success", ingest_no_consent),
    Scenario("fp_ingestion", "invalid field", "refused", ingest_invalid),
    Scenario("fp_ingestion", "consent store unavailable", "failure", ingest_consent_store_down),
    Scenario("fp_ingestion", "salt unreadable", "failure", ingest_salt_missing),
    Scenario("fp_ingestion", "event store unavailable", "failure", ingest_event_store_down),
    Scenario("calibration_query", "answered", "success", query_answered),
    Scenario("calibration_query", "invalid rule id", "refused", query_invalid),
    Scenario("calibration_query", "aggregates unavailable", "failure", query_store_down),
    Scenario("salt_rotator", "four steps", "success", rotate),
    Scenario("salt_rotator", "current salt malformed", "failure", rotate_malformed_current),
    Scenario("salt_age", "age measured", "success", salt_age_measured),
    Scenario("salt_age", "no salt in the secret", "failure", salt_age_no_salt),
)


@contextmanager
def deployed(
    run: ProgramRun, code: str, env: Mapping[str, str] | None = None
) -> Iterator[Deployed]:
    """A fresh moto account and the function loaded cold in it; everything undone afterwards."""
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        yield Deployed(run, code, monkeypatch, env)


def play(run: ProgramRun, scenario: Scenario, env: Mapping[str, str] | None = None) -> Outcome:
    with deployed(run, scenario.code, env) as d:
        return scenario.run(d)


def play_all(run: ProgramRun, scenarios: Iterable[Scenario]) -> dict[Scenario, Outcome]:
    """Each scenario in an emptied moto account. One mock for all keeps boto3's session (and
    its loaded service models) between them: a new session per scenario costs a second."""
    outcomes: dict[Scenario, Outcome] = {}
    with mock_aws() as mock:
        for scenario in scenarios:
            mock.reset()
            with pytest.MonkeyPatch.context() as monkeypatch:
                outcomes[scenario] = scenario.run(Deployed(run, scenario.code, monkeypatch))
    return outcomes
