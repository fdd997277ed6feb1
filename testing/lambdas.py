"""Handlers loaded as Lambda loads them, HTTP API events of each kind of caller, and recording
of the AWS calls a handler makes.

Every function is deployed as its own folder plus ``lambdas/shared/``, both at the package's
root, so a handler is loaded from its file with those two folders on ``sys.path``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# The program's one definition, as the functions receive it: never a copy.
from components.observability.alarm_catalog import SERVICE_NAMESPACE as METRICS_NAMESPACE

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"
SHARED = LAMBDAS / "shared"
EVENTS = Path(__file__).resolve().parent / "events"

# Dummy credentials before any client exists: nothing here may ever reach AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "fp-calibration-test",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
)


def load_handler(function: str, *, copy_name: str = "") -> ModuleType:
    """``lambdas/<function>/handler.py`` as module ``lambda_<function>`` (loaded once); a named
    copy is a separate instance, e.g. to import it under another environment."""
    name = f"lambda_{function}{copy_name and '_' + copy_name}"
    if name in sys.modules:
        return sys.modules[name]
    for folder in (LAMBDAS / function, SHARED):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    spec = importlib.util.spec_from_file_location(name, LAMBDAS / function / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def function_module(function: str, module: str) -> ModuleType:
    """A sibling module of a handler, e.g. ``function_module("fp_ingestion", "fp_event")``."""
    load_handler(function)
    return importlib.import_module(module)


def event_template(name: str) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request recorded in testing/events/."""
    return json.loads((EVENTS / name).read_text())


_TEMPLATES: dict[str, dict[str, Any]] = {}


def _template(name: str) -> dict[str, Any]:
    if name not in _TEMPLATES:
        _TEMPLATES[name] = event_template(name)
    return copy.deepcopy(_TEMPLATES[name])


def _request(
    event: dict[str, Any],
    method: str,
    path: str,
    route: str,
    body: object,
    path_parameters: dict[str, str] | None,
) -> dict[str, Any]:
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    event["pathParameters"] = path_parameters
    # API Gateway gives every request its own id (the audit keys rely on it).
    event["requestContext"]["requestId"] = uuid.uuid4().hex[:16]
    return event


def github_event(
    owner_id: str | None,
    *,
    method: str = "POST",
    path: str = "/fp/ingest",
    route: str | None = None,
    body: object = None,
    path_parameters: dict[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A request through the GitHub Actions JWT authorizer, from ``owner_id``'s workflow."""
    event = _template("http_api_jwt.json")
    jwt_claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    if owner_id is None:
        del jwt_claims["repository_owner_id"]
    else:
        jwt_claims["repository_owner_id"] = owner_id
    jwt_claims.update(claims or {})
    return _request(event, method, path, route or path, body, path_parameters)


def iam_event(
    user_arn: str,
    *,
    account: str = ACCOUNT,
    method: str = "POST",
    path: str = "/internal/fp/ingest",
    route: str | None = None,
    body: object = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A request through an ``AWS_IAM`` route, signed by ``user_arn``."""
    event = _template("http_api_iam.json")
    iam = event["requestContext"]["authorizer"]["iam"]
    iam["userArn"], iam["accountId"] = user_arn, account
    return _request(event, method, path, route or path, body, path_parameters)


def record_calls(client: Any) -> list[str]:
    """The operation names the client sends from now on, e.g. ``['GetItem', 'PutItem']``."""
    calls: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    client.meta.events.register("before-call.*.*", record)
    return calls


class Recording(Mapping[str, str]):
    """An environment that remembers which variables a handler's settings read."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values, self.read = values, set[str]()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


# A valid value of every variable any function reads.
SAMPLE_ENV = {
    "ENVIRONMENT": "production",
    "ADMISSION_TABLE_NAME": "phase-mirror-org-admission-test",
    "CONSENT_TABLE_NAME": "phase-mirror-consent-store-test",
    "PENDING_TABLE_NAME": "phase-mirror-pending-events-test",
    "DEDUP_TABLE_NAME": "phase-mirror-event-dedup-test",
    "PUBLISHED_TABLE_NAME": "phase-mirror-calibration-published-test",
    "SALT_SECRET_ID": (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:/phase-mirror/test/hmac-salt-AbCdEf"
    ),
    "SALT_CACHE_SECONDS": "60",
    "ORG_KEY_ID": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "K_ANONYMITY": "12",
    "MAX_EVENTS_PER_ORG": "5",
    "INTERNAL_PRINCIPAL_ARNS": json.dumps([f"arn:aws:iam::{ACCOUNT}:role/phase-mirror-smoke-test"]),
    "ADMIN_PRINCIPAL_ARNS": "[]",
}


def variables_read(function: str, env: Mapping[str, str]) -> set[str]:
    """The variables ``function`` reads from ``env``: a handler takes every value of its
    environment through ``Settings.from_env`` or, where it has no settings (the functions that
    look after the salt secret), ``Dependencies.production``. The names are declared once, by
    the component deploying the function; tests compare the two."""
    module = load_handler(function)
    recording = Recording(dict(env))
    if hasattr(module, "Settings"):
        module.Settings.from_env(recording)
    else:
        module.Dependencies.production(recording)
    return recording.read


@dataclass
class LambdaContext:
    function_name: str = "phase-mirror-test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def response_body(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(statusCode, parsed body) of a handler's HTTP API response."""
    return response["statusCode"], json.loads(response["body"])


def mentions(text: str, value: str) -> bool:
    """Does ``value`` appear in ``text`` as a word of its own?

    Log lines carry hex digests, UUIDs and millisecond timestamps; a short organisation id such
    as ``1001`` turns up inside those by chance, which is not a leak. A leak is the id standing
    alone: a JSON value, a path segment or a word of a message."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None
