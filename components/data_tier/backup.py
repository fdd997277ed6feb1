"""Backup: one AWS Backup vault and plan that every stateful component joins.

Rules (the pre-production checklist's backup schedule): daily kept 7 days, weekly kept 30, monthly kept 90. The
component takes the ARNs to protect as input, so the data tier's database joins the same plan
by adding its ARN in ``__main__.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Naming
from components.core.base import managed_key, service_trust, stateful
from components.core.context import StackContext
from components.core.key_policy import by_name, for_aws_resource, key_policy, role_arn, via


@dataclass(frozen=True)
class BackupRule:
    name: str
    schedule: str
    keep_days: int


# 05:00 UTC, away from the 00:00 UTC salt rotation.
RULES = (
    BackupRule("daily", "cron(0 5 * * ? *)", 7),
    BackupRule("weekly", "cron(0 5 ? * SUN *)", 30),
    BackupRule("monthly", "cron(0 5 1 * ? *)", 90),
)

ROLE = "backup"

BACKUP_SERVICE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
)


@dataclass(frozen=True, kw_only=True)
class BackupArgs:
    """Inputs of ``Backup``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - resources: ARNs of the resources the plan backs up (tables, the database, ...).
    """

    stack: StackContext
    resources: Sequence[pulumi.Input[str]]


def backup_role_arn(account_id: str, naming: Naming) -> str:
    """The role AWS Backup runs the plan's jobs (and restores) as; known before it exists."""
    return role_arn(account_id, naming.physical(ROLE))


# "Encryption for backups in AWS Backup" and the permissions of CreateBackupVault and of the
# backup role (AWSBackupServiceRolePolicyForBackup): kms:CreateGrant, kms:GenerateDataKey,
# kms:Decrypt, kms:DescribeKey on the vault's key
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html,
# https://docs.aws.amazon.com/aws-backup/latest/devguide/access-control.html).
VAULT_KEY_USE = ("kms:GenerateDataKey", "kms:Decrypt")


def vault_key_policy(stack: StackContext) -> str:
    """The deployers create the vault and the backup role runs the jobs, both through AWS
    Backup; nobody uses the key directly."""
    account_id, deployers = stack.account_id, stack.deployers
    users = [*deployers.arns, backup_role_arn(account_id, stack.naming)]
    through_backup = via("backup", stack.region)
    return key_policy(
        account_id,
        deployers,
        [
            *by_name(
                "VaultUsersThroughAwsBackup", account_id, users, VAULT_KEY_USE, through_backup
            ),
            *by_name(
                "VaultUsersLetAwsBackupGrantItselfUse",
                account_id,
                users,
                ["kms:CreateGrant"],
                through_backup,
                for_aws_resource(),
            ),
        ],
    )


class Backup(pulumi.ComponentResource):
    vault: aws.backup.Vault
    plan: aws.backup.Plan

    def __init__(
        self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:Backup", name, None, opts)
        key = managed_key(
            f"{name}-key",
            parent=self,
            stack=args.stack,
            alias_role="backup",
            description=f"AWS Backup vault encryption for {args.stack.naming.physical('backup')}",
            policy=vault_key_policy(args.stack),
        )
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            name=args.stack.naming.physical("backup"),
            kms_key_arn=key.arn,
            # Without protection (staging) a destroy deletes the recovery points with the
            # vault; AWS refuses to delete a vault that still holds any (DeleteBackupVault).
            force_destroy=not args.stack.protect,
            opts=stateful(self, args.stack.protect),
        )
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            name=args.stack.naming.physical("backup"),
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name=rule.name,
                    target_vault_name=self.vault.name,
                    schedule=rule.schedule,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=rule.keep_days),
                )
                for rule in RULES
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.stack.naming.physical(ROLE),
            assume_role_policy=service_trust("backup.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for i, policy_arn in enumerate(BACKUP_SERVICE_POLICIES):
            aws.iam.RolePolicyAttachment(
                f"{name}-role-policy-{i}",
                role=role.name,
                policy_arn=policy_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
        aws.backup.Selection(
            f"{name}-selection",
            name=args.stack.naming.physical("backup"),
            plan_id=self.plan.id,
            iam_role_arn=role.arn,
            resources=args.resources,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"vaultArn": self.vault.arn, "planId": self.plan.id})
