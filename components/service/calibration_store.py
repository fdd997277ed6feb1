"""CalibrationStore: the DynamoDB tables of the FP calibration service, their KMS key, and the
org key that turns an organisation id into the pseudonyms the tables are keyed by.

Tables (docs/privacy.md, "Tables"; the fp-events and block-counter tables as before):
- consent: one item per organisation (``orgKey``), TTL on ``expiresAt``.
- admission: the operators' allow-list of ``orgKey`` and its audit trail (``record``).
- pending: accepted events waiting for a k-anonymous batch (``orgHash``, ``eventKey``).
- dedup: one item per ``eventKey`` already accepted, so a retry counts once.
- published: per rule (``ruleId``) the released periods and batches (``entry``); all that
  calibration-query reads.
- fp-events: FP events (``id``), GSI ``rule-index`` on ``ruleId`` + ``timestamp``.
- block-counter: rate-limit buckets (``bucketKey``), TTL on ``expiresAt``.

All are on-demand, PITR on, encrypted with the component's customer-managed key, with
Contributor Insights on each table and GSI. The org key is an HMAC key: its secret never leaves
KMS, so nothing of it enters Pulumi state; it never rotates (KMS rotates no HMAC key, and a new
key would orphan every consent and admission record), and production protects and retains it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.core.base import managed_key, stateful
from components.core.context import StackContext
from components.core.function import Statement, allow, key_via_service
from components.core.grants import Grants
from components.core.key_policy import by_name, for_aws_resource, key_policy, role_arn, via
from components.data_tier.backup import backup_role_arn


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

# The calibration service's tables (docs/privacy.md, "Tables"): organisations appear only as keyed
# hashes (``orgKey``, ``orgHash``, ``eventKey``), never by id.
TABLES: dict[str, TableSpec] = {
    "consent": TableSpec(role="consent-store", hash_key="orgKey", ttl_attribute="expiresAt"),
    "admission": TableSpec(role="org-admission", hash_key="orgKey", range_key="record"),
    "pending": TableSpec(
        role="pending-events", hash_key="orgHash", range_key="eventKey", ttl_attribute="expiresAt"
    ),
    "dedup": TableSpec(role="event-dedup", hash_key="eventKey", ttl_attribute="expiresAt"),
    "published": TableSpec(
        role="calibration-published",
        hash_key="ruleId",
        range_key="entry",
        ttl_attribute="expiresAt",
    ),
    "fpEvents": TableSpec(
        role="fp-events", hash_key="id", indexes=(Index(RULE_INDEX, "ruleId", "timestamp"),)
    ),
    "blockCounter": TableSpec(
        role="block-counter", hash_key="bucketKey", ttl_attribute="expiresAt"
    ),
}

# DynamoDB authorises each item of a TransactWriteItems call as its own action (ConditionCheckItem,
# PutItem, UpdateItem) on its table ("Using IAM with DynamoDB transactions"); this condition keeps
# such grants usable only inside a transaction, where the checks and writes stand or fall together.
IN_TRANSACTION = {
    "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
}

# One list per job, so a role's policy reads as the jobs it does.
CHECK_ACTIONS = ["dynamodb:ConditionCheckItem"]
STORE_PENDING_ACTIONS = ["dynamodb:PutItem"]
READ_ADMISSION_ACTIONS = ["dynamodb:GetItem"]
WRITE_CONSENT_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
PURGE_PENDING_ACTIONS = ["dynamodb:Query", "dynamodb:DeleteItem"]
MANAGE_ADMISSION_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
]
RELEASE_PENDING_ACTIONS = ["dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"]
PUBLISH_ACTIONS = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
READ_BATCH_ACTIONS = ["dynamodb:GetItem"]
READ_PUBLISHED_ACTIONS = ["dynamodb:Query"]
GENERATE_MAC_ACTIONS = ["kms:GenerateMac"]
MAC_ALGORITHM = "HMAC_SHA_256"


def org_key_policy(stack: StackContext, user_role_arns: Sequence[str]) -> str:
    """The account administers the org key and never uses it; only the roles named here derive
    organisation pseudonyms with it, with the one algorithm the code uses ("Condition keys for
    AWS KMS", kms:MacAlgorithm:
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
    return key_policy(
        stack.account_id,
        stack.deployers,
        by_name(
            "PseudonymRolesGenerateMac",
            stack.account_id,
            user_role_arns,
            GENERATE_MAC_ACTIONS,
            {"StringEquals": {"kms:MacAlgorithm": MAC_ALGORITHM}},
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CalibrationStoreArgs:
    """Inputs of ``CalibrationStore``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - table_user_roles: the roles (``naming`` roles such as ``fp-ingestion``) of the functions
      that read or write items: the key policy names them, and the ``grant_*`` methods refuse
      any other role.
    - org_key_users: the functions whose roles may derive pseudonyms with the org key
      (``grant_org_pseudonyms`` refuses any other role).
    """

    stack: StackContext
    table_user_roles: Sequence[str]
    org_key_users: Sequence[str]


def table_key_policy(stack: StackContext, user_roles: Sequence[str]) -> str:
    """DynamoDB uses the key for the caller ("How Amazon DynamoDB uses AWS KMS",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
    and https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html): whoever
    creates or updates a table lets DynamoDB create the grants it uses for the table key
    and its maintenance (kms:CreateGrant, kms:DescribeKey through DynamoDB); whoever reads or
    writes items needs kms:Decrypt of the table key through DynamoDB. AWS Backup restores a
    table as its own role, so that role may let DynamoDB create the new table's grant.
    """
    account_id, naming, deployers = stack.account_id, stack.naming, stack.deployers
    through_dynamodb = via("dynamodb", stack.region)
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
    """The service's tables with their CMK, and the org key."""

    tables: dict[str, aws.dynamodb.Table]
    key: aws.kms.Key
    org_key: aws.kms.Key

    def __init__(
        self, name: str, args: CalibrationStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:CalibrationStore", name, None, opts)
        self._region = args.stack.region
        self._table_users = frozenset(args.table_user_roles)
        self._org_key_users = frozenset(args.org_key_users)
        self.key = managed_key(
            f"{name}-key",
            parent=self,
            stack=args.stack,
            alias_role="calibration-tables",
            description=f"DynamoDB encryption for {args.stack.naming.physical('calibration')}",
            policy=table_key_policy(
                args.stack,
                [args.stack.naming.physical(role) for role in args.table_user_roles],
            ),
        )
        self.org_key = self._org_key(name, args)
        self.tables = {logical: self._table(name, spec, args) for logical, spec in TABLES.items()}
        self.register_outputs(
            {
                "keyArn": self.key.arn,
                "orgKeyArn": self.org_key.arn,
                **{f"{k}TableName": t.name for k, t in self.tables.items()},
                **{f"{k}TableArn": t.arn for k, t in self.tables.items()},
            }
        )

    def _org_key(self, name: str, args: CalibrationStoreArgs) -> aws.kms.Key:
        roles = [
            role_arn(args.stack.account_id, args.stack.naming.physical(r))
            for r in args.org_key_users
        ]
        # A new HMAC key would change every orgKey: consent and admission records could no
        # longer be found, so this key never rotates.
        return managed_key(
            f"{name}-org-key",
            parent=self,
            stack=args.stack,
            alias_role="org-key",
            description=f"Organisation pseudonyms ({args.stack.naming.physical('org-key')})",
            policy=org_key_policy(args.stack, roles),
            hmac=True,
        )

    def _table(self, name: str, spec: TableSpec, args: CalibrationStoreArgs) -> aws.dynamodb.Table:
        table = aws.dynamodb.Table(
            f"{name}-{spec.role}",
            name=args.stack.naming.physical(spec.role),
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
            deletion_protection_enabled=args.stack.protect,
            opts=stateful(self, args.stack.protect),
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

    # IAM: each job on these tables as a grant to one function's role (components/core/grants.py):
    # exact table ARNs, and the tables' key through DynamoDB only, for the roles its policy names.

    def _arns(self, *logical: str) -> list[pulumi.Output[str]]:
        return [self.tables[name].arn for name in logical]

    def _grant(self, grants: Grants, *statements: Statement) -> None:
        grants.require(self._table_users, "the tables' key")
        grants.add(*statements, self._key_statement)

    def grant_ingest(self, grants: Grants) -> None:
        """Check, inside one transaction, that the owner is admitted and consenting, and store
        the accepted event with its de-duplication record."""
        self._grant(
            grants,
            allow(
                "CheckAdmissionAndConsent",
                CHECK_ACTIONS,
                self._arns("admission", "consent"),
                IN_TRANSACTION,
            ),
            allow(
                "StorePendingEvent",
                STORE_PENDING_ACTIONS,
                self._arns("pending", "dedup"),
                IN_TRANSACTION,
            ),
        )

    def grant_read_admission(self, grants: Grants) -> None:
        """Look up whether one organisation is admitted."""
        self._grant(grants, allow("ReadAdmission", READ_ADMISSION_ACTIONS, self._arns("admission")))

    def grant_write_consent(self, grants: Grants) -> None:
        """Read, grant and revoke one organisation's consent."""
        self._grant(grants, allow("WriteConsent", WRITE_CONSENT_ACTIONS, self._arns("consent")))

    def grant_purge_pending(self, grants: Grants) -> None:
        """Find an organisation's pending events by its hash and delete them (revocation)."""
        self._grant(
            grants, allow("PurgePendingEvents", PURGE_PENDING_ACTIONS, self._arns("pending"))
        )

    def grant_manage_admission(self, grants: Grants) -> None:
        """Admit and withdraw organisations, with their audit records."""
        self._grant(
            grants, allow("ManageAdmission", MANAGE_ADMISSION_ACTIONS, self._arns("admission"))
        )

    def grant_release(self, grants: Grants) -> None:
        """Claim pending events, publish a batch atomically, and delete what was released.

        The claims are ``UpdateItem`` inside ``TransactWriteItems`` and, when clearing an
        abandoned claim, alone: that grant carries no transaction condition. ``BatchWriteItem``
        only deletes released events.
        """
        self._grant(
            grants,
            allow("ReleasePendingEvents", RELEASE_PENDING_ACTIONS, self._arns("pending")),
            allow("PublishBatches", PUBLISH_ACTIONS, self._arns("published"), IN_TRANSACTION),
            allow("ReadBatchRecords", READ_BATCH_ACTIONS, self._arns("published")),
        )

    def grant_query_published(self, grants: Grants) -> None:
        """Read a rule's published numbers (one Query of its partition)."""
        self._grant(grants, allow("ReadPublished", READ_PUBLISHED_ACTIONS, self._arns("published")))

    def grant_org_pseudonyms(self, grants: Grants) -> None:
        """Derive an organisation's secret with the org key, whose policy names the role."""
        grants.require(self._org_key_users, "the org key")
        grants.add(
            allow(
                "DeriveOrgPseudonym",
                GENERATE_MAC_ACTIONS,
                [self.org_key.arn],
                {"StringEquals": {"kms:MacAlgorithm": MAC_ALGORITHM}},
            )
        )

    @functools.cached_property
    def _key_statement(self) -> Statement:
        # Tables encrypted with a CMK need kms:Decrypt from the caller, only through DynamoDB.
        # One object, so a role holding two jobs on these tables gets the statement once.
        return key_via_service(
            "UseTableKeyViaDynamoDB", ["kms:Decrypt"], self.key.arn, "dynamodb", self._region
        )
