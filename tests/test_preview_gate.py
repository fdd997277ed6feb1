"""``tools.preview_gate`` on documents shaped like ``pulumi preview --json`` output.

The digest shape is pulumi/pulumi pkg/backend/display/json.go (``ShowPreviewDigest``): steps
with ``op``, ``urn``, ``provider``, ``oldState``/``newState`` (each with ``type``),
``diffReasons``, ``replaceReasons``, ``detailedDiff``. A replacement shows as three steps on
one URN: ``create-replacement``, ``replace``, ``delete-replaced``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools import preview_gate

STACK = (
    "urn:pulumi:production::phase-mirror-infra::pulumi:pulumi:Stack::phase-mirror-infra-production"
)
TABLE_TYPE = "aws:dynamodb/table:Table"
TABLE = (
    "urn:pulumi:production::phase-mirror-infra::phase-mirror:index:CalibrationStore$"
    f"{TABLE_TYPE}::calibration-store-consent-store"
)
ROLE = "urn:pulumi:production::phase-mirror-infra::phase-mirror:index:Backup$aws:iam/role:Role::backup-role"
PROVIDER = (
    "urn:pulumi:production::phase-mirror-infra::pulumi:providers:aws::aws-calibrationstore::0a1b"
)


def step(op: str, urn: str, type_: str, **extra: Any) -> dict[str, Any]:
    state = {"urn": urn, "custom": True, "type": type_, "inputs": {}, "outputs": {}}
    return {"op": op, "urn": urn, "provider": PROVIDER, "newState": state, **extra}


def digest(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": {"aws:region": "us-east-1"},
        "steps": [step("same", STACK, "pulumi:pulumi:Stack"), *steps],
        "duration": 1_500_000_000,
        "changeSummary": {"same": 1},
    }


REPLACE_TABLE = [
    step(
        op,
        TABLE,
        TABLE_TYPE,
        diffReasons=["hashKey"],
        replaceReasons=["hashKey"],
        detailedDiff={"hashKey": {"kind": "update-replace", "inputDiff": True}},
    )
    for op in ("create-replacement", "replace", "delete-replaced")
]


def gate(tmp_path: Path, document: Any, *flags: str) -> int:
    path = tmp_path / "preview.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return preview_gate.main([str(path), *flags])


def test_updates_creates_and_deleting_a_role_pass(tmp_path, capsys):
    document = digest(
        step("update", TABLE, TABLE_TYPE, diffReasons=["tags"]),
        step("create", ROLE.replace("backup-role", "new-role"), "aws:iam/role:Role"),
        step("delete", ROLE, "aws:iam/role:Role"),
    )
    assert gate(tmp_path, document) == 0
    assert "4 steps read, 0 touch data" in capsys.readouterr().out


def test_replacing_a_table_fails_listing_each_step_and_the_reason(tmp_path, capsys):
    assert gate(tmp_path, digest(*REPLACE_TABLE)) == 1
    out = capsys.readouterr().out
    for op in ("create-replacement", "replace", "delete-replaced"):
        assert f"BLOCKED  {op}" in out, out
    assert TABLE in out and "replace reasons: hashKey" in out
    assert "allow-data-replacement" in out


@pytest.mark.parametrize(
    ("type_", "name"),
    [
        ("aws:rds/instance:Instance", "data-tier-db"),
        ("aws:kms/key:Key", "calibration-store-key"),
        ("aws:secretsmanager/secretVersion:SecretVersion", "salt-rotation-initial-version"),
        ("eks:index:Cluster", "data-tier-eks"),
    ],
)
def test_deleting_any_stateful_type_fails(tmp_path, capsys, type_, name):
    urn = f"urn:pulumi:production::phase-mirror-infra::{type_}::{name}"
    assert gate(tmp_path, digest(step("delete", urn, type_))) == 1
    assert "BLOCKED  delete" in capsys.readouterr().out


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_the_trail_log_group_is_gated_by_its_urn_and_other_log_groups_are_not(tmp_path, capsys):
    # GIVEN the trail's log group (the audit record) and a function's log group being deleted
    base = "urn:pulumi:production::phase-mirror-infra::"
    trail_logs = f"{base}phase-mirror:index:AuditTrail${LOG_GROUP}::audit-trail-trail-logs"
    function_logs = f"{base}phase-mirror:index:SaltRotation${LOG_GROUP}::salt-rotation-rotator-logs"
    # WHEN the gate reads each
    assert gate(tmp_path, digest(step("delete", function_logs, LOG_GROUP))) == 0
    capsys.readouterr()
    assert gate(tmp_path, digest(step("delete", trail_logs, LOG_GROUP))) == 1
    # THEN only the trail's is blocked, named with its label
    out = capsys.readouterr().out
    assert "BLOCKED  delete" in out and "CloudTrail log group" in out and trail_logs in out


def test_the_label_flag_lets_it_pass_but_still_lists_the_steps(tmp_path, capsys):
    assert gate(tmp_path, digest(*REPLACE_TABLE), "--allow-data-replacement") == 0
    out = capsys.readouterr().out
    assert out.count("allowed  ") == 3 and TABLE in out


def test_engine_event_shaped_steps_with_type_and_keys_are_read(tmp_path, capsys):
    document = {"steps": [{"op": "replace", "urn": TABLE, "type": TABLE_TYPE, "keys": ["name"]}]}
    assert gate(tmp_path, document) == 1
    assert "replace reasons: name" in capsys.readouterr().out


def test_the_type_comes_from_the_urn_when_the_step_has_no_state(tmp_path):
    assert gate(tmp_path, {"steps": [{"op": "delete", "urn": TABLE}]}) == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "not JSON"),
        ("Previewing update (production):\n  + 3 to create", "not JSON"),
        ([{"op": "delete", "urn": TABLE}], "expected a JSON object, got list"),
        ({"changeSummary": {"same": 3}}, "no 'steps' list"),
        ({"steps": []}, "no 'steps' list"),
        (
            {"steps": [], "diagnostics": [{"message": "boom", "severity": "error"}]},
            "preview errors: boom",
        ),
        ({"steps": ["delete"]}, "steps[0] is not an object"),
        ({"steps": [{"urn": TABLE}]}, "steps[0].op is None"),
        ({"steps": [{"op": "destroy", "urn": TABLE}]}, "steps[0].op is 'destroy'"),
        ({"steps": [{"op": "delete"}]}, "steps[0] has no 'urn' string"),
        ({"steps": [{"op": "delete", "urn": "consent-table"}]}, "not a Pulumi URN"),
        (
            {"steps": [{"op": "replace", "urn": TABLE, "replaceReasons": "hashKey"}]},
            "replace reasons are not a list",
        ),
    ],
)
def test_a_malformed_document_stops_with_a_clear_error_never_a_pass(
    tmp_path, capsys, document, message
):
    assert gate(tmp_path, document) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_a_missing_file_stops_with_a_clear_error(tmp_path, capsys):
    assert preview_gate.main([str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
