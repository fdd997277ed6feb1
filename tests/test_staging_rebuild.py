"""Staging can be destroyed and rebuilt under the same names; production keeps its protections.

For every stateful type in the staging graph: what lets ``pulumi destroy`` delete it, and what
lets the next ``pulumi up`` create it again under the same name, each with the AWS behaviour it
answers. A stateful type this table does not know fails the test, so a new one is thought about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policy.resource_rules import STATEFUL_TYPES
from testing.program import ProgramRun, Resource

Check = Callable[[Resource], bool]


def _input(key: str, expected: Any) -> Check:
    return lambda r: r.inputs.get(key, None) == expected


def _absent_or(key: str, expected: Any) -> Check:
    return lambda r: r.inputs.get(key, expected) == expected


# type -> [(what must hold in staging, the AWS behaviour it answers)]
STAGING_TEARDOWN: dict[str, list[tuple[str, Check, str]]] = {
    "aws:dynamodb/table:Table": [
        (
            "deletionProtectionEnabled false",
            _absent_or("deletionProtectionEnabled", False),
            "DeleteTable fails while deletion protection is on; the name is free once deleted",
        )
    ],
    "aws:rds/instance:Instance": [
        ("deletionProtection false", _input("deletionProtection", False),
         "DeleteDBInstance fails while DeletionProtection is on"),
        ("skipFinalSnapshot true", _input("skipFinalSnapshot", True),
         "DeleteDBInstance needs a final snapshot name otherwise, and a second destroy would "
         "collide with the first one's snapshot (DBSnapshotAlreadyExists)"),
        ("deleteAutomatedBackups true", _input("deleteAutomatedBackups", True),
         "retained automated backups keep the instance identifier's backups around"),
    ],
    "aws:elasticache/replicationGroup:ReplicationGroup": [
        ("no finalSnapshotIdentifier", _absent_or("finalSnapshotIdentifier", None),
         "DeleteReplicationGroup with FinalSnapshotIdentifier fails on the second rebuild: "
         "the snapshot name exists (SnapshotAlreadyExistsFault)"),
    ],
    "aws:s3/bucket:Bucket": [
        ("forceDestroy true", _input("forceDestroy", True),
         "DeleteBucket fails while any object version remains (BucketNotEmpty); the provider "
         "empties a force_destroy bucket first"),
    ],
    "aws:kms/key:Key": [
        ("a key has no name; its alias is deleted with it", lambda _r: True,
         "ScheduleKeyDeletion keeps the key for its waiting period, but the rebuild creates a "
         "new key; DeleteAlias frees the alias name at once for CreateAlias"),
    ],
    "aws:secretsmanager/secret:Secret": [
        ("recoveryWindowInDays 0", _input("recoveryWindowInDays", 0),
         "DeleteSecret with a recovery window keeps the name reserved until the window ends "
         "(CreateSecret then fails: 'scheduled for deletion'); 0 deletes it at once"),
    ],
    "aws:backup/vault:Vault": [
        ("forceDestroy true", _input("forceDestroy", True),
         "DeleteBackupVault fails while the vault holds recovery points; force_destroy deletes "
         "them first"),
    ],
}  # fmt: skip


# type -> the AWS API reference page each row's behaviour comes from.
SOURCES = {
    "aws:dynamodb/table:Table":
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html",
    "aws:rds/instance:Instance":
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html",
    "aws:elasticache/replicationGroup:ReplicationGroup":
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/"
        "API_DeleteReplicationGroup.html",
    "aws:s3/bucket:Bucket": "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html",
    "aws:kms/key:Key": "https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteAlias.html",
    "aws:secretsmanager/secret:Secret":
        "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html",
    "aws:backup/vault:Vault":
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteBackupVault.html",
}  # fmt: skip


def stateful(run: ProgramRun) -> list[Resource]:
    return [r for r in run if r.type in STATEFUL_TYPES]


def test_every_stateful_type_of_staging_has_a_teardown_rule(staging):
    unknown = sorted({r.type for r in stateful(staging)} - set(STAGING_TEARDOWN))
    assert not unknown, f"decide how staging destroys and re-creates: {unknown}"
    assert set(SOURCES) == set(STAGING_TEARDOWN), "cite the AWS page of each type's rows"


def test_staging_can_be_destroyed_and_rebuilt_under_the_same_names(staging):
    for resource in stateful(staging):
        assert not resource.protect, f"{resource.urn}: protect blocks pulumi destroy"
        assert not resource.retain_on_delete, f"{resource.urn}: retained, its name stays taken"
        for what, holds, because in STAGING_TEARDOWN[resource.type]:
            assert holds(resource), (
                f"{resource.urn}: needs {what}: {because} ({SOURCES[resource.type]})"
            )


def test_production_keeps_protect_retain_and_recovery_windows(production):
    for resource in stateful(production):
        assert resource.protect and resource.retain_on_delete, resource.urn
    for secret in production.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.inputs.get("recoveryWindowInDays", 30) == 30, secret.urn
    for vault in production.of_type("aws:backup/vault:Vault"):
        assert vault.inputs.get("forceDestroy") is False, vault.urn
    for bucket in production.of_type("aws:s3/bucket:Bucket"):
        assert bucket.inputs.get("forceDestroy") is False, bucket.urn
    (db,) = production.of_type("aws:rds/instance:Instance")
    assert db.inputs["deletionProtection"] is True
    assert db.inputs["finalSnapshotIdentifier"] == "phase-mirror-db-final-production"
