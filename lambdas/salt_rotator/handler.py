"""salt-rotator: the Secrets Manager rotation function of the HMAC salt.

Secrets Manager calls it with ``{"SecretId", "ClientRequestToken", "Step"}`` for each of the four
steps and retries any step that fails, so every step is idempotent for its token:

- createSecret: stores ``{salt, rotationMonth, rotatedAt, versionId, previousSalt,
  previousRotationMonth}`` under AWSPENDING for the token, unless that version already holds a
  usable value (a retry never makes a second salt). With no AWSCURRENT at all it seeds the
  first salt, without ``previous*``: the secret is created empty, so no salt enters Pulumi state.
- setSecret: nothing holds the salt outside the secret, so there is nothing to set.
- testSecret: checks the pending value's shape, month, ``versionId`` and ``previousSalt``.
- finishSecret: moves AWSCURRENT to the token (Secrets Manager moves AWSPREVIOUS itself); when
  no version holds AWSCURRENT yet it attaches it without ``RemoveFromVersionId``.

Each step after createSecret first requires the value createSecret stored: a step out of order
changes nothing and fails (``RotationStepRefused``). A pending value that is *stale* (another
month, not built on the current salt, another version's) is never promoted: while AWSPENDING
sits on it, Secrets Manager reports a rotation in progress and every retry reuses its token,
whose value cannot change. So the step removes that version's AWSPENDING label, counts
``StalePendingSaltRefused`` and fails; the next rotation starts with a new token. It manages
exactly one secret (``SALT_SECRET_ID``, its ARN) and never logs a salt.
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
from typing import Any, Literal, cast, get_args

from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import Metrics
from botocore.exceptions import ClientError

# Siblings: lambdas/shared/, at the package's root.
from salt_secret_deps import SaltSecretDependencies
from telemetry import count, tag_environment
from utc_text import utc_text

SALT_ROTATED = "SaltRotated"
STALE_PENDING_SALT_REFUSED = "StalePendingSaltRefused"
ROTATION_STEP_REFUSED = "RotationStepRefused"

SALT_BYTES = 32
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
VERSION_ID = re.compile(r"[A-Za-z0-9-]{32,64}")
Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
STEPS: tuple[str, ...] = get_args(Step)

logger = Logger()
metrics = Metrics(service="")


class RotationRefused(ValueError):
    """The request is not one this function may act on; the step fails and nothing changes."""


class InvalidSaltValue(ValueError):
    """A secret value that is not a well-formed salt document (the message never holds a salt)."""


class StalePending(RuntimeError):
    """The pending value must never be promoted; its AWSPENDING label has been removed."""


@dataclass(frozen=True, kw_only=True)
class RotationEvent:
    secret_id: str
    token: str
    step: Step


Dependencies = SaltSecretDependencies


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    return Dependencies.production(os.environ)


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
    version = value.get("versionId")
    if not isinstance(version, str) or not VERSION_ID.fullmatch(version):
        raise InvalidSaltValue("versionId must be a Secrets Manager version id")
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
    current: Mapping[str, object] | None,
    now: datetime,
    token: str,
    token_bytes: Callable[[int], bytes],
) -> dict[str, str]:
    """The next salt document: a fresh salt, and the current one kept for the month's overlap."""
    value = {
        "salt": base64.b64encode(token_bytes(SALT_BYTES)).decode(),
        "rotationMonth": now.astimezone(UTC).strftime("%Y-%m"),
        "rotatedAt": utc_text(now),
        "versionId": token,
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


def stale_reason(
    value: Mapping[str, object], token: str, current: Mapping[str, object] | None, now: datetime
) -> str | None:
    """Why a well-formed pending value must not become current, or None."""
    if value.get("versionId") != token:
        return "the pending value belongs to another version"
    if value.get("rotationMonth") != now.astimezone(UTC).strftime("%Y-%m"):
        return "the pending value was made in another month"
    if current is None:
        return (
            "the pending value keeps a previous salt, but none exists"
            if ("previousSalt" in value)
            else None
        )
    if value.get("previousSalt") != current.get("salt"):
        return "the pending value does not keep the current salt as its previous salt"
    return None


def pending_value(deps: Dependencies, token: str) -> dict[str, Any] | None:
    """The token's pending value, checked; None before createSecret stored one.

    A malformed or stale value loses its AWSPENDING label and raises ``StalePending``."""
    try:
        value = _read(deps, VersionId=token, VersionStage="AWSPENDING")
        if value is None:
            return None
        validate_value(value)
    except InvalidSaltValue as exc:
        value, reason = {}, f"the pending value is malformed: {exc}"
    else:
        reason = stale_reason(value, token, _read(deps, VersionStage="AWSCURRENT"), deps.clock())
    if reason is None:
        return value
    deps.client.update_secret_version_stage(
        SecretId=deps.secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    count(metrics, STALE_PENDING_SALT_REFUSED)
    logger.error("stale pending salt refused", extra={"token": token, "reason": reason})
    raise StalePending(f"{reason}: AWSPENDING removed, the next rotation starts afresh")


def required_pending(deps: Dependencies, token: str, step: str) -> dict[str, Any]:
    value = pending_value(deps, token)
    if value is None:
        raise RotationRefused(f"{step}: the pending version has no value; createSecret has not run")
    return value


def create_secret(
    deps: Dependencies, token: str, token_bytes: Callable[[int], bytes] = secrets.token_bytes
) -> None:
    if pending_value(deps, token) is not None:
        logger.info("createSecret: pending value already exists", extra={"token": token})
        return
    current = _read(deps, VersionStage="AWSCURRENT")
    if current is not None:
        validate_value(current)
    value = new_value(current, deps.clock(), token, token_bytes)
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


def finish_secret(deps: Dependencies, token: str, stages: Mapping[str, list[str]]) -> None:
    value = required_pending(deps, token, "finishSecret")
    current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    moved: dict[str, str] = {"MoveToVersionId": token}
    if current is not None:
        moved["RemoveFromVersionId"] = current
    # With no AWSCURRENT yet (the seeding rotation) AWS attaches it without RemoveFromVersionId.
    deps.client.update_secret_version_stage(
        SecretId=deps.secret_id, VersionStage="AWSCURRENT", **moved
    )
    count(metrics, SALT_ROTATED)
    # The spec's Logs Insights query on rotation history filters on this exact text.
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
        required_pending(deps, request.token, "setSecret")
        logger.info("setSecret: the salt lives only in this secret; nothing to set")
    elif request.step == "testSecret":
        required_pending(deps, request.token, "testSecret")
        logger.info("testSecret: pending value is well-formed", extra={"token": request.token})
    else:
        finish_secret(deps, request.token, stages)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> None:
    deps = dependencies()
    tag_environment(metrics, deps.environment)
    try:
        rotate(event, deps)
    except RotationRefused:
        count(metrics, ROTATION_STEP_REFUSED)
        raise
