"""The tools as a newcomer meets them: bad input gets one line and exit 2, never a traceback or a
half-printed report; every ``python -m`` entry point answers ``--help`` with an example."""

from __future__ import annotations

import functools
import importlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from testing.program import ROOT, StackFileError, run_program, stack_config
from tools import preview, snapshot

TOOLS = ROOT / "tools"
KNOWN = {"tools.preview", "tools.against", "tools.preview_gate", "tools.snapshot", "tools.cost"}


def entry_points() -> list[str]:
    """Every ``python -m`` module of tools/ (a script guard or a package ``__main__``)."""
    found = [
        f"tools.{path.stem}"
        for path in TOOLS.glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    ]
    found += [f"tools.{path.parent.name}" for path in TOOLS.glob("*/__main__.py")]
    return sorted(found)


def test_the_entry_points_found_include_every_known_tool():
    assert set(entry_points()) >= KNOWN  # the discovery below cannot pass on finding nothing


def _main(module: str) -> Callable[[Sequence[str]], int]:
    return importlib.import_module(module).main


@pytest.mark.parametrize("module", [*entry_points(), "bench.__main__"])
def test_help_works_and_shows_an_example(module: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        _main(module)(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    command = "python -m " + module.removesuffix(".__main__")
    assert f"usage: {command}" in out
    assert "example" in out and f"\n  {command} " in out, f"{command} --help shows no example"


# --- tools.preview ---------------------------------------------------------------------------


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_preview_of_an_unknown_stack_is_one_line_naming_it(capsys: pytest.CaptureFixture[str]):
    assert preview.main(["qa"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "'qa'" in one_line(err) and "stacks: production, staging" in err


def test_preview_of_a_bad_config_value_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # GIVEN staging's file with kAnonymity set to a word (the program raises ConfigError)
    bad = functools.partial(run_program, overrides={"phase-mirror-infra:kAnonymity": "lots"})
    monkeypatch.setattr(preview, "run_program", bad)
    # THEN one line names the stack, the key, the value and what is allowed; nothing else
    assert preview.main(["staging"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err).startswith("tools.preview: stack staging: config key 'kAnonymity'")
    assert "'lots'" in err and "allowed" in err


def test_preview_against_a_bad_ref_fails_before_printing_anything(
    capsys: pytest.CaptureFixture[str],
):
    assert preview.main(["staging", "--against", "no-such-ref-anywhere"]) == 2
    out, err = capsys.readouterr()
    assert out == "", "the report must not print before the ref is known to exist"
    assert "'no-such-ref-anywhere'" in one_line(err)


def test_allow_replace_without_against_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        preview.main(["staging", "--allow-replace", "urn:pulumi:x"])
    assert exit_.value.code == 2
    assert "--against REF" in capsys.readouterr().err


def test_a_stack_file_that_is_not_yaml_names_the_file_and_line(tmp_path: Path):
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  a: [unclosed\n")
    with pytest.raises(StackFileError, match=r"Pulumi\.broken\.yaml line \d+ is not valid YAML"):
        stack_config("broken", tmp_path)
    (tmp_path / "Pulumi.list.yaml").write_text("- just a list\n")
    with pytest.raises(StackFileError, match="no 'config:' mapping"):
        stack_config("list", tmp_path)


# --- tools.snapshot ----------------------------------------------------------------------------


def test_snapshot_refuses_an_unknown_stack_before_rewriting_any(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def no_write(*_: object) -> Path:
        raise AssertionError("a snapshot was rewritten before every stack name was checked")

    monkeypatch.setattr(snapshot, "write", no_write)
    assert snapshot.main(["staging", "qa"]) == 2
    assert "'qa'" in one_line(capsys.readouterr().err)


# --- the benchmark -----------------------------------------------------------------------------


def test_the_benchmark_reports_each_stage_on_stderr_with_the_time_so_far():
    ticks = iter([100.0, 100.0, 142.4])
    stream = io.StringIO()
    progress = bench_main.Progress(3, stream=stream, clock=lambda: next(ticks))
    progress("fp-ingestion, 2000 warm events against moto")
    progress("fp_ingestion cold start, 7 fresh interpreters")
    assert stream.getvalue().splitlines() == [
        "bench [1/3, 0 s]: fp-ingestion, 2000 warm events against moto",
        "bench [2/3, 42 s]: fp_ingestion cold start, 7 fresh interpreters",
    ]
