"""The leak check the privacy tests use: an organisation id counts as leaked when it stands
alone, not when its digits happen to occur inside a digest, a UUID or a timestamp."""

from __future__ import annotations

import json

import pytest

from testing.lambdas import mentions


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"orgId": "1001"}),
        "/consent/1001",
        "refused org 1001 for impersonation",
        json.dumps({"orgIds": ["7", "1001"]}),
    ],
)
def test_an_id_standing_alone_is_a_mention(text: str) -> None:
    assert mentions(text, "1001")


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"orgKey": "a93710015814b63c"}),  # inside a hex digest
        json.dumps({"Timestamp": 1796315741001}),  # inside epoch milliseconds
        json.dumps({"token": "420ed397-1001abcd-77ef"}),  # inside a UUID group
        json.dumps({"latency": 0.1807050011001}),
        "10010",
    ],
)
def test_digits_inside_a_longer_token_are_not_a_mention(text: str) -> None:
    assert not mentions(text, "1001")
