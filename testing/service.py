"""The calibration service's functions wired to one moto account, as the program wires them.

``Service`` builds the contract's tables, an empty salt secret, the org key, and one
``Dependencies`` per function on moto-backed clients with a clock the caller moves. ``install``
puts them in place of each handler's ``dependencies()``, so requests run through the real
``handler`` entry points (Powertools decorators included). Construct it inside ``mock_aws()``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

from testing.aws import create_org_key, create_salt_secret, create_tables, rotate
from testing.lambdas import (
    ACCOUNT,
    REGION,
    LambdaContext,
    function_module,
    github_event,
    iam_event,
    load_handler,
    response_body,
)

ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:role/phase-mirror-operator"
ADMIN_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/phase-mirror-operator/alice"
INTERNAL_ARN = f"arn:aws:iam::{ACCOUNT}:role/phase-mirror-smoke-test"
INTERNAL_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/phase-mirror-smoke-test/ci"
FUNCTIONS = (
    "fp_ingestion",
    "consent",
    "admission",
    "release",
    "calibration_query",
    "salt_rotator",
    "salt_age",
)
Setter = Callable[[ModuleType, str, Any], None]


class Service:
    def __init__(
        self,
        *,
        now: datetime,
        k: int = 3,
        cap: int = 2,
        salt_cache_seconds: int = 0,
        prefix: str = "phase-mirror-test",
        tables: Mapping[str, str] | None = None,
        salt_name: str | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        """``tables`` (logical -> name) and ``salt_name`` name the tables and the salt secret
        as a program run declares them (testing/deployed.py); otherwise from ``prefix``.
        Services built on one ``session`` share its clients (each costs milliseconds)."""
        self.now = now
        self.ddb, self.sm, self.kms = _clients(session or boto3.Session(region_name=REGION))
        self.tables = create_tables(self.ddb, prefix, tables)
        self.org_key_arn = create_org_key(self.kms)
        self.salt_arn = create_salt_secret(
            self.sm, salt_name or f"/{prefix}/fp-calibration/hmac-salt"
        )
        self.modules = {name: load_handler(name) for name in FUNCTIONS}
        self.context = LambdaContext()
        self._ids = itertools.count(1)
        self.deps = self._dependencies(k, cap, salt_cache_seconds)

    def clock(self) -> datetime:
        return self.now

    def _dependencies(self, k: int, cap: int, cache_seconds: int) -> dict[str, Any]:
        m, t = self.modules, self.tables
        env = {
            "ENVIRONMENT": "staging",
            "ADMISSION_TABLE_NAME": t["admission"],
            "CONSENT_TABLE_NAME": t["consent"],
            "PENDING_TABLE_NAME": t["pending"],
            "DEDUP_TABLE_NAME": t["dedup"],
            "PUBLISHED_TABLE_NAME": t["published"],
            "SALT_SECRET_ID": self.salt_arn,
            "SALT_CACHE_SECONDS": str(cache_seconds),
            "ORG_KEY_ID": self.org_key_arn,
            "K_ANONYMITY": str(k),
            "MAX_EVENTS_PER_ORG": str(cap),
            "INTERNAL_PRINCIPAL_ARNS": json.dumps([INTERNAL_ARN]),
            "ADMIN_PRINCIPAL_ARNS": json.dumps([ADMIN_ARN]),
        }
        self.env = env

        def salts(seconds: int) -> Any:
            provider = SecretsProvider(boto3_client=self.sm)
            return function_module("fp_ingestion", "salt_cache").SaltSource(
                provider, self.salt_arn, seconds
            )

        orgs = function_module("fp_ingestion", "org_identity").OrgIdentity
        no_pause: Callable[[float], None] = lambda _: None  # noqa: E731 - moto answers at once
        return {
            "fp_ingestion": m["fp_ingestion"].Dependencies(
                settings=m["fp_ingestion"].Settings.from_env(env),
                dynamodb=self.ddb,
                salts=salts(cache_seconds),
                orgs=orgs(self.kms, self.org_key_arn),
                clock=self.clock,
                pause=no_pause,
            ),
            "consent": m["consent"].Dependencies(
                settings=m["consent"].Settings.from_env(env),
                dynamodb=self.ddb,
                salts=salts(0),
                orgs=orgs(self.kms, self.org_key_arn),
                clock=self.clock,
            ),
            "admission": m["admission"].Dependencies(
                settings=m["admission"].Settings.from_env(env),
                dynamodb=self.ddb,
                salts=salts(0),
                orgs=orgs(self.kms, self.org_key_arn),
                clock=self.clock,
            ),
            "release": m["release"].Dependencies(
                settings=m["release"].Settings.from_env(env),
                dynamodb=self.ddb,
                secrets=self.sm,
                clock=self.clock,
                pause=no_pause,
            ),
            "calibration_query": m["calibration_query"].Dependencies(
                settings=m["calibration_query"].Settings.from_env(env),
                dynamodb=self.ddb,
            ),
            "salt_rotator": m["salt_rotator"].Dependencies(
                secret_id=self.salt_arn, client=self.sm, clock=self.clock
            ),
            "salt_age": m["salt_age"].Dependencies(
                secret_id=self.salt_arn, environment="staging", client=self.sm, clock=self.clock
            ),
        }

    def install(self, setter: Setter) -> Service:
        """Every handler's ``dependencies()`` answers this service's wiring."""
        for name in self.deps:
            setter(self.modules[name], "dependencies", lambda name=name: self.deps[name])
        return self

    def restrict(self, function: str, session: boto3.Session) -> Any:
        """The function's AWS clients from ``session`` (e.g. one holding only its policy)."""
        ddb, sm, kms = (
            session.client(s, region_name=REGION) for s in ("dynamodb", "secretsmanager", "kms")
        )
        deps = self.deps[function]
        salt_cache = function_module(function, "salt_cache")
        org_identity = function_module(function, "org_identity")
        changes: dict[str, Any] = {}
        if hasattr(deps, "dynamodb"):
            changes["dynamodb"] = ddb
        if hasattr(deps, "salts"):
            seconds = deps.salts._max_age
            salts = salt_cache.SaltSource(SecretsProvider(boto3_client=sm), self.salt_arn, seconds)
            changes["salts"] = salts
        if hasattr(deps, "orgs"):
            changes["orgs"] = org_identity.OrgIdentity(kms, self.org_key_arn)
        if hasattr(deps, "secrets"):
            changes["secrets"] = sm
        if hasattr(deps, "client"):
            changes["client"] = sm
        return self.rewire(function, **changes)

    def rewire(self, function: str, **changes: Any) -> Any:
        """Replace some of a function's dependencies (e.g. a failing client); returns them."""
        self.deps[function] = dataclasses.replace(self.deps[function], **changes)
        return self.deps[function]

    # --- the salt ---------------------------------------------------------------------------

    def rotate_salt(self, token: str | None = None) -> str:
        """A whole rotation at ``now`` (the first one seeds the salt); returns the version."""
        token = token or str(uuid.uuid4())
        rotate(self.modules["salt_rotator"], self.deps["salt_rotator"], self.salt_arn, token)
        return token

    # --- requests -----------------------------------------------------------------------------

    def event(self, **changes: Any) -> dict[str, Any]:
        """A valid ingestion body (a fresh eventId, timestamp an hour ago) with ``changes``."""
        body = {
            "eventId": f"evt-{next(self._ids):06d}",
            "ruleId": "MD-003",
            "isFalsePositive": True,
            "timestamp": (self.now - timedelta(hours=1)).isoformat(),
            **changes,
        }
        return {k: v for k, v in body.items() if v is not None}

    def call(self, function: str, event: object) -> Any:
        return self.modules[function].handler(event, self.context)

    def ingest(self, owner: str, body: object = None, **changes: Any) -> tuple[int, dict[str, Any]]:
        payload = body if body is not None else self.event(**changes)
        return response_body(self.call("fp_ingestion", github_event(owner, body=payload)))

    def ingest_internal(
        self, body: object, user_arn: str = INTERNAL_SESSION
    ) -> tuple[int, dict[str, Any]]:
        return response_body(self.call("fp_ingestion", iam_event(user_arn, body=body)))

    def consent(self, owner: str, method: str, body: object = None) -> tuple[int, dict[str, Any]]:
        event = github_event(owner, method=method, path="/fp/consent", body=body)
        return response_body(self.call("consent", event))

    def admin(
        self, method: str, owner: str, body: object = None, user_arn: str = ADMIN_SESSION
    ) -> tuple[int, dict[str, Any]]:
        event = iam_event(
            user_arn,
            method=method,
            path=f"/admin/admissions/{owner}",
            route="/admin/admissions/{ownerId}",
            body=body,
            path_parameters={"ownerId": owner},
        )
        return response_body(self.call("admission", event))

    def join(self, owner: str) -> None:
        """Admitted by an operator and consenting, through the functions themselves."""
        assert self.admin("PUT", owner)[0] == 200
        assert self.consent(owner, "PUT", {"consentType": "explicit"})[0] == 200

    def release(self) -> dict[str, int]:
        return self.call("release", {"source": "aws.scheduler"})

    def query(self, rule: str = "MD-003", owner: str = "1") -> tuple[int, dict[str, Any]]:
        event = github_event(
            owner,
            method="GET",
            path=f"/fp/calibrate/{rule}",
            route="/fp/calibrate/{ruleId}",
            path_parameters={"ruleId": rule},
        )
        return response_body(self.call("calibration_query", event))

    # --- what is stored -------------------------------------------------------------------------

    def items(self, logical: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.tables[logical]}
        items: list[dict[str, Any]] = []
        while True:
            page = self.ddb.scan(**request)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def snapshot(self) -> dict[str, list[str]]:
        """Every stored item of every table, comparable: did a request write anything?"""
        return {
            logical: sorted(json.dumps(i, sort_keys=True) for i in self.items(logical))
            for logical in self.tables
        }

    def stored_text(self) -> str:
        return json.dumps(self.snapshot())


@functools.lru_cache(maxsize=2)
def _clients(session: boto3.Session) -> tuple[Any, Any, Any]:
    return (
        session.client("dynamodb", region_name=REGION),
        session.client("secretsmanager", region_name=REGION),
        session.client("kms", region_name=REGION),
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
