"""Each config key is declared once, and everything about it follows from that declaration:
the settings it lands in, its default, its validation, its production floor, the reference."""

from __future__ import annotations

import dataclasses

import pytest

from components.config import ConfigError, keys, operator_values, parse
from components.config.settings import GROUPS, StackConfig
from tools import config_reference

ENGINE_FIELDS = {"project", "stack", "region"}


def test_the_committed_reference_is_the_declaration():
    assert config_reference.DOC.read_text() == config_reference.render(), (
        "docs/configuration.md is stale: run python -m tools.config_reference"
    )


def test_every_settings_field_has_exactly_one_key_and_every_key_a_field():
    fields = {f.name for f in dataclasses.fields(StackConfig)} - ENGINE_FIELDS - set(GROUPS)
    fields |= {
        f"{group}.{f.name}" for group, cls in GROUPS.items() for f in dataclasses.fields(cls)
    }
    declared = [key.attribute for key in keys.KEYS]
    assert sorted(declared) == sorted(fields)
    assert len({key.name for key in keys.KEYS}) == len(keys.KEYS)


def test_a_key_left_out_takes_its_declared_default():
    cfg = parse({"environment": "staging"}, project="p", stack="qa", region="us-east-1")
    for key in keys.KEYS:
        value = dataclasses.asdict(cfg)
        for part in key.attribute.split("."):
            value = value[part]
        if key.default is keys.REQUIRED:
            continue
        expected = (
            key.default.value("qa") if isinstance(key.default, keys.PerStack) else key.default
        )
        assert value == expected, key.name


@pytest.mark.parametrize(
    "key", [k for k in keys.KEYS if k.name != "environment"], ids=lambda k: k.name
)
def test_a_value_no_parser_accepts_is_refused_in_one_line_naming_the_key(key):
    with pytest.raises(ConfigError) as refused:
        parse(
            {"environment": "staging", key.name: "\u00b2"},
            project="p",
            stack="qa",
            region="us-east-1",
        )
    message = str(refused.value)
    assert message.startswith(f"config key '{key.name}") and "\n" not in message


def test_every_operator_value_and_floor_is_a_declared_key():
    main = [v for v in operator_values.OPERATOR_VALUES if v.project == "phase-mirror-infra"]
    assert {name for v in main for name in v.keys} <= keys.BY_NAME.keys()
    assert {f.key for f in keys.PRODUCTION_FLOORS} <= keys.BY_NAME.keys()


def test_numbers_take_ascii_digits_only():
    # int() would take all three; a stack file never means them.
    for spelling in ("1_000", " 20", "\u0662\u0660"):
        with pytest.raises(ConfigError, match="ingestionConcurrency"):
            parse(
                {"environment": "staging", "ingestionConcurrency": spelling},
                project="p",
                stack="qa",
                region="us-east-1",
            )
