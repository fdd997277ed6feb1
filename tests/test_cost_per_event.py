"""The DynamoDB request units tools/cost declares per ingested event are what the handlers do.

GIVEN fp-ingestion and fp-release on moto with every DynamoDB item they touch billed by
DynamoDB's capacity rules (bench/event_units.py: 10 admitted organisations, one event each for
3 rules, one release in batches of 10), THEN the calls and items per event are the design's
(one four-item transaction to ingest; a Scan page, a claim transaction, a publishing
transaction and a batch delete per batch), and tools/cost/model.py's ``INGESTED_EVENT`` holds
the same request units, item for item.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bench import event_units
from tools.cost.model import BATCH_EVENTS, INGESTED_EVENT


@pytest.fixture(scope="module")
def metered() -> event_units.EventUnits:
    """fp-ingestion and fp-release on moto, every DynamoDB item billed (bench/event_units.py):
    10 organisations, one event each for 3 rules, one release in batches of 10 events."""
    return event_units.run(orgs=BATCH_EVENTS, rules=3)


def test_one_event_is_one_transaction_of_four_items_and_its_share_of_one_release(metered):
    assert (metered.events, metered.batches) == (30, 3)
    assert metered.calls["fp_ingestion"] == {"TransactWriteItems": 1.0}
    assert metered.transaction_sizes["fp_ingestion"] == {4: 30}
    # one Scan page; per batch one claim transaction of its 10 events, one publishing
    # transaction of two items, one BatchWriteItem deleting the 10
    assert metered.calls["release"] == pytest.approx(
        {"Scan": 1 / 30, "TransactWriteItems": 2 / 10, "BatchWriteItem": 1 / 10}
    )
    assert metered.transaction_sizes["release"] == {10: 3, 2: 3}


def test_the_declared_request_units_are_what_the_handlers_do_on_moto(metered):
    declared = {(r.action, r.table): r for r in INGESTED_EVENT}
    assert len(declared) == len(INGESTED_EVENT)
    assert set(declared) == set(metered.write_units) | set(metered.read_units)
    for key, request in declared.items():
        assert request.write_units == pytest.approx(metered.write_units.get(key, 0)), key
    # every item under 1 KB, as the declaration's units assume
    assert max(metered.largest_item_bytes.values()) < 1024, metered.largest_item_bytes
    # a Scan is billed per page, rounded up to 4 KB: the per-event share is the item's bytes
    scan = declared[("Scan", "pending")]
    assert scan.read_units == pytest.approx(
        metered.read_bytes[("Scan", "pending")] / 4096, rel=0.05
    )
    assert metered.read_units[("Scan", "pending")] >= metered.read_bytes[("Scan", "pending")] / 4096


def test_the_meter_bills_a_transaction_s_items_twice_and_a_condition_check_as_a_write():
    # GIVEN a table, a 1,500-byte item and a TransactWriteItems that checks it and puts another
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])  # fmt: skip
        big = {"k": {"S": "a"}, "v": {"S": "x" * 1500}}
        ddb.put_item(TableName="t", Item=big)
        meter = event_units.Meter(ddb, {"logical": "t"})
        meter.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": "t", "Key": {"k": {"S": "a"}},
                                "ConditionExpression": "attribute_exists(k)"}},
            {"Put": {"TableName": "t", "Item": {"k": {"S": "b"}, "v": {"S": "y"}}}},
        ])  # fmt: skip
        meter.batch_write_item(RequestItems={"t": [{"DeleteRequest": {"Key": {"k": {"S": "a"}}}}]})
        # THEN 2 x 2 KB for the check, 2 x 1 KB for the small put, 2 KB for the delete
        assert meter.write_units == {("ConditionCheck", "logical"): 4, ("Put", "logical"): 2,
                                     ("Delete", "logical"): 2}  # fmt: skip
        # and a call it has no rule for is refused, not let through unpriced
        with pytest.raises(AttributeError, match="does not price DynamoDB put_item"):
            meter.put_item(TableName="t", Item=big)
