"""salt-rotator: the Secrets Manager rotation function of the HMAC salt.

Secrets Manager calls it with ``{"SecretId", "ClientRequestToken", "Step"}`` for each of the four
steps and retries any step that fails, so every step is idempotent for its token:

- createSecret: stores ``{salt, rotationMonth, rotatedAt, previousSalt, previousRotationMonth}``
  under AWSPENDING for the token, unless that version already has a value (a retry never makes a
  second salt). With no AWSCURRENT at all it seeds the first salt, without ``previous*``.
- setSecret: nothing holds the salt outside the secret, so there is nothing to set.
- testSecret: checks the pending value's shape.
- finishSecret: moves AWSCURRENT to the token (Secrets Manager moves AWSPREVIOUS itself).

It manages exactly one secret (``SALT_SECRET_ID``, its ARN) and refuses any other secret, a token
that is not a staged version, and a secret whose rotation is disabled. It never logs a salt.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, TypeAlias, cast, get_args

import boto3
from aws_lambda_powertools.logging.logger import Logger
from botocore.exceptions import ClientError

ENV_VARS: tuple[str, ...] = ("SALT_SECRET_ID",)

SALT_BYTES = 32
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
STEPS: tuple[str, ...] = get_args(Step)
# boto3 ships no type stubs and the project adds no stub dependency.
SecretsManagerClient: TypeAlias = Any

logger = Logger()


class RotationRefused(ValueError):
    """The request is not one this function may act on; the step fails and nothing changes."""


class InvalidSaltValue(ValueError):
    """A secret value that is not a well-formed salt document (the message never holds a salt)."""


@dataclass(frozen=True, kw_only=True)
class RotationEvent:
    secret_id: str
    token: str
    step: Step


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    """What the handler talks to; tests build one with moto-backed clients and a fixed clock."""

    secret_id: str
    client: SecretsManagerClient
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    return Dependencies(
        secret_id=os.environ["SALT_SECRET_ID"], client=boto3.client("secretsmanager")
    )


def parse_event(event: object) -> RotationEvent:
    if not isinstance(event, Mapping):
        raise RotationRefused("event must be a JSON object")
    event = cast(Mapping[str, object], event)
    fields: dict[str, str] = {}
    for key in ("SecretId", "ClientRequestToken", "Step"):
        value = event.get(key)
        if not isinstance(value, str) or not value:
            raise RotationRefused(f"event field {key} must be a non-empty string")
        fields[key] = value
    if fields["Step"] not in STEPS:
        raise RotationRefused(f"event field Step must be one of {', '.join(STEPS)}")
    return RotationEvent(
        secret_id=fields["SecretId"],
        token=fields["ClientRequestToken"],
        step=cast(Step, fields["Step"]),
    )


def decode_salt(value: object, key: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidSaltValue(f"{key} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSaltValue(f"{key} is not valid base64") from exc
    if len(raw) != SALT_BYTES:
        raise InvalidSaltValue(f"{key} must decode to {SALT_BYTES} bytes, not {len(raw)}")
    return raw


def check_month(value: object, key: str) -> str:
    if not isinstance(value, str) or not MONTH.fullmatch(value):
        raise InvalidSaltValue(f"{key} must be a month YYYY-MM")
    return value


def validate_value(value: Mapping[str, object]) -> None:
    """The shape every salt document must have; raises ``InvalidSaltValue`` naming the key."""
    salt = decode_salt(value.get("salt"), "salt")
    month = check_month(value.get("rotationMonth"), "rotationMonth")
    rotated_at = value.get("rotatedAt")
    try:
        parsed = datetime.fromisoformat(cast(str, rotated_at))
    except (TypeError, ValueError) as exc:
        raise InvalidSaltValue("rotatedAt must be an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise InvalidSaltValue("rotatedAt must carry a UTC offset")
    has_previous = ("previousSalt" in value, "previousRotationMonth" in value)
    if any(has_previous) and not all(has_previous):
        raise InvalidSaltValue("previousSalt and previousRotationMonth come together")
    if all(has_previous):
        if decode_salt(value["previousSalt"], "previousSalt") == salt:
            raise InvalidSaltValue("salt must differ from previousSalt")
        if check_month(value["previousRotationMonth"], "previousRotationMonth") > month:
            raise InvalidSaltValue("previousRotationMonth must not be after rotationMonth")


def new_value(
    current: Mapping[str, object] | None, now: datetime, token_bytes: Callable[[int], bytes]
) -> dict[str, str]:
    """The next salt document: a fresh salt, and the current one kept for the month's overlap."""
    value = {
        "salt": base64.b64encode(token_bytes(SALT_BYTES)).decode(),
        "rotationMonth": now.astimezone(UTC).strftime("%Y-%m"),
        "rotatedAt": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if current is not None:
        value["previousSalt"] = cast(str, current["salt"])
        value["previousRotationMonth"] = cast(str, current["rotationMonth"])
    return value


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _read(deps: Dependencies, **version: str) -> dict[str, Any] | None:
    """A version's parsed value, or None when it has none (a pending version before createSecret)."""
    try:
        response = deps.client.get_secret_value(SecretId=deps.secret_id, **version)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    try:
        value = json.loads(response["SecretString"])
    except (KeyError, ValueError) as exc:
        raise InvalidSaltValue("secret value is not a JSON document") from exc
    if not isinstance(value, dict):
        raise InvalidSaltValue("secret value is not a JSON object")
    return value


def create_secret(
    deps: Dependencies, token: str, token_bytes: Callable[[int], bytes] = secrets.token_bytes
) -> None:
    if _read(deps, VersionId=token, VersionStage="AWSPENDING") is not None:
        logger.info("createSecret: pending value already exists", extra={"token": token})
        return
    current = _read(deps, VersionStage="AWSCURRENT")
    if current is not None:
        validate_value(current)
    value = new_value(current, deps.clock(), token_bytes)
    validate_value(value)
    deps.client.put_secret_value(
        SecretId=deps.secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps(value),
        VersionStages=["AWSPENDING"],
    )
    logger.info(
        "createSecret: new salt stored as AWSPENDING",
        extra={"token": token, "rotationMonth": value["rotationMonth"], "seeded": current is None},
    )


def verify_secret(deps: Dependencies, token: str) -> None:
    value = _read(deps, VersionId=token, VersionStage="AWSPENDING")
    if value is None:
        raise InvalidSaltValue("the pending version has no value; createSecret has not run")
    validate_value(value)
    logger.info("testSecret: pending value is well-formed", extra={"token": token})


def finish_secret(deps: Dependencies, token: str, stages: Mapping[str, list[str]]) -> None:
    current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    if current == token:
        logger.info("finishSecret: token already AWSCURRENT", extra={"token": token})
        return
    moved: dict[str, str] = {"MoveToVersionId": token}
    if current is not None:
        moved["RemoveFromVersionId"] = current
    deps.client.update_secret_version_stage(
        SecretId=deps.secret_id, VersionStage="AWSCURRENT", **moved
    )
    value = _read(deps, VersionId=token) or {}
    # Logs Insights query 3 of the spec filters on this exact text.
    logger.info(
        "Salt rotated successfully",
        extra={
            "rotationMonth": value.get("rotationMonth"),
            "previousRotationMonth": value.get("previousRotationMonth"),
            "token": token,
        },
    )


def rotate(event: object, deps: Dependencies) -> None:
    """Run one rotation step after the checks of AWS's rotation template."""
    request = parse_event(event)
    if request.secret_id != deps.secret_id:
        raise RotationRefused("this function rotates only the secret named in SALT_SECRET_ID")
    metadata = deps.client.describe_secret(SecretId=deps.secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationRefused("rotation is not enabled for the secret")
    stages: dict[str, list[str]] = metadata.get("VersionIdsToStages", {})
    if request.token not in stages:
        raise RotationRefused("the token is not a version of the secret")
    if "AWSCURRENT" in stages[request.token]:
        logger.info("token already AWSCURRENT: nothing to do", extra={"step": request.step})
        return
    if "AWSPENDING" not in stages[request.token]:
        raise RotationRefused("the token's version is not staged AWSPENDING")
    logger.info("rotation step", extra={"step": request.step, "token": request.token})
    if request.step == "createSecret":
        create_secret(deps, request.token)
    elif request.step == "setSecret":
        logger.info("setSecret: the salt lives only in this secret; nothing to set")
    elif request.step == "testSecret":
        verify_secret(deps, request.token)
    else:
        finish_secret(deps, request.token, stages)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: object) -> None:
    rotate(event, dependencies())
