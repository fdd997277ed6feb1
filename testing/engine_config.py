"""Stack-file config values exactly as the Pulumi CLI hands them to the program.

The CLI (v3.44+) decodes each config value with go-yaml v3 into a Go value, then passes
strings as they are and everything else as JSON text (pulumi/pulumi
``sdk/go/common/resource/config/object.go``, ``MarshalString``). This module reproduces that for
the scalars a stack file can hold, following go-yaml v3's ``resolve.go``: only ``true``/``false``
(three spellings each) are booleans, ``on``/``yes`` and ``1:30`` stay strings, ``017`` is octal,
``16.10`` is the float 16.1, a date is a ``time.Time`` printed by Go's ``Time.String``. PyYAML
reads the same file as YAML 1.1 and would disagree on every one of those.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import yaml

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_SPECIAL_FLOATS |= {"-.inf", "-.Inf", "-.INF"}
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DATETIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d{1,9})?Z")
INT64 = (-(2**63), 2**63 - 1)


class Unreproduced(ValueError):
    """A spelling whose CLI reading this module does not model (it says so instead of guessing)."""


class GoTime(datetime):
    """A go-yaml v3 timestamp: ``str`` gives Go's ``Time.String()``, which the CLI passes on."""

    def __str__(self) -> str:
        fraction = f".{self.microsecond:06d}".rstrip("0").rstrip(".") if self.microsecond else ""
        return self.strftime("%Y-%m-%d %H:%M:%S") + fraction + " +0000 UTC"


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)`` then ``ParseUint``: base prefixes and leading-0 octal."""
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    if not digits:
        return None
    base, body = 10, digits
    lowered = digits.lower()
    if lowered.startswith(("0x", "0o", "0b")):
        base, body = {"x": 16, "o": 8, "b": 2}[lowered[1]], digits[2:]
    elif digits.startswith("0") and len(digits) > 1:
        base, body = 8, digits[1:]
    if not body or not all(c in "0123456789abcdef"[:base] for c in body.lower()):
        return None
    value = int(body, base) * (-1 if sign == "-" else 1)
    return value if INT64[0] <= value <= 2**64 - 1 else None


def resolve_plain(text: str) -> Any:
    """The Go value go-yaml v3 gives an untagged plain scalar decoded into ``interface{}``."""
    if text in _NULL:
        return None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if text in _SPECIAL_FLOATS:
        raise Unreproduced(f"{text}: the CLI cannot pass NaN or infinity as JSON")
    if text[:1] == ".":
        try:
            return float(text)
        except ValueError:
            return text
    if text[:1] in "+-0123456789":
        if m := _DATETIME.fullmatch(text):
            year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
            micro = int((m.group(7) or ".0")[1:].ljust(6, "0")[:6])
            return GoTime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
        if m := _DATE.fullmatch(text):
            return GoTime(*(int(g) for g in m.groups()), tzinfo=UTC)
        if re.match(r"\d{4}-", text):
            raise Unreproduced(f"{text}: a timestamp with an offset or spaces")
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return number
        if _FLOAT.fullmatch(plain):
            return float(plain)
    return text


def go_float(value: float) -> str:
    """Go's ``encoding/json`` float64: shortest round-trip digits, exponent outside [1e-6, 1e21)."""
    if math.isnan(value) or math.isinf(value):
        raise Unreproduced("json: unsupported value")
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)).normalize(), "f")
        return "0" if text in ("0", "-0") else text
    text = repr(value)
    return re.sub(r"e-0(\d)$", r"e-\1", text)


def _go_json(value: Any) -> Any:
    if isinstance(value, float):
        return _Raw(go_float(value))
    if isinstance(value, GoTime):
        return str(value)
    if isinstance(value, list):
        return [_go_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _go_json(v) for k, v in value.items()}
    return value


class _Raw(str):
    """A JSON number already spelled the Go way."""


def go_json_dumps(value: Any) -> str:
    """``json.Marshal``: compact, keys sorted, <, > and & escaped, floats spelled as Go does."""

    def encode(v: Any) -> str:
        if isinstance(v, _Raw):
            return str(v)
        if isinstance(v, list):
            return "[" + ",".join(encode(i) for i in v) + "]"
        if isinstance(v, dict):
            items = sorted(v.items())
            return "{" + ",".join(f"{encode(k)}:{encode(i)}" for k, i in items) + "}"
        text = json.dumps(v, ensure_ascii=False)
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escape)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")

    return encode(_go_json(value))


def _value(node: yaml.Node, source: str) -> Any:
    if source[node.start_mark.index : node.start_mark.index + 1] == "!":
        if node.tag == "tag:yaml.org,2002:str" and isinstance(node, yaml.ScalarNode):
            return node.value
        raise Unreproduced(f"explicit tag {node.tag} at {node.start_mark}")
    if isinstance(node, yaml.ScalarNode):
        return resolve_plain(node.value) if node.style is None else node.value
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, source) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {str(_value(k, source)): _value(v, source) for k, v in node.value}
    raise Unreproduced(f"YAML node {node!r}")


def engine_string(value: Any) -> str:
    """One decoded value as the program receives it (``MarshalString``)."""
    if isinstance(value, (str, GoTime)):
        return str(value)
    return go_json_dumps(value)


def config_strings(text: str) -> dict[str, str]:
    """The ``config:`` of a stack file, key -> the string the CLI passes for it."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise Unreproduced("a stack file is a YAML mapping")
    for key, node in root.value:
        if key.value == "config":
            config = _value(node, text)
            return {k: engine_string(v) for k, v in (config or {}).items()}
    return {}
