"""SaltRotation: the salt's key, secret (seeded by its first rotation), monthly rotation and the
rotator function."""

from __future__ import annotations

import json

import pytest

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"


def fn(run, role):
    return run.one(FUNCTION, f"salt-rotation-{role}-function")


def test_salt_key_rotates_and_only_secrets_manager_may_use_it_for_the_salt_roles(program):
    key = program.one("aws:kms/key:Key", "salt-rotation-key")
    assert key.inputs["enableKeyRotation"] is True
    alias = program.one("aws:kms/alias:Alias", "salt-rotation-key-alias")
    assert alias.inputs["name"] == f"alias/phase-mirror-salt-{program.stack}"
    admin, use = json.loads(key.inputs["policy"])["Statement"]
    root = "arn:aws:iam::123456789012:root"
    assert admin["Principal"] == {"AWS": root}
    assert not any(a in admin["Action"] for a in ("kms:Decrypt", "kms:Encrypt", "kms:*")), admin
    assert use["Action"] == ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    assert (
        use["Condition"]["StringEquals"]["kms:ViaService"]
        == "secretsmanager.us-east-1.amazonaws.com"
    )
    # Exactly the functions that read the salt, and the rotator: never fp-release (which only
    # lists versions) or calibration-query.
    assert use["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::123456789012:role/phase-mirror-{role}-{program.stack}"
        for role in ("fp-ingestion", "fp-consent", "fp-admission", "salt-rotator")
    ]


def test_secret_is_named_by_the_rule_and_encrypted_with_the_salt_key(program):
    secret = program.one(SECRET, "salt-rotation-secret")
    key = program.one("aws:kms/key:Key", "salt-rotation-key")
    assert secret.inputs["name"] == f"/phase-mirror/{program.stack}/fp-calibration/hmac-salt"
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]


def test_no_salt_value_passes_through_the_program_or_its_state(program):
    # GIVEN the program, before and after any number of rotations
    # THEN it declares no secret version and no random bytes: the rotator writes every value,
    # the first one included, so nothing the program runs could write a salt back
    secret = program.one(SECRET, "salt-rotation-secret")
    writers = [r.urn for r in program.of_type(VERSION) if r.inputs["secretId"] == secret.id]
    assert writers == []
    assert not [r for r in program if r.type.startswith("random:") and "salt" in r.name]
    assert "secretString" not in secret.inputs and "secretBinary" not in secret.inputs


def test_rotation_is_secrets_managers_own_monthly_schedule_starting_at_once(program):
    rotation = program.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "salt-rotation-rotation"
    )
    assert rotation.inputs["rotationRules"] == {"scheduleExpression": "cron(0 0 1 * ? *)"}
    assert rotation.inputs["rotationLambdaArn"] == fn(program, "rotator").outputs["arn"]
    # The immediate first rotation seeds the salt (createSecret with no AWSCURRENT yet).
    assert rotation.inputs["rotateImmediately"] is True


def test_rotator_reads_the_secret_and_reports_metrics_for_this_environment(program):
    env = fn(program, "rotator").inputs["environment"]["variables"]
    secret = program.one(SECRET, "salt-rotation-secret")
    assert env == {
        "ENVIRONMENT": program.config["phase-mirror-infra:environment"],
        "SALT_SECRET_ID": secret.outputs["arn"],
        "POWERTOOLS_SERVICE_NAME": "salt-rotator",
        "POWERTOOLS_METRICS_NAMESPACE": "PhaseMirror/FPCalibration",
    }


def test_only_secrets_manager_for_this_secret_may_invoke_the_rotator(program):
    permission = program.one("aws:lambda/permission:Permission", "salt-rotation-rotator-invoke")
    secret = program.one(SECRET, "salt-rotation-secret")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["sourceArn"] == secret.outputs["arn"]
    assert permission.inputs["sourceAccount"] == "123456789012"
    assert permission.inputs["function"] == fn(program, "rotator").outputs["name"]


def test_rotator_runs_one_copy_at_a_time(program):
    assert fn(program, "rotator").inputs["reservedConcurrentExecutions"] == 1


@pytest.mark.parametrize("stack_fixture", ["staging", "production"])
def test_secret_key_and_version_are_protected_only_in_production(request, stack_fixture):
    run = request.getfixturevalue(stack_fixture)
    for type_, name in [
        (SECRET, "salt-rotation-secret"),
        ("aws:kms/key:Key", "salt-rotation-key"),
        ("aws:kms/key:Key", "salt-rotation-env-key"),
    ]:
        resource = run.one(type_, name)
        expected = stack_fixture == "production"
        assert resource.protect is expected and resource.retain_on_delete is expected, resource.urn


def test_functions_get_the_pinned_powertools_from_a_layer_of_our_own(program):
    layer = program.one("aws:lambda/layerVersion:LayerVersion", "salt-rotation-powertools")
    assert layer.inputs["layerName"] == f"phase-mirror-powertools-{program.stack}"
    assert layer.inputs["compatibleRuntimes"] == ["python3.13"]
    for function in program.of_type(FUNCTION):
        assert function.inputs["layers"] == [layer.outputs["arn"]], function.urn
