"""salt-rotator: the four Secrets Manager rotation steps against moto, called in-process,
including the first rotation that seeds the salt, steps out of order and stale pending values."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from testing.aws import begin_rotation, create_salt_secret, first_current_allowed, salt_document
from testing.lambdas import REGION, LambdaContext, record_calls
from tests.lambdas import emf

OLD_SALT = bytes(range(32))
OLD_VERSION = "00000000-1111-2222-3333-444444444444"
TOKEN = "11111111-2222-3333-4444-555555555555"
NEXT = "99999999-8888-7777-6666-555555555555"
NOW = datetime(2026, 3, 1, 0, 0, 5, tzinfo=UTC)
SECRET_NAME = "/phase-mirror/test/fp-calibration/hmac-salt"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class Rotation:
    """A salt secret (February's salt, or none), the rotator wired to it, a step runner."""

    def __init__(self, module: ModuleType, sm: Any, documents: tuple[dict[str, str], ...]) -> None:
        self.module, self.sm = module, sm
        self.context = LambdaContext()
        self.arn = create_salt_secret(sm, SECRET_NAME, *documents)
        self.now = NOW
        self.deps = module.Dependencies(secret_id=self.arn, client=sm, clock=lambda: self.now)
        self.calls = record_calls(sm)

    def step(self, step: str, token: str = TOKEN, secret_id: str | None = None) -> None:
        event = {"SecretId": secret_id or self.arn, "ClientRequestToken": token, "Step": step}
        self.module.handler(event, self.context)

    def rotate(self, token: str = TOKEN) -> None:
        begin_rotation(self.arn, token)
        with first_current_allowed():
            for step in STEPS:
                self.step(step, token)

    def value(self, **version: str) -> dict[str, Any]:
        version = version or {"VersionStage": "AWSCURRENT"}
        return json.loads(self.sm.get_secret_value(SecretId=self.arn, **version)["SecretString"])

    def stages(self) -> dict[str, list[str]]:
        return self.sm.describe_secret(SecretId=self.arn)["VersionIdsToStages"]

    def pending(self, document: dict[str, str], token: str = TOKEN) -> None:
        """A value left under AWSPENDING (by an earlier, failed rotation)."""
        begin_rotation(self.arn, token)
        self.sm.put_secret_value(
            SecretId=self.arn,
            ClientRequestToken=token,
            SecretString=json.dumps(document),
            VersionStages=["AWSPENDING"],
        )


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def make_rotation(
    rotator: ModuleType, sm: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Rotation]:
    def make(*documents: dict[str, str]) -> Rotation:
        r = Rotation(rotator, sm, documents)
        monkeypatch.setattr(rotator, "dependencies", lambda: r.deps)
        return r

    return make


@pytest.fixture
def rotation(make_rotation: Callable[..., Rotation]) -> Rotation:
    return make_rotation(salt_document(OLD_SALT, "2026-02", OLD_VERSION))


def test_full_rotation_makes_new_salt_current_and_keeps_old_as_previous(
    rotation: Rotation, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    rotation.rotate()
    stages = rotation.stages()
    assert "AWSCURRENT" in stages[TOKEN] and "AWSPREVIOUS" in stages[OLD_VERSION], stages
    value = rotation.value()
    new_salt = base64.b64decode(value["salt"])
    assert len(new_salt) == 32 and new_salt != OLD_SALT
    assert (value["rotationMonth"], value["rotatedAt"]) == ("2026-03", "2026-03-01T00:00:05Z")
    assert value["versionId"] == TOKEN
    # previousSalt is the outgoing current salt, i.e. AWSPREVIOUS's
    assert base64.b64decode(value["previousSalt"]) == OLD_SALT
    assert value["previousSalt"] == rotation.value(VersionStage="AWSPREVIOUS")["salt"]
    assert value["previousRotationMonth"] == "2026-02"
    done = [line for line in logs() if line["message"] == "Salt rotated successfully"]
    assert [(d["rotationMonth"], d["previousRotationMonth"]) for d in done] == [
        ("2026-03", "2026-02")
    ]


def test_the_first_rotation_seeds_the_salt(make_rotation: Callable[..., Rotation], capsys) -> None:
    # GIVEN a secret created with no value: GetSecretValue answers ResourceNotFoundException
    seeding = make_rotation()
    # WHEN the first rotation runs (finishSecret attaches AWSCURRENT without
    # RemoveFromVersionId, which AWS accepts and moto 5.2.5 refuses: first_current_allowed)
    seeding.rotate()
    # THEN the token is AWSCURRENT and holds a first salt with nothing previous
    # (Secrets Manager itself clears AWSPENDING when the rotation ends; moto leaves it.)
    stages = seeding.stages()
    assert list(stages) == [TOKEN] and "AWSCURRENT" in stages[TOKEN]
    value = seeding.value()
    assert set(value) == {"salt", "rotationMonth", "rotatedAt", "versionId"}
    assert len(base64.b64decode(value["salt"])) == 32
    update = [c for c in seeding.calls if c == "UpdateSecretVersionStage"]
    assert update == ["UpdateSecretVersionStage"]
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "SaltRotated", Environment="staging") == [1.0]


def test_moto_refuses_the_seeding_finish_step_without_the_patch(
    make_rotation: Callable[..., Rotation], rotator: ModuleType
) -> None:
    """Why first_current_allowed exists: if moto is fixed, drop the patch (getmoto/moto#9451)."""
    seeding = make_rotation()
    begin_rotation(seeding.arn, TOKEN)
    for step in STEPS[:3]:
        seeding.step(step)
    with pytest.raises(Exception):  # noqa: B017 - moto fails with an IndexError inside
        seeding.step("finishSecret")


def test_create_secret_retried_makes_one_salt(rotation: Rotation) -> None:
    begin_rotation(rotation.arn, TOKEN)
    rotation.step("createSecret")
    first = rotation.value(VersionId=TOKEN, VersionStage="AWSPENDING")
    rotation.step("createSecret")
    assert rotation.value(VersionId=TOKEN, VersionStage="AWSPENDING") == first
    assert rotation.calls.count("PutSecretValue") == 1, rotation.calls


def test_finish_secret_retried_moves_stages_once(rotation: Rotation) -> None:
    rotation.rotate()
    stages = rotation.stages()
    rotation.step("finishSecret")
    assert rotation.stages() == stages
    assert rotation.calls.count("UpdateSecretVersionStage") == 1, rotation.calls


@pytest.mark.parametrize("step", ["setSecret", "testSecret", "finishSecret"])
def test_a_step_before_create_secret_changes_nothing_and_fails_clearly(
    rotator: ModuleType, rotation: Rotation, step: str, capsys
) -> None:
    begin_rotation(rotation.arn, TOKEN)
    stages = rotation.stages()
    capsys.readouterr()
    with pytest.raises(rotator.RotationRefused, match=f"{step}: .*createSecret has not run"):
        rotation.step(step)
    assert rotation.stages() == stages
    assert not {"PutSecretValue", "UpdateSecretVersionStage"} & set(rotation.calls)
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "RotationStepRefused", Environment="staging") == [1.0]


STALE = {
    "another month": {"rotationMonth": "2026-01", "rotatedAt": "2026-01-31T23:59:00Z"},
    "not built on the current salt": {"previousSalt": base64.b64encode(bytes(32)).decode()},
    "another version's value": {"versionId": NEXT},
    "malformed": {"salt": "short"},
}


@pytest.mark.parametrize("kind", sorted(STALE))
@pytest.mark.parametrize("step", ["createSecret", "testSecret", "finishSecret"])
def test_a_stale_pending_value_is_refused_unpromoted_and_the_next_rotation_succeeds(
    rotator: ModuleType, rotation: Rotation, kind: str, step: str, capsys
) -> None:
    # GIVEN a value left under AWSPENDING by an earlier failed rotation, which Secrets Manager
    # will hand to the rotator again with the same token (its value cannot change)
    document = salt_document(bytes([9]) * 32, "2026-03", TOKEN, previous=(OLD_SALT, "2026-02"))
    rotation.pending({**document, **STALE[kind]})
    capsys.readouterr()
    # WHEN any step meets it
    with pytest.raises(rotator.StalePending, match="AWSPENDING removed"):
        rotation.step(step)
    # THEN it was not promoted, it lost AWSPENDING, and the refusal was counted
    stages = rotation.stages()
    assert "AWSCURRENT" in stages[OLD_VERSION] and stages.get(TOKEN, []) == [], stages
    assert base64.b64decode(rotation.value()["salt"]) == OLD_SALT
    points = emf.metric_points(capsys.readouterr().out)
    assert emf.values(points, "StalePendingSaltRefused", Environment="staging") == [1.0]
    # AND the next rotation, with a new token, succeeds and keeps the current salt as previous
    rotation.rotate(NEXT)
    value = rotation.value()
    assert value["versionId"] == NEXT
    assert base64.b64decode(value["previousSalt"]) == OLD_SALT


def test_a_rotation_straddling_midnight_of_the_1st_is_stale(
    rotator: ModuleType, rotation: Rotation
) -> None:
    rotation.now = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    begin_rotation(rotation.arn, TOKEN)
    rotation.step("createSecret")
    rotation.now = NOW
    with pytest.raises(rotator.StalePending, match="another month"):
        rotation.step("testSecret")


def test_every_step_after_finish_is_a_no_op(rotation: Rotation) -> None:
    rotation.rotate()
    value = rotation.value()
    for step in STEPS:
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
    rotation.rotate()
    with pytest.raises(rotator.RotationRefused, match="not staged AWSPENDING"):
        rotation.step("createSecret", token=OLD_VERSION)


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
    path = Path(__file__).parent / "events" / "rotation_create_secret.json"
    parsed = rotator.parse_event(json.loads(path.read_text()))
    assert (parsed.step, parsed.token) == ("createSecret", TOKEN)


NEW = base64.b64encode(bytes([7]) * 32).decode()
OLD = base64.b64encode(OLD_SALT).decode()
GOOD = {
    "salt": NEW,
    "rotationMonth": "2026-03",
    "rotatedAt": "2026-03-01T00:00:05Z",
    "versionId": TOKEN,
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
        ({"versionId": "v1"}, "versionId must be a Secrets Manager version id"),
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


def test_no_log_line_holds_a_salt(
    rotation: Rotation, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    rotation.rotate()
    value = rotation.value()
    text = json.dumps(logs())
    for secret in (value["salt"], value["previousSalt"]):
        assert secret not in text
    assert len(logs()) >= 4  # the capture works: every step logged something


def test_calls_of_each_step_are_the_ones_its_policy_must_allow(rotation: Rotation) -> None:
    # The rotator's role needs exactly these actions on its one secret (and the key's use via
    # Secrets Manager); UpdateSecretVersionStage is the one a policy most easily forgets.
    begin_rotation(rotation.arn, TOKEN)
    per_step = {}
    for step in STEPS:
        rotation.calls.clear()
        rotation.step(step)
        per_step[step] = list(rotation.calls)
    read_pending = ["GetSecretValue", "GetSecretValue"]  # the pending value, then the current
    assert per_step == {
        "createSecret": ["DescribeSecret", "GetSecretValue", "GetSecretValue", "PutSecretValue"],
        "setSecret": ["DescribeSecret", *read_pending],
        "testSecret": ["DescribeSecret", *read_pending],
        "finishSecret": ["DescribeSecret", *read_pending, "UpdateSecretVersionStage"],
    }
