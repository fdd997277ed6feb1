"""Every key a stack file may set, declared once: where it lands, its default, what it allows,
what it does and, where production needs more, its floor.

``components.config.parse`` reads exactly these keys, the settings dataclasses take their
defaults from here, ``floors.violations`` judges the floors, and docs/configuration.md is
generated from this table (``python -m tools.config_reference``; a test keeps it current).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.config.floors import AtLeast, Exactly, Floor
from components.config.naming import NAME_PREFIX
from components.config.validators import (
    WEEKLY_WINDOW,
    Parser,
    admin_cidr,
    any_cidr,
    bad,
    boolean,
    daily_window,
    enum,
    int_range,
    ipv4_admin_cidr,
    json_list,
    network,
    one_of_ints,
    parser,
    pattern,
)
from components.network.subnet_plan import vpc_problem


class Required:
    """The default of a key every stack file must set."""

    def __repr__(self) -> str:
        return "required"


REQUIRED = Required()


@dataclass(frozen=True)
class PerStack:
    """A default computed from the stack name (``text`` shows it in the reference)."""

    text: str
    value: Callable[[str], Any]


@dataclass(frozen=True)
class Key:
    """One config key: ``attribute`` is its dotted path in ``StackConfig``."""

    name: str
    attribute: str
    parse: Parser[Any]
    default: Any
    description: str
    floor: tuple[AtLeast | Exactly, str] | None = None  # (rule, why) in production

    @property
    def group(self) -> str:
        return self.attribute.split(".")[0] if "." in self.attribute else "stack"

    @property
    def field(self) -> str:
        return self.attribute.rsplit(".", 1)[-1]


# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
ENVIRONMENTS = ("staging", "production")
ROLE_ARN = pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}",
    "an IAM role ARN such as arn:aws:iam::123456789012:role/devops",
)
# IAM role names allow [\w+=,.@-] and paths; ``*`` and ``?`` only after the account id, so a
# pattern can never match another account's roles (ArnLike on aws:PrincipalArn).
_ROLE_ARN_LIKE = pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/*?-]{1,512}",
    "an IAM role ARN, wildcards * and ? allowed after 'role/'",
)


@parser(
    "an IAM role ARN of this account, wildcards * and ? allowed after 'role/' but at least 3 "
    "literal characters in the role name"
)
def role_arn_pattern(key: str, value: str) -> str:
    """An ``ArnLike`` pattern whose role name is more than wildcards (``role/*`` would admit
    every role of the account)."""
    _ROLE_ARN_LIKE(key, value)
    name = value.rsplit("/", 1)[1]
    if len(name.replace("*", "").replace("?", "")) < 3:
        raise bad(key, value, "a pattern whose role name keeps at least 3 literal characters")
    return value


# Exact role or user ARNs: the functions compare callers with them, so no wildcard and no
# account root (an HTTP API route has no resource policy to narrow an account-wide grant).
PRINCIPAL_ARN = pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}",
    "an IAM role or user ARN such as arn:aws:iam::123456789012:role/operator "
    "(no wildcard, no account root)",
)
PRINCIPALS = json_list(PRINCIPAL_ARN, most=20)
# Deliberately loose: SNS confirms each address by mail; this only catches typos and lists.
EMAILS = json_list(
    pattern(r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}", "an email address such as oncall@example.com")
)


@parser("a private IPv4 range (RFC 1918 or 100.64.0.0/10) from /16 to /24")
def vpc_cidr(key: str, value: str) -> str:
    problem = vpc_problem(network(key, value))
    if problem:
        raise bad(key, value, problem)
    return value


def _key(
    name: str,
    attribute: str,
    parse: Parser[Any],
    default: Any,
    description: str,
    floor: tuple[AtLeast | Exactly, str] | None = None,
) -> Key:
    return Key(name, attribute, parse, default, description, floor)


KEYS: tuple[Key, ...] = (
    # --- the stack ---------------------------------------------------------------------------
    _key("environment", "environment", enum(*ENVIRONMENTS), REQUIRED,
         "The metrics' Environment dimension and the tags; the stack named production must say "
         "production."),
    _key("namePrefix", "name_prefix", NAME_PREFIX, "phase-mirror",
         "Starts every physical name: {prefix}-{role}-{stack}."),
    _key("deletionProtection", "deletion_protection", boolean, True,
         "AWS deletion protection on stateful resources, Pulumi protect and retain-on-delete; "
         "false lets staging be torn down and rebuilt (secrets without a recovery window, "
         "buckets and the backup vault emptied).",
         (Exactly(True), "data survives a slip")),
    _key("logRetentionDays", "log_retention_days", one_of_ints(LOG_RETENTION_DAYS), 90,
         "Retention of every log group.", (AtLeast(365), "CIS: a year of logs")),
    _key("kAnonymity", "k_anonymity", int_range(2, 1000), 10,
         "Distinct organisations a released batch must hold (counted within one salt).",
         (AtLeast(10), "fewer organisations let one be singled out")),
    _key("deployRoleArn", "deploy_role_arn", ROLE_ARN, None,
         "The CI deploy role bootstrap/ creates (its output deployRoleArn): it runs pulumi up "
         "from the deploy workflow and administers the stack's keys."),
    _key("operatorRoleArnPattern", "operator_role_arn_pattern", role_arn_pattern, None,
         "ArnLike pattern of the operators' administrator role (an SSO role) that runs the "
         "first pulumi up by hand; it administers the keys like the deploy role. An operator "
         "value."),
    _key("accountBaseline", "account_baseline", boolean, True,
         "This stack creates the account's baseline (the CloudTrail trail, its bucket and log "
         "group, the CIS metric filters and alarms), which exists once per account: a second "
         "trail bills its copy of every management event and pages twice."),
    # --- the calibration service -------------------------------------------------------------
    _key("ingestionConcurrency", "service.ingestion_concurrency", int_range(1, 1000), 20,
         "Reserved concurrency of fp-ingestion: the hard bound on what a flood can cost."),
    _key("queryConcurrency", "service.query_concurrency", int_range(1, 100), 5,
         "Reserved concurrency of calibration-query."),
    _key("saltCacheSeconds", "service.salt_cache_seconds", int_range(30, 900), 300,
         "How long a warm function trusts its cached salt."),
    _key("apiRateLimit", "service.api_rate_limit", int_range(1, 10000), 50,
         "HTTP API requests per second, steady state."),
    _key("apiBurstLimit", "service.api_burst_limit", int_range(1, 5000), 100,
         "HTTP API burst, at least apiRateLimit."),
    _key("releaseIntervalMinutes", "service.release_interval_minutes", int_range(5, 1440), 60,
         "Minutes between two runs of the release job (the batch delay).",
         (AtLeast(60), "events wait at least an hour for their batch")),
    _key("maxEventsPerOrgPerBatch", "service.max_events_per_org_per_batch", int_range(1, 1000),
         10, "Events of one organisation per rule counted in one released batch; the rest is "
         "dropped and counted."),
    _key("githubOidcAudience", "service.github_oidc_audience",
         pattern(r"[A-Za-z0-9._:/-]{1,255}", "1-255 characters of A-Z a-z 0-9 . _ : / -"),
         PerStack("phase-mirror-fp-calibration-<stack>",
                  lambda stack: f"phase-mirror-fp-calibration-{stack}"),
         "The aud the JWT authorizer accepts in GitHub OIDC tokens (any workflow can ask for "
         "it: admission decides who takes part)."),
    _key("adminPrincipalArns", "service.admin_principal_arns", PRINCIPALS, (),
         "IAM roles or users of this account allowed on the admission routes."),
    _key("internalPrincipalArns", "service.internal_principal_arns", PRINCIPALS, (),
         "IAM roles or users of this account allowed on the internal ingestion and query "
         "routes."),
    # --- the network -------------------------------------------------------------------------
    _key("vpcCidr", "network.vpc_cidr", vpc_cidr, "10.20.0.0/16", "The VPC's range."),
    _key("availabilityZones", "network.availability_zones", one_of_ints((2, 3)), 3,
         "Zones used, the first ones AWS lists (by zone id, never one EKS refuses)."),
    _key("natGateways", "network.nat_gateways", enum("single", "one_per_az"), "one_per_az",
         "one_per_az keeps each zone's egress alive when another zone fails (one NAT charge "
         "per zone); single saves that cost where losing egress with one zone is acceptable.",
         (Exactly("one_per_az"), "egress survives a zone")),
    _key("ingressCidrs", "network.ingress_cidrs", json_list(any_cidr), ("0.0.0.0/0",),
         "Who may reach the load balancer on 80/443."),
    _key("devopsCidrs", "network.devops_cidrs", json_list(admin_cidr), (),
         "Who may reach SSH/RDP."),
    _key("appPort", "network.app_port", int_range(1024, 65535), 8080,
         "The port the app listens on behind the load balancer."),
    _key("interfaceEndpoints", "network.interface_endpoints", boolean, True,
         "Secrets Manager, KMS, Logs and STS endpoints in the app subnets (per endpoint and "
         "zone an hourly charge)."),
    _key("peerCidr", "network.peer_cidr", any_cidr, None,
         "An existing peering's range (with peeringConnectionId); must not overlap vpcCidr; "
         "routed from app subnets only."),
    _key("peeringConnectionId", "network.peering_connection_id",
         pattern(r"pcx-[0-9a-f]{8,17}", "a VPC peering connection id such as pcx-0a1b2c3d"),
         None, "The peering of peerCidr."),
    # --- the data tier -----------------------------------------------------------------------
    _key("dbInstanceClass", "data.db_instance_class",
         pattern(r"db\.[a-z0-9]+\.[a-z0-9]+", "an RDS instance class such as db.t4g.medium"),
         "db.t4g.medium", "The database's instance class."),
    _key("dbAllocatedStorageGb", "data.db_allocated_storage_gb", int_range(20, 4096), 100,
         "The database's storage."),
    _key("dbMaxAllocatedStorageGb", "data.db_max_allocated_storage_gb", int_range(21, 16384),
         500, "Storage autoscaling ceiling, above dbAllocatedStorageGb."),
    # RDS PostgreSQL majors in standard support; a minor ("17.4") pins it, a major lets AWS pick.
    _key("dbEngineVersion", "data.db_engine_version",
         pattern(r"(14|15|16|17|18)(\.\d{1,2})?", "PostgreSQL 14-18, e.g. 17 or 17.4"), "17",
         "PostgreSQL major or major.minor (quote it: an unquoted 16.10 reaches the program as "
         "16.1)."),
    _key("dbMultiAz", "data.db_multi_az", boolean, True,
         "A standby in a second zone.", (Exactly(True), "the database survives a zone")),
    _key("dbBackupRetentionDays", "data.db_backup_retention_days", int_range(7, 35), 7,
         "Days of automated backups."),
    _key("dbBackupWindow", "data.db_backup_window", daily_window(30), "03:00-04:00",
         "Daily backup window, clear of dbMaintenanceWindow."),
    _key("dbMaintenanceWindow", "data.db_maintenance_window", WEEKLY_WINDOW,
         "sun:04:30-sun:05:30", "Weekly maintenance window, at least 30 minutes."),
    _key("redisNodeType", "data.redis_node_type",
         pattern(r"cache\.[a-z0-9]+\.[a-z0-9]+", "a node type such as cache.t4g.small"),
         "cache.t4g.small", "The cache's node type."),
    _key("redisNodes", "data.redis_nodes", int_range(1, 6), 2,
         "Cache nodes; 2 or more turn on automatic failover and Multi-AZ.",
         (AtLeast(2), "a replica to fail over to")),
    _key("redisEngineVersion", "data.redis_engine_version",
         pattern(r"7\.[01]", "7.0 or 7.1"), "7.1", "Redis version (quote it)."),
    _key("redisSnapshotRetentionDays", "data.redis_snapshot_retention_days", int_range(1, 35),
         7, "Days of cache snapshots."),
    _key("redisSnapshotWindow", "data.redis_snapshot_window", daily_window(60), "05:00-06:00",
         "Daily snapshot window, clear of the cache's maintenance window."),
    _key("eksEnabled", "data.eks_enabled", boolean, True,
         "Create the EKS cluster and its node groups."),
    # EKS versions in standard support; older ones bill extended support.
    _key("kubernetesVersion", "data.kubernetes_version",
         pattern(r"1\.3[4-6]", "an EKS version in standard support: 1.34 to 1.36"), "1.35",
         "Kubernetes version (quote it)."),
    _key("eksInstanceTypes", "data.eks_instance_types",
         json_list(pattern(r"[a-z][a-z0-9-]*\.[a-z0-9]+",
                           "an EC2 instance type such as t3.large"), most=5),
         ("t3.medium", "t3a.medium"), "Node instance types, 1 to 5."),
    _key("eksOnDemandMinSize", "data.eks_on_demand_min_size", int_range(1, 50), 2,
         "On-demand nodes at least."),
    _key("eksOnDemandMaxSize", "data.eks_on_demand_max_size", int_range(1, 100), 6,
         "On-demand nodes at most, at least eksOnDemandMinSize."),
    _key("eksSpotMaxSize", "data.eks_spot_max_size", int_range(0, 100), 4,
         "Spot nodes at most (0 keeps the group empty)."),
    _key("eksPublicAccessCidrs", "data.eks_public_access_cidrs", json_list(ipv4_admin_cidr), (),
         "Ranges that may reach the Kubernetes API's public endpoint; empty turns it off."),
    _key("devopsRoleArn", "data.devops_role_arn", ROLE_ARN, None,
         "The role given cluster admin through an EKS access entry."),
    _key("developerRoleArn", "data.developer_role_arn", ROLE_ARN, None,
         "The role given read-only view through an EKS access entry."),
    # --- alerts ------------------------------------------------------------------------------
    _key("alarmEmails", "alerts.alarm_emails", EMAILS, (),
         "Addresses subscribed to both alert topics (this or criticalAlarmEmails must name the "
         "on-call)."),
    _key("criticalAlarmEmails", "alerts.critical_emails", EMAILS, (),
         "Addresses for the critical topic only (the on-call pager)."),
    _key("warningAlarmEmails", "alerts.warning_emails", EMAILS, (),
         "Addresses for the warning topic only."),
    # The pre-production checklist asks for 90 days of trail logs; CIS and Security Hub a year.
    _key("trailRetentionDays", "alerts.trail_retention_days", int_range(90, 3653), 365,
         "Days CloudTrail log files stay in their bucket.", (AtLeast(365), "CIS: a year")),
)  # fmt: skip

BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}
BY_ATTRIBUTE: dict[str, Key] = {key.attribute: key for key in KEYS}
PRODUCTION_FLOORS: tuple[Floor, ...] = tuple(
    Floor(key.name, key.attribute, *key.floor) for key in KEYS if key.floor
)


def default(attribute: str) -> Any:
    """The declared default of the key landing in ``attribute`` (for the settings classes)."""
    value = BY_ATTRIBUTE[attribute].default
    return None if isinstance(value, (Required, PerStack)) else value
