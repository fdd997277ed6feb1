"""Would this change replace or remove data? Compare the program at a git ref with the work tree.

    python -m tools.against STACK REF [--allow-replace URN ...] [--root DIR]

Runs the program at git ref REF (extracted with ``git archive`` into a temporary directory, so
the work tree and its index are never touched) and the program in the work tree, both under
the same mocks (``testing.program``) with each checkout's own ``Pulumi.<STACK>.yaml``. For
every stateful resource of REF (types in ``tools.replacement``) it prints whether it is gone
(no resource of the work tree answers to its URN, aliases included) or which replace-forcing
input changed, old -> new, with secrets masked. Exit status: 0 when nothing would be replaced
or removed (or every such URN is named by ``--allow-replace``), 1 when something would, 2 when
the comparison itself cannot run (unknown ref or stack, the program fails at REF or in the
work tree). A stack that REF does not have yet passes: it holds no data to replace.

``--root`` names the checkout to compare (default: the one this module lives in); REF is
resolved in that checkout's git repository.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pulumi.runtime import rpc

from testing.program import ROOT, ProgramRun, Resource, run_program
from tools.identity import Identities
from tools.replacement import (
    RENAMES_IN_PLACE,
    forcing_inputs,
    is_stateful,
    secret_inputs,
    stateful_entry,
)

MASK = "[secret]"
# Top-level packages of the harness itself: shared between both runs, never re-imported.
HARNESS = {"tools", "tests"}


class AgainstError(Exception):
    """The comparison cannot run; the message names the ref or stack at fault."""


class NewStack(AgainstError):
    """REF has no file for the stack: the change creates it, so it replaces nothing."""


@dataclass(frozen=True)
class Change:
    urn: str
    type: str
    kind: Literal["removed", "replaced", "renamed"]
    input: str = ""
    old: str = ""
    new: str = ""

    @property
    def blocking(self) -> bool:
        return self.kind != "renamed"

    def describe(self) -> str:
        entry = stateful_entry(self.type, self.urn)
        label = entry.label if entry else self.type
        if self.kind == "removed":
            return f"REMOVED   {self.urn} ({label}): no resource answers to this URN any more"
        verb = "REPLACED " if self.kind == "replaced" else "RENAMED  "
        note = "" if self.blocking else " (updated in place; clients must follow the new name)"
        return f"{verb} {self.urn} ({label}): {self.input}: {self.old} -> {self.new}{note}"


def resolve_ref(ref: str, repo: Path) -> str:
    """The commit REF names in ``repo``, or an ``AgainstError`` naming the ref."""
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise AgainstError(f"git ref {ref!r} does not name a commit in {repo}")
    return result.stdout.strip()


def extract(commit: str, repo: Path, dest: Path) -> Path:
    """Write the tree of ``commit`` into ``dest`` (``git archive``: no worktree, no index)."""
    result = subprocess.run(  # noqa: S603
        ["git", "-C", str(repo), "archive", "--format=tar", commit],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise AgainstError(f"cannot extract {commit[:12]} from {repo}: {message}")
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest


@contextlib.contextmanager
def _program_modules(root: Path) -> Iterator[None]:
    """Import the checkout's own packages (components, lambdas, ...) for one run.

    Both checkouts have a ``components`` package; without this the second run would reuse the
    modules the first imported. The caller's modules are put back afterwards.
    """
    local = {p.stem for p in root.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    local = {name for name in local - HARNESS if not name.startswith("__")}

    def ours(name: str) -> bool:
        return name.split(".")[0] in local

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    try:
        with contextlib.chdir(root):
            yield
    finally:
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def run_at(root: Path, stack: str, label: str) -> ProgramRun:
    """Run the program of checkout ``root`` for ``stack``; failures name ``label``."""
    if not (root / f"Pulumi.{stack}.yaml").is_file():
        raise AgainstError(f"{label} has no stack file Pulumi.{stack}.yaml")
    if not (root / "__main__.py").is_file():
        raise AgainstError(f"{label} has no __main__.py")
    with _program_modules(root):
        try:
            return run_program(stack, program=root / "__main__.py", root=root)
        except Exception as exc:  # any failure of the program is reported, naming the ref
            raise AgainstError(
                f"the program at {label} fails for stack {stack!r}: {type(exc).__name__}: {exc}"
            ) from exc


def _plain(value: Any) -> Any:
    """A comparable form of an input value: secrets masked, mappings in key order."""
    if rpc.is_rpc_secret(value):
        return MASK
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _at(inputs: dict[str, Any], path: str) -> Any:
    """The value at a dotted input path (``None`` when absent); lists map over their items."""
    value: Any = inputs
    for part in path.split("."):
        if isinstance(value, list):
            value = [item.get(part) if isinstance(item, dict) else None for item in value]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _shown(value: Any) -> str:
    return "(absent)" if value is None else repr(value)


# Outputs by which one resource refers to another (a vault's kmsKeyArn is its key's arn).
REFERENCE_OUTPUTS = ("arn", "keyId")


def _references(run: ProgramRun, identity: dict[str, str]) -> dict[str, str]:
    """Reference value (an ARN, a key id) -> the URN of the resource it names, in old terms."""
    found: dict[str, str] = {}
    for resource in run.resources:
        for key in REFERENCE_OUTPUTS:
            value = resource.outputs.get(key)
            if isinstance(value, str) and value:
                found[value] = identity.get(resource.urn, resource.urn)
    return found


def compare(old: ProgramRun, new: ProgramRun) -> list[Change]:
    """Per stateful resource of ``old``: removed, or each replace-forcing input that changed.

    A value naming another resource (``kmsKeyArn``) compares by that resource's identity: the
    mocks derive ARNs from logical names, so a key renamed with an alias gets a new mock ARN
    while the engine keeps the real one.
    """
    identities = Identities(new)
    answering = identities.index()
    old_urns = {r.urn for r in old.resources}
    # new URN -> the old URN it answers to (itself when it is new or unchanged)
    in_old_terms = {
        r.urn: next(iter(sorted(identities.urns(r) & old_urns)), r.urn) for r in new.resources
    }
    old_refs = _references(old, {})
    new_refs = _references(new, in_old_terms)
    changes: list[Change] = []
    for before in old.resources:
        if not is_stateful(before.type, before.urn):
            continue
        after = answering.get(before.urn)
        if after is None or after.type != before.type:
            changes.append(Change(before.urn, before.type, "removed"))
            continue
        # A resource's own ARN never stands for itself: its name changing is a replacement.
        own = before.urn
        refs = (
            {v: u for v, u in old_refs.items() if u != own},
            {v: u for v, u in new_refs.items() if u != own},
        )
        changes += _input_changes(before, after, refs)
    return changes


def _as_reference(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str) and value in refs:
        return f"<resource {refs[value]}>"
    if isinstance(value, dict):
        return {k: _as_reference(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_reference(v, refs) for v in value]
    return value


def _input_changes(
    before: Resource,
    after: Resource,
    refs: tuple[dict[str, str], dict[str, str]] = ({}, {}),
) -> list[Change]:
    secrets = set(secret_inputs(before.type, before.urn))
    found: list[Change] = []
    renames = RENAMES_IN_PLACE.get(before.type, ())
    # The engine keeps the old value of an input the program ignores (the salt's first version
    # has ignore_changes on secretString), so a change there replaces nothing.
    ignored = {name.split(".")[0].split("[")[0] for name in after.ignore_changes}
    for path in (*forcing_inputs(before.type, before.urn), *renames):
        if path.split(".")[0] in ignored:
            continue
        old_value, new_value = _plain(_at(before.inputs, path)), _plain(_at(after.inputs, path))
        if _as_reference(old_value, refs[0]) == _as_reference(new_value, refs[1]):
            continue
        # A secret that changes shows as changed; neither value is ever printed.
        secret = path.split(".")[0] in secrets or MASK in (old_value, new_value)
        kind: Literal["replaced", "renamed"] = "renamed" if path in renames else "replaced"
        old_shown = MASK if secret else _shown(old_value)
        new_shown = f"{MASK} (changed)" if secret else _shown(new_value)
        found.append(Change(before.urn, before.type, kind, path, old_shown, new_shown))
    return found


def against(
    stack: str, ref: str, *, root: Path = ROOT, workdir: Path | None = None
) -> tuple[str, list[Change]]:
    """Compare ``stack`` at ``ref`` with checkout ``root``; returns (commit, changes)."""
    commit = resolve_ref(ref, root)
    label = f"ref {ref!r} ({commit[:12]})"
    if not (root / f"Pulumi.{stack}.yaml").is_file():
        raise AgainstError(f"the work tree {root} has no stack file Pulumi.{stack}.yaml")
    with tempfile.TemporaryDirectory(prefix="against-", dir=workdir) as tmp:
        old_root = extract(commit, root, Path(tmp))
        if not (old_root / f"Pulumi.{stack}.yaml").is_file():
            # A stack this change introduces holds no data yet: nothing can be replaced.
            raise NewStack(f"stack {stack!r} does not exist at {label}: nothing to replace")
        old = run_at(old_root, stack, label)
    new = run_at(root, stack, f"the work tree {root}")
    return commit, compare(old, new)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.against",
        description="Fail when the work tree would replace or remove a stateful resource of REF.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python -m tools.against production origin/main\n"
        "  python -m tools.against production origin/main --allow-replace \\\n"
        "    'urn:pulumi:production::phase-mirror-infra::phase-mirror:index:CalibrationStore"
        "$aws:dynamodb/table:Table::calibration-store-consent-store'\n\n"
        "exit status: 0 nothing replaced or removed (or only allowed URNs), 1 a stateful "
        "resource would be, 2 the comparison cannot run",
    )
    parser.add_argument("stack", help="stack name (Pulumi.<stack>.yaml), e.g. production")
    parser.add_argument("ref", help="git ref to compare with, e.g. origin/main or HEAD")
    parser.add_argument(
        "--allow-replace",
        metavar="URN",
        action="append",
        default=[],
        help="accept the replacement or removal of this URN (repeatable)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to compare")
    args = parser.parse_args(argv)
    return report(args.stack, args.ref, set(args.allow_replace), root=args.root.resolve())


def report(stack: str, ref: str, allowed: set[str], *, root: Path = ROOT) -> int:
    """Print the comparison and return the exit status (0 pass, 1 replace/remove, 2 error)."""
    try:
        commit, changes = against(stack, ref, root=root)
    except NewStack as exc:
        print(f"tools.against: {exc}")
        return 0
    except AgainstError as exc:
        print(f"tools.against: {exc}", file=sys.stderr)
        return 2
    print(f"tools.against: stack {stack}, {ref} ({commit[:12]}) -> work tree {root}")
    lines, status = verdict(changes, allowed)
    print("\n".join(lines))
    return status


def verdict(changes: Sequence[Change], allowed: set[str]) -> tuple[list[str], int]:
    """The report's lines and exit status: 1 if a change blocks and its URN is not allowed."""
    lines = []
    for change in changes:
        suffix = "  [allowed by --allow-replace]" if change.urn in allowed else ""
        lines.append(f"  {change.describe()}{suffix}")
    for urn in sorted(allowed - {c.urn for c in changes}):
        lines.append(f"  note: --allow-replace {urn} matches no replaced or removed resource")
    blocked = sorted({c.urn for c in changes if c.blocking and c.urn not in allowed})
    accepted = sorted({c.urn for c in changes if c.blocking and c.urn in allowed})
    for urn in accepted:
        what = "; ".join(
            "removed" if c.kind == "removed" else f"{c.input}: {c.old} -> {c.new}"
            for c in changes
            if c.urn == urn and c.blocking
        )
        lines.append(f"  --allow-replace {urn} allowed: {what}")
    if blocked:
        lines.append(
            f"{len(blocked)} stateful resource(s) would be replaced or removed. If that is "
            "intended, rerun with --allow-replace URN for each (and label the pull request "
            "allow-data-replacement)."
        )
        return lines, 1
    if accepted:
        lines.append(
            f"passing: only the {len(accepted)} URN(s) allowed above would be replaced or removed"
        )
    else:
        lines.append("no stateful resource would be replaced or removed")
    return lines, 0


if __name__ == "__main__":
    sys.exit(main())
