"""What a fresh CI run finds: each stack's secrets provider, without a passphrase.

The stack files name no provider. Each stack is created once with ``pulumi stack init
--secrets-provider`` and the bootstrap's ``secretsProvider`` output (docs/bootstrap.md), which
stores the provider in the stack's state; the workflows set
``PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER`` so the CLI takes it from there. The CLI's choice is
modelled below from its source, and applied to the shipped stack files, the workflows' job
environments and the documented ``stack init`` command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from testing.program import ROOT, ProgramRun, run_bootstrap

FALLBACK = "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"
STACKS = ("staging", "production")
STACK_INIT = re.compile(r'pulumi stack init (\w+) --secrets-provider "([^"]+)"')
# The settings a stack file may hold (Pulumi docs, "Stack settings file").
STACK_FILE_KEYS = {"secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment"}


def secrets_manager(
    stack_file: Mapping[str, Any], environ: Mapping[str, str], state: Mapping[str, Any] | None
) -> tuple[str, str]:
    """The secrets manager the CLI uses for an existing stack, as (kind, provider URL).

    pulumi/pulumi ``pkg/cmd/pulumi/stack/secrets.go``, ``SecretsManagerLoader.GetSecretsManager``:
    a ``secretsprovider`` other than ``passphrase``/``default`` wins; else an
    ``encryptionsalt`` means the passphrase provider; else, when the loader falls back to the
    state (``PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER`` is ``1`` or ``true`` in any case:
    ``sdk/go/common/util/env/env.go``, ``BoolValue.Value``) and the stack's snapshot has a
    secrets manager, that one; else the backend's default, which for a self-managed (S3)
    backend is the passphrase provider (``PULUMI_CONFIG_PASSPHRASE``).
    """
    provider = str(stack_file.get("secretsprovider") or "")
    if provider not in ("", "default", "passphrase"):
        return "cloud", provider
    if stack_file.get("encryptionsalt"):
        return "passphrase", ""
    fallback = environ.get(FALLBACK, "")
    if (fallback == "1" or fallback.lower() == "true") and state is not None:
        return "state:" + state["type"], state["state"]["url"]
    return "passphrase", ""


def state_after_stack_init(url: str) -> dict[str, Any]:
    """The secrets manager ``pulumi stack init --secrets-provider URL`` stores with a new stack
    (pulumi/pulumi ``pkg/cmd/pulumi/stack/io.go``, ``CreateStack``: the initial deployment's
    ``secrets_providers`` holds the manager's type and state)."""
    return {"type": "cloud", "state": {"url": url, "encryptedkey": "AQICAH...(KMS ciphertext)"}}


def stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def ci_jobs() -> Iterator[tuple[str, str, dict[str, str]]]:
    """(workflow job, stack, environment) of every CI job that runs Pulumi on a stack."""
    for name in ("preview.yml", "deploy.yml"):
        workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        for job_name, job in workflow["jobs"].items():
            environ = {**workflow.get("env", {}), **job.get("env", {})}
            stacks = job.get("strategy", {}).get("matrix", {}).get("stack") or [environ["STACK"]]
            for stack in stacks:
                yield f"{name}:{job_name}", stack, {k: str(v) for k, v in environ.items()}


@pytest.fixture(scope="module")
def boot() -> ProgramRun:
    return run_bootstrap()


def documented_stack_inits() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc in ("docs/bootstrap.md", "docs/runbooks/deployment.md"):
        for stack, url in STACK_INIT.findall((ROOT / doc).read_text()):
            if stack in STACKS:
                found.setdefault(stack, set()).add(url)
    return found


def test_the_documented_stack_init_uses_the_bootstraps_secrets_key(boot):
    url = boot.outputs["secretsProvider"]
    assert (
        url.startswith("awskms://alias/") and "pulumi-secrets" in url and "pulumi-state" not in url
    )
    assert documented_stack_inits() == {stack: {url} for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_file_names_no_provider_or_the_bootstraps_secrets_key(stack, boot):
    data = stack_file(stack)
    assert set(data) <= STACK_FILE_KEYS, set(data)
    # A salt would select the passphrase provider before the state is consulted.
    assert "encryptionsalt" not in data
    # Shipped, the file leaves the choice to the state; once a team commits its operator
    # values, the provider and data key a local `stack init` wrote may come along.
    if "secretsprovider" in data:
        assert data["secretsprovider"] == boot.outputs["secretsProvider"]
        assert data.get("encryptedkey"), "a KMS provider without its data key"
    else:
        assert "encryptedkey" not in data


def test_a_fresh_ci_run_uses_the_kms_key_of_the_stack_state_without_a_passphrase(boot):
    url = boot.outputs["secretsProvider"]
    jobs = list(ci_jobs())
    assert {(job, stack) for job, stack, _ in jobs} == {
        ("preview.yml:preview", "staging"),
        ("preview.yml:preview", "production"),
        ("deploy.yml:staging", "staging"),
        ("deploy.yml:production", "production"),
    }
    for job, stack, environ in jobs:
        found = secrets_manager(stack_file(stack), environ, state_after_stack_init(url))
        assert found in {("state:cloud", url), ("cloud", url)}, (job, stack, found)
        assert "PULUMI_CONFIG_PASSPHRASE" not in environ, job


def test_without_the_fallback_ci_would_ask_for_a_passphrase(boot):
    state = state_after_stack_init(boot.outputs["secretsProvider"])
    for stack in STACKS:
        # The stack file as shipped: its config, no provider of its own.
        shipped = {"config": stack_file(stack).get("config", {})}
        assert secrets_manager(shipped, {}, state) == ("passphrase", "")
        assert secrets_manager(shipped, {FALLBACK: "false"}, state) == ("passphrase", "")


def test_the_model_follows_the_cli_order():
    url = "awskms://alias/x?region=us-east-1"
    state = state_after_stack_init(url)
    on = {FALLBACK: "TRUE"}
    # A committed provider wins over the state; a salt means a passphrase; no state, no fallback.
    assert secrets_manager({"secretsprovider": "awskms://alias/y"}, on, state) == (
        "cloud",
        "awskms://alias/y",
    )
    assert secrets_manager({"encryptionsalt": "v1:abc"}, on, state) == ("passphrase", "")
    assert secrets_manager({}, on, None) == ("passphrase", "")
    assert secrets_manager({"secretsprovider": "passphrase"}, {FALLBACK: "1"}, state) == (
        "state:cloud",
        url,
    )
