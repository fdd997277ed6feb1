"""Phase Mirror infrastructure: turns stack config into component args, wires them, exports."""

import pulumi

from components.config import check_principal_accounts
from components.config.startup import start
from components.core.base import component_options
from components.core.context import StackContext
from components.core.function import registered_function_names
from components.core.key_policy import Deployers
from components.data_tier.backup import Backup, BackupArgs
from components.data_tier.data_tier import DataTier, DataTierArgs
from components.network.network import Network, NetworkArgs
from components.observability.alarm_catalog import DataTierTargets, ServiceTargets
from components.observability.alarms import Alarms, AlarmsArgs
from components.observability.audit_trail import AuditTrail, AuditTrailArgs
from components.observability.key_alarms import KeyAlarms, KeyAlarmsArgs
from components.observability.observability import Observability, ObservabilityArgs
from components.observability.salt_age import SaltAgeCheck, SaltAgeCheckArgs
from components.service.calibration_service import (
    PSEUDONYM_FUNCTIONS,
    CalibrationService,
    CalibrationServiceArgs,
)
from components.service.calibration_store import TABLES, CalibrationStore, CalibrationStoreArgs
from components.service.salt_rotation import SaltRotation, SaltRotationArgs
from components.service.service_alarms import calibration_service_alarms

# Config, operator values and AWS's create-time rules, all checked before any resource exists.
cfg, account_id = start()
naming = cfg.naming
# Allow-listed callers must be principals of this stack's own account.
check_principal_accounts(cfg.service, account_id)
stack = StackContext(
    naming=naming,
    account_id=account_id,
    region=cfg.region,
    environment=cfg.environment,
    protect=cfg.deletion_protection,
    # Every identity that runs `pulumi up`: the key policies let exactly these deploy.
    deployers=Deployers(
        deploy_role_arn=cfg.deploy_role_arn,
        operator_role_arn_pattern=cfg.operator_role_arn_pattern,
    ),
    log_retention_days=cfg.log_retention_days,
)

observability = Observability(
    "observability",
    ObservabilityArgs(
        stack=stack,
        alerts=cfg.alerts,
    ),
    opts=component_options(cfg, "Observability"),
)
# Every other component encrypts its log groups with the observability log key.
stack = stack.with_log_key(observability.log_key.arn)

store = CalibrationStore(
    "calibration-store",
    CalibrationStoreArgs(
        stack=stack,
        # Every function that reads or writes items: the table key's policy names their roles.
        table_user_roles=(*PSEUDONYM_FUNCTIONS, "fp-release", "calibration-query"),
        org_key_users=PSEUDONYM_FUNCTIONS,
    ),
    opts=component_options(cfg, "CalibrationStore"),
)

salt = SaltRotation(
    "salt-rotation",
    SaltRotationArgs(
        stack=stack,
        salt_reader_roles=PSEUDONYM_FUNCTIONS,
    ),
    opts=component_options(cfg, "SaltRotation"),
)

salt_age = SaltAgeCheck(
    "salt-age",
    SaltAgeCheckArgs(
        stack=stack,
        secret_arn=salt.secret.arn,
        env_key_arn=salt.env_key.arn,
        layers=[salt.powertools.arn],
    ),
    opts=component_options(cfg, "SaltAgeCheck"),
)

service = CalibrationService(
    "calibration-service",
    CalibrationServiceArgs(
        stack=stack,
        store=store,
        salt=salt,
        settings=cfg.service,
        k_anonymity=cfg.k_anonymity,
    ),
    opts=component_options(cfg, "CalibrationService", previous="CalibrationApi"),
)

network = Network(
    "network",
    NetworkArgs(
        stack=stack,
        settings=cfg.network,
    ),
    opts=component_options(cfg, "Network"),
)

data = DataTier(
    "data-tier",
    DataTierArgs(
        stack=stack,
        settings=cfg.data,
        vpc_id=network.vpc.id,
        app_subnet_ids=network.subnet_ids("app"),
        data_subnet_ids=network.subnet_ids("data"),
        data_security_group_id=network.security_groups["data"].id,
    ),
    opts=component_options(cfg, "DataTier"),
)
if data.cluster is not None:
    network.allow_data_access("cluster-nodes", data.cluster.cluster_security_group_id)

Backup(
    "backup",
    BackupArgs(
        stack=stack,
        resources=[*store.table_arns, data.db_arn],
    ),
    opts=component_options(cfg, "Backup"),
)

# The account baseline exists once per account (accountBaseline: one stack per account).
# After the data tier: the trail bucket sends its access logs to the access-log bucket.
if cfg.account_baseline:
    AuditTrail(
        "audit-trail",
        AuditTrailArgs(
            stack=stack,
            retention_days=cfg.alerts.trail_retention_days,
            access_log_bucket=data.buckets["accessLogs"].bucket.bucket,
            critical_topic_arn=observability.topics["critical"].arn,
        ),
        opts=component_options(cfg, "AuditTrail"),
    )

KeyAlarms(
    "key-alarms",
    KeyAlarmsArgs(
        stack=stack,
        keys={"salt": salt.key},
        critical_topic_arn=observability.topics["critical"].arn,
    ),
    opts=component_options(cfg, "KeyAlarms"),
)

Alarms(
    "alarms",
    AlarmsArgs(
        stack=stack,
        topics={severity: topic.arn for severity, topic in observability.topics.items()},
        # Created last: every function registered so far gets its Errors and Throttles alarms.
        service=ServiceTargets(
            environment=cfg.environment,
            functions=registered_function_names(),
            tables=tuple(naming.physical(spec.role) for spec in TABLES.values()),
            # The table every accepted event is written to.
            calibration_table=naming.physical(TABLES["pending"].role),
            api_id=service.http.api.id,
        ),
        salt_secret_arn=salt.secret.arn,
        salt_secret_name=salt.secret.name,
        log_groups={
            "ingestion": service.ingestion.log_group.name,
            "rotator": salt.rotator.log_group.name,
        },
        data_tier=DataTierTargets(
            db_instance_id=naming.physical("db"),
            db_instance_class=cfg.data.db_instance_class,
            redis_group_id=naming.physical("redis"),
            redis_nodes=cfg.data.redis_nodes,
            eks_cluster=naming.physical("eks") if cfg.data.eks_enabled else None,
            # The data tier installs no Container Insights agent yet: no node metrics to watch.
            container_insights=False,
        ),
        extra_alarms=calibration_service_alarms(
            cfg.environment, cfg.service.release_interval_minutes
        ),
    ),
    opts=component_options(cfg, "Alarms"),
)

pulumi.export("calibrationKeyArn", store.key.arn)
pulumi.export("orgKeyArn", store.org_key.arn)
for logical, table in store.tables.items():
    pulumi.export(f"{logical}TableName", table.name)
    pulumi.export(f"{logical}TableArn", table.arn)
pulumi.export("saltSecretArn", salt.secret.arn)
pulumi.export("rotatorFunctionName", salt.rotator.function.name)
for role, export in (
    ("fp-ingestion", "ingestion"),
    ("fp-consent", "consent"),
    ("fp-admission", "admission"),
    ("fp-release", "release"),
    ("calibration-query", "query"),
):
    pulumi.export(f"{export}FunctionName", service.functions[role].function.name)
pulumi.export("saltAgeCheckFunctionName", salt_age.checker.function.name)
pulumi.export("releaseScheduleName", service.schedule.name)
pulumi.export("apiEndpoint", service.http.api.api_endpoint)
pulumi.export("githubOidcAudience", cfg.service.github_oidc_audience)
pulumi.export("vpcId", network.vpc.id)
for tier in ("public", "app", "data"):
    pulumi.export(f"{tier}SubnetIds", network.subnet_ids(tier))
pulumi.export("dbEndpoint", data.db.endpoint)
pulumi.export("redisEndpoint", data.redis.primary_endpoint_address)
pulumi.export("redisUserName", data.cache.user.user_name)
for logical, bucket in data.buckets.items():
    pulumi.export(f"{logical}BucketName", bucket.bucket.bucket)
if data.cluster is not None:
    pulumi.export("clusterName", naming.physical("eks"))
    pulumi.export("clusterOidcProviderArn", data.cluster.oidc_provider_arn)
