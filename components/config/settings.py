"""The typed settings of one stack, as the components receive them.

Each field is one key of components/config/keys.py, which declares its default, what it allows
and what it does (docs/configuration.md lists them); the defaults here are read from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.config.floors import is_production
from components.config.keys import default
from components.config.naming import Naming

Environment = Literal["staging", "production"]
NatStrategy = Literal["single", "one_per_az"]


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The functions, the release job and the HTTP API of the calibration service."""

    ingestion_concurrency: int = default("service.ingestion_concurrency")
    query_concurrency: int = default("service.query_concurrency")
    salt_cache_seconds: int = default("service.salt_cache_seconds")
    api_rate_limit: int = default("service.api_rate_limit")
    api_burst_limit: int = default("service.api_burst_limit")
    release_interval_minutes: int = default("service.release_interval_minutes")
    max_events_per_org_per_batch: int = default("service.max_events_per_org_per_batch")
    github_oidc_audience: str = ""  # per stack: parse fills it in
    admin_principal_arns: tuple[str, ...] = default("service.admin_principal_arns")
    internal_principal_arns: tuple[str, ...] = default("service.internal_principal_arns")


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """The VPC of the ``Network`` component."""

    vpc_cidr: str = default("network.vpc_cidr")
    availability_zones: int = default("network.availability_zones")
    nat_gateways: NatStrategy = default("network.nat_gateways")
    ingress_cidrs: tuple[str, ...] = default("network.ingress_cidrs")
    devops_cidrs: tuple[str, ...] = default("network.devops_cidrs")
    app_port: int = default("network.app_port")
    interface_endpoints: bool = default("network.interface_endpoints")
    peer_cidr: str | None = default("network.peer_cidr")
    peering_connection_id: str | None = default("network.peering_connection_id")


@dataclass(frozen=True, kw_only=True)
class DataSettings:
    """RDS, Redis and EKS of the data tier."""

    db_instance_class: str = default("data.db_instance_class")
    db_allocated_storage_gb: int = default("data.db_allocated_storage_gb")
    db_max_allocated_storage_gb: int = default("data.db_max_allocated_storage_gb")
    db_engine_version: str = default("data.db_engine_version")
    db_multi_az: bool = default("data.db_multi_az")
    db_backup_retention_days: int = default("data.db_backup_retention_days")
    db_backup_window: str = default("data.db_backup_window")
    db_maintenance_window: str = default("data.db_maintenance_window")
    redis_node_type: str = default("data.redis_node_type")
    redis_nodes: int = default("data.redis_nodes")
    redis_engine_version: str = default("data.redis_engine_version")
    redis_snapshot_retention_days: int = default("data.redis_snapshot_retention_days")
    redis_snapshot_window: str = default("data.redis_snapshot_window")
    eks_enabled: bool = default("data.eks_enabled")
    kubernetes_version: str = default("data.kubernetes_version")
    eks_instance_types: tuple[str, ...] = default("data.eks_instance_types")
    eks_on_demand_min_size: int = default("data.eks_on_demand_min_size")
    eks_on_demand_max_size: int = default("data.eks_on_demand_max_size")
    eks_spot_max_size: int = default("data.eks_spot_max_size")
    eks_public_access_cidrs: tuple[str, ...] = default("data.eks_public_access_cidrs")
    devops_role_arn: str | None = default("data.devops_role_arn")
    developer_role_arn: str | None = default("data.developer_role_arn")


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """Who hears the alarms, and how long the audit trail is kept."""

    alarm_emails: tuple[str, ...] = default("alerts.alarm_emails")
    critical_emails: tuple[str, ...] = default("alerts.critical_emails")
    warning_emails: tuple[str, ...] = default("alerts.warning_emails")
    trail_retention_days: int = default("alerts.trail_retention_days")


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """All settings of one stack (``project`` and ``stack`` come from the engine)."""

    project: str
    stack: str
    environment: Environment
    region: str
    name_prefix: str = default("name_prefix")
    deletion_protection: bool = default("deletion_protection")
    log_retention_days: int = default("log_retention_days")
    k_anonymity: int = default("k_anonymity")
    service: ServiceSettings = field(default_factory=ServiceSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    data: DataSettings = field(default_factory=DataSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    deploy_role_arn: str | None = default("deploy_role_arn")
    operator_role_arn_pattern: str | None = default("operator_role_arn_pattern")
    account_baseline: bool = default("account_baseline")

    @property
    def is_production(self) -> bool:
        return is_production(self.stack, self.environment)

    @property
    def naming(self) -> Naming:
        return Naming(prefix=self.name_prefix, stack=self.stack)


GROUPS = {
    "service": ServiceSettings,
    "network": NetworkSettings,
    "data": DataSettings,
    "alerts": AlertSettings,
}
