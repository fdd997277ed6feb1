"""The AWS side of the calibration service in moto: the tables of docs/privacy.md, the salt
secret (seeded by the rotator, as in production), the org key, and consent and admission
records written the way fp-consent and fp-admission write them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends

from testing.lambdas import ACCOUNT, REGION


@dataclass(frozen=True)
class TableShape:
    """A table's keys and TTL, as docs/privacy.md section 7 declares them."""

    role: str
    hash_key: str
    range_key: str | None = None
    ttl_attribute: str | None = None


TABLES: dict[str, TableShape] = {
    "consent": TableShape("consent-store", "orgKey", None, "expiresAt"),
    "admission": TableShape("org-admission", "orgKey", "record"),
    "pending": TableShape("pending-events", "orgHash", "eventKey", "expiresAt"),
    "dedup": TableShape("event-dedup", "eventKey", None, "expiresAt"),
    "published": TableShape("calibration-published", "ruleId", "entry", "expiresAt"),
}


def create_tables(
    ddb: Any, prefix: str, declared: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every table of the contract, on demand, named ``{prefix}-{role}`` or as ``declared``
    names it (logical -> name, e.g. the program's names): logical -> name."""
    names = {}
    for logical, shape in TABLES.items():
        name = (declared or {}).get(logical) or f"{prefix}-{shape.role}"
        keys = [
            (shape.hash_key, "HASH"),
            *([(shape.range_key, "RANGE")] if shape.range_key else []),
        ]
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys],
        )
        if shape.ttl_attribute:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": shape.ttl_attribute},
            )
        names[logical] = name
    return names


@contextmanager
def cheap_key_pairs() -> Iterator[None]:
    """moto generates a 2048-bit RSA key pair for every key it creates, HMAC keys included
    (about 45 ms each), though an HMAC key never uses it. Within the block every such key gets
    one pair made once: for tests that build many accounts, each with its org key."""
    import moto.kms.models as kms_models

    original = kms_models.__dict__["generate_private_key"]
    made: dict[str, Any] = {}

    def reused(key_spec: str) -> Any:
        if key_spec not in made:
            made[key_spec] = original(key_spec)
        return made[key_spec]

    kms_models.__dict__["generate_private_key"] = reused
    try:
        yield
    finally:
        kms_models.__dict__["generate_private_key"] = original


def create_org_key(kms: Any) -> str:
    """The HMAC key the pseudonyms come from (KMS keeps its secret; moto does too)."""
    return kms.create_key(
        KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Description="org pseudonyms"
    )["KeyMetadata"]["Arn"]


def salt_document(
    salt: bytes,
    month: str,
    version: str,
    rotated_at: str | None = None,
    previous: tuple[bytes, str] | None = None,
) -> dict[str, str]:
    """The secret's JSON as the rotator writes it."""
    document = {
        "salt": base64.b64encode(salt).decode(),
        "rotationMonth": month,
        "rotatedAt": rotated_at or f"{month}-01T00:00:00Z",
        "versionId": version,
    }
    if previous is not None:
        document["previousSalt"] = base64.b64encode(previous[0]).decode()
        document["previousRotationMonth"] = previous[1]
    return document


def create_salt_secret(sm: Any, name: str, *documents: dict[str, str]) -> str:
    """The salt secret holding ``documents`` in order (the last AWSCURRENT, the one before
    AWSPREVIOUS), each under its own ``versionId``; none: a secret not seeded yet."""
    if not documents:
        return sm.create_secret(Name=name)["ARN"]
    first, *later = documents
    arn = sm.create_secret(
        Name=name, SecretString=json.dumps(first), ClientRequestToken=first["versionId"]
    )["ARN"]
    for document in later:
        sm.put_secret_value(
            SecretId=arn,
            SecretString=json.dumps(document),
            ClientRequestToken=document["versionId"],
        )
    return arn


def begin_rotation(arn: str, token: str, *, enabled: bool = True) -> None:
    """What Secrets Manager does before calling createSecret: a version for the token, staged
    AWSPENDING with no value, with rotation turned on. moto's ``rotate_secret`` would try to run
    the function (that needs Docker), so the state is set directly in moto's backend."""
    secret: Any = secretsmanager_backends[ACCOUNT][REGION].secrets[arn]
    secret.rotation_requested = True
    secret.rotation_enabled = enabled
    secret.rotation_lambda_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:salt-rotator"
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {
        "createdate": int(datetime.now(UTC).timestamp()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }


@contextmanager
def first_current_allowed() -> Iterator[None]:
    """moto 5.2.5 refuses ``UpdateSecretVersionStage`` of AWSCURRENT without
    ``RemoveFromVersionId`` even when no version holds AWSCURRENT (getmoto/moto#9451); AWS
    attaches it. Within the block moto does what AWS does in that one case."""
    original = SecretsManagerBackend.update_secret_version_stage

    def update(
        self: SecretsManagerBackend,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        secret: Any = self.secrets[secret_id] if secret_id in self.secrets else None
        if (
            secret is not None
            and version_stage == "AWSCURRENT"
            and not remove_from_version_id
            and move_to_version_id in secret.versions
            and not any("AWSCURRENT" in v["version_stages"] for v in secret.versions.values())
        ):
            stages = secret.versions[move_to_version_id]["version_stages"]
            stages.append("AWSCURRENT")
            secret.default_version_id = move_to_version_id
            return secret.arn, secret.name
        return original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)

    SecretsManagerBackend.update_secret_version_stage = update  # type: ignore[method-assign]
    try:
        yield
    finally:
        SecretsManagerBackend.update_secret_version_stage = original  # type: ignore[method-assign]


STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def rotate(rotator: Any, deps: Any, arn: str, token: str) -> None:
    """One whole rotation through the rotator's four steps, as Secrets Manager runs it."""
    begin_rotation(arn, token)
    with first_current_allowed():
        for step in STEPS:
            rotator.rotate({"SecretId": arn, "ClientRequestToken": token, "Step": step}, deps)


def current_document(sm: Any, arn: str) -> dict[str, Any]:
    return json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


@contextmanager
def cheap_transactions() -> Iterator[None]:
    """moto backs up every table a ``TransactWriteItems`` touches, whole, once per item, and
    tracks each copied item forever: a transaction costs O(items x table size) in time and
    memory, so a benchmark of thousands of events never finishes. Within the block a
    transaction backs up only the items it names, and restores exactly those if it is cancelled,
    which is what AWS guarantees (all or nothing)."""
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    real_copy = dynamodb_models.__dict__["copy"]

    class TableBackupSkipped:
        """``copy`` as the transaction sees it: tables are not copied (rolled back below)."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if type(value).__name__ == "Table" else real_copy.deepcopy(value, memo)

    def transact(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        before = []
        for entry in transact_items:
            (op,) = entry.values()
            table = self.get_table(op["TableName"])
            names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
            key = op.get("Key") or {n: op["Item"][n] for n in names}
            item = self.get_item(op["TableName"], key)
            before.append((op["TableName"], key, item.to_json()["Attributes"] if item else None))
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in before:
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    dynamodb_models.__dict__["copy"] = TableBackupSkipped
    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        dynamodb_models.__dict__["copy"] = real_copy
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
