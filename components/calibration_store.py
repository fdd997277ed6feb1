"""CalibrationStore: the DynamoDB tables of the FP calibration service and their KMS key.

Tables (spec 000, Day 22-24; checklist 001 section 1.2):
- consent: one item per organisation (``orgId``), TTL on ``expiresAt``.
- calibration: anonymised FP events (``id``), GSI ``rule-index`` on ``ruleId``.
- fp-events: FP events (``id``), GSI ``rule-index`` on ``ruleId`` + ``timestamp``.
- block-counter: rate-limit buckets (``bucketKey``), TTL on ``expiresAt``.
- aggregates: per rule (``ruleId``) and salt period shard (``periodShard``), the period's event
  and false-positive counters and the set of ``orgIdHash`` values, maintained by fp-ingestion in
  the same transaction as the event, so calibration-query reads O(periods), not O(events).

All are on-demand, PITR on, encrypted with the component's customer-managed key, with
Contributor Insights on each table and GSI.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.backup import backup_role_arn
from components.base import managed_key, stateful
from components.config import Naming
from components.function import Statement, allow, key_via_service
from components.key_policy import Deployers, by_name, for_aws_resource, key_policy, role_arn, via


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """A table's key schema: the one declaration the Lambda contract tests read back."""

    role: str
    hash_key: str
    range_key: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()

    @property
    def attributes(self) -> list[str]:
        names = [self.hash_key, *([self.range_key] if self.range_key else [])]
        for index in self.indexes:
            names += [index.hash_key] + ([index.range_key] if index.range_key else [])
        return list(dict.fromkeys(names))


RULE_INDEX = "rule-index"

TABLES: dict[str, TableSpec] = {
    "consent": TableSpec(role="consent-store", hash_key="orgId", ttl_attribute="expiresAt"),
    "calibration": TableSpec(
        role="calibration-store", hash_key="id", indexes=(Index(RULE_INDEX, "ruleId"),)
    ),
    "fpEvents": TableSpec(
        role="fp-events", hash_key="id", indexes=(Index(RULE_INDEX, "ruleId", "timestamp"),)
    ),
    "blockCounter": TableSpec(
        role="block-counter", hash_key="bucketKey", ttl_attribute="expiresAt"
    ),
    "aggregates": TableSpec(
        role="calibration-aggregates", hash_key="ruleId", range_key="periodShard"
    ),
}

# DynamoDB authorises each item of a TransactWriteItems call as its own action (PutItem,
# UpdateItem) on its table; this condition keeps those grants usable only inside a transaction,
# so the event and its aggregate are never written one without the other.
IN_TRANSACTION = {
    "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
}


@dataclass(frozen=True, kw_only=True)
class CalibrationStoreArgs:
    """Inputs of ``CalibrationStore``.

    - naming: the stack's physical-name rule; tables are ``{prefix}-{role}-{stack}``.
    - account_id, region: the tables' home (KMS use is limited to DynamoDB in it).
    - deletion_protection: AWS deletion protection on the tables, and Pulumi ``protect``
      with retain-on-delete on the tables and the key.
    - table_user_roles: the roles (``naming`` roles such as ``fp-ingestion``) of the functions
      that read or write items: the key policy names them; each also needs the matching
      ``*_statements``. Default none.
    - deployers: the identities that run ``pulumi up`` (default: none configured).
    """

    naming: Naming
    account_id: str
    region: str
    deletion_protection: bool
    table_user_roles: Sequence[str] = ()
    deployers: Deployers = field(default_factory=Deployers)


def table_key_policy(
    account_id: str, region: str, naming: Naming, deployers: Deployers, user_roles: Sequence[str]
) -> str:
    """DynamoDB uses the key for the caller ("How Amazon DynamoDB uses AWS KMS",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
    and https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html): whoever
    creates or updates a table lets DynamoDB create the grants it uses for the table key
    and its maintenance (kms:CreateGrant, kms:DescribeKey through DynamoDB); whoever reads or
    writes items needs kms:Decrypt of the table key through DynamoDB. AWS Backup restores a
    table as its own role, so that role may let DynamoDB create the new table's grant.
    """
    through_dynamodb = via("dynamodb", region)
    return key_policy(
        account_id,
        deployers,
        [
            *by_name(
                "DeployersAndBackupLetDynamoDBGrantItselfUse",
                account_id,
                [*deployers.arns, backup_role_arn(account_id, naming)],
                ["kms:CreateGrant"],
                through_dynamodb,
                for_aws_resource(),
            ),
            *by_name(
                "TableUsersDecryptThroughDynamoDB",
                account_id,
                [role_arn(account_id, role) for role in user_roles],
                ["kms:Decrypt"],
                through_dynamodb,
            ),
        ],
    )


class CalibrationStore(pulumi.ComponentResource):
    """The consent, calibration, fp-events, block-counter and aggregates tables, one CMK."""

    tables: dict[str, aws.dynamodb.Table]
    key: aws.kms.Key

    def __init__(
        self, name: str, args: CalibrationStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:CalibrationStore", name, None, opts)
        self._region = args.region
        protect = args.deletion_protection
        self.key = managed_key(
            f"{name}-key",
            parent=self,
            protect=protect,
            description=f"DynamoDB encryption for {args.naming.physical('calibration')}",
            alias=args.naming.alias("calibration-tables"),
            policy=table_key_policy(
                args.account_id,
                args.region,
                args.naming,
                args.deployers,
                [args.naming.physical(role) for role in args.table_user_roles],
            ),
        )
        self.tables = {logical: self._table(name, spec, args) for logical, spec in TABLES.items()}
        self.register_outputs(
            {
                "keyArn": self.key.arn,
                **{f"{k}TableName": t.name for k, t in self.tables.items()},
                **{f"{k}TableArn": t.arn for k, t in self.tables.items()},
            }
        )

    def _table(self, name: str, spec: TableSpec, args: CalibrationStoreArgs) -> aws.dynamodb.Table:
        table = aws.dynamodb.Table(
            f"{name}-{spec.role}",
            name=args.naming.physical(spec.role),
            billing_mode="PAY_PER_REQUEST",
            hash_key=spec.hash_key,
            range_key=spec.range_key,
            attributes=[aws.dynamodb.TableAttributeArgs(name=a, type="S") for a in spec.attributes],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=index.name,
                    projection_type="ALL",
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=index.hash_key, key_type="HASH"
                        ),
                        *(
                            [
                                aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                                    attribute_name=index.range_key, key_type="RANGE"
                                )
                            ]
                            if index.range_key
                            else []
                        ),
                    ],
                )
                for index in spec.indexes
            ],
            ttl=(
                aws.dynamodb.TableTtlArgs(enabled=True, attribute_name=spec.ttl_attribute)
                if spec.ttl_attribute
                else None
            ),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.key.arn
            ),
            deletion_protection_enabled=args.deletion_protection,
            opts=stateful(self, args.deletion_protection),
        )
        aws.dynamodb.ContributorInsights(
            f"{name}-{spec.role}-insights",
            table_name=table.name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        for index in spec.indexes:
            aws.dynamodb.ContributorInsights(
                f"{name}-{spec.role}-{index.name}-insights",
                table_name=table.name,
                index_name=index.name,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return table

    @property
    def table_arns(self) -> list[pulumi.Output[str]]:
        return [t.arn for t in self.tables.values()]

    # IAM: what a function needs to do one job on these tables, scoped to exact ARNs. The
    # caller puts the statements into its role's one inline policy (components/function.py).

    def consent_read_statements(self) -> list[Statement]:
        """Look up one organisation's consent (GetItem)."""
        return [
            allow("ReadConsent", ["dynamodb:GetItem"], [self.tables["consent"].arn]),
            self._key_statement,
        ]

    def calibration_write_statements(self) -> list[Statement]:
        """Store an anonymised event and update its aggregate, in one TransactWriteItems call.

        AWS authorises the transaction's items as PutItem on the calibration table and
        UpdateItem on the aggregates table (DynamoDB developer guide, "Using IAM with DynamoDB
        transactions"); both only inside a transaction.
        """
        return [
            allow(
                "WriteCalibration",
                ["dynamodb:PutItem"],
                [self.tables["calibration"].arn],
                IN_TRANSACTION,
            ),
            allow(
                "UpdateAggregates",
                ["dynamodb:UpdateItem"],
                [self.tables["aggregates"].arn],
                IN_TRANSACTION,
            ),
            self._key_statement,
        ]

    def aggregates_query_statements(self) -> list[Statement]:
        """Read a rule's per-period aggregates (Query on the aggregates table only)."""
        return [
            allow("QueryAggregatesByRule", ["dynamodb:Query"], [self.tables["aggregates"].arn]),
            self._key_statement,
        ]

    @functools.cached_property
    def _key_statement(self) -> Statement:
        # Tables encrypted with a CMK need kms:Decrypt from the caller, only through DynamoDB.
        # One object, so a role holding two jobs on these tables gets the statement once.
        return key_via_service(
            "UseTableKeyViaDynamoDB", ["kms:Decrypt"], self.key.arn, "dynamodb", self._region
        )
