"""Phase Mirror infrastructure: turns stack config into component args, wires them, exports."""

import pulumi
import pulumi_aws as aws

from components.backup import Backup, BackupArgs
from components.base import component_options
from components.calibration_api import CalibrationApi, CalibrationApiArgs
from components.calibration_store import CalibrationStore, CalibrationStoreArgs
from components.config import load_stack_config
from components.observability import Observability, ObservabilityArgs
from components.salt_rotation import SaltRotation, SaltRotationArgs

cfg = load_stack_config()
naming = cfg.naming
account_id = aws.get_caller_identity().account_id

observability = Observability(
    "observability",
    ObservabilityArgs(
        naming=naming,
        account_id=account_id,
        region=cfg.region,
        deletion_protection=cfg.deletion_protection,
    ),
    opts=component_options(cfg, "Observability"),
)

store = CalibrationStore(
    "calibration-store",
    CalibrationStoreArgs(
        naming=naming, region=cfg.region, deletion_protection=cfg.deletion_protection
    ),
    opts=component_options(cfg, "CalibrationStore"),
)

salt = SaltRotation(
    "salt-rotation",
    SaltRotationArgs(
        naming=naming,
        account_id=account_id,
        region=cfg.region,
        environment=cfg.environment,
        store=store,
        deletion_protection=cfg.deletion_protection,
        log_key_arn=observability.log_key.arn,
        log_retention_days=cfg.log_retention_days,
        ingestion_concurrency=cfg.service.ingestion_concurrency,
        salt_cache_seconds=cfg.service.salt_cache_seconds,
    ),
    opts=component_options(cfg, "SaltRotation"),
)

api = CalibrationApi(
    "calibration-api",
    CalibrationApiArgs(
        naming=naming,
        environment=cfg.environment,
        store=store,
        ingestion=salt.ingestion,
        k_anonymity=cfg.k_anonymity,
        query_concurrency=cfg.service.query_concurrency,
        rate_limit=cfg.service.api_rate_limit,
        burst_limit=cfg.service.api_burst_limit,
        env_key_arn=salt.env_key.arn,
        log_key_arn=observability.log_key.arn,
        log_retention_days=cfg.log_retention_days,
        layers=[salt.powertools.arn],
    ),
    opts=component_options(cfg, "CalibrationApi"),
)

Backup(
    "backup",
    BackupArgs(
        naming=naming,
        resources=store.table_arns,
        deletion_protection=cfg.deletion_protection,
    ),
    opts=component_options(cfg, "Backup"),
)

pulumi.export("calibrationKeyArn", store.key.arn)
for logical, table in store.tables.items():
    pulumi.export(f"{logical}TableName", table.name)
    pulumi.export(f"{logical}TableArn", table.arn)
pulumi.export("saltSecretArn", salt.secret.arn)
pulumi.export("ingestionFunctionName", salt.ingestion.function.name)
pulumi.export("rotatorFunctionName", salt.rotator.function.name)
pulumi.export("queryFunctionName", api.query.function.name)
pulumi.export("apiEndpoint", api.api.api_endpoint)
