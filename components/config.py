"""Typed, validated stack configuration.

Every value a stack may change is a key here with its default. ``load_stack_config`` reads the
project's namespace from ``pulumi.Config`` and ``parse`` turns the raw strings into a frozen
``StackConfig``; any bad value stops the program at start with one ``ConfigError`` naming the
key, the value received and what is allowed. ``parse`` is a plain function so that every rule
is unit-tested without mocks (tests/test_config.py).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import pulumi

from components import floors
from components.subnet_plan import overlapping, vpc_problem

Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("staging", "production")

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """Bad stack configuration. ``RunError`` makes the engine print the message alone."""


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """All settings of one stack.

    Fields (config key, default, constraint):
    - environment (``environment``, required): ``staging`` or ``production``.
    - region (``aws:region``, required): an AWS region such as ``us-east-1``.
    - name_prefix (``namePrefix``, ``phase-mirror``): 2-12 chars of ``[a-z0-9-]``, starting
      with a letter, no trailing or doubled ``-``; every physical name starts with it (see
      ``Naming``). 12 keeps every S3 bucket name, which carries the account id and region,
      within S3's 63 characters for a stack name up to 10 characters in any region.
    - deletion_protection (``deletionProtection``, true): AWS deletion protection on stateful
      resources, and Pulumi ``protect`` plus retain-on-delete. Must be true in production.
    - log_retention_days (``logRetentionDays``, 90): one of CloudWatch's retention values.
    - k_anonymity (``kAnonymity``, 10): 2-1000 distinct organisations before a rule's
      calibration is disclosed.
    - service (``ServiceSettings``): the functions and the HTTP API (``ingestionConcurrency``, ...).
    - network (``NetworkSettings``): the VPC keys (``vpcCidr``, ``natGateways``, ...).
    - data (``DataSettings``): the RDS, Redis and EKS keys (``dbInstanceClass``, ...).
    - alerts (``AlertSettings``): alert recipients and the trail's retention (``alarmEmails``, ...).
    - deploy_role_arn (``deployRoleArn``, none): the CI deploy role that ``bootstrap/`` creates;
      it runs ``pulumi up`` from the deploy workflow and administers the stack's keys.
    - account_baseline (``accountBaseline``, true): this stack creates the account's baseline,
      which exists once per account: the CloudTrail trail, its bucket and log group, and the
      CIS metric filters and alarms (a second trail bills its copy of every management event
      and pages twice). Exactly one stack per account sets it true; a stack in an account of
      its own keeps the default.
    - operator_role_arn_pattern (``operatorRoleArnPattern``, none): an ``ArnLike`` pattern of
      the operators' administrator role (an SSO role such as ``arn:aws:iam::123456789012:role/
      aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_AdministratorAccess_*``) that runs the
      first ``pulumi up`` by hand; it administers the keys like the deploy role.
    """

    project: str
    stack: str
    environment: Environment
    region: str
    name_prefix: str = "phase-mirror"
    deletion_protection: bool = True
    log_retention_days: int = 90
    k_anonymity: int = 10
    service: ServiceSettings = field(default_factory=lambda: ServiceSettings())
    network: NetworkSettings = field(default_factory=lambda: NetworkSettings())
    data: DataSettings = field(default_factory=lambda: DataSettings())
    alerts: AlertSettings = field(default_factory=lambda: AlertSettings())
    deploy_role_arn: str | None = None
    operator_role_arn_pattern: str | None = None
    account_baseline: bool = True

    @property
    def is_production(self) -> bool:
        return floors.is_production(self.stack, self.environment)

    @property
    def naming(self) -> Naming:
        return Naming(prefix=self.name_prefix, stack=self.stack)


@dataclass(frozen=True)
class Naming:
    """The one rule for physical names: ``{prefix}-{role}-{stack}``.

    Staging and production share an account without collisions because the stack is part of
    every name. Paths (Secrets Manager, SSM) use ``/{prefix}/{stack}/{role}``.
    """

    prefix: str
    stack: str

    def physical(self, role: str) -> str:
        return f"{self.prefix}-{role}-{self.stack}"

    def path(self, *parts: str) -> str:
        return "/" + "/".join((self.prefix, self.stack, *parts))

    def alias(self, role: str) -> str:
        return f"alias/{self.physical(role)}"

    def bucket(self, role: str, account_id: str, region: str) -> str:
        """Bucket names are global: the account and region keep two teams' names apart
        (``{prefix}-{role}-{account}-{region}-{stack}``, as bootstrap's state bucket)."""
        return self.physical(f"{role}-{account_id}-{region}")


class _Reader:
    """Reads keys from the raw config map, remembering which ones were read."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._raw = raw
        self.read: set[str] = set()

    def _get(self, key: str) -> str | None:
        self.read.add(key)
        return self._raw.get(key)

    def required(self, key: str, parse: Callable[[str, str], T]) -> T:
        value = self._get(key)
        if value is None or value == "":
            raise ConfigError(f"config key '{key}' is required and missing")
        return parse(key, value)

    def optional(self, key: str, default: T, parse: Callable[[str, str], T]) -> T:
        value = self._get(key)
        return default if value is None else parse(key, value)


def bad(key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"config key '{key}' has invalid value {value!r}: allowed {allowed}")


def enum(*allowed: str) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in allowed:
            raise bad(key, value, "one of " + ", ".join(allowed))
        return value

    return parse


def boolean(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise bad(key, value, "true or false")
    return lowered == "true"


def int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise bad(key, value, f"a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise bad(key, value, f"a whole number from {low} to {high}")
        return number

    return parse


def one_of_ints(allowed: tuple[int, ...]) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        if not value.strip().isdigit() or int(value) not in allowed:
            raise bad(key, value, "one of " + ", ".join(map(str, allowed)))
        return int(value)

    return parse


def pattern(regex: str, description: str) -> Callable[[str, str], str]:
    compiled = re.compile(regex)

    def parse(key: str, value: str) -> str:
        if not compiled.fullmatch(value):
            raise bad(key, value, description)
        return value

    return parse


def cidr(key: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise bad(key, value, "a CIDR block with no host bits set, such as 10.20.0.0/16") from None


def json_list(item: Callable[[str, str], T]) -> Callable[[str, str], list[T]]:
    """A list given in YAML (the engine passes it as a JSON string)."""

    def parse(key: str, value: str) -> list[T]:
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise bad(key, value, "a YAML list") from None
        if not isinstance(items, list):
            raise bad(key, value, "a YAML list")
        return [item(f"{key}[{i}]", str(v)) for i, v in enumerate(items)]

    return parse


REGION = pattern(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region such as us-east-1")
# No trailing or doubled "-": the prefix is followed by "-", and RDS and ElastiCache refuse
# "--" in an identifier. 12 characters: see ``StackConfig.name_prefix``.
NAME_PREFIX = pattern(
    r"(?=.{2,12}$)[a-z](-?[a-z0-9])*",
    "2-12 characters of a-z, 0-9 and single '-', starting with a letter and not ending in '-' "
    "(every physical name adds '-' after it; RDS and ElastiCache refuse '--')",
)
# The stack name ends every physical name, S3 bucket names included (lower case only).
STACK_NAME = re.compile(r"[a-z0-9](-?[a-z0-9])*")


# --- Calibration service settings ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The functions and HTTP API of the calibration service.

    Fields (config key, default, constraint):
    - ingestion_concurrency (``ingestionConcurrency``, 20): 1-1000 reserved copies of
      fp-ingestion; the hard bound on what a flood of requests can cost.
    - query_concurrency (``queryConcurrency``, 5): 1-100 reserved copies of calibration-query.
    - salt_cache_seconds (``saltCacheSeconds``, 300): 30-900; how long a warm ingestion
      container trusts its cached salt (a newer-month event re-reads at once).
    - api_rate_limit (``apiRateLimit``, 50): 1-10000 requests per second, steady state.
    - api_burst_limit (``apiBurstLimit``, 100): 1-5000 requests, at least the rate limit.
    - release_interval_minutes (``releaseIntervalMinutes``, 60): 5-1440 minutes between two
      runs of the release job; at least 60 in production (the one-hour batch delay).
    - max_events_per_org_per_batch (``maxEventsPerOrgPerBatch``, 10): 1-1000 events of one
      organisation per rule counted in one released batch (the rest is dropped and counted).
    - github_oidc_audience (``githubOidcAudience``, ``phase-mirror-fp-calibration-<stack>``,
      set by ``parse``): the ``aud`` the JWT authorizer accepts; ``[A-Za-z0-9._:/-]{1,255}``.
    - admin_principal_arns (``adminPrincipalArns``, ``[]``): at most 20 IAM role or user ARNs
      of the stack's account allowed on the admission routes (checked by fp-admission).
    - internal_principal_arns (``internalPrincipalArns``, ``[]``): the same, for the internal
      ingestion and query routes.
    """

    ingestion_concurrency: int = 20
    query_concurrency: int = 5
    salt_cache_seconds: int = 300
    api_rate_limit: int = 50
    api_burst_limit: int = 100
    release_interval_minutes: int = 60
    max_events_per_org_per_batch: int = 10
    github_oidc_audience: str = ""
    admin_principal_arns: tuple[str, ...] = ()
    internal_principal_arns: tuple[str, ...] = ()


MAX_PRINCIPALS = 20
# The JWT authorizer compares ``aud`` as a string; GitHub takes any audience a workflow asks for.
OIDC_AUDIENCE = pattern(r"[A-Za-z0-9._:/-]{1,255}", "1-255 characters of A-Z a-z 0-9 . _ : / -")
# Exact role or user ARNs: the functions compare callers with them, so no wildcard and no account
# root (an HTTP API route has no resource policy to narrow an account-wide grant).
PRINCIPAL_ARN = pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}",
    "an IAM role or user ARN such as arn:aws:iam::123456789012:role/operator "
    "(no wildcard, no account root)",
)


def default_audience(stack: str) -> str:
    return f"phase-mirror-fp-calibration-{stack}"


def principal_arns(key: str, value: str) -> list[str]:
    """A JSON array of at most 20 distinct role or user ARNs (the engine passes YAML as JSON)."""
    arns = json_list(PRINCIPAL_ARN)(key, value)
    if len(arns) > MAX_PRINCIPALS:
        raise bad(key, value, f"a list of at most {MAX_PRINCIPALS} ARNs")
    if len(set(arns)) != len(arns):
        raise bad(key, value, "a list naming each ARN once")
    return arns


def check_principal_accounts(service: ServiceSettings, account_id: str) -> None:
    """Every allow-listed principal belongs to the stack's account (known once the program
    has asked AWS who it runs as)."""
    for key, arns in (
        ("adminPrincipalArns", service.admin_principal_arns),
        ("internalPrincipalArns", service.internal_principal_arns),
    ):
        for i, arn in enumerate(arns):
            if arn.split(":")[4] != account_id:
                raise bad(f"{key}[{i}]", arn, f"an ARN of this stack's account {account_id}")


def _service(r: _Reader, stack: str) -> ServiceSettings:
    d = ServiceSettings()
    service = ServiceSettings(
        ingestion_concurrency=r.optional(
            "ingestionConcurrency", d.ingestion_concurrency, int_range(1, 1000)
        ),
        query_concurrency=r.optional("queryConcurrency", d.query_concurrency, int_range(1, 100)),
        salt_cache_seconds=r.optional("saltCacheSeconds", d.salt_cache_seconds, int_range(30, 900)),
        api_rate_limit=r.optional("apiRateLimit", d.api_rate_limit, int_range(1, 10000)),
        api_burst_limit=r.optional("apiBurstLimit", d.api_burst_limit, int_range(1, 5000)),
        release_interval_minutes=r.optional(
            "releaseIntervalMinutes", d.release_interval_minutes, int_range(5, 1440)
        ),
        max_events_per_org_per_batch=r.optional(
            "maxEventsPerOrgPerBatch", d.max_events_per_org_per_batch, int_range(1, 1000)
        ),
        github_oidc_audience=r.optional(
            "githubOidcAudience", default_audience(stack), OIDC_AUDIENCE
        ),
        admin_principal_arns=tuple(r.optional("adminPrincipalArns", [], principal_arns)),
        internal_principal_arns=tuple(r.optional("internalPrincipalArns", [], principal_arns)),
    )
    if service.api_burst_limit < service.api_rate_limit:
        raise bad(
            "apiBurstLimit",
            str(service.api_burst_limit),
            f"at least apiRateLimit ({service.api_rate_limit})",
        )
    return service


# --- Network and DataTier settings -----------------------------------------------

NatStrategy = Literal["single", "one_per_az"]
DB_INSTANCE_CLASS = pattern(
    r"db\.[a-z0-9]+\.[a-z0-9]+", "an RDS instance class such as db.t4g.medium"
)
CACHE_NODE_TYPE = pattern(r"cache\.[a-z0-9]+\.[a-z0-9]+", "a node type such as cache.t4g.small")
EC2_INSTANCE_TYPE = pattern(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type such as t3.large")
# RDS PostgreSQL majors in standard support; a minor ("17.4") pins it, a major lets AWS pick.
DB_ENGINE_VERSION = pattern(r"(14|15|16|17|18)(\.\d{1,2})?", "PostgreSQL 14-18, e.g. 17 or 17.4")
REDIS_ENGINE_VERSION = pattern(r"7\.[01]", "7.0 or 7.1")
# EKS versions in standard support; older ones bill extended support.
KUBERNETES_VERSION = pattern(r"1\.3[4-6]", "an EKS version in standard support: 1.34 to 1.36")
ROLE_ARN = pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}",
    "an IAM role ARN such as arn:aws:iam::123456789012:role/devops",
)
# IAM role names allow [\w+=,.@-] and paths; ``*`` and ``?`` only after the account id, so a
# pattern can never match another account's roles (ArnLike on aws:PrincipalArn).
_ROLE_ARN_LIKE = pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/*?-]{1,512}",
    "an IAM role ARN, wildcards * and ? allowed after 'role/', such as "
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/"
    "AWSReservedSSO_AdministratorAccess_*",
)


def role_arn_pattern(key: str, value: str) -> str:
    """An ``ArnLike`` role pattern whose role name is more than wildcards (``role/*`` would
    admit every role of the account)."""
    _ROLE_ARN_LIKE(key, value)
    name = value.rsplit("/", 1)[1]
    if len(name.replace("*", "").replace("?", "")) < 3:
        raise bad(key, value, "a pattern whose role name keeps at least 3 literal characters")
    return value


PEERING_ID = pattern(r"pcx-[0-9a-f]{8,17}", "a VPC peering connection id such as pcx-0a1b2c3d")
NAT = enum("single", "one_per_az")
_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def daily_window(minimum: int) -> Callable[[str, str], str]:
    """A daily UTC window ``hh:mm-hh:mm`` of at least ``minimum`` minutes (RDS: 30, Redis: 60)."""
    shape = re.compile(f"{_TIME}-{_TIME}")

    def parse(key: str, value: str) -> str:
        allowed = f"a UTC window hh:mm-hh:mm of at least {minimum} minutes, such as 03:00-04:00"
        if not shape.fullmatch(value):
            raise bad(key, value, allowed)
        if (_minutes(value[6:]) - _minutes(value[:5])) % 1440 < minimum:
            raise bad(key, value, allowed)
        return value

    return parse


WEEKLY_WINDOW = pattern(
    f"{_DAY}:{_TIME}-{_DAY}:{_TIME}", "a UTC window ddd:hh:mm-ddd:hh:mm such as sun:04:30-sun:05:30"
)


def vpc_cidr(key: str, value: str) -> str:
    problem = vpc_problem(cidr(key, value))
    if problem:
        raise bad(key, value, problem)
    return value


def any_cidr(key: str, value: str) -> str:
    return str(cidr(key, value))


def admin_cidr(key: str, value: str) -> str:
    """A range allowed to reach admin ports or the Kubernetes API: never the whole internet."""
    network = cidr(key, value)
    if network.prefixlen < 8:
        raise bad(
            key,
            value,
            "a range of /8 or narrower (0.0.0.0/0 or ::/0 opens admin access to the whole "
            "internet: the critical finding of any network audit)",
        )
    return str(network)


def ipv4_admin_cidr(key: str, value: str) -> str:
    if cidr(key, value).version != 4:
        raise bad(key, value, "an IPv4 CIDR (the EKS public endpoint takes IPv4 ranges only)")
    return admin_cidr(key, value)


CIDRS = json_list(any_cidr)


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """The VPC of the ``Network`` component.

    Fields (config key, default, constraint):
    - vpc_cidr (``vpcCidr``, ``10.20.0.0/16``): a private IPv4 CIDR from /16 to /24.
    - availability_zones (``availabilityZones``, 3): 2 or 3 zones, the first ones AWS lists.
    - nat_gateways (``natGateways``, ``one_per_az``): ``one_per_az`` keeps each zone's egress
      alive when another zone fails (one NAT charge per zone); ``single`` saves that cost for a
      stack that can tolerate losing egress with one zone.
    - ingress_cidrs (``ingressCidrs``, ``[0.0.0.0/0]``): who may reach the load balancer on 80/443.
    - devops_cidrs (``devopsCidrs``, ``[]``): who may reach SSH/RDP; never wider than /8.
    - app_port (``appPort``, 8080): 1024-65535, the port the app listens on behind the LB.
    - interface_endpoints (``interfaceEndpoints``, true): Secrets Manager, KMS, Logs and STS
      endpoints in the app subnets (about 7 USD a month per endpoint and zone).
    - peer_cidr / peering_connection_id (``peerCidr`` / ``peeringConnectionId``, none): both or
      neither; an existing peering whose CIDR must not overlap the VPC. Routes go to app route
      tables only.
    """

    vpc_cidr: str = "10.20.0.0/16"
    availability_zones: int = 3
    nat_gateways: NatStrategy = "one_per_az"
    ingress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    devops_cidrs: tuple[str, ...] = ()
    app_port: int = 8080
    interface_endpoints: bool = True
    peer_cidr: str | None = None
    peering_connection_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DataSettings:
    """RDS, Redis and EKS of the ``DataTier`` component.

    Fields (config key, default, constraint):
    - db_instance_class (``dbInstanceClass``, ``db.t4g.medium``): an RDS instance class.
    - db_allocated_storage_gb (``dbAllocatedStorageGb``, 100): 20-4096.
    - db_max_allocated_storage_gb (``dbMaxAllocatedStorageGb``, 500): storage autoscaling
      ceiling, above the allocated storage and at most 16384.
    - db_engine_version (``dbEngineVersion``, ``17``): PostgreSQL 14-18 (major or major.minor).
    - db_multi_az (``dbMultiAz``, true): a standby in a second zone; must be true in production.
    - db_backup_retention_days (``dbBackupRetentionDays``, 7): 7-35.
    - db_backup_window (``dbBackupWindow``, ``03:00-04:00``): daily UTC, 30+ minutes.
    - db_maintenance_window (``dbMaintenanceWindow``, ``sun:04:30-sun:05:30``): weekly UTC.
    - redis_node_type (``redisNodeType``, ``cache.t4g.small``).
    - redis_nodes (``redisNodes``, 2): 1-6; 2+ turns on automatic failover and Multi-AZ.
    - redis_engine_version (``redisEngineVersion``, ``7.1``): 7.0 or 7.1.
    - redis_snapshot_retention_days (``redisSnapshotRetentionDays``, 7): 1-35.
    - redis_snapshot_window (``redisSnapshotWindow``, ``05:00-06:00``): daily UTC, 60+ minutes.
    - eks_enabled (``eksEnabled``, true): create the EKS cluster and its node groups.
    - kubernetes_version (``kubernetesVersion``, ``1.35``): 1.34-1.36.
    - eks_instance_types (``eksInstanceTypes``, ``[t3.medium, t3a.medium]``): 1-5 types.
    - eks_on_demand_min_size / eks_on_demand_max_size (``eksOnDemandMinSize`` 2 /
      ``eksOnDemandMaxSize`` 6): 1-50 and min..100.
    - eks_spot_max_size (``eksSpotMaxSize``, 4): 0-100 spot nodes (0 keeps the group empty).
    - eks_public_access_cidrs (``eksPublicAccessCidrs``, ``[]``): empty turns the public API
      endpoint off; otherwise IPv4 ranges of /8 or narrower.
    - devops_role_arn / developer_role_arn (``devopsRoleArn`` / ``developerRoleArn``, none): IAM
      roles given cluster admin / read-only view through EKS access entries.
    """

    db_instance_class: str = "db.t4g.medium"
    db_allocated_storage_gb: int = 100
    db_max_allocated_storage_gb: int = 500
    db_engine_version: str = "17"
    db_multi_az: bool = True
    db_backup_retention_days: int = 7
    db_backup_window: str = "03:00-04:00"
    db_maintenance_window: str = "sun:04:30-sun:05:30"
    redis_node_type: str = "cache.t4g.small"
    redis_nodes: int = 2
    redis_engine_version: str = "7.1"
    redis_snapshot_retention_days: int = 7
    redis_snapshot_window: str = "05:00-06:00"
    eks_enabled: bool = True
    kubernetes_version: str = "1.35"
    eks_instance_types: tuple[str, ...] = ("t3.medium", "t3a.medium")
    eks_on_demand_min_size: int = 2
    eks_on_demand_max_size: int = 6
    eks_spot_max_size: int = 4
    eks_public_access_cidrs: tuple[str, ...] = ()
    devops_role_arn: str | None = None
    developer_role_arn: str | None = None


def _network(r: _Reader) -> NetworkSettings:
    d = NetworkSettings()
    net = NetworkSettings(
        vpc_cidr=r.optional("vpcCidr", d.vpc_cidr, vpc_cidr),
        availability_zones=r.optional("availabilityZones", 3, one_of_ints((2, 3))),
        nat_gateways=cast(NatStrategy, r.optional("natGateways", d.nat_gateways, NAT)),
        ingress_cidrs=tuple(r.optional("ingressCidrs", list(d.ingress_cidrs), CIDRS)),
        devops_cidrs=tuple(r.optional("devopsCidrs", [], json_list(admin_cidr))),
        app_port=r.optional("appPort", d.app_port, int_range(1024, 65535)),
        interface_endpoints=r.optional("interfaceEndpoints", True, boolean),
        peer_cidr=r.optional("peerCidr", None, any_cidr),
        peering_connection_id=r.optional("peeringConnectionId", None, PEERING_ID),
    )
    if (net.peer_cidr is None) != (net.peering_connection_id is None):
        given = "peerCidr" if net.peer_cidr else "peeringConnectionId"
        missing = "peeringConnectionId" if net.peer_cidr else "peerCidr"
        value = net.peer_cidr or net.peering_connection_id
        raise bad(given, value, f"only together with '{missing}' (a peering needs both)")
    if net.peer_cidr and overlapping(
        ipaddress.ip_network(net.peer_cidr), ipaddress.ip_network(net.vpc_cidr)
    ):
        raise bad(
            "peerCidr", net.peer_cidr, f"a range that does not overlap vpcCidr {net.vpc_cidr}"
        )
    return net


def _data(r: _Reader) -> DataSettings:
    d = DataSettings()
    data = DataSettings(
        db_instance_class=r.optional("dbInstanceClass", d.db_instance_class, DB_INSTANCE_CLASS),
        db_allocated_storage_gb=r.optional("dbAllocatedStorageGb", 100, int_range(20, 4096)),
        db_max_allocated_storage_gb=r.optional(
            "dbMaxAllocatedStorageGb", 500, int_range(21, 16384)
        ),
        db_engine_version=r.optional("dbEngineVersion", d.db_engine_version, DB_ENGINE_VERSION),
        db_multi_az=r.optional("dbMultiAz", True, boolean),
        db_backup_retention_days=r.optional("dbBackupRetentionDays", 7, int_range(7, 35)),
        db_backup_window=r.optional("dbBackupWindow", d.db_backup_window, daily_window(30)),
        db_maintenance_window=r.optional(
            "dbMaintenanceWindow", d.db_maintenance_window, WEEKLY_WINDOW
        ),
        redis_node_type=r.optional("redisNodeType", d.redis_node_type, CACHE_NODE_TYPE),
        redis_nodes=r.optional("redisNodes", 2, int_range(1, 6)),
        redis_engine_version=r.optional(
            "redisEngineVersion", d.redis_engine_version, REDIS_ENGINE_VERSION
        ),
        redis_snapshot_retention_days=r.optional("redisSnapshotRetentionDays", 7, int_range(1, 35)),
        redis_snapshot_window=r.optional(
            "redisSnapshotWindow", d.redis_snapshot_window, daily_window(60)
        ),
        eks_enabled=r.optional("eksEnabled", True, boolean),
        kubernetes_version=r.optional(
            "kubernetesVersion", d.kubernetes_version, KUBERNETES_VERSION
        ),
        eks_instance_types=tuple(
            r.optional("eksInstanceTypes", list(d.eks_instance_types), json_list(EC2_INSTANCE_TYPE))
        ),
        eks_on_demand_min_size=r.optional("eksOnDemandMinSize", 2, int_range(1, 50)),
        eks_on_demand_max_size=r.optional("eksOnDemandMaxSize", 6, int_range(1, 100)),
        eks_spot_max_size=r.optional("eksSpotMaxSize", 4, int_range(0, 100)),
        eks_public_access_cidrs=tuple(
            r.optional("eksPublicAccessCidrs", [], json_list(ipv4_admin_cidr))
        ),
        devops_role_arn=r.optional("devopsRoleArn", None, ROLE_ARN),
        developer_role_arn=r.optional("developerRoleArn", None, ROLE_ARN),
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
    if not 1 <= len(data.eks_instance_types) <= 5:
        raise bad("eksInstanceTypes", list(data.eks_instance_types), "a list of 1 to 5 types")
    if _windows_overlap(data.db_backup_window, data.db_maintenance_window):
        raise bad(
            "dbBackupWindow",
            data.db_backup_window,
            f"a window that does not overlap dbMaintenanceWindow ({data.db_maintenance_window})",
        )
    return data


def _windows_overlap(daily: str, weekly: str) -> bool:
    """Whether a daily ``hh:mm-hh:mm`` window meets a weekly ``ddd:hh:mm-ddd:hh:mm`` one."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    start = days.index(weekly[:3]) * 1440 + _minutes(weekly[4:9])
    end = days.index(weekly[10:13]) * 1440 + _minutes(weekly[14:19])
    end += 7 * 1440 if end <= start else 0
    length = (_minutes(daily[6:]) - _minutes(daily[:5])) % 1440
    for day in range(-1, 9):
        d_start = day * 1440 + _minutes(daily[:5])
        if d_start < end and start < d_start + length:
            return True
    return False


# --- Alert settings -----------------------------------------------------------

# Deliberately loose: SNS confirms each address by mail; this only catches typos and lists.
EMAIL = pattern(r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}", "an email address such as oncall@example.com")
# The pre-production checklist asks for 90 days of trail logs; CIS and Security Hub a year in
# production.
MIN_TRAIL_RETENTION_DAYS = 90
PRODUCTION_TRAIL_RETENTION_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """Who hears the alarms, and how long the audit trail is kept.

    Fields (config key, default, constraint):
    - alarm_emails (``alarmEmails``, ``[]``): addresses subscribed to both alert topics.
    - critical_emails (``criticalAlarmEmails``, ``[]``): addresses for the critical topic only
      (the on-call rotation's pager address).
    - warning_emails (``warningAlarmEmails``, ``[]``): addresses for the warning topic only.
    - trail_retention_days (``trailRetentionDays``, 365): days CloudTrail log files stay in
      their bucket, 90-3653; at least 365 in production.
    """

    alarm_emails: tuple[str, ...] = ()
    critical_emails: tuple[str, ...] = ()
    warning_emails: tuple[str, ...] = ()
    trail_retention_days: int = PRODUCTION_TRAIL_RETENTION_DAYS


def _alerts(r: _Reader) -> AlertSettings:
    emails = json_list(EMAIL)
    return AlertSettings(
        alarm_emails=tuple(r.optional("alarmEmails", [], emails)),
        critical_emails=tuple(r.optional("criticalAlarmEmails", [], emails)),
        warning_emails=tuple(r.optional("warningAlarmEmails", [], emails)),
        trail_retention_days=r.optional(
            "trailRetentionDays",
            PRODUCTION_TRAIL_RETENTION_DAYS,
            int_range(MIN_TRAIL_RETENTION_DAYS, 3653),
        ),
    )


def parse(raw: Mapping[str, str], *, project: str, stack: str, region: str | None) -> StackConfig:
    """Validate the raw project-namespace config (key -> string) of one stack."""
    r = _Reader(raw)
    if region is None or region == "":
        raise ConfigError("config key 'aws:region' is required and missing")
    if not STACK_NAME.fullmatch(stack):
        raise ConfigError(
            f"stack name {stack!r} is not allowed: a-z, 0-9 and single '-', not ending in '-' "
            "(it ends every physical name; S3 bucket names take lower case only)"
        )
    cfg = StackConfig(
        project=project,
        stack=stack,
        region=REGION("aws:region", region),
        environment=cast(Environment, r.required("environment", enum(*ENVIRONMENTS))),
        name_prefix=r.optional("namePrefix", "phase-mirror", NAME_PREFIX),
        deletion_protection=r.optional("deletionProtection", True, boolean),
        log_retention_days=r.optional("logRetentionDays", 90, one_of_ints(LOG_RETENTION_DAYS)),
        k_anonymity=r.optional("kAnonymity", 10, int_range(2, 1000)),
        service=_service(r, stack),
        network=_network(r),
        data=_data(r),
        alerts=_alerts(r),
        deploy_role_arn=r.optional("deployRoleArn", None, ROLE_ARN),
        operator_role_arn_pattern=r.optional("operatorRoleArnPattern", None, role_arn_pattern),
        account_baseline=r.optional("accountBaseline", True, boolean),
    )
    unknown = sorted(set(raw) - r.read)
    if unknown:
        raise ConfigError(
            f"config key '{unknown[0]}' is not a setting of this project: allowed "
            + ", ".join(sorted(r.read))
        )
    if stack == floors.PRODUCTION_STACK and cfg.environment != "production":
        raise bad(
            "environment",
            cfg.environment,
            "production in the stack named production (its floors and tags follow the stack)",
        )
    for floor in floors.violations(cfg):
        raise bad(
            floor.key,
            floors.shown(floor.value(cfg)),
            f"{floor.rule} in production: {floor.why}",
        )
    return cfg


def load_stack_config() -> StackConfig:
    """Read this stack's config from the engine and validate it."""
    project = pulumi.get_project()
    prefix = f"{project}:"
    everything: dict[str, Any] = {
        **pulumi.runtime.config.get_config_env(),
        **pulumi.runtime.config.CONFIG.get(),
    }
    raw = {k[len(prefix) :]: str(v) for k, v in everything.items() if k.startswith(prefix)}
    region = everything.get("aws:region")
    return parse(raw, project=project, stack=pulumi.get_stack(), region=region)
