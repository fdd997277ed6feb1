"""What every component shares: the tagged AWS provider and the options of stateful resources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.config import StackConfig

if TYPE_CHECKING:
    from components.core.context import StackContext

PROJECT_TAG = "PhaseMirror"


def tagged_provider(cfg: StackConfig, component: str, previous: str | None = None) -> aws.Provider:
    """One AWS provider per component whose default tags mark every resource it creates.

    Tags are applied here once (provider ``default_tags``), never repeated on resources.
    ``previous``: the component's former name, whose provider this one continues.
    """
    aliases = [pulumi.Alias(name=f"aws-{previous.lower()}")] if previous else None
    return aws.Provider(
        f"aws-{component.lower()}",
        region=cfg.region,
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={
                "Project": PROJECT_TAG,
                "Component": component,
                "Environment": cfg.environment,
                "ManagedBy": "Pulumi",
            }
        ),
        opts=pulumi.ResourceOptions(aliases=aliases),
    )


def component_options(
    cfg: StackConfig, component: str, *, previous: str | None = None
) -> pulumi.ResourceOptions:
    """Options for a top-level component: its children inherit the tagged provider.

    ``previous`` names the component type it replaces (its provider keeps its identity).
    """
    return pulumi.ResourceOptions(providers={"aws": tagged_provider(cfg, component, previous)})


def stateful(parent: pulumi.Resource, protect: bool) -> pulumi.ResourceOptions:
    """Options for a resource that holds data: protected and retained on delete when asked.

    ``protect`` makes ``pulumi destroy`` (or a replacement) refuse to touch it;
    ``retain_on_delete`` leaves the cloud resource in place if it is ever removed from the
    program.
    """
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect)


def managed_key(
    name: str,
    *,
    parent: pulumi.Resource,
    stack: StackContext,
    alias_role: str,
    description: str,
    policy: pulumi.Input[str],
    hmac: bool = False,
) -> aws.kms.Key:
    """A customer-managed symmetric key with yearly rotation, an explicit policy and the alias
    ``alias/{prefix}-{alias_role}-{stack}``; protected and retained where the stack protects data.

    ``policy`` is required: without one KMS applies its default policy, which delegates every
    action, use included, to the account's IAM policies (components/core/key_policy.py).
    ``hmac``: an HMAC-SHA-256 key instead, never rotated: KMS rotates only symmetric encryption
    keys, and a new HMAC key would change every MAC made with the old one.
    """
    key = aws.kms.Key(
        name,
        description=description,
        customer_master_key_spec="HMAC_256" if hmac else None,
        key_usage="GENERATE_VERIFY_MAC" if hmac else None,
        enable_key_rotation=not hmac,
        deletion_window_in_days=30,
        policy=policy,
        opts=stateful(parent, stack.protect),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=stack.naming.alias(alias_role),
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return key


def service_trust(service: str, condition: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """A role trust policy letting one AWS service (``lambda.amazonaws.com``) assume the role.

    ``condition`` narrows it (``{"StringEquals": {"aws:SourceAccount": account}}``) against the
    confused-deputy problem, where the service supports the key.
    """
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def log_group(
    key: str,
    name: pulumi.Input[str],
    *,
    key_arn: pulumi.Input[str],
    retention_days: int,
    opts: pulumi.ResourceOptions,
    deletion_protection: bool | None = None,
) -> aws.cloudwatch.LogGroup:
    """A log group encrypted with the log key and kept ``retention_days``: created before the
    service that writes to it, which would otherwise create it unencrypted and kept forever."""
    return aws.cloudwatch.LogGroup(
        key,
        name=name,
        kms_key_id=key_arn,
        retention_in_days=retention_days,
        deletion_protection_enabled=deletion_protection,
        opts=opts,
    )
