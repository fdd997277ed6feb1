"""Project and stack files as the Pulumi CLI reads them: schema for the project, documented
settings for the stacks.

The project file is validated against Pulumi's own JSON schema (vendored in tests/data with its
commit). There is no published stack-file schema, so the stack files' top-level keys are
checked against the stack settings Pulumi documents ("Pulumi.<stack>.yaml" in the Pulumi
docs' project-file reference): a misspelt ``secretProvider`` would otherwise be ignored and the
stack would fall back to a passphrase.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from testing.program import ROOT

SCHEMA = json.loads((ROOT / "tests" / "data" / "pulumi-project.schema.json").read_text())
PROJECT_FILES = (ROOT / "Pulumi.yaml", ROOT / "bootstrap" / "Pulumi.yaml")
STACK_SETTINGS = {"secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment"}


def stack_files() -> list[Path]:
    return sorted([*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "bootstrap").glob("Pulumi.*.yaml")])


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_project_file_is_valid_against_pulumis_schema(path: Path) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(yaml.safe_load(path.read_text()))


def test_the_schema_catches_a_broken_project_file() -> None:
    broken = {**yaml.safe_load(PROJECT_FILES[0].read_text()), "runtime": {"nmae": "python"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(broken)


@pytest.mark.parametrize("path", stack_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_stack_file_uses_only_documented_stack_settings(path: Path) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    assert set(data) <= STACK_SETTINGS, sorted(set(data) - STACK_SETTINGS)
    assert isinstance(data.get("config", {}), dict)


def test_stack_files_exist_for_both_stacks_and_bootstrap() -> None:
    names = {p.name for p in stack_files()}
    assert {"Pulumi.staging.yaml", "Pulumi.production.yaml", "Pulumi.bootstrap.yaml"} <= names
