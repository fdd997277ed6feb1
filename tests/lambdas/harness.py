"""Helpers of the Lambda tests: handlers loaded by path, the moto tables and salt secret, call and
log recording. The fixtures built on them live in conftest.py.

Every function directory is deployed alone, so the handlers are loaded from their files rather
than imported as a package. ``create_table`` and ``create_salt_secret`` are the one place the
moto resources are made; conftest feeds ``create_table`` the program's own declarations
(``components.calibration_store.TABLES``) so the tests and the program cannot drift apart.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from moto.secretsmanager.models import secretsmanager_backends

from components.alarm_catalog import SERVICE_NAMESPACE

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
EVENTS = Path(__file__).resolve().parent / "events"

# Dummy credentials before any client exists: nothing in these tests may ever reach AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "fp-calibration-test",
        # The program's one definition, as the functions receive it: never a copy.
        "POWERTOOLS_METRICS_NAMESPACE": SERVICE_NAMESPACE,
    }
)


def load_handler(function: str, *, copy: str = "") -> ModuleType:
    """``lambdas/<function>/handler.py`` as module ``lambda_<function>`` (loaded once); a named
    ``copy`` is a separate instance, e.g. to import it under another environment."""
    name = f"lambda_{function}{copy and '_' + copy}"
    if name in sys.modules:
        return sys.modules[name]
    # As in Lambda, the function's own directory is the root of its imports.
    if str(LAMBDAS / function) not in sys.path:
        sys.path.append(str(LAMBDAS / function))
    spec = importlib.util.spec_from_file_location(name, LAMBDAS / function / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def function_module(function: str, module: str) -> ModuleType:
    """A sibling module of a function's handler, e.g. ``function_module("fp_ingestion", "fp_event")``."""
    load_handler(function)
    return importlib.import_module(module)


def event_fixture(name: str) -> Any:
    """A JSON event from tests/lambdas/events/."""
    return json.loads((EVENTS / name).read_text())


def http_event(*, body: str | None = None, path: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) request, from the recorded fixture."""
    event = event_fixture("http_api_v2.json")
    event["body"] = body
    event["pathParameters"] = path
    return event


class IndexShape(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def hash_key(self) -> str: ...
    @property
    def range_key(self) -> str | None: ...


def create_table(
    ddb: Any,
    *,
    name: str,
    hash_key: str,
    range_key: str | None = None,
    indexes: Sequence[IndexShape] = (),
    ttl_attribute: str | None = None,
) -> str:
    """A string-keyed on-demand table with its GSIs (projection ALL) and TTL, as the program has."""
    attributes = [hash_key, *([range_key] if range_key else [])]
    for index in indexes:
        attributes += [index.hash_key, *([index.range_key] if index.range_key else [])]
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            *([{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []),
        ],
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in dict.fromkeys(attributes)
        ],
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.hash_key, "KeyType": "HASH"},
                    *(
                        [{"AttributeName": index.range_key, "KeyType": "RANGE"}]
                        if index.range_key
                        else []
                    ),
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in indexes
        ]
    ddb.create_table(**request)
    if ttl_attribute:
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
        )
    return name


def create_program_tables(ddb: Any, logicals: Sequence[str], prefix: str) -> dict[str, str]:
    """The program's tables (``components.calibration_store.TABLES``) named ``{prefix}-{role}``."""
    from components.calibration_store import TABLES

    return {
        logical: create_table(
            ddb,
            name=f"{prefix}-{TABLES[logical].role}",
            hash_key=TABLES[logical].hash_key,
            range_key=TABLES[logical].range_key,
            indexes=TABLES[logical].indexes,
            ttl_attribute=TABLES[logical].ttl_attribute,
        )
        for logical in logicals
    }


def salt_document(
    salt: bytes,
    month: str,
    rotated_at: str | None = None,
    previous: tuple[bytes, str] | None = None,
) -> dict[str, str]:
    """The secret's JSON: ``{salt, rotationMonth, rotatedAt[, previousSalt, previousRotationMonth]}``."""
    document = {
        "salt": base64.b64encode(salt).decode(),
        "rotationMonth": month,
        "rotatedAt": rotated_at or f"{month}-01T00:00:00Z",
    }
    if previous is not None:
        document["previousSalt"] = base64.b64encode(previous[0]).decode()
        document["previousRotationMonth"] = previous[1]
    return document


def create_salt_secret(sm: Any, *, name: str, value: dict[str, str] | None) -> str:
    """The salt secret; with ``value`` None it has no version yet (a seeding rotation's start)."""
    request: dict[str, Any] = {"Name": name}
    if value is not None:
        request["SecretString"] = json.dumps(value)
    return sm.create_secret(**request)["ARN"]


def begin_rotation(arn: str, token: str, *, enabled: bool = True) -> None:
    """What Secrets Manager does before calling createSecret: a version for the token, staged
    AWSPENDING with no value, with rotation turned on. moto's ``rotate_secret`` would try to run
    the function (that needs Docker), so the state is set directly in moto's backend."""
    secret = secretsmanager_backends[ACCOUNT][REGION].secrets[arn]
    secret.rotation_requested = True
    secret.rotation_enabled = enabled
    secret.rotation_lambda_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:salt-rotator"
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {
        "createdate": int(datetime.now(UTC).timestamp()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }


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
        self.values, self.read = values, set[str]()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class LambdaContext:
    function_name: str = "phase-mirror-test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def response_body(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(statusCode, parsed body) of a handler's HTTP API response."""
    return response["statusCode"], json.loads(response["body"])
