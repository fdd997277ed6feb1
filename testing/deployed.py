"""The calibration service as a run of the program declares it, in a moto account.

A run of ``__main__.py`` under mocks (testing/program.py) registers each function with its
package (``lambdas/<folder>/``), environment and one inline role policy, and the tables and the
salt secret they name. ``account`` builds a ``Service`` (testing/service.py) whose tables and
salt secret carry the declared names; moto gives the secret and the org key other ARNs than the
mocks do, so ``Account.moto`` rewrites those, and nothing else, in a declared environment or
policy. A handler can then run with exactly what the program deploys: the metric contract runs
each function with its declared environment, the least-privilege proof with its declared policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from testing.aws import TABLES
from testing.program import ProgramRun, Resource
from testing.service import Service

FUNCTION = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SALT_NAME_SUFFIX = "/fp-calibration/hmac-salt"


def code_of(function: Resource) -> str:
    """The ``lambdas/`` folder a function's package was built from."""
    return function.inputs["code"].assets["handler.py"].path.split("/")[-2]


def function_for(run: ProgramRun, code: str) -> Resource:
    (function,) = [f for f in run.of_type(FUNCTION) if code_of(f) == code]
    return function


def deployed_codes(run: ProgramRun) -> set[str]:
    return {code_of(f) for f in run.of_type(FUNCTION)}


def declared_tables(run: ProgramRun) -> dict[str, str]:
    """logical -> the table name the run declares, each with the contract's keys and TTL."""
    names: dict[str, str] = {}
    for logical, shape in TABLES.items():
        (table,) = [t for t in run.of_type(TABLE) if f"-{shape.role}-" in t.inputs["name"]]
        inputs = table.inputs
        declared = (
            inputs["hashKey"],
            inputs.get("rangeKey"),
            (inputs.get("ttl") or {}).get("attributeName"),
        )
        expected = (shape.hash_key, shape.range_key, shape.ttl_attribute)
        assert declared == expected, f"{table.urn}: keys and TTL {declared}, moto's {expected}"
        names[logical] = inputs["name"]
    return names


def salt_secret(run: ProgramRun) -> Resource:
    (secret,) = [
        s
        for s in run.of_type("aws:secretsmanager/secret:Secret")
        if s.inputs["name"].endswith(SALT_NAME_SUFFIX)
    ]
    return secret


def org_key_arn(run: ProgramRun) -> str:
    """The org key every pseudonym function is given (one key for all of them)."""
    (arn,) = {
        f.inputs["environment"]["variables"]["ORG_KEY_ID"]
        for f in run.of_type(FUNCTION)
        if "ORG_KEY_ID" in f.inputs["environment"]["variables"]
    }
    return arn


@dataclass(frozen=True)
class Account:
    """A moto account holding what ``run`` declares, and the ARNs moto gave it."""

    run: ProgramRun
    service: Service
    moto_arns: dict[str, str]  # the mocks' ARN -> moto's, for the resources moto names itself

    def moto(self, text: str) -> str:
        for declared, actual in self.moto_arns.items():
            text = text.replace(declared, actual)
        return text

    def environment(self, code: str) -> dict[str, str]:
        """The function's declared environment, every value as deployed but moto's ARNs."""
        variables = function_for(self.run, code).inputs["environment"]["variables"]
        return {name: self.moto(value) for name, value in variables.items()}

    def policy_document(self, code: str) -> dict[str, Any]:
        """The one inline policy the run registers for the function's role, on moto's ARNs."""
        role = function_for(self.run, code).inputs["role"].rsplit("/", 1)[-1]
        (policy,) = [p for p in self.run.of_type(ROLE_POLICY) if p.inputs["role"] == role]
        return json.loads(self.moto(policy.inputs["policy"]))


def account(run: ProgramRun, *, now: datetime, **service: Any) -> Account:
    """A ``Service`` on the declared table and secret names (construct inside ``mock_aws()``)."""
    secret = salt_secret(run)
    built = Service(
        now=now, tables=declared_tables(run), salt_name=secret.inputs["name"], **service
    )
    arns = {secret.outputs["arn"]: built.salt_arn, org_key_arn(run): built.org_key_arn}
    return Account(run=run, service=built, moto_arns=arns)
