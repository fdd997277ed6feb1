"""salt-rotator: the four Secrets Manager rotation steps against moto, called in-process."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from tests.lambdas.conftest import Aws
from tests.lambdas.harness import (
    LambdaContext,
    begin_rotation,
    create_salt_secret,
    event_fixture,
    record_calls,
    salt_document,
)

OLD_SALT = bytes(range(32))
TOKEN = "11111111-2222-3333-4444-555555555555"
NOW = datetime(2026, 3, 1, 0, 0, 5, tzinfo=UTC)
SECRET_NAME = "/phase-mirror/test/fp-calibration/hmac-salt"


class Rotation:
    """A salt secret with February's salt, the rotator wired to it, and a step runner."""

    def __init__(self, module: ModuleType, aws: Aws, context: LambdaContext, value: Any) -> None:
        self.module = module
        self.aws = aws
        self.context = context
        self.arn = create_salt_secret(aws.sm, name=SECRET_NAME, value=value)
        self.deps = module.Dependencies(secret_id=self.arn, client=aws.sm, clock=lambda: NOW)
        self.calls = record_calls(aws.sm)

    def step(self, step: str, token: str = TOKEN, secret_id: str | None = None) -> None:
        event = {"SecretId": secret_id or self.arn, "ClientRequestToken": token, "Step": step}
        self.module.handler(event, self.context)

    def rotate(self, token: str = TOKEN) -> None:
        begin_rotation(self.arn, token)
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            self.step(step, token)

    def value(self, **version: str) -> dict[str, Any]:
        version = version or {"VersionStage": "AWSCURRENT"}
        response = self.aws.sm.get_secret_value(SecretId=self.arn, **version)
        return json.loads(response["SecretString"])

    def stages(self) -> dict[str, list[str]]:
        return self.aws.sm.describe_secret(SecretId=self.arn)["VersionIdsToStages"]


@pytest.fixture
def rotation(
    rotator: ModuleType, aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> Rotation:
    r = Rotation(rotator, aws, context, salt_document(OLD_SALT, "2026-02"))
    monkeypatch.setattr(rotator, "dependencies", lambda: r.deps)
    return r


def test_full_rotation_makes_new_salt_current_and_keeps_old_as_previous(
    rotation: Rotation, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN February's salt as AWSCURRENT WHEN the four steps run for a new token
    old_version = next(v for v, s in rotation.stages().items() if "AWSCURRENT" in s)
    rotation.rotate()
    # THEN the token is AWSCURRENT, the old version AWSPREVIOUS
    stages = rotation.stages()
    assert "AWSCURRENT" in stages[TOKEN], stages
    assert "AWSPREVIOUS" in stages[old_version], stages
    # AND the new value carries a fresh 32-byte salt and the old one for the overlap
    value = rotation.value()
    new_salt = base64.b64decode(value["salt"])
    assert len(new_salt) == 32 and new_salt != OLD_SALT
    assert value["rotationMonth"] == "2026-03"
    assert value["rotatedAt"] == "2026-03-01T00:00:05Z"
    assert base64.b64decode(value["previousSalt"]) == OLD_SALT
    assert value["previousRotationMonth"] == "2026-02"
    # AND the success line of Logs Insights query 3 names both months
    done = [line for line in logs() if line["message"] == "Salt rotated successfully"]
    assert [(d["rotationMonth"], d["previousRotationMonth"]) for d in done] == [
        ("2026-03", "2026-02")
    ]


def test_no_log_line_holds_a_salt(
    rotation: Rotation, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    rotation.rotate()
    value = rotation.value()
    text = json.dumps(logs())
    for secret in (value["salt"], value["previousSalt"]):
        assert secret not in text
    assert base64.b64encode(OLD_SALT).decode() not in text
    assert len(logs()) >= 4  # the capture works: every step logged something


def test_create_secret_retried_makes_one_salt(rotation: Rotation) -> None:
    begin_rotation(rotation.arn, TOKEN)
    rotation.step("createSecret")
    first = rotation.value(VersionId=TOKEN, VersionStage="AWSPENDING")
    rotation.step("createSecret")
    assert rotation.value(VersionId=TOKEN, VersionStage="AWSPENDING") == first
    assert rotation.calls.count("PutSecretValue") == 1, rotation.calls


@pytest.mark.parametrize("step", ["setSecret", "testSecret"])
def test_set_and_test_steps_retried_change_nothing(rotation: Rotation, step: str) -> None:
    begin_rotation(rotation.arn, TOKEN)
    rotation.step("createSecret")
    pending = rotation.value(VersionId=TOKEN, VersionStage="AWSPENDING")
    rotation.step(step)
    rotation.step(step)
    assert rotation.value(VersionId=TOKEN, VersionStage="AWSPENDING") == pending
    assert rotation.calls.count("PutSecretValue") == 1
    assert "UpdateSecretVersionStage" not in rotation.calls


def test_finish_secret_retried_moves_stages_once(rotation: Rotation) -> None:
    rotation.rotate()
    stages = rotation.stages()
    rotation.step("finishSecret")
    assert rotation.stages() == stages
    assert rotation.calls.count("UpdateSecretVersionStage") == 1, rotation.calls


def test_every_step_after_finish_is_a_no_op(rotation: Rotation) -> None:
    rotation.rotate()
    value = rotation.value()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.step(step)
    assert rotation.value() == value
    assert rotation.calls.count("PutSecretValue") == 1


def test_unknown_token_is_refused_and_nothing_written(
    rotator: ModuleType, rotation: Rotation
) -> None:
    begin_rotation(rotation.arn, TOKEN)
    with pytest.raises(rotator.RotationRefused, match="not a version"):
        rotation.step("createSecret", token="99999999-0000-0000-0000-000000000000")
    assert "PutSecretValue" not in rotation.calls


def test_previous_version_token_is_refused(rotator: ModuleType, rotation: Rotation) -> None:
    old_version = next(v for v, s in rotation.stages().items() if "AWSCURRENT" in s)
    rotation.rotate()
    with pytest.raises(rotator.RotationRefused, match="not staged AWSPENDING"):
        rotation.step("createSecret", token=old_version)


@pytest.mark.parametrize(
    "secret_id",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-secret-AbCdEf",
        SECRET_NAME,  # the name is refused too: Secrets Manager always sends the ARN
    ],
)
def test_foreign_secret_is_refused_before_any_call(
    rotator: ModuleType, rotation: Rotation, secret_id: str
) -> None:
    begin_rotation(rotation.arn, TOKEN)
    with pytest.raises(rotator.RotationRefused, match="SALT_SECRET_ID"):
        rotation.step("createSecret", secret_id=secret_id)
    assert rotation.calls == []


def test_rotation_disabled_is_refused(rotator: ModuleType, rotation: Rotation) -> None:
    begin_rotation(rotation.arn, TOKEN, enabled=False)
    with pytest.raises(rotator.RotationRefused, match="not enabled"):
        rotation.step("createSecret")
    assert "PutSecretValue" not in rotation.calls


@pytest.mark.parametrize(
    ("event", "match"),
    [
        ({"SecretId": "x", "ClientRequestToken": TOKEN}, "Step"),
        ({"SecretId": "x", "ClientRequestToken": TOKEN, "Step": "dropSecret"}, "Step"),
        ({"SecretId": "x", "Step": "createSecret"}, "ClientRequestToken"),
        ({"SecretId": 7, "ClientRequestToken": TOKEN, "Step": "createSecret"}, "SecretId"),
        ([], "JSON object"),
    ],
)
def test_malformed_rotation_event_is_refused(
    rotator: ModuleType, rotation: Rotation, event: Any, match: str
) -> None:
    with pytest.raises(rotator.RotationRefused, match=match):
        rotator.handler(event, rotation.context)
    assert rotation.calls == []


def test_recorded_rotation_event_fixture_parses(rotator: ModuleType) -> None:
    parsed = rotator.parse_event(event_fixture("rotation_create_secret.json"))
    assert (parsed.step, parsed.token) == ("createSecret", TOKEN)


def test_test_secret_rejects_a_malformed_pending_value(
    rotator: ModuleType, rotation: Rotation
) -> None:
    # GIVEN a pending version whose salt is 16 bytes (written by something else)
    begin_rotation(rotation.arn, TOKEN)
    bad = salt_document(bytes(16), "2026-03", previous=(OLD_SALT, "2026-02"))
    rotation.aws.sm.put_secret_value(
        SecretId=rotation.arn,
        ClientRequestToken=TOKEN,
        SecretString=json.dumps(bad),
        VersionStages=["AWSPENDING"],
    )
    with pytest.raises(rotator.InvalidSaltValue, match="32 bytes"):
        rotation.step("testSecret")


def test_test_secret_before_create_secret_fails(rotator: ModuleType, rotation: Rotation) -> None:
    begin_rotation(rotation.arn, TOKEN)
    with pytest.raises(rotator.InvalidSaltValue, match="createSecret has not run"):
        rotation.step("testSecret")


NEW = base64.b64encode(bytes([7]) * 32).decode()
OLD = base64.b64encode(OLD_SALT).decode()
GOOD = {
    "salt": NEW,
    "rotationMonth": "2026-03",
    "rotatedAt": "2026-03-01T00:00:05Z",
    "previousSalt": OLD,
    "previousRotationMonth": "2026-02",
}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"salt": "not base64!"}, "salt is not valid base64"),
        ({"salt": base64.b64encode(bytes(31)).decode()}, "salt must decode to 32 bytes"),
        ({"salt": None}, "salt must be a base64 string"),
        ({"rotationMonth": "2026-13"}, "rotationMonth must be a month"),
        ({"rotatedAt": "yesterday"}, "rotatedAt must be an ISO 8601"),
        ({"rotatedAt": "2026-03-01T00:00:05"}, "rotatedAt must carry a UTC offset"),
        ({"previousSalt": NEW}, "salt must differ from previousSalt"),
        ({"previousSalt": "short"}, "previousSalt"),
        ({"previousRotationMonth": "2026-04"}, "must not be after rotationMonth"),
        ({"previousRotationMonth": "March"}, "previousRotationMonth must be a month"),
        ({"previousRotationMonth": None, "drop": "previousRotationMonth"}, "come together"),
    ],
)
def test_validate_value_names_the_bad_key(
    rotator: ModuleType, change: dict[str, Any], match: str
) -> None:
    value = {**GOOD, **change}
    if "drop" in change:
        del value[change["drop"]]
        del value["drop"]
    with pytest.raises(rotator.InvalidSaltValue, match=match) as raised:
        rotator.validate_value(value)
    assert NEW not in str(raised.value) and OLD not in str(raised.value)


def test_validate_value_accepts_first_and_rotated_values(rotator: ModuleType) -> None:
    rotator.validate_value(GOOD)
    rotator.validate_value({k: GOOD[k] for k in ("salt", "rotationMonth", "rotatedAt")})


def test_first_rotation_seeds_a_salt_when_no_value_exists(
    rotator: ModuleType, aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a secret declared without any value (the rotator seeds the first salt)
    seeding = Rotation(rotator, aws, context, value=None)
    monkeypatch.setattr(rotator, "dependencies", lambda: seeding.deps)
    begin_rotation(seeding.arn, TOKEN)
    seeding.step("createSecret")
    seeding.step("testSecret")
    # (moto cannot run finishSecret here: its UpdateSecretVersionStage fails when no version is
    # AWSCURRENT yet, which AWS accepts.)
    value = seeding.value(VersionId=TOKEN, VersionStage="AWSPENDING")
    assert value["rotationMonth"] == "2026-03"
    assert "previousSalt" not in value and "previousRotationMonth" not in value
    assert len(base64.b64decode(value["salt"])) == 32


def test_calls_of_each_step_are_the_ones_its_policy_must_allow(rotation: Rotation) -> None:
    # The rotator's role needs exactly these actions on its one secret (and the key's use via
    # Secrets Manager); UpdateSecretVersionStage is the one a policy most easily forgets.
    begin_rotation(rotation.arn, TOKEN)
    per_step = {}
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.calls.clear()
        rotation.step(step)
        per_step[step] = list(rotation.calls)
    assert per_step == {
        "createSecret": ["DescribeSecret", "GetSecretValue", "GetSecretValue", "PutSecretValue"],
        "setSecret": ["DescribeSecret"],
        "testSecret": ["DescribeSecret", "GetSecretValue"],
        "finishSecret": ["DescribeSecret", "UpdateSecretVersionStage", "GetSecretValue"],
    }
