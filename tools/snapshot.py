"""The committed record of every resource URN and stack output name, per stack.

    python -m tools.snapshot [STACK ...]     # rewrite tests/snapshots/<stack>.json on purpose

A URN is the resource's identity in the engine's state (type chain of its parents, type, name):
when it changes without an alias, ``pulumi up`` deletes the old resource and creates a new one.
tests/test_urn_snapshot.py runs the program under mocks and compares it with the snapshot; a
difference fails listing the added and removed URNs. A removed URN that an alias of a current
resource still answers to is a move, not a difference (``tools.identity``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from testing.program import ROOT, ProgramRun, StackFileError, run_program
from testing.program import stacks as stack_names
from tools.identity import Identities

SNAPSHOTS = ROOT / "tests" / "snapshots"
STACKS = ("staging", "production")
REWRITE = "python -m tools.snapshot"


def record(run: ProgramRun) -> dict[str, Any]:
    """What the snapshot keeps of a run: sorted URNs and sorted stack output names."""
    return {
        "stack": run.stack,
        "urns": sorted(r.urn for r in run.resources),
        "outputs": sorted(run.outputs),
    }


def path_for(stack: str, directory: Path = SNAPSHOTS) -> Path:
    return directory / f"{stack}.json"


def load(stack: str, directory: Path = SNAPSHOTS) -> dict[str, Any]:
    path = path_for(stack, directory)
    if not path.is_file():
        raise FileNotFoundError(f"no URN snapshot {path}; create it with `{REWRITE} {stack}`")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("urns"), list):
        raise ValueError(f"{path} is not a URN snapshot; rewrite it with `{REWRITE} {stack}`")
    return data


def write(run: ProgramRun, directory: Path = SNAPSHOTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = path_for(run.stack, directory)
    path.write_text(json.dumps(record(run), indent=2) + "\n")
    return path


@dataclass
class Difference:
    """How a run differs from its snapshot."""

    stack: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # old URN -> the current URN that answers to it through an alias
    moved: dict[str, str] = field(default_factory=dict)
    outputs_added: list[str] = field(default_factory=list)
    outputs_removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.outputs_added or self.outputs_removed)

    def message(self) -> str:
        lines = [f"stack {self.stack} differs from tests/snapshots/{self.stack}.json:"]
        for urn in self.removed:
            lines.append(f"  removed (delete on next up, unless an alias keeps it): {urn}")
        for urn in self.added:
            lines.append(f"  added: {urn}")
        for name in self.outputs_removed:
            lines.append(f"  stack output removed: {name}")
        for name in self.outputs_added:
            lines.append(f"  stack output added: {name}")
        lines.append(
            "A renamed or moved resource keeps its identity with "
            "opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name=..., parent=...)]). "
            f"If the difference is intended, rewrite the snapshot: `{REWRITE} {self.stack}`"
        )
        return "\n".join(lines)


def compare(snapshot: dict[str, Any], run: ProgramRun) -> Difference:
    before, now = set(snapshot["urns"]), {r.urn for r in run.resources}
    answering = Identities(run).index()
    diff = Difference(stack=run.stack)
    for urn in sorted(before - now):
        current = answering.get(urn)
        if current is None:
            diff.removed.append(urn)
        else:
            diff.moved[urn] = current.urn
    targets = set(diff.moved.values())
    diff.added = sorted(now - before - targets)
    old_outputs, new_outputs = set(snapshot.get("outputs", [])), set(run.outputs)
    diff.outputs_added = sorted(new_outputs - old_outputs)
    diff.outputs_removed = sorted(old_outputs - new_outputs)
    return diff


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=REWRITE,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n  {REWRITE}              # both stacks\n  {REWRITE} production",
    )
    parser.add_argument("stacks", nargs="*", metavar="STACK", help=f"default: {' '.join(STACKS)}")
    stacks = parser.parse_args(argv).stacks or list(STACKS)
    known = set(stack_names())
    for stack in stacks:
        if stack not in known:
            # Checked for all first: a typo in the second name must not leave the first rewritten.
            print(
                f"tools.snapshot: unknown stack {stack!r}: no Pulumi.{stack}.yaml "
                f"(stacks: {', '.join(sorted(known))})",
                file=sys.stderr,
            )
            return 2
    for stack in stacks:
        try:
            run = run_program(stack)
        except (StackFileError, pulumi.RunError) as exc:
            print(f"tools.snapshot: stack {stack}: {exc}", file=sys.stderr)
            return 2
        path = write(run)
        print(f"wrote {path.relative_to(ROOT)}: {len(run.resources)} URNs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
