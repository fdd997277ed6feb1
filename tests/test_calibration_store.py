"""CalibrationStore: the service's tables, their key, the org key, and the backup plan."""

from __future__ import annotations

import json

import pytest

from components.service.calibration_store import TABLES
from testing.aws import TABLES as CONTRACT_TABLES

TABLE = "aws:dynamodb/table:Table"


def tables(run):
    return {r.inputs["name"]: r for r in run.of_type(TABLE)}


@pytest.mark.parametrize(
    ("role", "hash_key", "range_key", "ttl"),
    [
        ("consent-store", "orgKey", None, "expiresAt"),
        ("org-admission", "orgKey", "record", None),
        ("pending-events", "orgHash", "eventKey", "expiresAt"),
        ("event-dedup", "eventKey", None, "expiresAt"),
        ("calibration-published", "ruleId", "entry", "expiresAt"),
        ("fp-events", "id", None, None),
        ("block-counter", "bucketKey", None, "expiresAt"),
    ],
)
def test_table_key_schema_and_ttl(program, role, hash_key, range_key, ttl):
    table = tables(program)[f"phase-mirror-{role}-{program.stack}"]
    assert table.inputs["hashKey"] == hash_key
    assert table.inputs.get("rangeKey") == range_key
    keys = [hash_key, *([range_key] if range_key else [])]
    assert table.inputs["attributes"][: len(keys)] == [{"name": k, "type": "S"} for k in keys]
    if ttl:
        assert table.inputs["ttl"] == {"enabled": True, "attributeName": ttl}
    else:
        assert "ttl" not in table.inputs


def test_the_tables_are_the_ones_the_functions_are_tested_against():
    # The Lambda tests build their moto tables from testing/aws.py: the same keys and TTLs.
    for logical, shape in CONTRACT_TABLES.items():
        spec = TABLES[logical]
        assert (spec.role, spec.hash_key, spec.range_key, spec.ttl_attribute) == (
            shape.role,
            shape.hash_key,
            shape.range_key,
            shape.ttl_attribute,
        ), logical


def test_the_service_tables_have_no_index(program):
    # Every read is by key: an index would copy organisation hashes to a second place.
    for logical in CONTRACT_TABLES:
        table = tables(program)[f"phase-mirror-{TABLES[logical].role}-{program.stack}"]
        assert not table.inputs.get("globalSecondaryIndexes"), table.urn


def test_the_raw_event_tables_are_gone(program):
    # Nothing reads or writes the per-event calibration table or the live aggregates any more
    # (calibration-query reads published batches only); nothing was deployed, so they go.
    names = set(tables(program))
    for role in ("calibration-store", "calibration-aggregates"):
        assert f"phase-mirror-{role}-{program.stack}" not in names


def test_fp_events_can_be_read_by_rule_in_time_order(program):
    table = tables(program)[f"phase-mirror-fp-events-{program.stack}"]
    (gsi,) = table.inputs["globalSecondaryIndexes"]
    assert gsi["keySchemas"] == [
        {"attributeName": "ruleId", "keyType": "HASH"},
        {"attributeName": "timestamp", "keyType": "RANGE"},
    ]


def test_every_table_is_on_demand_with_pitr_and_the_components_cmk(program):
    (key,) = [k for k in program.of_type("aws:kms/key:Key") if k.name == "calibration-store-key"]
    assert len(program.of_type(TABLE)) == len(TABLES) == 7
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


def test_org_key_is_an_hmac_key_that_never_rotates(program):
    key = program.one("aws:kms/key:Key", "calibration-store-org-key")
    assert key.inputs["customerMasterKeySpec"] == "HMAC_256"
    assert key.inputs["keyUsage"] == "GENERATE_VERIFY_MAC"
    # KMS rotates no HMAC key; a new one would orphan every consent and admission record.
    assert key.inputs["enableKeyRotation"] is False
    alias = program.one("aws:kms/alias:Alias", "calibration-store-org-key-alias")
    assert alias.inputs["name"] == f"alias/phase-mirror-org-key-{program.stack}"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


def test_org_key_policy_administers_without_use_and_names_the_three_roles(program):
    key = program.one("aws:kms/key:Key", "calibration-store-org-key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    use = statements["PseudonymRolesGenerateMac"]
    assert use["Action"] == ["kms:GenerateMac"]
    assert use["Condition"]["StringEquals"]["kms:MacAlgorithm"] == "HMAC_SHA_256"
    assert use["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::123456789012:role/phase-mirror-{role}-{program.stack}"
        for role in ("fp-ingestion", "fp-consent", "fp-admission")
    ]
    # Every other statement administers: none lets anyone generate or verify a MAC.
    for sid, statement in statements.items():
        if sid != "PseudonymRolesGenerateMac" and statement["Effect"] == "Allow":
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not any(
                a.startswith(("kms:Generate", "kms:Verify", "kms:*")) for a in actions
            ), sid


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
    assert program.outputs["orgKeyArn"].startswith("arn:aws:kms:")
