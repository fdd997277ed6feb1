"""Every Lambda: current runtime, tracing, encrypted environment, its own log group, one policy."""

from __future__ import annotations

import json
import re

import pytest

from components.core.function import RUNTIME, package

FUNCTION = "aws:lambda/function:Function"
FUNCTIONS = {
    "salt-rotator": ("salt-rotation-rotator", "salt_rotator"),
    "fp-ingestion": ("calibration-service-ingestion", "fp_ingestion"),
    "fp-consent": ("calibration-service-consent", "consent"),
    "fp-admission": ("calibration-service-admission", "admission"),
    "fp-release": ("calibration-service-release", "release"),
    "calibration-query": ("calibration-service-query", "calibration_query"),
    "salt-age-check": ("salt-age-check", "salt_age"),
}
SECRET_LOOKING = re.compile(r"(?i)(secret|password|token|salt|key)$")


@pytest.fixture(params=sorted(FUNCTIONS))
def function(request, program):
    key, _ = FUNCTIONS[request.param]
    return program, request.param, key


def test_function_is_named_by_the_rule_on_a_current_runtime_with_tracing(function):
    run, role, key = function
    fn = run.one(FUNCTION, f"{key}-function")
    assert fn.inputs["name"] == f"phase-mirror-{role}-{run.stack}"
    assert RUNTIME in ("python3.12", "python3.13") and fn.inputs["runtime"] == RUNTIME
    assert fn.inputs["handler"] == "handler.handler"
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    assert fn.inputs["reservedConcurrentExecutions"] >= 1


def test_environment_is_encrypted_with_a_cmk_and_holds_no_secret(function):
    run, _, key = function
    fn = run.one(FUNCTION, f"{key}-function")
    env_key = run.one("aws:kms/key:Key", "salt-rotation-env-key")
    assert fn.inputs["kmsKeyArn"] == env_key.outputs["arn"]
    for name, value in fn.inputs["environment"]["variables"].items():
        assert isinstance(value, str), (fn.urn, name)
        if SECRET_LOOKING.search(name):
            assert value.startswith("arn:aws:"), f"{fn.urn}: {name} looks like a secret value"


def test_function_logs_to_its_own_encrypted_group_with_stack_retention(function):
    run, role, key = function
    fn = run.one(FUNCTION, f"{key}-function")
    group = run.one("aws:cloudwatch/logGroup:LogGroup", f"{key}-logs")
    log_key = run.one("aws:kms/key:Key", "observability-log-key")
    retention = int(run.config["phase-mirror-infra:logRetentionDays"])
    assert group.inputs["name"] == f"/aws/lambda/phase-mirror-{role}-{run.stack}"
    assert group.inputs["retentionInDays"] == retention
    assert group.inputs["kmsKeyId"] == log_key.outputs["arn"]
    assert fn.inputs["loggingConfig"]["logGroup"] == group.outputs["name"]


def test_role_may_write_only_its_own_log_group(function):
    run, _, key = function
    policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", f"{key}-policy").inputs["policy"])
    group = run.one("aws:cloudwatch/logGroup:LogGroup", f"{key}-logs")
    logs = [s for s in policy["Statement"] if any(a.startswith("logs:") for a in s["Action"])]
    assert logs == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group.outputs['arn']}:*",
        }
    ]
    # No wildcard resource except X-Ray's, which takes none.
    for statement in policy["Statement"]:
        if statement["Resource"] == "*":
            assert statement["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def test_every_function_of_the_program_is_checked_here(program):
    assert {f.inputs["name"] for f in program.of_type(FUNCTION)} == {
        f"phase-mirror-{role}-{program.stack}" for role in FUNCTIONS
    }


SHARED = {
    "caller.py",
    "environment.py",
    "failures.py",
    "org_identity.py",
    "pending_purge.py",
    "pseudonym_deps.py",
    "salt_cache.py",
    "salt_secret_deps.py",
    "telemetry.py",
    "utc_text.py",
}


@pytest.mark.parametrize("code", sorted(c for _, c in FUNCTIONS.values()))
def test_each_package_holds_its_own_code_and_the_shared_modules_at_the_root(code):
    from components.core.function import LAMBDAS

    archive = package(code)
    names = set(archive.assets)
    own = {p.name for p in (LAMBDAS / code).glob("*.py")}
    assert "handler.py" in own
    # Lambda puts the archive's root on sys.path: `import caller` finds lambdas/shared/caller.py
    assert names == own | SHARED
    assert all(n.endswith(".py") and "test" not in n and "/" not in n for n in names), names
    # content only: each entry is the repository file of that name, by a relative path
    for name, asset in archive.assets.items():
        assert asset.path in (f"lambdas/{code}/{name}", f"lambdas/shared/{name}"), asset.path


def test_package_is_the_same_archive_every_time():
    # The engine hashes the archive from its entries: same names, order and files each run.
    first, second = package("fp_ingestion"), package("fp_ingestion")
    assert list(first.assets) == sorted(first.assets)
    assert [(n, a.path) for n, a in first.assets.items()] == [
        (n, a.path) for n, a in second.assets.items()
    ]


def test_a_function_folder_without_handler_is_refused(tmp_path, monkeypatch):
    import components.core.function as function_module

    monkeypatch.setattr(function_module, "LAMBDAS", tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "shared").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no handler\.py"):
        package("empty")


def test_a_module_in_both_the_function_and_shared_stops_the_program(tmp_path, monkeypatch):
    import components.core.function as function_module

    # GIVEN a function folder holding a module of the same name as a shared one
    monkeypatch.setattr(function_module, "LAMBDAS", tmp_path)
    for folder in ("fn", "shared"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "salt_cache.py").write_text("X = 1\n")
    (tmp_path / "fn" / "handler.py").write_text("")
    # THEN packaging refuses it, naming the module, instead of shipping one shadowing the other
    with pytest.raises(ValueError, match=r"lambdas/fn and lambdas/shared both hold salt_cache\.py"):
        package("fn")


def test_layer_holds_the_pinned_powertools_sources_and_nothing_compiled():
    from pathlib import Path

    from components.core.function import layer_archive

    pinned = next(
        line.split("==")[1].strip()
        for line in (Path(__file__).parent.parent / "requirements.txt").read_text().splitlines()
        if line.startswith("aws-lambda-powertools==")
    )
    names = set(layer_archive().assets)
    assert "python/aws_lambda_powertools/__init__.py" in names
    assert "python/typing_extensions.py" in names
    assert all(n.startswith("python/") and n.endswith(".py") for n in names)
    version = layer_archive().assets["python/aws_lambda_powertools/shared/version.py"]
    assert f'VERSION = "{pinned}"' in Path(version.path).read_text()


def test_a_missing_layer_package_is_refused_by_name():
    from components.core.function import layer_archive

    with pytest.raises(ModuleNotFoundError, match="no_such_package is not installed"):
        layer_archive(("no_such_package",))


def test_a_statement_shared_by_two_grants_appears_once_and_a_sid_clash_is_refused():
    from components.core.function import unique_statements

    shared = {"Sid": "Key", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["k"]}
    put = {"Sid": "Put", "Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": ["t"]}
    assert unique_statements([shared, put, shared]) == [shared, put]
    with pytest.raises(ValueError, match="share the Sid 'Key'"):
        unique_statements([shared, {**shared, "Resource": ["other"]}])


def test_every_role_policy_has_unique_sids(program):
    for policy in program.of_type("aws:iam/rolePolicy:RolePolicy"):
        sids = [s.get("Sid") for s in json.loads(policy.inputs["policy"])["Statement"]]
        assert len(sids) == len(set(sids)), policy.urn


def test_layer_on_another_python_ships_sources_only(tmp_path, monkeypatch):
    import components.core.function as function_module

    monkeypatch.setattr(function_module, "RUNTIME", "python3.99")
    names = set(function_module.layer_archive(build_dir=tmp_path).assets)
    assert not any(n.endswith(".pyc") for n in names)
    assert not any(tmp_path.iterdir())


def test_layer_on_the_runtimes_python_carries_reproducible_bytecode(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    import components.core.function as function_module

    # GIVEN the program runs on the runtime's own Python (as the deploy workflow does)
    monkeypatch.setattr(
        function_module, "RUNTIME", f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    first = function_module.layer_archive(("typing_extensions",), build_dir=tmp_path / "a")
    second = function_module.layer_archive(("typing_extensions",), build_dir=tmp_path / "b")
    tag = sys.implementation.cache_tag
    pyc = f"python/__pycache__/typing_extensions.{tag}.pyc"
    # THEN the source and its bytecode ship, and two builds give the same bytes
    assert set(first.assets) == {"python/typing_extensions.py", pyc}
    one = Path(first.assets[pyc].path).read_bytes()
    assert one == Path(second.assets[pyc].path).read_bytes()
    # hash-checked (flags 0b11), so Python trusts it without an mtime, loaded from /opt/python
    assert int.from_bytes(one[4:8], "little") == 0b11
    assert b"/opt/python/typing_extensions.py" in one
