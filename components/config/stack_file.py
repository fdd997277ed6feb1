"""Refuse unquoted stack-file scalars whose meaning depends on the YAML reader.

The engine hands the program each config value as a string: the Pulumi CLI reads the stack
file with go-yaml v3 and turns numbers and booleans back into text through JSON
(pulumi/pulumi ``sdk/go/common/resource/config/object.go``). So an unquoted ``16.10`` arrives
as ``"16.1"``, ``017`` as ``"15"`` and ``2024-01-01`` as ``"2024-01-01 00:00:00 +0000 UTC"``,
while a YAML 1.1 reader (PyYAML, most editors' linters) makes ``on`` a boolean and ``1:30`` the
number 90. The program cannot tell ``"16.1"`` typed by hand from ``16.10`` rounded by the CLI:
only the file's own text can. So at start the program reads its own ``Pulumi.<stack>.yaml``
(beside ``Pulumi.yaml``, the engine's root directory) and refuses such a value unless it is
quoted, naming the key. A stack whose config does not come from that file (``--config-file``,
an ESC environment) has nothing to check here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from components.config.validators import ConfigError

# Each kind: (plain-scalar pattern, what the readers disagree on). Patterns follow go-yaml v3's
# resolver (resolve.go) and PyYAML's YAML 1.1 implicit resolvers.
AMBIGUOUS: dict[str, tuple[re.Pattern[str], str]] = {
    "version-like": (
        re.compile(
            r"[-+]?(\.[0-9_]+|[0-9][0-9_]*\.[0-9_]*)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
        ),
        "a number to YAML: the CLI passes 16.10 as '16.1'",
    ),
    "octal-like": (
        re.compile(r"[-+]?0([0-9_]+|[oO][0-7_]+|[xX][0-9a-fA-F_]+|[bB][01_]+)"),
        "a number to YAML: the CLI passes 017 as '15'",
    ),
    "boolean-like": (
        re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF"),
        "a boolean to YAML 1.1 readers but a string to the CLI",
    ),
    "time-like": (
        re.compile(
            r"[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*"
            r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9: .+\-Zz]*)?"
        ),
        "a time to YAML: 1:30 is 90 to YAML 1.1 readers, a date becomes Go's time format",
    ),
}


class AmbiguousScalar(ConfigError):
    """An unquoted value whose meaning differs between the CLI and other YAML readers."""


def _plain_scalars(node: yaml.Node, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, yaml.ScalarNode):
        if node.style is None:
            yield path, node.value
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _plain_scalars(item, f"{path}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _plain_scalars(value, f"{path}.{key.value}" if path else key.value)


def ambiguous_scalars(text: str) -> list[tuple[str, str, str]]:
    """(config key, unquoted text, kind) of every ambiguous value under ``config:``."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    found = []
    for key, value in root.value:
        if key.value != "config":
            continue
        for path, raw in _plain_scalars(value, ""):
            for kind, (shape, _why) in AMBIGUOUS.items():
                if shape.fullmatch(raw):
                    found.append((path, raw, kind))
                    break
    return found


def check(text: str, file_name: str) -> None:
    """Raise ``AmbiguousScalar`` naming the first unquoted ambiguous value."""
    found = ambiguous_scalars(text)
    if found:
        key, raw, kind = found[0]
        why = AMBIGUOUS[kind][1]
        raise AmbiguousScalar(
            f"config key '{key}' in {file_name} has the unquoted {kind} value {raw}: quote it "
            f"('{raw}'), since unquoted it is {why}"
        )


def check_file(root_directory: str | Path | None, stack: str) -> None:
    """Check ``Pulumi.<stack>.yaml`` in the project's root directory, if it is there."""
    directory = Path(root_directory) if root_directory else Path.cwd()
    path = directory / f"Pulumi.{stack}.yaml"
    if path.is_file():
        check(path.read_text(), path.name)
