"""What the alarms and the dashboard watch, defined once as data.

Each metric is declared once (``Metric``, or a metric-math ``Sum`` / ``Search`` over metrics);
an ``AlarmSpec`` and a dashboard widget both refer to the same object, so an alarm and the graph
an engineer opens next to it can never disagree on a name, a dimension or a statistic. Nothing
here creates resources: ``components/observability/alarms.py`` turns the specs into alarms and a dashboard,
and the tests read them directly.

Thresholds: the service's own alarms keep the values the service was designed to (consent,
salt loading, latency); the data tier's follow the RDS and ElastiCache sizing they protect; the
EKS nodes page at CPU 80 % and memory 85 %, the platform team's usual headroom. Alarms derived from
what the program creates (every function, every table, the API) live in
components/observability/resource_alarms.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from components.config import bad

Severity = Literal["critical", "warning"]
Comparison = Literal["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold"]
Missing = Literal["notBreaching", "breaching", "ignore", "missing"]

# The one definition of the service's metric namespace: the functions receive it as
# POWERTOOLS_METRICS_NAMESPACE, the alarms watch it, the Lambda tests run under it.
SERVICE_NAMESPACE = "PhaseMirror/FPCalibration"
# A rotation is due on the 1st of every month: 31 days apart at most, plus the rotation window.
SALT_AGE_LIMIT_DAYS = 32
SALT_AGE_PERIODS = 3
RUNBOOK = "docs/runbooks/operations.md"
GIB = 1024**3
MIB = 1024**2
# ThrottledRequests exists only per (TableName, Operation): AWS publishes no TableName-only
# series, so an alarm on TableName alone would never see a data point.
# The operations the functions' grants allow (tests/test_alarms.py derives them from the role
# policies): the release job scans and batch-deletes the pending table, a revocation deletes
# item by item, every transaction is TransactWriteItems. No grant allows BatchGetItem or a
# read transaction. An alarm reads at most ten metrics ("Limits that apply to alarms based on
# metric math expressions"): eight leave room for two more.
TABLE_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchWriteItem",
    "TransactWriteItems",
)


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric with the statistic and period it is read with."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, pulumi.Input[str]], ...]
    stat: str
    period: int
    label: str = ""

    def widget_entry(self, **extra: Any) -> list[Any]:
        flat = [part for pair in self.dimensions for part in pair]
        options = {"stat": self.stat, "period": self.period, "label": self.label, **extra}
        return [self.namespace, self.name, *flat, options]


@dataclass(frozen=True)
class Sum:
    """The sum of several metrics (metric math), read as one series."""

    label: str
    metrics: tuple[Metric, ...]

    @property
    def expression(self) -> str:
        return "SUM([" + ", ".join(f"m{i}" for i in range(len(self.metrics))) + "])"


@dataclass(frozen=True)
class Search:
    """Every series of a metric whose dimensions are ``keys``, filtered by ``match`` (widgets)."""

    namespace: str
    name: str
    keys: tuple[str, ...]
    match: tuple[tuple[str, str], ...]
    stat: str
    period: int
    label: str = ""

    @property
    def expression(self) -> str:
        schema = ",".join((self.namespace, *self.keys))
        terms = " ".join(f'{k}="{v}"' for k, v in self.match)
        return f"SEARCH('{{{schema}}} MetricName=\"{self.name}\" {terms}', '{self.stat}', {self.period})"


@dataclass(frozen=True)
class Math:
    """A metric-math expression over ``metrics``, which it names ``m0``, ``m1``, ..."""

    label: str
    expression: str
    metrics: tuple[Metric, ...]


Signal = Metric | Sum | Math


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches, when it fires, where it goes and which runbook answers it."""

    role: str
    signal: Signal
    comparison: Comparison
    threshold: float
    evaluation_periods: int
    missing: Missing
    severity: Severity
    description: str
    runbook: str

    @property
    def runbook_link(self) -> str:
        return f"{RUNBOOK}#{self.runbook}"


@dataclass(frozen=True, kw_only=True)
class ServiceTargets:
    """What the calibration service created (static names, from the naming rule).

    - environment: the ``Environment`` dimension every custom metric carries.
    - functions: every Lambda function's name (each gets ``Errors`` and ``Throttles`` alarms).
    - tables: every DynamoDB table's name (each gets a throttling alarm).
    - calibration_table: the table the dashboard's DynamoDB widget draws.
    - api_id: the HTTP API whose 5xx rate pages (``None``: no API alarm).
    """

    environment: str
    functions: tuple[str, ...]
    tables: tuple[str, ...]
    calibration_table: str
    api_id: pulumi.Input[str] | None = None


@dataclass(frozen=True, kw_only=True)
class DataTierTargets:
    """What the data tier created; ``None`` for a part the stack does not create.

    - db_instance_id / db_instance_class: the RDS instance and its class (for max connections).
    - redis_group_id / redis_nodes: the replication group and its node count (nodes are
      ``{group}-001`` ...: ElastiCache publishes per node, not per group).
    - eks_cluster: the cluster name; node alarms only with ``container_insights`` on.
    """

    db_instance_id: str | None = None
    db_instance_class: str | None = None
    redis_group_id: str | None = None
    redis_nodes: int = 0
    eks_cluster: str | None = None
    container_insights: bool = False


def table_throttles(table: str) -> Sum:
    """A table's ``ThrottledRequests``, summed over the operations the functions may use."""
    return Sum(
        f"Throttled requests on {table}",
        tuple(
            Metric(
                "AWS/DynamoDB",
                "ThrottledRequests",
                (("TableName", table), ("Operation", op)),
                "Sum",
                300,
            )
            for op in TABLE_OPERATIONS
        ),
    )


class ServiceMetrics:
    """Every service metric an alarm or a widget reads, each declared once."""

    def __init__(self, t: ServiceTargets) -> None:
        env = (("Environment", t.environment),)

        def custom(name: str, stat: str, period: int, label: str) -> Metric:
            return Metric(SERVICE_NAMESPACE, name, env, stat, period, label)

        def function(name: str, fn: str, label: str = "") -> Metric:
            return Metric("AWS/Lambda", name, (("FunctionName", fn),), "Sum", 300, label)

        self.consent_failures = custom("ConsentCheckFailures", "Sum", 300, "Failed checks")
        self.consent_missing = custom("ConsentMissing", "Sum", 300, "No consent")
        self.anonymization_errors = custom("AnonymizationErrors", "Sum", 300, "Salt not loaded")
        self.anonymization_last_hour = custom(
            "AnonymizationErrors", "Sum", 3600, "Anonymization errors (1h)"
        )
        self.latency_average = custom("FPIngestLatency", "Average", 900, "Average")
        self.latency_p99 = custom("FPIngestLatency", "p99", 900, "p99")
        self.validation_errors = custom("ValidationErrors", "Sum", 300, "Rejected events")
        # Hourly maximum: the salt-age check publishes every 15 minutes, traffic or not.
        self.salt_age = custom("SaltAgeDays", "Maximum", 3600, "Age of the salt in use (days)")
        self.ingested_by_rule = Search(
            SERVICE_NAMESPACE, "FPEventsIngested", ("Environment", "RuleId"), env, "Sum", 300
        )
        self.throttles = table_throttles(t.calibration_table)
        self.table_writes = Metric(
            "AWS/DynamoDB",
            "ConsumedWriteCapacityUnits",
            (("TableName", t.calibration_table),),
            "Sum",
            300,
            "Consumed WCU",
        )
        self.invocations = [
            function(name, fn, f"{fn} {name}")
            for fn in t.functions
            for name in ("Invocations", "Errors", "Throttles")
        ]


def service_alarms(m: ServiceMetrics) -> list[AlarmSpec]:
    """The alarms on the service's own metrics: consent, salt loading, latency, salt age."""
    return [
        AlarmSpec(
            "consent-check-failures-critical",
            m.consent_failures,
            "GreaterThanThreshold",
            10,
            2,
            "notBreaching",
            "critical",
            "Consent store failures prevent FP data collection (fail-closed)",
            "consent-check-failures",
        ),
        AlarmSpec(
            "salt-loading-failures-critical",
            m.anonymization_errors,
            "GreaterThanThreshold",
            5,
            1,
            "notBreaching",
            "critical",
            "Cannot load HMAC salt from Secrets Manager",
            "salt-loading-failures",
        ),
        AlarmSpec(
            "fp-ingest-latency-warning",
            m.latency_average,
            "GreaterThanThreshold",
            1000,
            2,
            "notBreaching",
            "warning",
            "FP ingestion takes over 1 s on average",
            "fp-ingest-latency",
        ),
        # Missing data breaches: three hours without a measurement means the check (or the
        # secret) is broken, and a quiet stack would otherwise never notice a missed rotation.
        AlarmSpec(
            "salt-age-critical",
            m.salt_age,
            "GreaterThanThreshold",
            SALT_AGE_LIMIT_DAYS,
            SALT_AGE_PERIODS,
            "breaching",
            "critical",
            "The salt in use is older than 32 days (the monthly rotation was missed), or its "
            "age has not been measured for 3 hours",
            "salt-too-old",
        ),
    ]


# Memory (GiB) per size of the instance families the data tier may use.
_T_MEMORY = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
_UNIT_GIB = {"m": 8, "r": 16, "x": 32}  # GiB per "large" for general, memory, x-memory


def instance_memory_gib(key: str, instance_class: str) -> float:
    """Memory of an RDS class such as ``db.t4g.medium`` or ``db.r6g.2xlarge``."""
    match = re.fullmatch(r"db\.([a-z])(\d+)[a-z]*\.(\w+)", instance_class)
    if match:
        family, size = match.group(1), match.group(3)
        if family == "t" and size in _T_MEMORY:
            return _T_MEMORY[size]
        multiple = re.fullmatch(r"(\d*)xlarge|large", size)
        if family in _UNIT_GIB and multiple:
            factor = 1 if size == "large" else 2 * int(multiple.group(1) or 1)
            return _UNIT_GIB[family] * factor
    raise bad(key, instance_class, "a t, m, r or x class whose memory the connection alarm knows")


def postgres_max_connections(instance_class: str) -> int:
    """RDS PostgreSQL's default: LEAST(DBInstanceClassMemory / 9531392, 5000).

    Computed from the class's nominal memory, slightly above the memory RDS leaves to the
    database, so the estimate errs a little high.
    """
    memory = instance_memory_gib("dbInstanceClass", instance_class) * GIB
    return min(int(memory // 9531392), 5000)


@dataclass(frozen=True)
class Rule:
    """A data-tier threshold: metric, statistic, comparison, threshold and what it means."""

    role: str
    metric: str
    stat: str
    comparison: Comparison
    threshold: float
    text: str
    severity: Severity = "warning"
    periods: int = 2


OVER: Comparison = "GreaterThanThreshold"
UNDER: Comparison = "LessThanThreshold"
# The data tier's thresholds; a full disk stops the database, so free storage pages at once.
DB_RULES = (
    Rule("cpu", "CPUUtilization", "Average", OVER, 80, "CPU above 80 %"),
    Rule("freeable-memory", "FreeableMemory", "Average", UNDER, 512 * MIB, "memory below 512 MB"),
    Rule("free-storage", "FreeStorageSpace", "Minimum", UNDER, 10 * GIB,
         "free storage below 10 GB", "critical", 1),
)  # fmt: skip
REDIS_RULES = (
    Rule("cpu", "CPUUtilization", "Average", OVER, 75, "CPU above 75 %"),
    Rule("memory", "DatabaseMemoryUsagePercentage", "Average", OVER, 80, "memory above 80 %"),
    Rule("evictions", "Evictions", "Sum", OVER, 1000, "over 1000 evictions in 5 minutes"),
)
# The platform's EKS thresholds; Container Insights publishes these per cluster.
EKS_RULES = (
    Rule("node-cpu", "node_cpu_utilization", "Average", OVER, 80, "node CPU above 80 %"),
    Rule("node-memory", "node_memory_utilization", "Average", OVER, 85, "node memory above 85 %"),
)


def _apply(rules: tuple[Rule, ...], prefix: str, namespace: str, dims: tuple[tuple[str, str], ...],
           who: str, runbook: str) -> list[AlarmSpec]:  # fmt: skip
    """Missing data keeps the state ("missing"): these stop only with the resource itself."""
    return [
        AlarmSpec(
            f"{prefix}-{r.role}",
            Metric(namespace, r.metric, dims, r.stat, 300, f"{who} {r.metric}"),
            r.comparison,
            r.threshold,
            r.periods,
            "missing",
            r.severity,
            f"{who}: {r.text}",
            runbook,
        )
        for r in rules
    ]


def data_tier_alarms(t: DataTierTargets) -> list[AlarmSpec]:
    """The data tier's thresholds, only for what the stack creates."""
    specs: list[AlarmSpec] = []
    if t.db_instance_id:
        if not t.db_instance_class:
            raise ValueError("DataTierTargets: db_instance_class is required with db_instance_id")
        most = int(0.8 * postgres_max_connections(t.db_instance_class))
        connections = Rule("connections", "DatabaseConnections", "Maximum", OVER, most,
                           f"connections above 80 % of the maximum ({most})")  # fmt: skip
        dims = (("DBInstanceIdentifier", t.db_instance_id),)
        specs += _apply((*DB_RULES, connections), "db", "AWS/RDS", dims, "RDS", "database")
    # ElastiCache publishes per node ({group}-001, ...), not per replication group.
    for i in range(1, (t.redis_nodes if t.redis_group_id else 0) + 1):
        node = f"{t.redis_group_id}-{i:03d}"
        dims = (("CacheClusterId", node),)
        specs += _apply(REDIS_RULES, f"redis-{i:03d}", "AWS/ElastiCache", dims, node, "cache")
    if t.eks_cluster and t.container_insights:
        dims = (("ClusterName", t.eks_cluster),)
        specs += _apply(EKS_RULES, "eks", "ContainerInsights", dims, t.eks_cluster, "cluster")
    return specs
