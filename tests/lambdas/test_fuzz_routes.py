"""Every field of every route, fuzzed (hypothesis): whatever arrives, the answer is a 2xx, or
a 4xx whose JSON names the field, and a 4xx writes nothing; nothing raw (an organisation id,
a salt) reaches a log line or a stored item. The service under test is healthy, so a 5xx is
always a defect here."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testing.aws import current_document
from testing.lambdas import github_event, iam_event, response_body
from testing.service import ADMIN_SESSION, INTERNAL_SESSION, Service

CALLER = "4242424242"  # distinctive: any appearance in a log or an item is a leak
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        ["²", "\u0663", "\uff14\uff12", "0001-01-01T00:00:00+01:00", "", " ", "\x00", "null"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
owner_ids = st.one_of(st.from_regex(r"[1-9][0-9]{0,19}", fullmatch=True), st.text(max_size=22))
timestamps = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
        ),
    ).map(datetime.isoformat),
    st.datetimes(min_value=datetime(2026, 2, 1), max_value=datetime(2026, 3, 16)).map(
        lambda d: d.isoformat() + "Z"
    ),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-03-15"]),
    json_values,
)


def with_extra(known: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Known fields, sometimes with unknown ones beside them."""
    extra = st.dictionaries(st.text(max_size=10), json_values, max_size=2)
    return st.one_of(known, st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]}))


ingest_bodies = with_extra(
    st.fixed_dictionaries(
        {},
        optional={
            "eventId": st.one_of(
                st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True), json_values
            ),
            "ruleId": st.one_of(
                st.from_regex(r"[A-Z]{2,5}-[0-9]{3,4}", fullmatch=True), json_values
            ),
            "isFalsePositive": st.one_of(st.booleans(), json_values),
            "timestamp": timestamps,
            "orgId": st.one_of(st.just(CALLER), owner_ids, json_values),
            "context": json_values,
        },
    )
)
raw_bodies = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.builds(json.dumps, json_values),
    st.just("[" * 5000),  # deeper than the JSON parser recurses
    st.just('{"eventId": NaN}'),
)
seconds = int(NOW.timestamp())
grant_bodies = with_extra(
    st.fixed_dictionaries(
        {},
        optional={
            "consentType": st.one_of(
                st.sampled_from(["explicit", "implicit", "none"]), json_values
            ),
            "expiresAt": st.one_of(
                st.integers(seconds - 10, seconds + 500 * 86400),
                st.integers(seconds * 1000, seconds * 1000 + 10**9),
                json_values,
            ),
        },
    )
)


@pytest.fixture
def live(seeded: Service, logs: Callable[[], list[dict[str, Any]]]) -> Iterator[Service]:
    """CALLER admitted and consenting; after the test, nothing raw in logs or items."""
    seeded.join(CALLER)
    seeded.ingest(CALLER)
    yield seeded
    salt = current_document(seeded.sm, seeded.salt_arn)["salt"]
    text = seeded.stored_text() + json.dumps(logs())
    assert CALLER not in text
    assert salt not in text and base64.b64decode(salt).hex() not in text


def check(service: Service, response: dict[str, Any], before: dict[str, list[str]]) -> int:
    status, body = response_body(response)
    assert 200 <= status < 300 or 400 <= status < 500, (status, body)
    assert response["headers"] == {"content-type": "application/json"}
    if status >= 400:
        assert isinstance(body.get("error"), str) and isinstance(body.get("field"), str), body
        assert service.snapshot() == before
    return status


@given(body=st.one_of(ingest_bodies, raw_bodies), owner=st.one_of(st.just(CALLER), owner_ids))
def test_ingestion_through_the_jwt_route(live: Service, body: Any, owner: str) -> None:
    before = live.snapshot()
    event = github_event(owner, body=body if isinstance(body, str | None) else json.dumps(body))
    status = check(live, live.call("fp_ingestion", event), before)
    if owner != CALLER:
        assert status >= 400  # nobody else was admitted


@given(body=ingest_bodies, arn=st.sampled_from([INTERNAL_SESSION, ADMIN_SESSION, "arn:x", ""]))
def test_ingestion_through_the_internal_route(live: Service, body: Any, arn: str) -> None:
    before = live.snapshot()
    check(live, live.call("fp_ingestion", iam_event(arn, body=json.dumps(body))), before)


@given(
    body=st.one_of(grant_bodies, raw_bodies),
    method=st.sampled_from(["PUT", "GET", "DELETE", "POST"]),
)
def test_consent_routes(live: Service, body: Any, method: str) -> None:
    before = live.snapshot()
    raw = body if isinstance(body, str | None) else json.dumps(body)
    event = github_event(CALLER, method=method, path="/fp/consent", body=raw)
    status = check(live, live.call("consent", event), before)
    if method == "GET" or (method == "PUT" and status == 200) or method == "DELETE":
        assert status in (200, 400)
    live.consent(CALLER, "PUT", {"consentType": "explicit"})  # back to consenting


@given(owner=owner_ids, body=raw_bodies, method=st.sampled_from(["PUT", "GET", "DELETE", "PATCH"]))
def test_admission_routes(live: Service, owner: str, body: Any, method: str) -> None:
    before = live.snapshot()
    event = iam_event(ADMIN_SESSION, method=method, path="/admin/admissions/x",
                      path_parameters={"ownerId": owner}, body=body)  # fmt: skip
    check(live, live.call("admission", event), before)


@given(
    rule=st.one_of(st.text(max_size=12), st.from_regex(r"[A-Z]{2,5}-[0-9]{3,4}", fullmatch=True))
)
def test_query_routes(live: Service, rule: str) -> None:
    before = live.snapshot()
    event = github_event(CALLER, method="GET", path="/fp/calibrate/x",
                         path_parameters={"ruleId": rule})  # fmt: skip
    check(live, live.call("calibration_query", event), before)


@given(
    claims=st.dictionaries(
        st.sampled_from(["iss", "repository_owner_id", "aud", "sub"]), json_values, max_size=3
    )
)
def test_token_claims(live: Service, claims: dict[str, Any]) -> None:
    before = live.snapshot()
    event = github_event(CALLER, body=json.dumps(live.event()), claims=claims)
    check(live, live.call("fp_ingestion", event), before)
