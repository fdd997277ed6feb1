"""The GitHub workflows: schema-valid, hardened like a supply chain, and in the right order.

Three tools audit them here, so CI (``./scripts/check``) runs them on every change:
check-jsonschema with the GitHub workflow schema it vendors, zizmor (``--offline``: the
online audits need a GitHub token) and shellcheck over every ``run:`` script, each extracted
with the shell GitHub runs it with. Each tool is also shown to fail on a broken workflow, so a
silently skipped audit cannot pass.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import policy.__main__ as pack

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("test.yml", "preview.yml", "deploy.yml", "fuzz.yml")
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$")
FALLBACK = "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"
# GitHub's default for `run:` on Linux runners ("Workflow syntax", defaults.run.shell).
DEFAULT_SHELL = "bash"


def load(name: str, directory: Path = WORKFLOWS) -> dict[str, Any]:
    data = yaml.safe_load((directory / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - tools of our own virtualenv, fixed arguments
        [str(a) for a in args], capture_output=True, text=True, check=False
    )


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *paths,
    )


def zizmor(path: Path) -> list[dict[str, Any]]:
    """zizmor's findings of medium severity or above, every persona's audits included."""
    result = run_tool(
        BIN / "zizmor",
        "--offline",
        "--persona",
        "auditor",
        "--min-severity",
        "medium",
        "--format",
        "json",
        path,
    )
    assert result.stdout.strip(), f"zizmor printed nothing: {result.stderr}"
    return json.loads(result.stdout)


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            yield name, job_name, job


def scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(job, shell, script) of every `run:` step, with the shell GitHub would use."""
    default = workflow.get("defaults", {}).get("run", {}).get("shell", DEFAULT_SHELL)
    for job_name, job in workflow["jobs"].items():
        job_default = job.get("defaults", {}).get("run", {}).get("shell", default)
        for step in job["steps"]:
            if "run" in step:
                yield job_name, step.get("shell", job_default), step["run"]


def shellcheck(shell: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our virtualenv's shellcheck, script on stdin
        [str(BIN / "shellcheck"), f"--shell={shell}", "--severity=style", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )


def steps(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action + "@")]


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


def index_of(job: dict[str, Any], needle: str) -> int:
    """Position of the one step whose `uses` or `run` contains ``needle``."""
    found = [
        i for i, s in enumerate(job["steps"]) if needle in str(s.get("uses", s.get("run", "")))
    ]
    assert len(found) == 1, f"{needle!r} in steps {found}"
    return found[0]


def pulumi_pin() -> str:
    (pin,) = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    return pin


# --- the three audits ----------------------------------------------------------------------


def test_the_schema_is_vendored_so_validation_needs_no_network() -> None:
    schema = (
        resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json"
    )
    assert schema.is_file(), schema


def test_every_workflow_is_valid_against_the_github_workflow_schema() -> None:
    result = validate(*(WORKFLOWS / name for name in NAMES))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == sorted(NAMES), "a workflow left out"


def test_the_validator_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps: nope\n")
    assert validate(broken).returncode != 0


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    findings = zizmor(WORKFLOWS)
    assert findings == [], json.dumps(
        [(f["ident"], f["determinations"]["severity"], f["desc"]) for f in findings], indent=1
    )


def test_zizmor_reports_an_injection_and_an_unpinned_action(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    permissions: {}\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    found = {f["ident"] for f in zizmor(bad)}
    assert {"template-injection", "unpinned-uses"} <= found, found


@pytest.mark.parametrize("name", NAMES)
def test_shellcheck_finds_nothing_in_any_run_script(name: str) -> None:
    checked = 0
    for job_name, shell, script in scripts(load(name)):
        result = shellcheck(shell, script)
        assert result.returncode == 0, f"{name} job {job_name}:\n{script}\n{result.stdout}"
        checked += 1
    assert checked, f"{name} has no run: step"


def test_shellcheck_reports_an_unquoted_variable() -> None:
    result = shellcheck("bash", "python -m tools.preview $STACK\n")
    assert result.returncode != 0 and "SC2086" in result.stdout, result.stdout


# --- supply chain ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it(name: str) -> None:
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if "uses:" in line]
    assert lines, name
    for line in lines:
        assert SHA_PIN.match(line), f"{name}: not a full commit SHA with '# vX.Y.Z': {line.strip()}"


def test_one_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for name in NAMES:
        for line in (WORKFLOWS / name).read_text().splitlines():
            if match := SHA_PIN.match(line):
                pins.setdefault(match[1], set()).add((match[2], match[3]))
    assert len(pins) >= 5, pins
    assert all(len(p) == 1 for p in pins.values()), pins


def test_every_pulumi_cli_is_the_version_of_the_pinned_sdk() -> None:
    found = []
    for name, job_name, job in jobs():
        for step in steps(job, "pulumi/actions"):
            found.append((name, job_name))
            # A string: the YAML float 3.272 would read as "3.272".
            assert step["with"]["pulumi-version"] == pulumi_pin(), (name, job_name)
    assert len(found) == 3, found  # preview, deploy staging, deploy production


def test_workflow_permissions_are_empty_and_each_job_names_its_own() -> None:
    for name in NAMES:
        assert load(name)["permissions"] == {}, name
    for name, job_name, job in jobs():
        granted = job.get("permissions")
        assert isinstance(granted, dict) and granted.get("contents") == "read", (name, job_name)
        assumes_role = bool(steps(job, "aws-actions/configure-aws-credentials"))
        assert (granted.get("id-token") == "write") == assumes_role, (name, job_name, granted)
        comments = any(s["with"].get("comment-on-pr") for s in steps(job, "pulumi/actions"))
        writes = {k for k, v in granted.items() if v == "write"}
        expected = {"id-token"} if assumes_role else set()
        assert writes == expected | ({"pull-requests"} if comments else set()), writes


def test_every_checkout_leaves_no_credentials_behind() -> None:
    checkouts = [(n, j, s) for n, j, job in jobs() for s in steps(job, "actions/checkout")]
    assert len(checkouts) == 5, checkouts
    for name, job_name, step in checkouts:
        assert step["with"]["persist-credentials"] is False, (name, job_name)


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_inside_a_run_script(name: str) -> None:
    # Values reach scripts through env: an expression in `run:` is spliced into the script
    # before the shell parses it (script injection).
    for job_name, _, script in scripts(load(name)):
        assert "${{" not in script, f"{name} job {job_name}: {script}"


@pytest.mark.parametrize("name", NAMES)
def test_no_long_lived_credentials(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for forbidden in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_ACCESS_TOKEN",
    ):
        assert forbidden not in text, f"{name} uses {forbidden}"


# --- what each workflow does -------------------------------------------------------------------


def test_test_workflow_runs_the_readme_command_on_every_pull_request_and_push() -> None:
    wf = load("test.yml")
    assert set(wf["on"]) == {"pull_request", "push"}
    assert not any(wf["on"].values()), "no branch filter: every push and pull request"
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert "./scripts/check" in runs(job)
    assert "./scripts/check" in (ROOT / "README.md").read_text()


def test_fuzz_workflow_runs_every_hypothesis_test_thoroughly_every_night() -> None:
    wf = load("fuzz.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    (step,) = [s for s in job["steps"] if "run" in s]
    assert step["env"] == {"HYPOTHESIS_PROFILE": "thorough"}
    assert step["run"] == "./scripts/check tests/lambdas"
    # every module with a hypothesis test is under the folder it runs
    given = re.compile(r"^\s*@given\(", re.M)
    fuzzed = {p for p in (ROOT / "tests").rglob("test_*.py") if given.search(p.read_text())}
    assert fuzzed, "no hypothesis test found"
    assert all(p.is_relative_to(ROOT / "tests" / "lambdas") for p in fuzzed), fuzzed


def test_preview_workflow_previews_both_stacks_with_the_pack_on_pull_requests() -> None:
    wf = load("preview.yml")
    assert set(wf["on"]) == {"pull_request"}
    (job,) = wf["jobs"].values()
    assert "environment" not in job, "the preview role trusts pull_request subjects only"
    assert job["strategy"]["matrix"]["stack"] == ["staging", "production"]
    assert job["env"]["STACK"] == "${{ matrix.stack }}"
    (pulumi,) = steps(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["policyPackConfigs"] == "policy/${{ matrix.stack }}.json"
    assert pulumi["with"]["comment-on-pr"] is True
    (creds,) = steps(job, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert 'python -m tools.preview "$STACK"' in runs(job)
    # The change-safety guards: against the base commit, and on the real preview.
    assert 'tools.against "$STACK" "$BASE_SHA"' in runs(job)
    gate = index_of(job, "tools.preview_gate")
    assert index_of(job, "pulumi/actions") < gate
    assert 'pulumi preview --stack "$STACK" --json > "pulumi-preview-$STACK.json"' in runs(job)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_deploy_gates_each_up_on_preflight_and_its_own_preview(stack: str) -> None:
    job = load("deploy.yml")["jobs"][stack]
    assert job["env"]["STACK"] == stack and job["environment"] == stack
    (creds,) = steps(job, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    (cli,) = steps(job, "pulumi/actions")
    assert "command" not in cli["with"], "the action only installs the CLI here"
    script = runs(job)
    preview = 'pulumi preview --stack "$STACK" --policy-pack policy --policy-pack-config "policy/$STACK.json" --json > "pulumi-preview-$STACK.json"'
    assert preview in script
    assert 'tools.preview_gate "pulumi-preview-$STACK.json"\n' in script
    assert "--allow-data-replacement" not in script, "no label can wave a deploy through"
    order = [
        index_of(job, 'python -m tools.preview "$STACK"'),
        index_of(job, "aws-actions/configure-aws-credentials"),
        index_of(job, "pulumi/actions"),
        index_of(job, 'python -m tools.preflight "$STACK"'),
        index_of(job, "pulumi preview"),
        index_of(job, "tools.preview_gate"),
        index_of(job, "pulumi up"),
    ]
    assert order == sorted(order) and len(set(order)) == len(order) - 1, order
    # The preview and its gate share one step: a failed preview fails before `pulumi up`.
    assert order[4] == order[5]
    up = job["steps"][order[6]]["run"]
    assert up.startswith('pulumi up --stack "$STACK"') and "--yes" in up
    assert '--policy-pack policy --policy-pack-config "policy/$STACK.json"' in up


def test_deploy_runs_staging_then_production_one_at_a_time_from_main() -> None:
    wf = load("deploy.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert wf["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    assert set(wf["jobs"]) == {"staging", "production"}
    assert "needs" not in wf["jobs"]["staging"]
    assert wf["jobs"]["production"]["needs"] == "staging"


def test_every_job_running_pulumi_uses_the_secrets_provider_of_the_stack_state() -> None:
    pulumi_jobs = [
        (name, job_name, job)
        for name, job_name, job in jobs()
        if steps(job, "pulumi/actions") or re.search(r"^pulumi ", runs(job), re.M)
    ]
    assert len(pulumi_jobs) == 3, [(n, j) for n, j, _ in pulumi_jobs]
    for name, job_name, job in pulumi_jobs:
        assert job["env"][FALLBACK] == "true", (name, job_name)
        for step in steps(job, "pulumi/actions"):
            # secrets-provider/upsert would create a stack whose key stays on the runner.
            assert not {"secrets-provider", "upsert"} & set(step["with"]), (name, job_name)


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
    from components.core.function import runtime_version

    expected = "{}.{}".format(*runtime_version())
    versions = {
        (job_name, str(step["with"]["python-version"]))
        for job_name, job in load(name)["jobs"].items()
        for step in steps(job, "actions/setup-python")
    }
    assert versions and {v for _, v in versions} == {expected}, (name, versions)
