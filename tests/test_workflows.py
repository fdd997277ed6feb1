"""The GitHub workflows: schema-valid, and the triggers, jobs and permissions issue 6 asks for.

Validation uses check-jsonschema with the GitHub workflow schema it vendors (no network).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import policy.__main__ as pack

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("test.yml", "preview.yml", "deploy.yml")
OIDC = {"id-token": "write", "contents": "read"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def steps(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action + "@")]


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


def test_the_schema_is_vendored_so_validation_needs_no_network() -> None:
    schema = (
        resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json"
    )
    assert schema.is_file(), schema


@pytest.mark.parametrize("name", NAMES)
def test_workflow_is_valid_against_the_github_workflow_schema(name: str) -> None:
    result = validate(WORKFLOWS / name)
    assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_the_validator_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps: nope\n")
    assert validate(broken).returncode != 0


def test_test_workflow_runs_the_readme_command_on_every_pull_request_and_push() -> None:
    wf = load("test.yml")
    assert set(wf["on"]) == {"pull_request", "push"}
    assert not any(wf["on"].values()), "no branch filter: every push and pull request"
    assert wf["permissions"] == {"contents": "read"}
    (job,) = wf["jobs"].values()
    assert "./scripts/check" in runs(job)
    assert "./scripts/check" in (ROOT / "README.md").read_text()


def test_preview_workflow_previews_both_stacks_with_the_pack_on_pull_requests() -> None:
    wf = load("preview.yml")
    assert set(wf["on"]) == {"pull_request"}
    assert wf["permissions"] == {**OIDC, "pull-requests": "write"}
    (job,) = wf["jobs"].values()
    assert "environment" not in job, "the preview role trusts pull_request subjects only"
    assert job["strategy"]["matrix"]["stack"] == ["staging", "production"]
    (pulumi,) = steps(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["policyPackConfigs"] == "policy/${{ matrix.stack }}.json"
    assert pulumi["with"]["comment-on-pr"] is True
    (creds,) = steps(job, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert "python -m tools.preview ${{ matrix.stack }}" in runs(job)
    # The change-safety guards (issue 10): against the base commit, and on the real preview.
    assert "tools.against" in runs(job) and "tools.preview_gate" in runs(job)


def test_deploy_workflow_runs_staging_then_production_behind_its_environment() -> None:
    wf = load("deploy.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["permissions"] == OIDC
    assert wf["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    staging, production = wf["jobs"]["staging"], wf["jobs"]["production"]
    assert "needs" not in staging
    assert production["needs"] == "staging"
    assert production["environment"] == "production"
    for stack, job in (("staging", staging), ("production", production)):
        (pulumi,) = steps(job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == stack
        assert pulumi["with"]["policyPacks"] == "policy"
        assert pulumi["with"]["policyPackConfigs"] == f"policy/{stack}.json"
        (creds,) = steps(job, "aws-actions/configure-aws-credentials")
        assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        assert f"python -m tools.preview {stack}" in runs(job)
        # The offline checks gate the deployment: they come before `pulumi up`.
        names = [s.get("uses", s.get("run", "")) for s in job["steps"]]
        assert names.index(pulumi["uses"]) > max(
            i for i, n in enumerate(names) if "tools.preview" in str(n)
        )


@pytest.mark.parametrize("name", NAMES)
def test_no_long_lived_credentials_and_pinned_actions(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for forbidden in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert forbidden not in text, f"{name} uses {forbidden}"
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert "@v" in step["uses"], f"{name}: {step['uses']} is not pinned to a release"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_stack_tells_the_pack_its_environment(stack: str) -> None:
    # Deletion protection is required only in production: the pack reads it from this config.
    config = json.loads((ROOT / "policy" / f"{stack}.json").read_text())
    assert config == {"deletion-protection-in-production": {"environment": stack}}
    schema = {"type": "object", "properties": pack.ENVIRONMENT_SCHEMA.properties}
    jsonschema.validate(config["deletion-protection-in-production"], schema)


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_workflows_that_run_the_program_use_the_lambda_runtimes_python(name: str) -> None:
    # The Powertools layer carries bytecode only when built on the runtime's own Python.
    from components.function import runtime_version

    expected = "{}.{}".format(*runtime_version())
    versions = {
        (job_name, str(step["with"]["python-version"]))
        for job_name, job in load(name)["jobs"].items()
        for step in steps(job, "actions/setup-python")
    }
    assert versions and {v for _, v in versions} == {expected}, (name, versions)
