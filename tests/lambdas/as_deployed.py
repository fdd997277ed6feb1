"""One function run as the program deploys it, in a fresh moto account.

``Deployed`` builds the moto account from what a program run declares (testing/deployed.py:
its tables and salt secret, under their names) and loads the function cold (Powertools reads
the metrics namespace when a handler module is loaded) with exactly its declared environment,
``POWERTOOLS_METRICS_NAMESPACE`` included; the handler builds its own clients as on Lambda. The
other functions prepare the state it meets through ``Deployed.service`` (testing/service.py).
``invoke`` returns the ``Outcome``: the EMF points the handler wrote, its HTTP statuses and the
exception it raised. tests/lambdas/scenarios.py runs every function's paths with it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Literal

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.kms.models import kms_backends

from testing.aws import cheap_key_pairs
from testing.deployed import Account, account, function_for
from testing.lambdas import ACCOUNT, REGION, LambdaContext, load_handler
from testing.program import ProgramRun
from testing.service import Service
from tests.lambdas import emf

Kind = Literal["success", "refused", "failure"]


@dataclass(frozen=True)
class Outcome:
    points: tuple[emf.MetricPoint, ...]
    statuses: tuple[int, ...] = ()  # HTTP statuses answered, for the functions behind the API
    raised: str | None = None  # the exception's class, when the handler raised


class Deployed:
    """One function as the program deploys it, in a fresh moto account (see the module)."""

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
        self._monkeypatch = monkeypatch
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

    def unreachable(self, service: str) -> None:
        """Every call the function's own clients make to ``service`` fails in transport, as
        when a VPC endpoint times out: botocore raises ``EndpointConnectionError`` and no
        answer arrives. Takes effect for clients built afterwards (the function builds its
        clients on its first invocation)."""

        def refuse(request: AWSPreparedRequest, **_: object) -> None:
            raise EndpointConnectionError(endpoint_url=request.url)

        build = boto3.client

        def client(name: str, *args: Any, **kwargs: Any) -> Any:
            made = build(name, *args, **kwargs)
            if name == service:
                made.meta.events.register_first("before-send", refuse)
            return made

        self._monkeypatch.setattr(boto3, "client", client)

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
