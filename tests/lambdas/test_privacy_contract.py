"""docs/privacy.md is the contract the program is built from: its environment, table and
metric tables must say exactly what the handlers read, key and emit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testing.aws import TABLES
from testing.lambdas import ROOT, SAMPLE_ENV, load_handler, variables_read

DOC = (ROOT / "docs" / "privacy.md").read_text()
CODE = re.compile(r"`([^`]+)`")


def section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n#", start + len(title))
    return DOC[start : end if end > 0 else None]


def rows(text: str) -> list[list[str]]:
    """The body rows of every markdown table in ``text``, as cells."""
    found = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            found.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return found


FOLDERS = {
    CODE.findall(r[0])[0]: CODE.findall(r[1])[0]
    for r in rows(section("## 5. Functions"))
    if (len(r) == 4 and r[0].startswith("`fp-"))
    or r[0] in ("`calibration-query`", "`salt-rotator`")
}


def test_every_function_of_the_contract_has_a_folder() -> None:
    assert FOLDERS == {
        "fp-ingestion": "fp_ingestion",
        "fp-consent": "consent",
        "fp-admission": "admission",
        "fp-release": "release",
        "calibration-query": "calibration_query",
        "salt-rotator": "salt_rotator",
    }
    for folder in FOLDERS.values():
        assert (ROOT / "lambdas" / folder / "handler.py").is_file()


def documented_env() -> dict[str, set[str]]:
    env: dict[str, set[str]] = {folder: set() for folder in FOLDERS.values()}
    for variable, _, functions in rows(section("### Environment"))[1:]:
        names = FOLDERS if functions == "all six" else functions.split(", ")
        for name in names:
            env[FOLDERS[name]].add(CODE.findall(variable)[0])
    return env


@pytest.mark.parametrize("folder", sorted(set(FOLDERS.values())))
def test_each_handler_reads_exactly_the_documented_environment(folder: str) -> None:
    assert variables_read(folder, SAMPLE_ENV) == documented_env()[folder]


def test_the_tables_are_keyed_as_documented() -> None:
    documented = {}
    for cells in rows(section("## 7. Tables"))[1:]:
        logical, role, keys, ttl = (CODE.findall(c) for c in cells[:4])
        documented[logical[0]] = (role[0], tuple(keys), ttl[0] if ttl else None)
    assert documented == {
        name: (t.role, tuple(k for k in (t.hash_key, t.range_key) if k), t.ttl_attribute)
        for name, t in TABLES.items()
    }


def code_metrics(folder: str) -> set[str]:
    module = load_handler(folder)
    return {
        value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[A-Z][A-Za-z]+", value)
    }


@pytest.mark.parametrize("folder", sorted(set(FOLDERS.values())))
def test_each_handler_emits_exactly_the_documented_metrics(folder: str) -> None:
    documented: set[str] = set()
    name_of = {v: k for k, v in FOLDERS.items()}
    for cells in rows(section("## 10. Metrics"))[1:]:
        if name_of[folder] in cells[2].split(", "):
            documented |= {m for m in CODE.findall(cells[0]) if m not in ("Environment", "RuleId")}
    assert code_metrics(folder) == documented


def test_the_namespace_is_the_one_the_alarms_watch() -> None:
    from components.observability.alarm_catalog import SERVICE_NAMESPACE

    assert f"Namespace `{SERVICE_NAMESPACE}`" in DOC


def test_the_contract_names_no_issue_or_requirement_document() -> None:
    assert not re.search(r"issue \d+|spec 0|checklist 0", DOC, re.IGNORECASE)
    assert Path(ROOT / "README.md").read_text().count("docs/privacy.md") >= 1
