"""salt-age-check: how old the HMAC salt in use is, measured on a schedule, traffic or not.

A schedule invokes it every 15 minutes. It reads the salt secret's metadata only
(``DescribeSecret``: never the value) and publishes ``SaltAgeDays`` (namespace from
``POWERTOOLS_METRICS_NAMESPACE``, dimension ``Environment``): days since the last successful
rotation (``LastRotatedDate``), or since the secret was created when it never rotated. The
salt-age alarm treats missing data as breaching, so a secret that cannot be measured must
publish nothing: a secret scheduled for deletion, or one with no ``AWSCURRENT`` version, raises
instead (the function's ``Errors`` count it too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import EphemeralMetrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import MetricUnit

# Siblings: lambdas/shared/, at the package's root.
from salt_secret_deps import SaltSecretDependencies

SALT_AGE_DAYS = "SaltAgeDays"

logger = Logger()


class SaltUnmeasurable(RuntimeError):
    """The secret holds no salt in use; publishing an age would hide it from the alarm."""


Dependencies = SaltSecretDependencies


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    return Dependencies.production(os.environ)


def salt_age_days(metadata: Mapping[str, Any], now: datetime) -> float:
    """Days since the salt in use became current, from ``DescribeSecret``'s answer."""
    if metadata.get("DeletedDate") is not None:
        raise SaltUnmeasurable("the salt secret is scheduled for deletion")
    stages: Mapping[str, list[str]] = metadata.get("VersionIdsToStages") or {}
    if not any("AWSCURRENT" in labels for labels in stages.values()):
        raise SaltUnmeasurable("the salt secret has no AWSCURRENT version")
    since = metadata.get("LastRotatedDate") or metadata.get("CreatedDate")
    if not isinstance(since, datetime):
        raise SaltUnmeasurable("the salt secret reports neither LastRotatedDate nor CreatedDate")
    return max(0.0, (now - since).total_seconds() / 86400)


def measure(deps: Dependencies) -> float:
    metadata = deps.client.describe_secret(SecretId=deps.secret_id)
    age = round(salt_age_days(metadata, deps.clock()), 3)
    # Ephemeral: one flush per run, no state shared with other metric sets in the container.
    metrics = EphemeralMetrics(service="")
    metrics.add_dimension(name="Environment", value=deps.environment)
    metrics.add_metric(name=SALT_AGE_DAYS, unit=MetricUnit.NoUnit, value=age)
    metrics.flush_metrics()
    logger.info(
        "salt age measured",
        extra={"saltAgeDays": age, "rotationEnabled": bool(metadata.get("RotationEnabled"))},
    )
    return age


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: object) -> dict[str, float]:
    return {"saltAgeDays": measure(dependencies())}
