"""Each handler's production wiring: ``dependencies()`` built from exactly the variables it reads, and
numeric variables parsed so that no value, however odd, crashes with anything but a clear
``ValueError`` naming the variable."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testing.lambdas import SAMPLE_ENV, load_handler, variables_read

ARN = SAMPLE_ENV["SALT_SECRET_ID"]
PSEUDONYMS = (
    "ENVIRONMENT",
    "ADMISSION_TABLE_NAME",
    "PENDING_TABLE_NAME",
    "SALT_SECRET_ID",
    "ORG_KEY_ID",
)
# What each function needs: without one of these its wiring fails; given more, it reads no more.
NEEDS = {
    "salt_rotator": ("ENVIRONMENT", "SALT_SECRET_ID"),
    "fp_ingestion": (*PSEUDONYMS, "CONSENT_TABLE_NAME", "DEDUP_TABLE_NAME", "SALT_CACHE_SECONDS",
                     "INTERNAL_PRINCIPAL_ARNS"),
    "consent": (*PSEUDONYMS, "CONSENT_TABLE_NAME"),
    "admission": (*PSEUDONYMS, "ADMIN_PRINCIPAL_ARNS"),
    "release": ("ENVIRONMENT", "PENDING_TABLE_NAME", "PUBLISHED_TABLE_NAME", "SALT_SECRET_ID",
                "K_ANONYMITY", "MAX_EVENTS_PER_ORG"),
    "calibration_query": ("ENVIRONMENT", "PUBLISHED_TABLE_NAME", "K_ANONYMITY",
                          "INTERNAL_PRINCIPAL_ARNS"),
}  # fmt: skip
ENVIRONMENTS = {function: {n: SAMPLE_ENV[n] for n in names} for function, names in NEEDS.items()}
# Variables with a default; every other one is required.
OPTIONAL = {"SALT_CACHE_SECONDS", "K_ANONYMITY", "MAX_EVENTS_PER_ORG"}


@pytest.mark.parametrize("function", sorted(ENVIRONMENTS))
def test_env_vars_are_the_variables_the_wiring_needs(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_handler(function)
    env = ENVIRONMENTS[function]
    assert variables_read(function, SAMPLE_ENV) == set(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    deps = module.dependencies.__wrapped__()  # uncached: a fresh container's first call
    if hasattr(deps, "settings"):
        assert deps.settings == module.Settings.from_env(env)
        assert deps.settings.environment == "production"
    else:
        assert (deps.secret_id, deps.environment) == (ARN, "production")
    # every required variable is needed: without it the wiring fails at once
    for name in set(env) - OPTIONAL:
        monkeypatch.delenv(name)
        with pytest.raises((KeyError, ValueError)):
            module.dependencies.__wrapped__()
        monkeypatch.setenv(name, env[name])


NUMERIC = [
    ("fp_ingestion", "SALT_CACHE_SECONDS", 0, 3600),
    ("release", "K_ANONYMITY", 2, 1000),
    ("release", "MAX_EVENTS_PER_ORG", 1, 1000),
    ("calibration_query", "K_ANONYMITY", 2, 1000),
]


@pytest.mark.parametrize(("function", "name", "low", "high"), NUMERIC)
@given(raw=st.one_of(st.text(max_size=12), st.sampled_from(["²", "\u0663", "+1", " 1", "1e3",
                                                            "9" * 5000, "0x10", "1_0"])))  # fmt: skip
def test_a_numeric_variable_parses_or_fails_naming_itself(
    function: str, name: str, low: int, high: int, raw: str
) -> None:
    module = load_handler(function)
    env = {**ENVIRONMENTS[function], name: raw}
    try:
        settings = module.Settings.from_env(env)
    except ValueError as exc:
        assert str(exc).startswith(f"{name}="), exc
        assert not (raw.isascii() and raw.isdigit() and len(raw) < 9 and low <= int(raw) <= high)
        return
    value = {"SALT_CACHE_SECONDS": "salt_cache_seconds", "K_ANONYMITY": "k",
             "MAX_EVENTS_PER_ORG": "cap"}[name]  # fmt: skip
    assert getattr(settings, value) == int(raw) and low <= int(raw) <= high


@pytest.mark.parametrize("function", ["fp_ingestion", "calibration_query", "admission"])
@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        '["arn:aws:iam::123456789012:role/*"]',
        '["arn:aws:iam::123456789012:root"]',
        '["arn:aws:sts::123456789012:assumed-role/x/y"]',
        json.dumps([f"arn:aws:iam::123456789012:role/r{n}" for n in range(21)]),
    ],
)
def test_an_allow_list_that_is_not_role_or_user_arns_fails_naming_itself(
    function: str, raw: str
) -> None:
    module: ModuleType = load_handler(function)
    name = "ADMIN_PRINCIPAL_ARNS" if function == "admission" else "INTERNAL_PRINCIPAL_ARNS"
    with pytest.raises(ValueError, match=name):
        module.Settings.from_env({**ENVIRONMENTS[function], name: raw})


def _environment_reads(tree: ast.AST) -> list[tuple[int, str | None]]:
    """(line, enclosing function) of every ``os.environ`` / ``os.getenv`` in a module."""
    found: list[tuple[int, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            found.append((node.lineno, function))
        if isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def test_the_environment_is_read_in_dependencies_only() -> None:
    # What the component deploys is compared with what dependencies() reads; a read elsewhere
    # (a debug switch in a request path) would escape that comparison.
    lambdas = Path(__file__).resolve().parents[2] / "lambdas"
    elsewhere = [
        f"{path.relative_to(lambdas)}:{line} in {function}"
        for path in sorted(lambdas.rglob("*.py"))
        for line, function in _environment_reads(ast.parse(path.read_text()))
        if function != "dependencies"
    ]
    assert elsewhere == []


def test_the_environment_read_finder_sees_a_read_outside_dependencies() -> None:
    source = "import os\ndef dependencies():\n    return os.environ\ndef handler():\n    os.getenv('X')\n"
    assert _environment_reads(ast.parse(source)) == [(3, "dependencies"), (5, "handler")]
