"""The README quickstart, command by command: what it runs exists and what it sets is valid.

No Pulumi CLI runs here, so each ``pulumi`` command is checked against the flags the CLI defines
(pulumi/pulumi ``pkg/cmd/pulumi/``: ``pulumi.go`` ``--cwd/-C``, ``auth/login.go`` ``--local``,
``stack/stack.go`` and ``config/config.go`` ``--stack``, ``stack/stack_new.go`` (``init``)
``--secrets-provider``, ``config/config.go`` ``set`` ``--secret/--path``,
``stack/stack_output.go`` ``--json/--show-secrets``, ``operations/up.go`` ``--yes/--diff``), its
stack against the stack files, ``stack output`` names against the bootstrap's outputs under
mocks, and every ``config set`` value against the stack's own validation. ``python -m`` modules
run with ``--help``.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bootstrap.config import parse as parse_bootstrap
from components.config import operator_values
from components.config import parse as parse_stack
from components.core.function import runtime_version
from testing.program import ROOT, ProgramRun, run_bootstrap, stack_config

STEPS = ("Bootstrap", "Secrets provider", "Operator values", "Preflight", "First `pulumi up`")
OPERATOR_KEYS = {
    "alarmEmails",
    "devopsRoleArn",
    "developerRoleArn",
    "deployRoleArn",
    "operatorRoleArnPattern",
}
# Modules another part of the project is adding; each must leave this set once it exists
# (test_pending_modules_are_still_missing) and is run by a workflow meanwhile.
PENDING_MODULES: set[str] = set()
GLOBAL_FLAGS = {"-C": 1, "--cwd": 1}
# subcommand -> {flag: number of values}
PULUMI: dict[tuple[str, ...], dict[str, int]] = {
    ("login",): {"--local": 0},
    ("stack", "init"): {"--secrets-provider": 1, "--stack": 1},
    ("stack", "output"): {"--stack": 1, "--json": 0, "--show-secrets": 0},
    ("config", "set"): {"--stack": 1, "--secret": 0, "--path": 0},
    ("up",): {"--stack": 1, "--yes": 0, "--diff": 0},
    ("preview",): {"--stack": 1, "--diff": 0},
}
SUBSTITUTION = re.compile(r"\$\((.+)\)")


def quickstart() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Quickstart.*?(?=^## )", text, re.S | re.M)
    assert match, "README has no Quickstart section"
    return match.group(0)


def steps() -> list[tuple[str, str]]:
    """(title, body) of each numbered step."""
    parts = re.split(r"^(\d+)\. \*\*(.+?)\*\*", quickstart(), flags=re.M)
    return [(parts[i + 1], parts[i + 2]) for i in range(1, len(parts) - 1, 3)]


def commands(body: str) -> list[str]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", body, re.S):
        found += [line.strip() for line in block.splitlines() if line.strip()]
    # Inline code that is a whole command (prose names `pulumi up` alone).
    found += [
        c
        for c in re.findall(r"`([^`\n]+)`", body)
        if c.startswith(("pulumi ", "python ")) and len(c.split()) > 2
    ]
    return [part.strip() for command in found for part in command.split(" && ")]


@pytest.fixture(scope="module")
def boot() -> ProgramRun:
    return run_bootstrap()


class Pulumi:
    """One ``pulumi`` command line, parsed against ``PULUMI``."""

    def __init__(self, words: list[str]) -> None:
        assert words[0] == "pulumi", words
        self.cwd = ROOT
        rest = words[1:]
        while rest and rest[0] in GLOBAL_FLAGS:
            self.cwd = ROOT / rest[1]
            rest = rest[2:]
        assert (self.cwd / "Pulumi.yaml").is_file(), f"-C {self.cwd}: no Pulumi project there"
        self.command = next((c for c in PULUMI if tuple(rest[: len(c)]) == c), None)
        assert self.command, f"unknown pulumi command: {words}"
        self.flags: dict[str, str] = {}
        self.args: list[str] = []
        words_left = rest[len(self.command) :]
        while words_left:
            word = words_left.pop(0)
            if word.startswith("-"):
                count = PULUMI[self.command].get(word)
                assert count is not None, f"pulumi {' '.join(self.command)} has no flag {word}"
                self.flags[word] = words_left.pop(0) if count else ""
            else:
                self.args.append(word)
        stack = self.flags.get("--stack") or (self.args[0] if self.command[-1] == "init" else None)
        if stack is not None:
            assert (self.cwd / f"Pulumi.{stack}.yaml").is_file(), f"no stack file for {stack}"
        self.stack = stack


def resolve(word: str, boot: ProgramRun) -> str:
    """A ``$(pulumi ... stack output NAME ...)`` word becomes the bootstrap's output value."""
    match = SUBSTITUTION.fullmatch(word)
    if not match:
        return word
    inner = Pulumi(shlex.split(match.group(1)))
    assert inner.command == ("stack", "output") and inner.cwd == ROOT / "bootstrap", word
    (name,) = inner.args
    assert name in boot.outputs, f"the bootstrap has no output {name}"
    return str(boot.outputs[name])


def all_commands() -> list[str]:
    return [c for _, body in steps() for c in commands(body)]


def test_the_quickstart_walks_the_first_deploy_in_order():
    titles = [title for title, _ in steps()]
    assert tuple(titles) == STEPS, titles
    assert all(commands(body) for _, body in steps()), "a step without a command"


def test_every_pulumi_command_is_one_the_cli_knows(boot):
    pulumi = [c for c in all_commands() if c.startswith("pulumi ")]
    assert len(pulumi) >= 10, pulumi
    for command in pulumi:
        parsed = Pulumi([resolve(w, boot) for w in shlex.split(command)])
        if parsed.command == ("stack", "init") and "--secrets-provider" in parsed.flags:
            assert parsed.flags["--secrets-provider"] == boot.outputs["secretsProvider"]
        if parsed.command == ("login",) and parsed.args:
            assert parsed.args == [boot.outputs["loginUrl"]], parsed.args


def test_every_value_it_sets_passes_the_stacks_validation(boot):
    sets: dict[tuple[Path, str], dict[str, str]] = {}
    for command in all_commands():
        if not command.startswith("pulumi "):
            continue
        parsed = Pulumi([resolve(w, boot) for w in shlex.split(command)])
        if parsed.command == ("config", "set"):
            key, value = parsed.args
            assert parsed.stack is not None, command
            sets.setdefault((parsed.cwd, parsed.stack), {})[key] = value
    # CI deploys both stacks from the committed files: each gets every value its `up` refuses
    # without.
    for stack in ("staging", "production"):
        values = sets.pop((ROOT, stack))
        absent = operator_values.missing(operator_values.MAIN_PROJECT, values)
        assert not operator_values.refused(stack, absent), (stack, absent)
        assert values["deployRoleArn"] == boot.outputs["deployRoleArn"], stack
        raw = stack_config(stack)
        project = {
            k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("phase-mirror-infra:")
        }
        parse_stack(
            {**project, **values},
            project="phase-mirror-infra",
            stack=stack,
            region=raw["aws:region"],
        )
        if stack == "production":
            assert set(values) == OPERATOR_KEYS, set(values)
    bootstrap = sets.pop((ROOT / "bootstrap", "bootstrap"))
    absent = operator_values.missing(operator_values.BOOTSTRAP_PROJECT, bootstrap)
    assert not operator_values.refused("bootstrap", absent), absent
    assert set(bootstrap) == {"githubRepository", "operatorRoleArnPattern"}, bootstrap
    # OWNER/REPO is the placeholder the reader replaces; a real name of that shape must pass.
    assert bootstrap["githubRepository"] == "OWNER/REPO"
    parse_bootstrap(bootstrap, stack="bootstrap", region="us-east-1")
    assert not sets, sets


def test_it_asks_for_the_python_that_pulumi_up_accepts():
    # `pulumi up` on another Python refuses (the layer's bytecode is the runtime's own).
    needs = quickstart().split("1. **", 1)[0]
    assert "Python {}.{}".format(*runtime_version()) in needs, needs


def test_it_says_to_commit_the_values_ci_reads():
    (body,) = [body for title, body in steps() if title == "Operator values"]
    assert "Commit both stack files" in body, body


def workflow_runs(module: str) -> bool:
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        data = yaml.safe_load(path.read_text())
        for job in data["jobs"].values():
            if any(f"python -m {module} " in str(s.get("run", "")) for s in job["steps"]):
                return True
    return False


def test_every_python_module_it_runs_answers_help():
    modules = [shlex.split(c) for c in all_commands() if c.startswith("python ")]
    assert modules, "no python command in the quickstart"
    for words in modules:
        assert words[:2] == ["python", "-m"], words
        module = words[2]
        if importlib.util.find_spec(module) is None:
            assert module in PENDING_MODULES, f"no module {module}"
            assert workflow_runs(module), f"{module} is neither here nor run by a workflow"
            continue
        result = subprocess.run(  # noqa: S603 - our interpreter, a module of this repository
            [sys.executable, "-m", module, "--help"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert result.returncode == 0, f"{module} --help: {result.stderr}"


def test_pending_modules_are_still_missing():
    landed = sorted(m for m in PENDING_MODULES if importlib.util.find_spec(m) is not None)
    assert not landed, f"these exist now: remove them from PENDING_MODULES: {landed}"
