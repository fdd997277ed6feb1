"""Alarms derived from what the program creates: every function, every table, the HTTP API.

Nobody lists them: ``Alarms`` passes the names the program registered (functions through
``components.core.function.registered_function_names``, tables from the store's declarations), so a
function or table added later is watched from its first deployment.

- every function: ``Errors`` (a crash, timeout or unhandled error; handled 4xx/503 answers are
  not errors) and ``Throttles`` (Lambda refused to run it: its reserved concurrency is
  exhausted, so a caller was turned away or a scheduled run was lost). Reserved concurrency is
  sized so that legitimate load never throttles, hence any throttle pages.
- every table: ``ThrottledRequests`` summed over its operations (DynamoDB publishes it only per
  table and operation; one alarm reads at most ten metrics and no ``SEARCH``, so one alarm per
  table).
- the HTTP API: the share of 5xx answers, once a period has enough requests to mean something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.config import Naming
from components.observability.alarm_catalog import (
    AlarmSpec,
    Comparison,
    Math,
    Metric,
    Severity,
    table_throttles,
)

# A metric-math alarm reads at most ten metrics (CloudWatch quotas); its expression is not one.
MAX_ALARM_METRICS = 10
# Below this many requests in 5 minutes a 5xx share is noise (one failure of four is 25 %);
# the per-cause alarms (consent store, salt) still page for those.
API_MIN_REQUESTS = 20
API_5XX_PERCENT = 5


@dataclass(frozen=True)
class ErrorsRule:
    """How one function's ``Errors`` alarm fires, and which runbook section answers it."""

    role: str
    comparison: Comparison
    threshold: float
    periods: int
    severity: Severity
    text: str
    runbook: str


# Functions whose errors mean more than a failed request keep their own rule: the ingestion
# function's warns after more than 10 errors in each of two periods (clients retry a failed
# event); a single failed rotation step pages, since it may leave the salt unrotated.
ERRORS_RULES = {
    "fp-ingestion": ErrorsRule(
        "fp-ingestion-lambda-errors",
        "GreaterThanThreshold",
        10,
        2,
        "warning",
        "The FP ingestion function is failing",
        "fp-ingestion-lambda-errors",
    ),
    "salt-rotator": ErrorsRule(
        "salt-rotator-errors",
        "GreaterThanOrEqualToThreshold",
        1,
        1,
        "critical",
        "A salt rotation step failed: Secrets Manager will retry, the salt may not rotate",
        "salt-rotation-failed",
    ),
}


def function_role(naming: Naming, physical: str) -> str:
    """``phase-mirror-fp-ingestion-staging`` -> ``fp-ingestion`` (the naming rule reversed)."""
    prefix, suffix = f"{naming.prefix}-", f"-{naming.stack}"
    if not (physical.startswith(prefix) and physical.endswith(suffix)):
        raise ValueError(f"{physical!r} does not follow the naming rule {prefix}<role>{suffix}")
    return physical[len(prefix) : -len(suffix)]


def _lambda(metric: str, function: str) -> Metric:
    return Metric("AWS/Lambda", metric, (("FunctionName", function),), "Sum", 300, metric)


def function_alarms(naming: Naming, functions: Sequence[str]) -> list[AlarmSpec]:
    specs: list[AlarmSpec] = []
    for function in functions:
        role = function_role(naming, function)
        rule = ERRORS_RULES.get(role) or ErrorsRule(
            f"{role}-errors",
            "GreaterThanOrEqualToThreshold",
            1,
            1,
            "warning",
            f"{function} failed: a crash, a timeout or an unhandled error",
            "lambda-errors",
        )
        specs += [
            AlarmSpec(
                rule.role,
                _lambda("Errors", function),
                rule.comparison,
                rule.threshold,
                rule.periods,
                "notBreaching",
                rule.severity,
                rule.text,
                rule.runbook,
            ),
            AlarmSpec(
                f"{role}-throttles",
                _lambda("Throttles", function),
                "GreaterThanOrEqualToThreshold",
                1,
                1,
                "notBreaching",
                "critical",
                f"Lambda refused to run {function}: its reserved concurrency is exhausted",
                "lambda-throttles",
            ),
        ]
    return specs


def table_alarms(naming: Naming, tables: Sequence[str]) -> list[AlarmSpec]:
    specs = []
    for table in tables:
        throttles = table_throttles(table)
        if len(throttles.metrics) > MAX_ALARM_METRICS:
            raise ValueError(f"{table}: {len(throttles.metrics)} metrics in one alarm")
        specs.append(
            AlarmSpec(
                f"{function_role(naming, table)}-throttling",
                throttles,
                "GreaterThanThreshold",
                5,
                2,
                "notBreaching",
                "critical",
                f"DynamoDB is throttling requests to {table}",
                "dynamodb-throttling",
            )
        )
    return specs


def api_alarms(api_id: pulumi.Input[str] | None) -> list[AlarmSpec]:
    """HTTP APIs publish ``5xx`` and ``Count`` by ``ApiId`` (API Gateway, "Monitor CloudWatch
    metrics for HTTP APIs"); a 503 the function answers counts as a 5xx too."""
    if api_id is None:
        return []

    def api(metric: str) -> Metric:
        return Metric("AWS/ApiGateway", metric, (("ApiId", api_id),), "Sum", 300, metric)

    rate = Math(
        "5xx answers (% of requests)",
        f"IF(m1 >= {API_MIN_REQUESTS}, 100 * m0 / m1, 0)",
        (api("5xx"), api("Count")),
    )
    return [
        AlarmSpec(
            "api-5xx-rate",
            rate,
            "GreaterThanThreshold",
            API_5XX_PERCENT,
            2,
            "notBreaching",
            "critical",
            f"Over {API_5XX_PERCENT} % of API requests answered 5xx for 10 minutes "
            f"(periods with {API_MIN_REQUESTS}+ requests)",
            "api-5xx-rate",
        )
    ]
