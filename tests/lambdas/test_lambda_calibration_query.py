"""calibration-query: k-anonymity per salt period from the aggregates fp-ingestion writes, every
page, validation, on moto."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pytest

from tests.lambdas.conftest import Aws
from tests.lambdas.harness import (
    LambdaContext,
    Recording,
    function_module,
    http_event,
    record_calls,
    response_body,
)

# The events and aggregates are written exactly as fp-ingestion writes them (its own builder).
AGGREGATE = function_module("fp_ingestion", "fp_aggregate")

K = 10
_ids = itertools.count()


class Query:
    def __init__(self, module: ModuleType, aws: Aws, context: LambdaContext) -> None:
        self.module, self.aws, self.context = module, aws, context
        self.settings = module.Settings(
            environment="staging", aggregates_table=aws.aggregates_table, k=K
        )
        self.calls = record_calls(aws.ddb)

    def add(
        self,
        orgs: int,
        month: str,
        *,
        rule: str = "MD-003",
        salt_id: str = "default",
        events_per_org: int = 1,
        fp_every: int = 2,
        org_prefix: str = "org",
    ) -> None:
        """``orgs`` organisations of one salt period, each with ``events_per_org`` events; every
        ``fp_every``-th event is a false positive. Stored as fp-ingestion stores them: the event
        and its aggregate update in one transaction."""
        n = 0
        for org in range(orgs):
            org_hash = hashlib.sha256(f"{org_prefix}-{month}-{salt_id}-{org}".encode()).hexdigest()
            for _ in range(events_per_org):
                item: dict[str, Any] = {
                    "id": {"S": f"id-{next(_ids)}"},
                    "orgIdHash": {"S": org_hash},
                    "ruleId": {"S": rule},
                    "timestamp": {"S": f"{month}-10T10:00:00Z"},
                    "isFalsePositive": {"BOOL": n % fp_every == 0},
                    "saltRotationMonth": {"S": month},
                    "saltId": {"S": f"{month}-{salt_id}"},
                    "consent": {"S": "explicit"},
                }
                self.aws.ddb.transact_write_items(
                    TransactItems=AGGREGATE.transaction(
                        item, self.aws.calibration_table, self.aws.aggregates_table
                    )
                )
                n += 1
        self.calls.clear()

    def aggregate_items(self) -> int:
        return len(self.aws.ddb.scan(TableName=self.aws.aggregates_table)["Items"])

    def ask(self, request: Any, **settings: Any) -> tuple[int, dict[str, Any]]:
        deps = self.module.Dependencies(
            settings=self.module.Settings(**{**self.settings.__dict__, **settings}),
            dynamodb=self.aws.ddb,
        )
        return response_body(self.module.query(request, deps))


@pytest.fixture
def query(calibration_query: ModuleType, aws: Aws, context: LambdaContext) -> Query:
    return Query(calibration_query, aws, context)


def refused(body: Mapping[str, Any]) -> bool:
    return body.get("error") == "insufficient_k_anonymity" and not (
        {"eventCount", "fpCount", "fpRate", "periods"} & set(body)
    )


def test_k_minus_one_organisations_is_refused_without_counts(query: Query) -> None:
    query.add(K - 1, "2026-03", events_per_org=5)
    status, body = query.ask({"ruleId": "MD-003"})
    assert status == 200
    assert refused(body), body
    assert (body["ruleId"], body["k"]) == ("MD-003", K)


def test_k_organisations_are_answered(query: Query) -> None:
    query.add(K, "2026-03", events_per_org=2)
    status, body = query.ask({"ruleId": "MD-003"})
    assert status == 200
    assert body == {
        "ruleId": "MD-003",
        "eventCount": 2 * K,
        "fpCount": K,
        "fpRate": 0.5,
        "periods": [
            {"saltRotationMonth": "2026-03", "eventCount": 2 * K, "fpCount": K, "fpRate": 0.5}
        ],
        "k": K,
    }


def test_k_reached_only_by_summing_two_months_is_refused(query: Query) -> None:
    query.add(K // 2 + 1, "2026-02")
    query.add(K // 2 + 1, "2026-03")
    assert refused(query.ask({"ruleId": "MD-003"})[1])


def test_two_salts_in_one_month_are_counted_apart(query: Query) -> None:
    # an emergency rotation mid-March: the same organisations hash differently under each salt
    query.add(K - 2, "2026-03", salt_id="first")
    query.add(K - 2, "2026-03", salt_id="emergency")
    assert refused(query.ask({"ruleId": "MD-003"})[1])


def test_only_periods_reaching_k_are_answered(query: Query) -> None:
    query.add(K, "2026-02", fp_every=1)  # every event a false positive
    query.add(K - 1, "2026-03", fp_every=1)
    query.add(K + 2, "2026-04", fp_every=3)
    _, body = query.ask({"ruleId": "MD-003"})
    assert [p["saltRotationMonth"] for p in body["periods"]] == ["2026-02", "2026-04"]
    assert (body["eventCount"], body["fpCount"]) == (K + K + 2, K + 4)
    assert body["fpRate"] == round((K + 4) / (2 * K + 2), 4)


def test_distinct_organisations_are_counted_exactly_across_shards(query: Query) -> None:
    # 300 organisations spread over most of the 256 hash-prefix shards of one period
    query.add(300, "2026-03", events_per_org=2)
    assert query.aggregate_items() > 100
    _, body = query.ask({"ruleId": "MD-003"}, k=300)
    assert body["eventCount"] == 600 and body["k"] == 300
    assert refused(query.ask({"ruleId": "MD-003"}, k=301)[1])


def test_reads_grow_with_organisations_not_events(query: Query) -> None:
    query.add(K, "2026-03", events_per_org=1)
    shards = query.aggregate_items()
    query.add(K, "2026-03", events_per_org=20)  # the same organisations, many more events
    assert query.aggregate_items() == shards
    query.calls.clear()
    assert query.ask({"ruleId": "MD-003"})[1]["eventCount"] == 21 * K
    assert query.calls == ["Query"]


def test_other_rules_do_not_count(query: Query) -> None:
    query.add(K - 1, "2026-03")
    query.add(5, "2026-03", rule="MD-004", org_prefix="other")
    assert refused(query.ask({"ruleId": "MD-003"})[1])


def test_every_page_of_the_aggregates_is_read(query: Query) -> None:
    query.add(3 * K, "2026-03", events_per_org=3)
    items = query.aggregate_items()
    query.calls.clear()
    _, body = query.ask({"ruleId": "MD-003"}, page_size=4)
    assert body["eventCount"] == 9 * K
    # one Query per page of 4; after an exactly full last page DynamoDB may send an empty one
    assert set(query.calls) == {"Query"}
    assert -(-items // 4) <= len(query.calls) <= items // 4 + 1, (items, query.calls)
    assert items > 4


def test_http_api_path_parameter(query: Query) -> None:
    query.add(K, "2026-03")
    status, body = query.ask(http_event(path={"ruleId": "MD-003"}))
    assert (status, body["eventCount"]) == (200, K)


@pytest.mark.parametrize(
    "request_event",
    [
        {"ruleId": "md-003"},
        {"ruleId": "MD-003\n"},
        {"ruleId": 3},
        {},
        ["MD-003"],
        http_event(path=None),
        http_event(path={"ruleId": "MD-00003"}),
    ],
)
def test_bad_rule_id_is_refused(query: Query, request_event: Any) -> None:
    status, body = query.ask(request_event)
    assert (status, body["error"], body["field"]) == (400, "invalid_field", "ruleId"), body
    assert query.calls == []


def test_table_unavailable_is_a_503(query: Query) -> None:
    query.aws.ddb.delete_table(TableName=query.aws.aggregates_table)
    assert query.ask({"ruleId": "MD-003"}) == (503, {"error": "store_unavailable"})


def test_handler_uses_dependencies(
    calibration_query: ModuleType, query: Query, monkeypatch: pytest.MonkeyPatch
) -> None:
    query.add(K, "2026-03")
    deps = calibration_query.Dependencies(settings=query.settings, dynamodb=query.aws.ddb)
    monkeypatch.setattr(calibration_query, "dependencies", lambda: deps)
    status, body = response_body(calibration_query.handler({"ruleId": "MD-003"}, query.context))
    assert (status, body["eventCount"]) == (200, K)


GOOD_ENV = {
    "AGGREGATES_TABLE_NAME": "aggregates",
    "K_ANONYMITY": "25",
    "ENVIRONMENT": "staging",
}


def test_settings_read_exactly_env_vars(calibration_query: ModuleType) -> None:
    env = Recording(dict(GOOD_ENV))
    settings = calibration_query.Settings.from_env(env)
    assert env.read == set(calibration_query.ENV_VARS)
    assert (settings.k, settings.aggregates_table, settings.page_size) == (25, "aggregates", None)
    assert (
        calibration_query.Settings.from_env(
            {k: v for k, v in GOOD_ENV.items() if k != "K_ANONYMITY"}
        ).k
        == 10
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("K_ANONYMITY", "1"), ("K_ANONYMITY", "1001"), ("K_ANONYMITY", "ten"), ("ENVIRONMENT", "qa")],
)
def test_bad_settings_are_named(calibration_query: ModuleType, key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        calibration_query.Settings.from_env({**GOOD_ENV, key: value})
