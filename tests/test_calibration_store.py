"""CalibrationStore: the five tables, their key, and the backup plan that covers them."""

from __future__ import annotations

import pytest

from components.calibration_store import TABLES

TABLE = "aws:dynamodb/table:Table"


def tables(run):
    return {r.inputs["name"]: r for r in run.of_type(TABLE)}


@pytest.mark.parametrize(
    ("role", "hash_key", "ttl"),
    [
        ("consent-store", "orgId", "expiresAt"),
        ("calibration-store", "id", None),
        ("fp-events", "id", None),
        ("block-counter", "bucketKey", "expiresAt"),
    ],
)
def test_table_key_schema_and_ttl(program, role, hash_key, ttl):
    table = tables(program)[f"phase-mirror-{role}-{program.stack}"]
    assert table.inputs["hashKey"] == hash_key
    assert table.inputs["attributes"][0] == {"name": hash_key, "type": "S"}
    if ttl:
        assert table.inputs["ttl"] == {"enabled": True, "attributeName": ttl}
    else:
        assert "ttl" not in table.inputs


def test_calibration_rule_index_is_on_rule_id_projecting_all(program):
    table = tables(program)[f"phase-mirror-calibration-store-{program.stack}"]
    (gsi,) = table.inputs["globalSecondaryIndexes"]
    assert gsi["name"] == "rule-index" and gsi["projectionType"] == "ALL"
    assert gsi["keySchemas"] == [{"attributeName": "ruleId", "keyType": "HASH"}]


def test_aggregates_are_keyed_by_rule_then_period_shard(program):
    # calibration-query reads one rule's aggregates with one Query on the partition key
    table = tables(program)[f"phase-mirror-calibration-aggregates-{program.stack}"]
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("ruleId", "periodShard")
    assert table.inputs["attributes"] == [
        {"name": "ruleId", "type": "S"},
        {"name": "periodShard", "type": "S"},
    ]
    assert not table.inputs.get("globalSecondaryIndexes")


def test_fp_events_can_be_read_by_rule_in_time_order(program):
    table = tables(program)[f"phase-mirror-fp-events-{program.stack}"]
    (gsi,) = table.inputs["globalSecondaryIndexes"]
    assert gsi["keySchemas"] == [
        {"attributeName": "ruleId", "keyType": "HASH"},
        {"attributeName": "timestamp", "keyType": "RANGE"},
    ]


def test_every_table_is_on_demand_with_pitr_and_the_components_cmk(program):
    (key,) = [k for k in program.of_type("aws:kms/key:Key") if k.name == "calibration-store-key"]
    assert len(program.of_type(TABLE)) == len(TABLES) == 5
    for table in program.of_type(TABLE):
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST", table.urn
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}, table.urn
        sse = table.inputs["serverSideEncryption"]
        assert sse == {"enabled": True, "kmsKeyArn": key.outputs["arn"]}, table.urn


def test_table_key_rotates_and_has_an_alias(program):
    key = program.one("aws:kms/key:Key", "calibration-store-key")
    assert key.inputs["enableKeyRotation"] is True
    alias = program.one("aws:kms/alias:Alias", "calibration-store-key-alias")
    assert alias.inputs["name"] == f"alias/phase-mirror-calibration-tables-{program.stack}"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


def test_deletion_protection_follows_the_stack(staging, production):
    assert {t.inputs["deletionProtectionEnabled"] for t in staging.of_type(TABLE)} == {False}
    assert {t.inputs["deletionProtectionEnabled"] for t in production.of_type(TABLE)} == {True}


STATEFUL = {TABLE, "aws:kms/key:Key", "aws:backup/vault:Vault"}


def test_production_protects_and_retains_every_stateful_resource(production):
    stateful = [r for r in production if r.type in STATEFUL]
    assert len(stateful) >= 7
    for resource in stateful:
        assert resource.protect and resource.retain_on_delete, resource.urn


def test_staging_can_be_torn_down(staging):
    for resource in staging:
        if resource.type in STATEFUL:
            assert not resource.protect, resource.urn


def test_contributor_insights_on_every_table_and_gsi(program):
    insights = {
        (r.inputs["tableName"], r.inputs.get("indexName"))
        for r in program.of_type("aws:dynamodb/contributorInsights:ContributorInsights")
    }
    expected = set()
    for table in program.of_type(TABLE):
        expected.add((table.inputs["name"], None))
        for gsi in table.inputs.get("globalSecondaryIndexes", []):
            expected.add((table.inputs["name"], gsi["name"]))
    assert insights == expected


def test_backup_plan_keeps_daily_7_weekly_30_monthly_90_days(program):
    plan = program.one("aws:backup/plan:Plan", "backup-plan")
    rules = {r["ruleName"]: r["lifecycle"]["deleteAfter"] for r in plan.inputs["rules"]}
    assert rules == {"daily": 7, "weekly": 30, "monthly": 90}
    vault = program.one("aws:backup/vault:Vault", "backup-vault")
    assert {r["targetVaultName"] for r in plan.inputs["rules"]} == {vault.outputs["name"]}
    assert vault.inputs["kmsKeyArn"].startswith("arn:aws:kms:")


def test_backup_selection_covers_every_table(program):
    selection = program.one("aws:backup/selection:Selection", "backup-selection")
    table_arns = {t.outputs["arn"] for t in program.of_type(TABLE)}
    assert table_arns <= set(selection.inputs["resources"])


def test_outputs_export_table_names_arns_and_key(program):
    for logical in TABLES:
        assert program.outputs[f"{logical}TableName"].endswith(program.stack)
        assert program.outputs[f"{logical}TableArn"].startswith("arn:aws:dynamodb:")
    assert program.outputs["calibrationKeyArn"].startswith("arn:aws:kms:")
