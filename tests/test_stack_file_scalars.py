"""Stack-file scalars: the harness reads them as the CLI does, the program refuses ambiguous ones.

The CLI decodes with go-yaml v3 and passes non-strings as JSON text (pulumi/pulumi
``sdk/go/common/resource/config/object.go``); PyYAML reads YAML 1.1. Only the file's own text
tells ``16.10`` from ``"16.1"``, so the program reads its stack file at start.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from components.config import ConfigError
from components.config.stack_file import ambiguous_scalars, check
from testing.engine_config import config_strings, go_float
from testing.program import ROOT, run_program

# spelling -> (what the CLI passes, what PyYAML's YAML 1.1 makes of it, kind refused)
SPELLINGS = {
    "16.10": ("16.1", 16.1, "version-like"),
    "7.1": ("7.1", 7.1, "version-like"),
    "1e3": ("1000", "1e3", "version-like"),
    "017": ("15", 15, "octal-like"),
    "0o17": ("15", "0o17", "octal-like"),
    "0x1F": ("31", 31, "octal-like"),
    "on": ("on", True, "boolean-like"),
    "yes": ("yes", True, "boolean-like"),
    "off": ("off", False, "boolean-like"),
    "NO": ("NO", False, "boolean-like"),
    "y": ("y", "y", "boolean-like"),
    "1:30": ("1:30", 90, "time-like"),
    "2024-01-01": ("2024-01-01 00:00:00 +0000 UTC", "2024-01-01", "time-like"),
    "2024-01-01T10:00:00Z": ("2024-01-01 10:00:00 +0000 UTC", None, "time-like"),
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_harness_passes_what_the_cli_passes_not_what_pyyaml_reads(spelling):
    cli, pyyaml, _ = SPELLINGS[spelling]
    assert config_strings(f"config:\n  p:key: {spelling}\n") == {"p:key": cli}
    if pyyaml is not None:
        loaded = yaml.safe_load(f"v: {spelling}")["v"]
        assert str(loaded) == str(pyyaml)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_each_ambiguous_spelling_is_refused_unquoted_naming_the_key(spelling):
    kind = SPELLINGS[spelling][2]
    with pytest.raises(ConfigError) as refused:
        check(f"config:\n  p:dbEngineVersion: {spelling}\n", "Pulumi.x.yaml")
    message = str(refused.value)
    assert "'p:dbEngineVersion'" in message and f"unquoted {kind} value {spelling}" in message
    assert f"quote it ('{spelling}')" in message


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_quoted_they_pass_as_written(spelling):
    for quoted in (f"'{spelling}'", f'"{spelling}"'):
        text = f"config:\n  p:key: {quoted}\n"
        assert ambiguous_scalars(text) == []
        assert config_strings(text) == {"p:key": spelling}


def test_unambiguous_values_pass_unquoted():
    text = (
        "config:\n  p:a: true\n  p:b: 365\n  p:c: 10.20.0.0/16\n  p:d: sun:04:30-sun:05:30\n"
        "  p:e: 03:00-04:00\n  p:f: [t3.medium, t3a.medium]\n  p:g: one_per_az\n  p:h: 0\n"
    )
    assert ambiguous_scalars(text) == []
    assert config_strings(text)["p:f"] == '["t3.medium","t3a.medium"]'


def test_ambiguous_values_inside_lists_are_found_with_their_index():
    found = ambiguous_scalars("config:\n  p:versions: [17, 16.10]\n")
    assert found == [("p:versions[1]", "16.10", "version-like")]


def test_floats_are_spelled_as_go_json_does():
    assert [go_float(v) for v in (16.1, 10.0, 0.5, 1e21, 1e-7, 1e20)] == [
        "16.1", "10", "0.5", "1e+21", "1e-7", "100000000000000000000",
    ]  # fmt: skip


def test_shipped_stack_files_have_no_ambiguous_value():
    for path in [*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "bootstrap").glob("Pulumi.*.yaml")]:
        assert ambiguous_scalars(path.read_text()) == [], path


def test_the_program_refuses_an_unquoted_version_in_its_own_stack_file(tmp_path):
    # GIVEN a checkout whose staging file sets dbEngineVersion: 16.10 unquoted
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(".venv", ".git", "build"))
    path = checkout / "Pulumi.staging.yaml"
    path.write_text(path.read_text() + "  phase-mirror-infra:dbEngineVersion: 16.10\n")
    # WHEN the program starts THEN it stops naming the key, though the engine passed "16.1"
    with pytest.raises(ConfigError, match=r"'phase-mirror-infra:dbEngineVersion'.*16\.10"):
        run_program("staging", root=checkout, preview=True)
