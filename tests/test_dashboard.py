"""The saved log queries, the dashboard, and CloudWatch's acceptance of every alarm and the
dashboard as PutMetricAlarm / PutDashboard requests (moto)."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from testing.program import ROOT, ProgramRun
from tests.alarm_support import ALARM, NS, alarm, function_names


def log_group_of(run: ProgramRun, role: str) -> str:
    name = f"/aws/lambda/phase-mirror-{role}-{run.stack}"
    groups = {g.inputs["name"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert name in groups, f"{name} is not a log group the program creates"
    return name


@pytest.mark.parametrize(
    ("resource", "function", "query"),
    [
        (
            "consent-failures-by-org",
            "fp-ingestion",
            "fields @timestamp, orgKey, error\n| filter @message like /consent.*failed/\n"
            "| stats count() by orgKey\n| sort count desc\n| limit 20",
        ),
        (
            "anonymization-performance",
            "fp-ingestion",
            "fields @timestamp, FPIngestLatency\n| filter ispresent(FPIngestLatency)\n"
            "| stats avg(FPIngestLatency), max(FPIngestLatency), pct(FPIngestLatency, 99)",
        ),
        (
            "salt-rotation-history",
            "salt-rotator",
            "fields @timestamp, rotationMonth, previousRotationMonth\n"
            "| filter @message like /Salt rotated successfully/\n| sort @timestamp desc\n| limit 10",
        ),
    ],
)
def test_saved_query_reads_what_its_function_writes(program, resource, function, query):
    saved = program.one("aws:cloudwatch/queryDefinition:QueryDefinition", f"alarms-{resource}")
    assert saved.inputs["queryString"] == query, saved.urn
    assert saved.inputs["logGroupNames"] == [log_group_of(program, function)], saved.urn
    # A query over messages the code no longer writes finds nothing: each filter must match a
    # message its function logs, and each field must be one it writes.
    folder = {"fp-ingestion": "fp_ingestion", "salt-rotator": "salt_rotator"}[function]
    source = (ROOT / "lambdas" / folder / "handler.py").read_text()
    messages = re.findall(r'logger\.\w+\(\s*"([^"]+)"', source)
    for pattern in re.findall(r"like /([^/]+)/", query):
        assert any(re.search(pattern, m) for m in messages), (pattern, saved.urn)
    for field in re.findall(r"ispresent\((\w+)\)", query):
        assert f'"{field}"' in source or f'= "{field}"' in source, (field, saved.urn)
    assert saved.inputs["name"].startswith(f"phase-mirror-fp-calibration-{program.stack}/")


# --- the dashboard ---------------------------------------------------------------------------------


def dashboard(run: ProgramRun) -> dict[str, Any]:
    resource = run.one("aws:cloudwatch/dashboard:Dashboard", "alarms-dashboard")
    assert resource.inputs["dashboardName"] == f"PhaseMirror-FPCalibration-{run.stack.capitalize()}"
    return json.loads(resource.inputs["dashboardBody"])


def widget_metrics(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of each plain metric entry of a widget."""
    found = []
    for entry in widget["properties"].get("metrics", []):
        if isinstance(entry[0], str):
            namespace, name, *rest = entry
            flat = [x for x in rest if isinstance(x, str)]
            found.append((namespace, name, dict(zip(flat[::2], flat[1::2], strict=True))))
    return found


def test_dashboard_shows_the_seven_service_widgets_then_the_further_alarmed_metrics(program):
    # then one graph of the metrics the calibration service's further alarms watch
    *widgets, further = dashboard(program)["widgets"]
    assert further["properties"]["title"] == "Further alarmed metrics"
    assert [w["properties"]["title"] for w in widgets] == [
        "FP Ingestion Volume",
        "Consent Check Results",
        "Anonymization Health",
        "Ingestion Latency",
        "DynamoDB Performance",
        "Lambda Invocations & Errors",
        "Salt Rotation Status",
    ]
    views = [w["properties"].get("view") for w in widgets]
    assert views == [
        "timeSeries",
        "timeSeries",
        "singleValue",
        "timeSeries",
        "timeSeries",
        "bar",
        "table",
    ]
    starts = [w["properties"].get("start") for w in widgets[:6]]
    assert starts == ["-PT24H", "-PT24H", "-PT1H", "-PT1H", "-PT1H", "-PT24H"]
    assert widgets[1]["properties"]["stacked"] is True
    health = widgets[2]["properties"]
    assert widget_metrics(widgets[2]) == [
        (
            NS,
            "AnonymizationErrors",
            {"Environment": program.config["phase-mirror-infra:environment"]},
        )
    ]
    assert health["metrics"][0][-1]["stat"] == "Sum" and health["setPeriodToTimeRange"] is True


def test_dashboard_widgets_read_only_metrics_of_resources_that_exist(program):
    env = program.config["phase-mirror-infra:environment"]
    functions = function_names(program)
    tables = {t.inputs["name"] for t in program.of_type("aws:dynamodb/table:Table")}
    alarmed = {
        (a.inputs["namespace"], a.inputs["metricName"])
        for a in program.of_type(ALARM)
        if a.inputs.get("namespace") == NS
    }
    for widget in dashboard(program)["widgets"]:
        for namespace, name, dims in widget_metrics(widget):
            where = f"{widget['properties']['title']}: {namespace} {name} {dims}"
            if namespace == NS:
                assert dims == {"Environment": env}, where
            elif namespace == "AWS/Lambda":
                assert set(dims) == {"FunctionName"} and dims["FunctionName"] in functions, where
            elif namespace == "AWS/DynamoDB":
                assert dims["TableName"] in tables, where
            else:
                pytest.fail(f"unexpected metric in {where}")
    # Every custom metric an alarm watches is on the dashboard too, with the same name.
    drawn = {(ns, name) for w in dashboard(program)["widgets"] for ns, name, _ in widget_metrics(w)}
    assert alarmed - {(NS, "SaltAgeDays")} <= drawn


def test_search_expressions_select_this_environments_rule_series(program):
    env = program.config["phase-mirror-infra:environment"]
    widgets = dashboard(program)["widgets"]
    expected = (
        "SEARCH('{PhaseMirror/FPCalibration,Environment,RuleId} "
        f'MetricName="FPEventsIngested" Environment="{env}"\', \'Sum\', 300)'
    )
    assert widgets[0]["properties"]["metrics"] == [
        [{"expression": expected, "label": "", "id": "e1"}]
    ]
    assert widgets[1]["properties"]["metrics"][0][0]["expression"] == f"SUM({expected})"


def test_latency_widget_draws_the_alarms_threshold(program):
    latency = dashboard(program)["widgets"][3]["properties"]
    (line,) = latency["annotations"]["horizontal"]
    assert line["value"] == alarm(program, "fp-ingest-latency-warning").inputs["threshold"] == 1000
    stats = [entry[-1]["stat"] for entry in latency["metrics"]]
    assert stats == ["Average", "p99"]


def test_lambda_widget_shows_invocations_errors_and_throttles_of_every_function(program):
    widget = dashboard(program)["widgets"][5]
    shown = {(dims["FunctionName"], name) for _, name, dims in widget_metrics(widget)}
    functions = function_names(program)
    assert shown == {(f, m) for f in functions for m in ("Invocations", "Errors", "Throttles")}


def test_salt_rotation_widget_queries_the_rotators_log_group(program):
    query = dashboard(program)["widgets"][6]["properties"]["query"]
    group = log_group_of(program, "salt-rotator")
    assert re.match(rf"SOURCE '{re.escape(group)}' \| fields @timestamp, rotationMonth", query)
    assert "filter @message like /Salt rotated successfully/" in query


# --- the definitions are valid CloudWatch requests (moto) --------------------------------------------


def put_metric_alarm_request(inputs: dict[str, Any]) -> dict[str, Any]:
    """The PutMetricAlarm request the provider makes from a MetricAlarm's inputs (the engine
    carries every number as a float; the API takes whole numbers where the schema says int)."""

    def dimensions(d: dict[str, str] | None) -> list[dict[str, str]]:
        return [{"Name": k, "Value": v} for k, v in (d or {}).items()]

    request: dict[str, Any] = {
        "AlarmName": inputs["name"],
        "AlarmDescription": inputs.get("alarmDescription", ""),
        "ComparisonOperator": inputs["comparisonOperator"],
        "EvaluationPeriods": int(inputs["evaluationPeriods"]),
        "Threshold": float(inputs["threshold"]),
        "TreatMissingData": inputs["treatMissingData"],
        "AlarmActions": inputs["alarmActions"],
        "OKActions": inputs.get("okActions", []),
    }
    if "metricQueries" in inputs:
        request["Metrics"] = [
            {
                "Id": q["id"],
                "ReturnData": q.get("returnData", False),
                **(
                    {"Expression": q["expression"], "Label": q["label"]}
                    if "expression" in q
                    else {}
                ),
                **(
                    {
                        "MetricStat": {
                            "Metric": {
                                "Namespace": q["metric"]["namespace"],
                                "MetricName": q["metric"]["metricName"],
                                "Dimensions": dimensions(q["metric"]["dimensions"]),
                            },
                            "Period": int(q["metric"]["period"]),
                            "Stat": q["metric"]["stat"],
                        }
                    }
                    if "metric" in q
                    else {}
                ),
            }
            for q in inputs["metricQueries"]
        ]
    else:
        request |= {
            "Namespace": inputs["namespace"],
            "MetricName": inputs["metricName"],
            "Dimensions": dimensions(inputs.get("dimensions")),
            "Statistic": inputs["statistic"],
            "Period": int(inputs["period"]),
        }
    return request


def test_every_alarm_and_the_dashboard_are_accepted_by_cloudwatch(production):
    # GIVEN every alarm of the program (service, data tier, CIS) as the API request it becomes
    alarms = production.of_type(ALARM)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        # WHEN each is put (botocore validates every field's shape before moto stores it)
        for resource in alarms:
            cloudwatch.put_metric_alarm(**put_metric_alarm_request(resource.inputs))
        body = production.one("aws:cloudwatch/dashboard:Dashboard", "alarms-dashboard")
        cloudwatch.put_dashboard(
            DashboardName=body.inputs["dashboardName"], DashboardBody=body.inputs["dashboardBody"]
        )
        # THEN CloudWatch holds them all, each with the state its rules start in
        stored = cloudwatch.get_paginator("describe_alarms").paginate().build_full_result()
        names = {a["AlarmName"] for a in stored["MetricAlarms"]}
        assert names == {r.inputs["name"] for r in alarms}
        assert len(names) == len(alarms), "two alarms share a name"
        throttling = next(a for a in stored["MetricAlarms"] if "throttling" in a["AlarmName"])
        assert [m["Id"] for m in throttling["Metrics"]][-1] == "e1"
        assert cloudwatch.list_dashboards()["DashboardEntries"][0]["DashboardName"] == (
            "PhaseMirror-FPCalibration-Production"
        )
