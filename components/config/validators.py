"""Parsers of config values: each takes ``(key, value)`` as the engine passes it (a string; lists
and objects as JSON) and returns the typed value or raises one ``ConfigError`` line naming the
key, the value received and what is allowed.

Every parser carries its ``allowed`` text, so the generated configuration reference
(docs/configuration.md) says exactly what the parser accepts. Numbers are ASCII digits only:
Python's ``int()`` also takes ``"1_000"``, ``" 7 "`` and other scripts' digits, which a stack
file should never mean.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pulumi

T = TypeVar("T")
DIGITS = re.compile(r"[0-9]{1,9}")


class ConfigError(pulumi.RunError):
    """Bad stack configuration. ``RunError`` makes the engine print the message alone."""


def bad(key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"config key '{key}' has invalid value {value!r}: allowed {allowed}")


@dataclass(frozen=True)
class Parser(Generic[T]):
    """A parse function and the sentence that says what it allows."""

    allowed: str
    convert: Callable[[str, str], T]

    def __call__(self, key: str, value: str) -> T:
        return self.convert(key, value)


def parser(allowed: str) -> Callable[[Callable[[str, str], T]], Parser[T]]:
    """Decorate a ``(key, value)`` function as a ``Parser`` allowing ``allowed``."""

    def wrap(convert: Callable[[str, str], T]) -> Parser[T]:
        return Parser(allowed, convert)

    return wrap


def enum(*choices: str) -> Parser[str]:
    allowed = "one of " + ", ".join(choices)

    def convert(key: str, value: str) -> str:
        if value not in choices:
            raise bad(key, value, allowed)
        return value

    return Parser(allowed, convert)


@parser("true or false")
def boolean(key: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise bad(key, value, "true or false")
    return value == "true"


def int_range(low: int, high: int) -> Parser[int]:
    allowed = f"a whole number from {low} to {high}"

    def convert(key: str, value: str) -> int:
        if not DIGITS.fullmatch(value) or not low <= int(value) <= high:
            raise bad(key, value, allowed)
        return int(value)

    return Parser(allowed, convert)


def one_of_ints(choices: Sequence[int]) -> Parser[int]:
    allowed = "one of " + ", ".join(map(str, choices))

    def convert(key: str, value: str) -> int:
        if not DIGITS.fullmatch(value) or int(value) not in choices:
            raise bad(key, value, allowed)
        return int(value)

    return Parser(allowed, convert)


def pattern(regex: str, allowed: str) -> Parser[str]:
    compiled = re.compile(regex)

    def convert(key: str, value: str) -> str:
        if not compiled.fullmatch(value):
            raise bad(key, value, allowed)
        return value

    return Parser(allowed, convert)


def json_list(item: Parser[T], *, most: int | None = None) -> Parser[tuple[T, ...]]:
    """A list given in YAML (the engine passes it as a JSON string), each item parsed."""
    allowed = f"a YAML list{f' of at most {most}' if most else ''}, each {item.allowed}"

    def convert(key: str, value: str) -> tuple[T, ...]:
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise bad(key, value, allowed) from None
        if not isinstance(items, list) or (most is not None and len(items) > most):
            raise bad(key, value, allowed)
        if len({json.dumps(i) for i in items}) != len(items):
            raise bad(key, value, f"{allowed}, each listed once")
        return tuple(item(f"{key}[{i}]", str(v)) for i, v in enumerate(items))

    return Parser(allowed, convert)


def network(key: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise bad(key, value, "a CIDR block with no host bits set, such as 10.20.0.0/16") from None


@parser("a CIDR block with no host bits set, such as 10.20.0.0/16")
def any_cidr(key: str, value: str) -> str:
    return str(network(key, value))


@parser("a range of /8 or narrower (never 0.0.0.0/0 or ::/0)")
def admin_cidr(key: str, value: str) -> str:
    """A range allowed to reach admin ports or the Kubernetes API: never the whole internet."""
    block = network(key, value)
    if block.prefixlen < 8:
        raise bad(
            key,
            value,
            "a range of /8 or narrower (0.0.0.0/0 or ::/0 opens admin access to the whole "
            "internet: the critical finding of any network audit)",
        )
    return str(block)


@parser("an IPv4 range of /8 or narrower")
def ipv4_admin_cidr(key: str, value: str) -> str:
    if network(key, value).version != 4:
        raise bad(key, value, "an IPv4 CIDR (the EKS public endpoint takes IPv4 ranges only)")
    return admin_cidr(key, value)


_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def daily_window(minimum: int) -> Parser[str]:
    """A daily UTC window ``hh:mm-hh:mm`` of at least ``minimum`` minutes."""
    shape = re.compile(f"{_TIME}-{_TIME}")
    allowed = f"a UTC window hh:mm-hh:mm of at least {minimum} minutes, such as 03:00-04:00"

    def convert(key: str, value: str) -> str:
        if not shape.fullmatch(value) or (minutes(value[6:]) - minutes(value[:5])) % 1440 < (
            minimum
        ):
            raise bad(key, value, allowed)
        return value

    return Parser(allowed, convert)


# Its length is an AWS create-time rule (components/config/aws_limits.py), checked with its source.
WEEKLY_WINDOW = pattern(
    f"{_DAY}:{_TIME}-{_DAY}:{_TIME}", "a UTC window ddd:hh:mm-ddd:hh:mm such as sun:04:30-sun:05:30"
)


def _week_minute(ddd_hhmm: str) -> int:
    return DAYS.index(ddd_hhmm[:3]) * 1440 + minutes(ddd_hhmm[4:9])


def window_minutes(weekly: str) -> int:
    """The length of a weekly window (it may wrap past Sunday midnight)."""
    return (_week_minute(weekly[10:]) - _week_minute(weekly[:9])) % (7 * 1440)


def windows_overlap(daily: str, weekly: str) -> bool:
    """Whether a daily ``hh:mm-hh:mm`` window meets a weekly ``ddd:hh:mm-ddd:hh:mm`` one."""
    start = _week_minute(weekly[:9])
    end = start + window_minutes(weekly)
    length = (minutes(daily[6:]) - minutes(daily[:5])) % 1440
    for day in range(-1, 9):
        d_start = day * 1440 + minutes(daily[:5])
        if d_start < end and start < d_start + length:
            return True
    return False


def optional(value: Any) -> str:
    """How a default shows in the reference: none, a list, or the value."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Reader:
    """Reads keys from a raw config map, remembering which ones were read (bootstrap's config,
    which has a handful of keys, reads them one by one)."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._raw = raw
        self.read: set[str] = set()

    def _get(self, key: str) -> str | None:
        self.read.add(key)
        return self._raw.get(key)

    def required(self, key: str, parse: Callable[[str, str], T]) -> T:
        value = self._get(key)
        if value is None or value == "":
            raise ConfigError(f"config key '{key}' is required and missing")
        return parse(key, value)

    def optional(self, key: str, default: T, parse: Callable[[str, str], T]) -> T:
        value = self._get(key)
        return default if value is None else parse(key, value)


REGION = pattern(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region such as us-east-1")
