"""Fail a real ``pulumi preview --json`` that would delete or replace a stateful resource.

    pulumi preview --stack production --json > preview.json
    python -m tools.preview_gate preview.json [--allow-data-replacement]

Reads the preview digest the CLI prints with ``--json`` (pulumi/pulumi
``pkg/backend/display/json.go``: ``{"steps": [{"op", "urn", "provider", "oldState",
"newState", "diffReasons", "replaceReasons", "detailedDiff"}], "changeSummary", ...}``) and also
accepts steps shaped like the engine's event metadata (``"type"``, ``"keys"`` for the
replace reasons). Any ``delete``, ``replace``, ``create-replacement`` or ``delete-replaced``
step of a stateful type (``tools.replacement``) fails the job with exit status 1, unless
``--allow-data-replacement`` is given (the pull-request workflow passes it when the pull
request carries the label ``allow-data-replacement``); allowed steps are still listed. A
document that is not a preview digest stops with exit status 2 and says why: a gate that
cannot read its input never passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.replacement import is_stateful, stateful_entry, type_of_urn

GATED_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced"})
# Every step op the engine emits (pulumi/pulumi pkg/resource/deploy/step.go, ``StepOps``); an
# unknown one is an error, so a new kind of step is looked at before it can pass the gate.
KNOWN_OPS = GATED_OPS | {
    "diff",
    "same",
    "create",
    "update",
    "read",
    "read-replacement",
    "refresh",
    "discard",
    "discard-replaced",
    "remove-pending-replace",
    "import",
    "import-replacement",
}
LABEL = "allow-data-replacement"


class MalformedPreview(Exception):
    """The document is not a ``pulumi preview --json`` digest."""


@dataclass(frozen=True)
class Step:
    op: str
    urn: str
    type: str
    reasons: tuple[str, ...]

    def describe(self) -> str:
        why = f" (replace reasons: {', '.join(self.reasons)})" if self.reasons else ""
        entry = stateful_entry(self.type, self.urn)
        label = entry.label if entry else self.type
        return f"{self.op:<18} {self.urn} [{label}]{why}"


def _type_of(raw: dict[str, Any], urn: str, index: int) -> str:
    for candidate in (
        raw.get("type"),
        (raw.get("newState") or {}).get("type"),
        (raw.get("oldState") or {}).get("type"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    try:
        return type_of_urn(urn)
    except ValueError:
        raise MalformedPreview(f"steps[{index}].urn is not a Pulumi URN: {urn!r}") from None


def parse(document: str) -> list[Step]:
    """Every step of a preview digest, validated; ``MalformedPreview`` says what is wrong."""
    try:
        data = json.loads(document)
    except json.JSONDecodeError as exc:
        raise MalformedPreview(
            f"not JSON ({exc}); expected `pulumi preview --json` output"
        ) from None
    if not isinstance(data, dict):
        raise MalformedPreview(f"expected a JSON object, got {type(data).__name__}")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        # A preview always has at least the stack's own step; none means the preview failed
        # or this is some other document.
        errors = [
            d.get("message", "")
            for d in data.get("diagnostics") or []
            if isinstance(d, dict) and d.get("severity") == "error"
        ]
        detail = f"; preview errors: {' | '.join(errors)}" if errors else ""
        raise MalformedPreview(f"no 'steps' list in the document{detail}")
    parsed: list[Step] = []
    for index, raw in enumerate(steps):
        if not isinstance(raw, dict):
            raise MalformedPreview(f"steps[{index}] is not an object")
        op, urn = raw.get("op"), raw.get("urn")
        if not isinstance(op, str) or op not in KNOWN_OPS:
            raise MalformedPreview(f"steps[{index}].op is {op!r}, not a Pulumi step op")
        if not isinstance(urn, str):
            raise MalformedPreview(f"steps[{index}] has no 'urn' string")
        reasons = raw.get("replaceReasons", raw.get("keys")) or []
        if not isinstance(reasons, list):
            raise MalformedPreview(f"steps[{index}] replace reasons are not a list")
        parsed.append(Step(op, urn, _type_of(raw, urn, index), tuple(map(str, reasons))))
    return parsed


def gated(steps: Sequence[Step]) -> list[Step]:
    """The steps that delete or replace a stateful resource."""
    return [s for s in steps if s.op in GATED_OPS and is_stateful(s.type, s.urn)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.preview_gate",
        description="Fail on a preview step that deletes or replaces a stateful resource.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n"
        "  pulumi preview --stack production --json > preview.json\n"
        "  python -m tools.preview_gate preview.json\n\n"
        "exit status: 0 passing, 1 a stateful resource would be deleted or replaced, "
        "2 the file is not a preview digest",
    )
    parser.add_argument("preview", type=Path, help="file with `pulumi preview --json` output")
    parser.add_argument(
        f"--{LABEL}",
        action="store_true",
        dest="allow",
        help=f"set when the pull request carries the label {LABEL}",
    )
    args = parser.parse_args(argv)
    try:
        steps = parse(args.preview.read_text())
    except OSError as exc:
        print(f"tools.preview_gate: cannot read {args.preview}: {exc}", file=sys.stderr)
        return 2
    except MalformedPreview as exc:
        print(f"tools.preview_gate: {args.preview}: {exc}", file=sys.stderr)
        return 2
    found = gated(steps)
    for step in found:
        print(("allowed  " if args.allow else "BLOCKED  ") + step.describe())
    if found and not args.allow:
        print(
            f"{len(found)} step(s) would delete or replace stateful resources. If intended, "
            f"add the label '{LABEL}' to the pull request."
        )
        return 1
    print(f"preview gate: {len(steps)} steps read, {len(found)} touch data, passing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
