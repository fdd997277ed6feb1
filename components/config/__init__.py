"""Typed, validated stack configuration.

The engine passes every value as a string (lists as JSON). ``parse`` reads exactly the keys
declared in ``keys.py`` into a frozen ``StackConfig`` (``settings.py``) and refuses the first bad
one at program start with one ``ConfigError`` line naming the key, the value received and what
is allowed; then the checks between keys and the production floors. ``parse`` is a plain
function, unit-tested without mocks. The rest of this package: the naming rule (``naming.py``),
AWS's create-time limits with their sources (``aws_limits.py``), the values only a team can
supply (``operator_values.py``), the stack file's own text (``stack_file.py``) and what the
program checks at start, in order (``startup.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pulumi

from components.config import floors
from components.config.keys import BY_NAME, KEYS, PRODUCTION_FLOORS, REQUIRED, PerStack
from components.config.naming import NAME_PREFIX, STACK_NAME, Naming
from components.config.settings import (
    GROUPS,
    AlertSettings,
    DataSettings,
    Environment,
    NetworkSettings,
    ServiceSettings,
    StackConfig,
)
from components.config.validators import (
    REGION,
    ConfigError,
    Reader,
    bad,
    json_list,
    pattern,
    windows_overlap,
)
from components.network.subnet_plan import overlapping

__all__ = [
    "NAME_PREFIX",
    "REGION",
    "AlertSettings",
    "ConfigError",
    "DataSettings",
    "Environment",
    "Naming",
    "NetworkSettings",
    "Reader",
    "ServiceSettings",
    "StackConfig",
    "bad",
    "check_principal_accounts",
    "json_list",
    "load_stack_config",
    "parse",
    "pattern",
]


def parse(raw: Mapping[str, str], *, project: str, stack: str, region: str | None) -> StackConfig:
    """Validate the raw project-namespace config (key -> string) of one stack."""
    if region is None or region == "":
        raise ConfigError("config key 'aws:region' is required and missing")
    if not STACK_NAME.fullmatch(stack):
        raise ConfigError(
            f"stack name {stack!r} is not allowed: a-z, 0-9 and single '-', not ending in '-' "
            "(it ends every physical name; S3 bucket names take lower case only)"
        )
    unknown = sorted(set(raw) - BY_NAME.keys())
    if unknown:
        raise ConfigError(
            f"config key '{unknown[0]}' is not a setting of this project: allowed "
            + ", ".join(sorted(BY_NAME))
        )
    top: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
    for key in KEYS:
        value = raw.get(key.name)
        if value is not None:
            parsed = key.parse(key.name, value)
        elif key.default is REQUIRED:
            raise ConfigError(f"config key '{key.name}' is required and missing")
        elif isinstance(key.default, PerStack):
            parsed = key.default.value(stack)
        else:
            parsed = key.default
        (groups[key.group] if key.group in groups else top)[key.field] = parsed
    cfg = StackConfig(
        project=project,
        stack=stack,
        region=REGION("aws:region", region),
        **top,
        **{group: cls(**groups[group]) for group, cls in GROUPS.items()},
    )
    _between_keys(cfg)
    if stack == floors.PRODUCTION_STACK and cfg.environment != "production":
        raise bad(
            "environment",
            cfg.environment,
            "production in the stack named production (its floors and tags follow the stack)",
        )
    for floor in floors.violations(cfg, PRODUCTION_FLOORS):
        raise bad(
            floor.key, floors.shown(floor.value(cfg)), f"{floor.rule} in production: {floor.why}"
        )
    return cfg


def _between_keys(cfg: StackConfig) -> None:
    """The rules that tie two keys together; each refusal names the key it blames."""
    service, net, data = cfg.service, cfg.network, cfg.data
    if service.api_burst_limit < service.api_rate_limit:
        raise bad(
            "apiBurstLimit",
            str(service.api_burst_limit),
            f"at least apiRateLimit ({service.api_rate_limit})",
        )
    if (net.peer_cidr is None) != (net.peering_connection_id is None):
        given, missing = (
            ("peerCidr", "peeringConnectionId")
            if net.peer_cidr
            else ("peeringConnectionId", "peerCidr")
        )
        value = net.peer_cidr or net.peering_connection_id
        raise bad(given, value, f"only together with '{missing}' (a peering needs both)")
    if net.peer_cidr and overlapping(
        ipaddress.ip_network(net.peer_cidr), ipaddress.ip_network(net.vpc_cidr)
    ):
        raise bad(
            "peerCidr", net.peer_cidr, f"a range that does not overlap vpcCidr {net.vpc_cidr}"
        )
    if data.db_max_allocated_storage_gb <= data.db_allocated_storage_gb:
        raise bad(
            "dbMaxAllocatedStorageGb",
            str(data.db_max_allocated_storage_gb),
            f"more than dbAllocatedStorageGb ({data.db_allocated_storage_gb}) so storage can grow",
        )
    if data.eks_on_demand_max_size < data.eks_on_demand_min_size:
        raise bad(
            "eksOnDemandMaxSize",
            str(data.eks_on_demand_max_size),
            f"at least eksOnDemandMinSize ({data.eks_on_demand_min_size})",
        )
    if not data.eks_instance_types:
        raise bad("eksInstanceTypes", [], "a list of 1 to 5 types")
    if windows_overlap(data.db_backup_window, data.db_maintenance_window):
        raise bad(
            "dbBackupWindow",
            data.db_backup_window,
            f"a window that does not overlap dbMaintenanceWindow ({data.db_maintenance_window})",
        )


def check_principal_accounts(service: ServiceSettings, account_id: str) -> None:
    """Every allow-listed principal belongs to the stack's account (known once the program has
    asked AWS who it runs as)."""
    for key, arns in (
        ("adminPrincipalArns", service.admin_principal_arns),
        ("internalPrincipalArns", service.internal_principal_arns),
    ):
        for i, arn in enumerate(arns):
            if arn.split(":")[4] != account_id:
                raise bad(f"{key}[{i}]", arn, f"an ARN of this stack's account {account_id}")


def load_stack_config() -> StackConfig:
    """Read this stack's config from the engine and validate it."""
    project = pulumi.get_project()
    prefix = f"{project}:"
    everything: dict[str, Any] = {
        **pulumi.runtime.config.get_config_env(),
        **pulumi.runtime.config.CONFIG.get(),
    }
    raw = {k[len(prefix) :]: str(v) for k, v in everything.items() if k.startswith(prefix)}
    return parse(
        raw, project=project, stack=pulumi.get_stack(), region=everything.get("aws:region")
    )
