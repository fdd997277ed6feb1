"""Alarms: what watches the other components, the dashboard and the saved log queries.

Created last in ``__main__.py``, after every function: each alarm comes from an ``AlarmSpec``
(components/observability/alarm_catalog.py for the service's own metrics and the data tier,
components/observability/resource_alarms.py for every function, table and the API) and goes to the
``critical`` or ``warning`` topic, with OK actions so the engineer also hears when it clears.
The dashboard ``PhaseMirror-FPCalibration-<Stack>`` draws its seven widgets from the same
``Metric`` objects the alarms use. A failed rotation of this stack's salt reaches ``critical``
through an EventBridge rule. ``python -m tools.alarm_table`` writes the table of docs/operations.md
from these definitions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext
from components.observability.alarm_catalog import (
    AlarmSpec,
    DataTierTargets,
    Metric,
    Search,
    ServiceMetrics,
    ServiceTargets,
    Severity,
    Sum,
    data_tier_alarms,
    service_alarms,
)
from components.observability.resource_alarms import api_alarms, function_alarms, table_alarms


def rotation_failed_pattern(secret_arn: str, secret_name: str) -> dict[str, Any]:
    """Secrets Manager's ``RotationFailed`` and ``TestRotationFailed`` of this one secret.

    Both are "AWS Service Event via CloudTrail" events whose ``requestParameters``,
    ``responseElements`` and ``resources`` are empty: the secret is named only in
    ``detail.additionalEventData.SecretId`` ("AWS CloudTrail entries for Secrets Manager", log
    entries for rotation: https://docs.aws.amazon.com/secretsmanager/latest/userguide/
    cloudtrail_log_entries.html). Recorded events carry the full ARN there; the name is
    accepted as well, in case a rotation started by name reports it. Each value in a pattern's
    list is an exact match and the list matches if any does ("Amazon EventBridge event
    patterns": https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html),
    and a name is unique within the account and region the rule listens in, so no other
    stack's secret matches.
    """
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed", "TestRotationFailed"],
            "additionalEventData": {"SecretId": [secret_arn, secret_name]},
        },
    }


@dataclass(frozen=True)
class SavedQuery:
    role: str
    title: str
    log_group: str  # key of AlarmsArgs.log_groups
    query: str


# The saved Logs Insights queries the runbooks quote. Each reads only what the code logs: the
# organisation's keyed hash, never its id, and the latency metric's EMF field (every invocation
# writes one; no per-event log line).
QUERIES = (
    SavedQuery(
        "consent-failures-by-org",
        "Consent failures by organization",
        "ingestion",
        "fields @timestamp, orgKey, error\n| filter @message like /consent.*failed/\n"
        "| stats count() by orgKey\n| sort count desc\n| limit 20",
    ),
    SavedQuery(
        "anonymization-performance",
        "Ingestion latency",
        "ingestion",
        "fields @timestamp, FPIngestLatency\n| filter ispresent(FPIngestLatency)\n"
        "| stats avg(FPIngestLatency), max(FPIngestLatency), pct(FPIngestLatency, 99)",
    ),
    SavedQuery(
        "salt-rotation-history",
        "Salt rotation history",
        "rotator",
        "fields @timestamp, rotationMonth, previousRotationMonth\n"
        "| filter @message like /Salt rotated successfully/\n| sort @timestamp desc\n| limit 10",
    ),
)


@dataclass(frozen=True, kw_only=True)
class AlarmsArgs:
    """Inputs of ``Alarms``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - topics: the ``critical`` and ``warning`` topic ARNs (``Observability.topics``).
    - service: the calibration service's function, table and API names (``ServiceTargets``).
    - salt_secret_arn, salt_secret_name: the salt secret whose failed rotations page.
    - log_groups: the log group names the saved queries read, keys ``ingestion``, ``rotator``.
    - data_tier: the data tier's resources (default ``None``: no data-tier alarms).
    - extra_alarms: further specs a component declares (default none), e.g.
      components/service/service_alarms.py.
    """

    stack: StackContext
    topics: Mapping[Severity, pulumi.Input[str]]
    service: ServiceTargets
    salt_secret_arn: pulumi.Input[str]
    salt_secret_name: pulumi.Input[str]
    log_groups: Mapping[str, pulumi.Input[str]]
    data_tier: DataTierTargets | None = None
    extra_alarms: Sequence[AlarmSpec] = ()


def alarm_specs(args: AlarmsArgs) -> list[AlarmSpec]:
    """Every alarm of the stack, in a stable order."""
    t, naming = args.service, args.stack.naming
    specs = service_alarms(ServiceMetrics(t))
    specs += function_alarms(naming, t.functions)
    specs += table_alarms(naming, t.tables)
    specs += api_alarms(t.api_id)
    if args.data_tier is not None:
        specs += data_tier_alarms(args.data_tier)
    specs += args.extra_alarms
    roles = [spec.role for spec in specs]
    if len(set(roles)) != len(roles):
        raise ValueError(
            f"two alarms share a role: {sorted(r for r in roles if roles.count(r) > 1)}"
        )
    return specs


def dashboard_name(stack: str) -> str:
    return f"PhaseMirror-FPCalibration-{stack.capitalize()}"


def _expression_entries(signal: Sum | Search) -> list[list[Any]]:
    """A metric-math line; a sum's inputs follow it, hidden, as the expression refers to them."""
    entries: list[list[Any]] = [
        [{"expression": signal.expression, "label": signal.label, "id": "e1"}]
    ]
    if isinstance(signal, Sum):
        entries += [m.widget_entry(id=f"m{i}", visible=False) for i, m in enumerate(signal.metrics)]
    return entries


def _metric_widget(title: str, metrics: list[list[Any]], **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {"title": title, "metrics": metrics, **properties},
    }


def dashboard_widgets(
    m: ServiceMetrics, specs: Mapping[str, AlarmSpec], region: str, rotator_log_group: str
) -> list[dict[str, Any]]:
    """The seven widgets on-call opens first, from the metrics (and thresholds) the alarms use."""
    latency = specs["fp-ingest-latency-warning"]
    # No metric counts passed checks: events stored (all rules) stand in for them.
    successful = {
        "expression": f"SUM({m.ingested_by_rule.expression})",
        "label": "Successful (stored)",
    }
    return [
        _metric_widget(
            "FP Ingestion Volume",
            _expression_entries(m.ingested_by_rule),
            view="timeSeries",
            start="-PT24H",
            region=region,
            yAxis={"left": {"min": 0}},
        ),
        _metric_widget(
            "Consent Check Results",
            [
                [{**successful, "id": "e1"}],
                m.consent_failures.widget_entry(),
                m.consent_missing.widget_entry(),
            ],
            view="timeSeries",
            stacked=True,
            start="-PT24H",
            region=region,
        ),
        _metric_widget(
            "Anonymization Health",
            [m.anonymization_last_hour.widget_entry()],
            view="singleValue",
            # Green at 0, red above: the band marks any error in red.
            annotations={
                "horizontal": [
                    {"label": "Any error", "value": 1, "color": "#d62728", "fill": "above"}
                ]
            },
            start="-PT1H",
            setPeriodToTimeRange=True,
            sparkline=True,
            region=region,
        ),
        _metric_widget(
            "Ingestion Latency",
            [m.latency_average.widget_entry(), m.latency_p99.widget_entry()],
            view="timeSeries",
            start="-PT1H",
            region=region,
            annotations={"horizontal": [{"label": "Alarm threshold", "value": latency.threshold}]},
        ),
        _metric_widget(
            "DynamoDB Performance",
            [m.table_writes.widget_entry(), *_expression_entries(m.throttles)],
            view="timeSeries",
            start="-PT1H",
            region=region,
        ),
        _metric_widget(
            "Lambda Invocations & Errors",
            [metric.widget_entry() for metric in m.invocations],
            view="bar",
            start="-PT24H",
            region=region,
        ),
        {
            "type": "log",
            "width": 24,
            "height": 6,
            "properties": {
                "title": "Salt Rotation Status",
                "region": region,
                "view": "table",
                "query": f"SOURCE '{rotator_log_group}' | " + QUERIES[2].query.replace("\n", " "),
            },
        },
    ]


def extra_widgets(specs: Sequence[AlarmSpec], region: str) -> list[dict[str, Any]]:
    """One graph of the metrics the extra alarms watch, so each alarm has its graph too."""
    metrics = [spec.signal.widget_entry() for spec in specs if isinstance(spec.signal, Metric)]
    if not metrics:
        return []
    return [
        _metric_widget(
            "Further alarmed metrics", metrics, view="timeSeries", start="-PT24H", region=region
        )
    ]


def alarm_inputs(spec: AlarmSpec) -> dict[str, Any]:
    """The metric half of a ``MetricAlarm``: one metric, or metric math over several."""
    signal = spec.signal
    if isinstance(signal, Metric):
        return {
            "namespace": signal.namespace,
            "metric_name": signal.name,
            "dimensions": dict(signal.dimensions),
            "statistic": signal.stat,
            "period": signal.period,
        }
    queries = [
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=f"m{i}",
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=m.namespace,
                metric_name=m.name,
                dimensions=dict(m.dimensions),
                stat=m.stat,
                period=m.period,
            ),
        )
        for i, m in enumerate(signal.metrics)
    ]
    total = aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id="e1", expression=signal.expression, label=signal.label, return_data=True
    )
    return {"metric_queries": [*queries, total]}


class Alarms(pulumi.ComponentResource):
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metrics = ServiceMetrics(args.service)
        specs = alarm_specs(args)
        self.alarms = {}
        for spec in specs:
            topic = args.topics[spec.severity]
            self.alarms[spec.role] = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.role}",
                name=args.stack.naming.physical(spec.role),
                alarm_description=f"{spec.description}. Runbook: {spec.runbook_link}",
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                evaluation_periods=spec.evaluation_periods,
                treat_missing_data=spec.missing,
                alarm_actions=[topic],
                ok_actions=[topic],
                **alarm_inputs(spec),
                opts=child,
            )
        rule = aws.cloudwatch.EventRule(
            f"{name}-rotation-failed",
            name=args.stack.naming.physical("rotation-failed"),
            description=(
                "Secrets Manager could not rotate this stack's HMAC salt. "
                "Runbook: docs/runbooks/operations.md#salt-rotation-failed"
            ),
            event_pattern=pulumi.Output.all(args.salt_secret_arn, args.salt_secret_name).apply(
                lambda secret: json.dumps(rotation_failed_pattern(secret[0], secret[1]))
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-rotation-failed-target",
            rule=rule.name,
            arn=args.topics["critical"],
            opts=child,
        )
        for query in QUERIES:
            aws.cloudwatch.QueryDefinition(
                f"{name}-{query.role}",
                name=f"{args.stack.naming.physical('fp-calibration')}/{query.title}",
                log_group_names=[args.log_groups[query.log_group]],
                query_string=query.query,
                opts=child,
            )
        by_role = {spec.role: spec for spec in specs}
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name(args.stack.naming.stack),
            dashboard_body=pulumi.Output.from_input(args.log_groups["rotator"]).apply(
                lambda group: json.dumps(
                    {
                        "widgets": [
                            *dashboard_widgets(metrics, by_role, args.stack.region, group),
                            *extra_widgets(args.extra_alarms, args.stack.region),
                        ]
                    }
                )
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "dashboardName": self.dashboard.dashboard_name,
                "alarmNames": [alarm.name for alarm in self.alarms.values()],
            }
        )
