"""``tools.against`` on real git refs: the issue's done-when and its bad inputs.

Each test works in a scratch repository holding a copy of this work tree's files (``git
ls-files``, then ``git init`` + one commit), so the main work tree and its index are never
touched, and ``HEAD`` there is the program as it stands here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.program import ROOT
from tools import against

CONSENT_SPEC = 'TableSpec(role="consent-store", hash_key="orgKey"'
CONSENT_URN_TAIL = "aws:dynamodb/table:Table::calibration-store-consent-store"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A one-commit repository holding this work tree's files (HEAD's, on a clean checkout)."""
    repo = tmp_path / "repo"
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "base")
    return repo


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new))


def test_changing_the_consent_hash_key_fails_naming_the_resource_and_input(scratch):
    # GIVEN the consent table's hash key changed in the work tree
    edit(
        scratch / "components" / "service" / "calibration_store.py",
        CONSENT_SPEC,
        'TableSpec(role="consent-store", hash_key="organisationId"',
    )
    # WHEN the CLI compares it with HEAD
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tools.against", "production", "HEAD", "--root", str(scratch)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it exits 1 naming the table's URN and the input, old -> new
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if CONSENT_URN_TAIL in x)
    assert "REPLACED" in line and "hashKey: 'orgKey' -> 'organisationId'" in line, line


def test_an_unchanged_work_tree_passes_and_the_caller_s_modules_come_back(scratch, capsys):
    import components.config as before

    assert against.report("staging", "HEAD", set(), root=scratch) == 0
    assert "no stateful resource would be replaced or removed" in capsys.readouterr().out
    import components.config as after

    assert after is before, "the run at the scratch checkout left its modules behind"


def test_a_ref_that_does_not_exist_stops_naming_the_ref(scratch, capsys):
    assert against.report("production", "no-such-branch", set(), root=scratch) == 2
    err = capsys.readouterr().err
    assert "'no-such-branch'" in err and "does not name a commit" in err, err


def test_a_ref_at_which_the_program_fails_stops_naming_the_ref(scratch, capsys):
    main = scratch / "__main__.py"
    good = main.read_text()
    main.write_text('raise RuntimeError("broken on purpose")\n')
    git(scratch, "commit", "--quiet", "-am", "broken")
    git(scratch, "tag", "broken")
    main.write_text(good)
    assert against.report("production", "broken", set(), root=scratch) == 2
    err = capsys.readouterr().err
    assert "ref 'broken'" in err and "broken on purpose" in err, err


def test_a_work_tree_at_which_the_program_fails_stops_saying_so(scratch, capsys):
    (scratch / "__main__.py").write_text('raise RuntimeError("half-written")\n')
    assert against.report("production", "HEAD", set(), root=scratch) == 2
    err = capsys.readouterr().err
    assert "the work tree" in err and "half-written" in err, err


def test_an_unknown_stack_stops_naming_it(scratch, capsys):
    assert against.report("qa", "HEAD", set(), root=scratch) == 2
    assert "Pulumi.qa.yaml" in capsys.readouterr().err


def test_a_stack_the_change_introduces_has_nothing_to_replace(scratch, capsys):
    shutil.copy2(scratch / "Pulumi.staging.yaml", scratch / "Pulumi.qa.yaml")
    assert against.report("qa", "HEAD", set(), root=scratch) == 0
    assert "does not exist at ref 'HEAD'" in capsys.readouterr().out
