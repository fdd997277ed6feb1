"""Write docs/configuration.md: every stack config key, from its one declaration.

    python -m tools.config_reference           # rewrite docs/configuration.md
    python -m tools.config_reference --check   # exit 1 when the committed file is stale

Each key's default, what it allows, its production floor and what it does come from
components/config/keys.py; which keys only a team can supply from
components/config/operator_values.py. Nothing here is written by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from components.config import keys, operator_values
from components.config.validators import optional
from testing.program import ROOT

DOC = ROOT / "docs" / "configuration.md"
TITLES = {
    "stack": "The stack",
    "service": "The calibration service",
    "network": "The network",
    "data": "The data tier",
    "alerts": "Alerts",
}
HEADER = """# Configuration reference

Every key a stack file (`Pulumi.<stack>.yaml`, namespace `phase-mirror-infra:`) may set. The
engine passes each value as a string (lists as YAML, which reaches the program as JSON); a bad
value stops the program at start with one line naming the key, the value and what is allowed,
and an unknown key is refused. Quote version-like, octal-like, boolean-like and time-like values
(`"17.4"`, `"1.35"`): the CLI would rewrite them unquoted, and the program refuses them.
**Floor** is the least the stack named `production` accepts. **Operator value**: only the team
can supply it; a preview warns while it is missing, and `pulumi up` refuses (in production,
and in every stack for the identities that deploy).

Written by `python -m tools.config_reference` from `components/config/keys.py`; do not edit.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(key: keys.Key) -> str:
    value = key.default
    if value is keys.REQUIRED:
        return "required"
    if isinstance(value, keys.PerStack):
        return f"`{value.text}`"
    return f"`{optional(value)}`"


def render() -> str:
    operator = {
        name
        for value in operator_values.OPERATOR_VALUES
        if value.project == operator_values.MAIN_PROJECT
        for name in value.keys
    }
    lines = [HEADER]
    for group, title in TITLES.items():
        lines += [f"\n## {title}\n", "| key | default | allowed | floor | what it does |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for key in (k for k in keys.KEYS if k.group == group):
            floor = f"{key.floor[0]} ({key.floor[1]})" if key.floor else ""
            name = f"`{key.name}`" + (" (operator value)" if key.name in operator else "")
            lines.append(
                f"| {name} | {_default(key)} | {_cell(key.parse.allowed)} | {_cell(floor)} "
                f"| {_cell(key.description)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.config_reference",
        description="Write docs/configuration.md from the stack config's key declarations.",
        epilog="examples:\n  python -m tools.config_reference\n"
        "  python -m tools.config_reference --check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if DOC.read_text() != text:
            print("docs/configuration.md is stale: run python -m tools.config_reference")
            return 1
        print("docs/configuration.md is current")
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)} ({len(keys.KEYS)} keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
