"""Phase Mirror infrastructure: turns stack config into component args, wires them, exports."""

import pulumi
import pulumi_aws as aws

from components.backup import Backup, BackupArgs
from components.base import component_options
from components.calibration_store import CalibrationStore, CalibrationStoreArgs
from components.config import load_stack_config
from components.observability import Observability, ObservabilityArgs

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
    CalibrationStoreArgs(naming=naming, deletion_protection=cfg.deletion_protection),
    opts=component_options(cfg, "CalibrationStore"),
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
