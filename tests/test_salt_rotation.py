"""SaltRotation: the salt's key, secret, first value, monthly rotation and the rotator function."""

from __future__ import annotations

import json

import pytest

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"


def fn(run, role):
    return run.one(FUNCTION, f"salt-rotation-{role}-function")


def test_salt_key_rotates_and_only_secrets_manager_may_use_it_for_two_roles(program):
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
    assert use["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::123456789012:role/phase-mirror-fp-ingestion-{program.stack}",
        f"arn:aws:iam::123456789012:role/phase-mirror-salt-rotator-{program.stack}",
    ]
    # The roles the policy names are exactly the two functions that touch the salt.
    roles = {
        r.inputs["name"] for r in program.of_type("aws:iam/role:Role") if "salt-rotation" in r.urn
    }
    assert {a.rsplit("/", 1)[1] for a in use["Condition"]["ArnEquals"]["aws:PrincipalArn"]} == roles


def test_secret_is_named_by_the_rule_and_encrypted_with_the_salt_key(program):
    secret = program.one(SECRET, "salt-rotation-secret")
    key = program.one("aws:kms/key:Key", "salt-rotation-key")
    assert secret.inputs["name"] == f"/phase-mirror/{program.stack}/fp-calibration/hmac-salt"
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]


def test_first_value_is_32_random_bytes_kept_secret(program):
    salt = program.one("random:index/randomBytes:RandomBytes", "salt-rotation-initial-salt")
    assert salt.inputs["length"] == 32
    version = program.one(VERSION, "salt-rotation-initial-version")
    value = version.inputs["secretString"]
    # The engine receives it as a secret: never plain text in state, outputs or logs.
    assert (
        isinstance(value, dict)
        and value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270"
    )
    assert set(json.loads(value["value"])) == {"salt", "rotationMonth", "rotatedAt"}


def test_after_rotations_the_program_never_writes_the_salt_again(program):
    # GIVEN three rotations have moved AWSCURRENT away from the first version
    # WHEN pulumi up (or refresh && up) runs again, the version's value and stages differ
    # THEN the declared version ignores both, so nothing writes the initial salt back
    version = program.one(VERSION, "salt-rotation-initial-version")
    assert {"secretString", "versionStages"} <= set(version.ignore_changes)
    # and no other resource in the program writes a value into the salt's secret
    salt_secret = version.inputs["secretId"]
    writers = [r.urn for r in program.of_type(VERSION) if r.inputs["secretId"] == salt_secret]
    assert writers == [version.urn]


def test_rotation_is_secrets_managers_own_monthly_schedule(program):
    rotation = program.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "salt-rotation-rotation"
    )
    assert rotation.inputs["rotationRules"] == {"scheduleExpression": "cron(0 0 1 * ? *)"}
    assert rotation.inputs["rotationLambdaArn"] == fn(program, "rotator").outputs["arn"]
    assert rotation.inputs["rotateImmediately"] is False


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
        (VERSION, "salt-rotation-initial-version"),
        ("aws:kms/key:Key", "salt-rotation-key"),
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
