"""SaltRotation: the salt's key, secret (seeded by its first rotation), monthly rotation and the
rotator function."""

from __future__ import annotations

import json

import pytest

from components.config import Naming
from components.core.context import StackContext
from components.service.salt_rotation import salt_key_policy
from testing.lambdas import variables_read

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FUNCTION = "aws:lambda/function:Function"


def fn(run, role):
    return run.one(FUNCTION, f"salt-rotation-{role}-function")


def test_salt_key_rotates_and_names_exactly_the_roles_that_touch_the_salt(program):
    key = program.one("aws:kms/key:Key", "salt-rotation-key")
    assert key.inputs["enableKeyRotation"] is True
    alias = program.one("aws:kms/alias:Alias", "salt-rotation-key-alias")
    assert alias.inputs["name"] == f"alias/phase-mirror-salt-{program.stack}"
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    named = {
        arn.rsplit("/", 1)[1]
        for sid in (
            "SaltReadersDecryptThroughSecretsManager",
            "SaltRotatorWritesThroughSecretsManager",
        )
        for arn in statements[sid]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    }
    # Exactly the functions that read the salt, and the rotator: never fp-release (which only
    # lists versions) or calibration-query.
    assert named == {
        f"phase-mirror-{role}-{program.stack}"
        for role in ("fp-ingestion", "fp-consent", "fp-admission", "salt-rotator")
    }


def test_a_further_salt_reader_is_one_more_name_in_the_readers_list():
    policy = json.loads(
        salt_key_policy(
            StackContext(
                naming=Naming("p", "staging"),
                account_id="123456789012",
                region="us-east-1",
                environment="staging",
                protect=False,
                log_retention_days=30,
            ),
            secret_name="/p/s/salt",
            reader_role_arns=[
                "arn:aws:iam::123456789012:role/a",
                "arn:aws:iam::123456789012:role/b",
            ],
            rotator_role_arn="arn:aws:iam::123456789012:role/r",
        )
    )
    (readers,) = [
        s for s in policy["Statement"] if s["Sid"] == "SaltReadersDecryptThroughSecretsManager"
    ]
    assert readers["Action"] == ["kms:Decrypt"]
    assert readers["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::123456789012:role/a",
        "arn:aws:iam::123456789012:role/b",
    ]
    # No deploying identity configured: no deployer statement at all, not an empty one.
    assert not any(
        "Deployers" in s["Sid"] and s["Sid"] != "DeployersAndRootUserSetThePolicy"
        for s in policy["Statement"]
    )


def test_secret_is_named_by_the_rule_and_encrypted_with_the_salt_key(program):
    secret = program.one(SECRET, "salt-rotation-secret")
    key = program.one("aws:kms/key:Key", "salt-rotation-key")
    assert secret.inputs["name"] == f"/phase-mirror/{program.stack}/fp-calibration/hmac-salt"
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]


def test_the_program_declares_nothing_that_writes_a_salt(program):
    # GIVEN the program as `pulumi up` and `pulumi preview` run it, for both stacks
    secret = program.one(SECRET, "salt-rotation-secret")
    # THEN the salt secret is created without a value ...
    assert not {"secretString", "secretBinary"} & set(secret.inputs), secret.urn
    # ... no version of any secret is written into it ...
    salt_ids = {secret.outputs.get("id"), secret.outputs.get("arn"), secret.id}
    writers = [r.urn for r in program.of_type(VERSION) if r.inputs.get("secretId") in salt_ids]
    assert writers == []
    # ... and nothing generates a salt-sized random value: the rotator draws the salt itself.
    assert program.of_type("random:index/randomBytes:RandomBytes") == []
    # So no run, after any number of rotations, can put an old salt back as AWSCURRENT, and no
    # refresh reads a salt into state (only the rotator and ingestion ever see one).


def test_rotation_is_secrets_managers_own_monthly_schedule_and_seeds_the_first_salt(program):
    rotation = program.one(
        "aws:secretsmanager/secretRotation:SecretRotation", "salt-rotation-rotation"
    )
    assert rotation.inputs["rotationRules"] == {"scheduleExpression": "cron(0 0 1 * ? *)"}
    assert rotation.inputs["rotationLambdaArn"] == fn(program, "rotator").outputs["arn"]
    # Rotating on creation is what writes the first salt (the rotator's createSecret seeds one
    # when no AWSCURRENT exists).
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
    assert variables_read("salt_rotator", env) == {"ENVIRONMENT", "SALT_SECRET_ID"}


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
def test_secret_and_keys_are_protected_only_in_production(request, stack_fixture):
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
