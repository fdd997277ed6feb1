"""CalibrationStore: the DynamoDB tables of the FP calibration service and their KMS key.

Tables (spec 000, Day 22-24; checklist 001 section 1.2):
- consent: one item per organisation (``orgId``), TTL on ``expiresAt``.
- calibration: anonymised FP events (``id``), GSI ``rule-index`` on ``ruleId``.
- fp-events: FP events (``id``), GSI ``rule-index`` on ``ruleId`` + ``timestamp``.
- block-counter: rate-limit buckets (``bucketKey``), TTL on ``expiresAt``.

All are on-demand, PITR on, encrypted with the component's customer-managed key, with
Contributor Insights on each table and GSI.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import managed_key, stateful
from components.config import Naming


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
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()

    @property
    def attributes(self) -> list[str]:
        names = [self.hash_key]
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
}


@dataclass(frozen=True, kw_only=True)
class CalibrationStoreArgs:
    """Inputs of ``CalibrationStore``.

    - naming: the stack's physical-name rule; tables are ``{prefix}-{role}-{stack}``.
    - deletion_protection: AWS deletion protection on the tables, and Pulumi ``protect``
      with retain-on-delete on the tables and the key.
    """

    naming: Naming
    deletion_protection: bool


class CalibrationStore(pulumi.ComponentResource):
    """The consent, calibration, fp-events and block-counter tables, encrypted with one CMK."""

    tables: dict[str, aws.dynamodb.Table]
    key: aws.kms.Key

    def __init__(
        self, name: str, args: CalibrationStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:CalibrationStore", name, None, opts)
        protect = args.deletion_protection
        self.key = managed_key(
            f"{name}-key",
            parent=self,
            protect=protect,
            description=f"DynamoDB encryption for {args.naming.physical('calibration')}",
            alias=args.naming.alias("calibration-tables"),
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
