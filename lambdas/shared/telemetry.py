"""What every function's metrics have in common: counts, and the ``Environment`` dimension.

Each handler keeps its own ``Metrics`` object, made when its module loads: Powertools reads the
namespace (``POWERTOOLS_METRICS_NAMESPACE``) then, so a shared one would fix it at first import.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools.metrics.metrics import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import MetricUnit

# A request that changes nothing (a read, a refusal, a rotation step) has no metric to publish;
# Powertools would warn about it on every such invocation, filling the logs with noise.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


def count(metrics: Metrics, name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def tag_environment(metrics: Metrics, environment: str) -> None:
    """Every metric of the invocation carries ``Environment=<environment>``: alarms and
    dashboards select by it (set once per container, the value never changes)."""
    if metrics.default_dimensions.get("Environment") != environment:
        metrics.set_default_dimensions(Environment=environment)
