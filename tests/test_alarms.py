"""Alarms: every alarm's full definition, the salt-failure rule, the saved queries and the dashboard.

Alarms are checked against tables written out here (the service's thresholds and the data
tier's), not against the catalog they are built from, so a changed threshold, period or route
fails a test. Names and dimensions are checked against what the program really creates
(function names, table names, the API, DB identifier, Redis nodes): a function or table the
program registers without its alarms fails here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from components.config import ConfigError, Naming
from components.observability.alarm_catalog import (
    DataTierTargets,
    data_tier_alarms,
    instance_memory_gib,
    postgres_max_connections,
)
from components.observability.alarms import rotation_failed_pattern
from components.observability.resource_alarms import function_role
from testing.program import ACCOUNT_ID, ROOT, ProgramRun, Resource

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NS = "PhaseMirror/FPCalibration"
GIB = 1024**3
MIB = 1024**2
# An alarm looks back at most 7 days (CloudWatch PutMetricAlarm: period x evaluation periods).
LOOKBACK_S = 604_800

# The service's own alarms (plus the Environment dimension every custom metric carries), and the
# two functions whose errors keep their own rule. role -> (namespace, metric, dimension, stat,
# period, evaluation periods, threshold, comparison, topic, missing data).
SERVICE = {
    "consent-check-failures-critical": (NS, "ConsentCheckFailures", "env", "Sum", 300, 2, 10, ">", "critical", "notBreaching"),
    "salt-loading-failures-critical": (NS, "AnonymizationErrors", "env", "Sum", 300, 1, 5, ">", "critical", "notBreaching"),
    "fp-ingest-latency-warning": (NS, "FPIngestLatency", "env", "Average", 900, 2, 1000, ">", "warning", "notBreaching"),
    "fp-ingestion-lambda-errors": ("AWS/Lambda", "Errors", "fp-ingestion", "Sum", 300, 2, 10, ">", "warning", "notBreaching"),
    "salt-rotator-errors": ("AWS/Lambda", "Errors", "salt-rotator", "Sum", 300, 1, 1, ">=", "critical", "notBreaching"),
    # A quiet stack publishes no traffic metrics: the scheduled check feeds this one, and three
    # hours without a measurement page like an old salt.
    "salt-age-critical": (NS, "SaltAgeDays", "env", "Maximum", 3600, 3, 32, ">", "critical", "breaching"),
}  # fmt: skip
COMPARISON = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
}
# The data tier's thresholds. role -> (metric, stat, evaluation periods, threshold, comparison, topic).
DB = {
    "db-cpu": ("CPUUtilization", "Average", 2, 80, ">", "warning"),
    "db-freeable-memory": ("FreeableMemory", "Average", 2, 512 * MIB, "<", "warning"),
    "db-free-storage": ("FreeStorageSpace", "Minimum", 1, 10 * GIB, "<", "critical"),
    "db-connections": ("DatabaseConnections", "Maximum", 2, "80%", ">", "warning"),
}
# 80 % of RDS's default max_connections (memory / 9531392) for the classes the stacks use.
CONNECTIONS_AT_80 = {"db.t4g.medium": 360, "db.t4g.large": 720}
REDIS = {
    "cpu": ("CPUUtilization", "Average", 75),
    "memory": ("DatabaseMemoryUsagePercentage", "Average", 80),
    "evictions": ("Evictions", "Sum", 1000),
}


def alarm(run: ProgramRun, role: str) -> Resource:
    return run.one(ALARM, f"alarms-{role}")


def topic_arn(run: ProgramRun, severity: str) -> str:
    return run.one("aws:sns/topic:Topic", f"observability-{severity}-topic").outputs["arn"]


def function_names(run: ProgramRun) -> set[str]:
    return {f.inputs["name"] for f in run.of_type("aws:lambda/function:Function")}


def routed(run: ProgramRun, resource: Resource, severity: str) -> None:
    arn = topic_arn(run, severity)
    assert resource.inputs["alarmActions"] == [arn], f"{resource.urn} must go to {severity}"
    assert resource.inputs["okActions"] == [arn], f"{resource.urn} must report recovery"


def assert_single_metric(resource: Resource, expected: dict[str, Any]) -> None:
    actual = {k: resource.inputs.get(k) for k in expected}
    assert actual == expected, resource.urn


@pytest.mark.parametrize("role", SERVICE)
def test_service_alarm_full_definition(program, role):
    namespace, metric, dim, stat, period, periods, threshold, cmp, severity, missing = SERVICE[role]
    env = program.config["phase-mirror-infra:environment"]
    if dim == "env":
        dimensions = {"Environment": env}
    else:
        function = f"phase-mirror-{dim}-{program.stack}"
        assert function in function_names(program), f"{role} watches a function that is not there"
        dimensions = {"FunctionName": function}
    resource = alarm(program, role)
    assert_single_metric(
        resource,
        {
            "name": f"phase-mirror-{role}-{program.stack}",
            "namespace": namespace,
            "metricName": metric,
            "dimensions": dimensions,
            "statistic": stat,
            "period": period,
            "evaluationPeriods": periods,
            "threshold": threshold,
            "comparisonOperator": COMPARISON[cmp],
            "treatMissingData": missing,
        },
    )
    routed(program, resource, severity)
    assert period * periods <= LOOKBACK_S, f"{resource.urn} looks back further than CloudWatch can"


def role_in(run: ProgramRun, physical: str) -> str:
    return function_role(Naming("phase-mirror", run.stack), physical)


def test_every_function_the_program_registers_has_errors_and_throttles_alarms(program):
    # GIVEN every Lambda function of the stack, whichever component created it
    functions = function_names(program)
    assert len(functions) >= 4
    watched: dict[tuple[str, str], Resource] = {}
    for resource in program.of_type(ALARM):
        if resource.inputs.get("namespace") == "AWS/Lambda":
            watched[
                (resource.inputs["dimensions"]["FunctionName"], resource.inputs["metricName"])
            ] = resource
    # THEN each has an Errors and a Throttles alarm on exactly its name, and nothing else is watched
    assert set(watched) == {(f, m) for f in functions for m in ("Errors", "Throttles")}
    for function in functions:
        throttles = watched[(function, "Throttles")]
        assert (
            throttles.inputs["name"]
            == f"phase-mirror-{role_in(program, function)}-throttles-{program.stack}"
        )
        assert_single_metric(
            throttles,
            {
                "statistic": "Sum",
                "period": 300,
                "evaluationPeriods": 1,
                "threshold": 1,
                "comparisonOperator": "GreaterThanOrEqualToThreshold",
                "treatMissingData": "notBreaching",
            },
        )
        routed(program, throttles, "critical")
        errors = watched[(function, "Errors")]
        assert errors.inputs["statistic"] == "Sum" and errors.inputs["threshold"] >= 1, errors.urn
        assert "Runbook: docs/runbooks/operations.md#" in errors.inputs["alarmDescription"]


def test_a_function_without_a_rule_of_its_own_gets_the_default_errors_alarm(program):
    resource = alarm(program, "calibration-query-errors")
    assert_single_metric(
        resource,
        {
            "name": f"phase-mirror-calibration-query-errors-{program.stack}",
            "namespace": "AWS/Lambda",
            "metricName": "Errors",
            "dimensions": {"FunctionName": f"phase-mirror-calibration-query-{program.stack}"},
            "evaluationPeriods": 1,
            "threshold": 1,
            "comparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
    routed(program, resource, "warning")


def test_function_role_reverses_the_naming_rule_and_refuses_foreign_names():
    naming = Naming("phase-mirror", "staging")
    assert function_role(naming, "phase-mirror-fp-ingestion-staging") == "fp-ingestion"
    with pytest.raises(ValueError, match="does not follow the naming rule"):
        function_role(naming, "phase-mirror-fp-ingestion-production")


@pytest.fixture(params=["consent-store", "pending-events", "calibration-published"])
def table_role(request):
    return request.param


def test_every_table_has_one_throttling_alarm(program):
    tables = {t.inputs["name"] for t in program.of_type("aws:dynamodb/table:Table")}
    throttling = {
        r.inputs["name"]: r
        for r in program.of_type(ALARM)
        if r.inputs["name"].endswith(f"-throttling-{program.stack}")
    }
    assert set(throttling) == {
        f"phase-mirror-{role_in(program, t)}-throttling-{program.stack}" for t in tables
    }


def test_throttling_alarm_sums_throttled_requests_of_every_operation_on_its_table(
    program, table_role
):
    table = f"phase-mirror-{table_role}-{program.stack}"
    names = {t.inputs["name"] for t in program.of_type("aws:dynamodb/table:Table")}
    assert table in names
    resource = alarm(program, f"{table_role}-throttling")
    inputs = resource.inputs
    assert_single_metric(
        resource,
        {
            "name": f"phase-mirror-{table_role}-throttling-{program.stack}",
            "evaluationPeriods": 2,
            "threshold": 5,
            "comparisonOperator": "GreaterThanThreshold",
            "treatMissingData": "notBreaching",
            "metricName": None,
            "statistic": None,
        },
    )
    *metrics, total = inputs["metricQueries"]
    # ThrottledRequests is published per (TableName, Operation) only.
    operations = []
    for i, query in enumerate(metrics):
        m = query["metric"]
        assert query["id"] == f"m{i}" and query.get("returnData") is False, resource.urn
        assert (m["namespace"], m["metricName"], m["stat"], m["period"]) == (
            "AWS/DynamoDB",
            "ThrottledRequests",
            "Sum",
            300,
        )
        assert m["dimensions"]["TableName"] == table and set(m["dimensions"]) == {
            "TableName",
            "Operation",
        }
        operations.append(m["dimensions"]["Operation"])
    assert {"PutItem", "UpdateItem", "Query", "GetItem", "TransactWriteItems"} <= set(operations)
    # an alarm reads at most ten metrics; its expression is not one of them
    assert len(operations) == len(set(operations)) <= 10
    assert total["returnData"] is True
    assert total["expression"] == "SUM([" + ", ".join(f"m{i}" for i in range(len(metrics))) + "])"
    routed(program, resource, "critical")


def granted_operations(run: ProgramRun) -> dict[str, set[str]]:
    """table name -> the DynamoDB operations some function's inline policy lets it call there.

    ThrottledRequests' Operation is the API call: an item of a transaction (ConditionCheckItem,
    or any action held to ``dynamodb:EnclosingOperation``) is throttled as that transaction.
    """
    found: dict[str, set[str]] = {}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        document = policy.inputs["policy"]
        document = json.loads(document) if isinstance(document, str) else document
        for statement in document["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            resources = statement["Resource"]
            resources = [resources] if isinstance(resources, str) else resources
            condition = statement.get("Condition", {}).get("ForAnyValue:StringEquals", {})
            enclosing = set(condition.get("dynamodb:EnclosingOperation", []))
            operations = set()
            for action in actions:
                service, name = action.split(":", 1)
                if service != "dynamodb":
                    continue
                if enclosing:
                    operations |= enclosing
                elif name == "ConditionCheckItem":
                    operations.add("TransactWriteItems")
                else:
                    operations.add(name)
            for arn in resources:
                match = re.fullmatch(r"arn:aws:dynamodb:[^:]+:\d{12}:table/([^/]+)(/.*)?", arn)
                if match and operations:
                    found.setdefault(match.group(1), set()).update(operations)
    return found


def test_every_operation_a_function_may_call_on_a_table_is_in_its_throttling_alarm(program):
    # GIVEN what the functions' policies allow on each table (the pending table: the release
    # job's Scan and BatchWriteItem, a revocation's Query and DeleteItem, ingestion's
    # transaction)
    granted = granted_operations(program)
    pending = f"phase-mirror-pending-events-{program.stack}"
    assert {"Scan", "DeleteItem", "TransactWriteItems"} <= granted[pending]
    for table, operations in granted.items():
        resource = alarm(program, f"{role_in(program, table)}-throttling")
        watched = {
            q["metric"]["dimensions"]["Operation"]
            for q in resource.inputs["metricQueries"]
            if "metric" in q
        }
        # THEN a throttled call of any of them reaches the table's alarm
        assert operations <= watched, (resource.urn, sorted(operations - watched))


@pytest.mark.parametrize("role", DB)
def test_database_alarm_full_definition(program, role):
    metric, stat, periods, threshold, cmp, severity = DB[role]
    (db,) = program.of_type("aws:rds/instance:Instance")
    if threshold == "80%":
        threshold = CONNECTIONS_AT_80[db.inputs["instanceClass"]]
    resource = alarm(program, role)
    assert_single_metric(
        resource,
        {
            "name": f"phase-mirror-{role}-{program.stack}",
            "namespace": "AWS/RDS",
            "metricName": metric,
            "dimensions": {"DBInstanceIdentifier": db.inputs["identifier"]},
            "statistic": stat,
            "period": 300,
            "evaluationPeriods": periods,
            "threshold": threshold,
            "comparisonOperator": COMPARISON[cmp],
            "treatMissingData": "missing",
        },
    )
    routed(program, resource, severity)


def test_api_5xx_rate_pages_when_over_five_percent_of_enough_requests_fail(program):
    (api,) = program.of_type("aws:apigatewayv2/api:Api")
    resource = alarm(program, "api-5xx-rate")
    assert_single_metric(
        resource,
        {
            "name": f"phase-mirror-api-5xx-rate-{program.stack}",
            "evaluationPeriods": 2,
            "threshold": 5,
            "comparisonOperator": "GreaterThanThreshold",
            "treatMissingData": "notBreaching",
        },
    )
    errors, count, rate = resource.inputs["metricQueries"]
    for query, metric in ((errors, "5xx"), (count, "Count")):
        assert query["metric"] == {
            "namespace": "AWS/ApiGateway",
            "metricName": metric,
            "dimensions": {"ApiId": api.id},
            "stat": "Sum",
            "period": 300,
        }, resource.urn
        assert query.get("returnData") is False
    assert (errors["id"], count["id"]) == ("m0", "m1")
    assert rate["expression"] == "IF(m1 >= 20, 100 * m0 / m1, 0)" and rate["returnData"] is True
    routed(program, resource, "critical")


def test_redis_alarms_cover_every_node_of_the_replication_group(program):
    (group,) = program.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    nodes = int(group.inputs["numCacheClusters"])
    roles = {a.name for a in program.of_type(ALARM) if a.name.startswith("alarms-redis-")}
    assert roles == {f"alarms-redis-{i:03d}-{w}" for i in range(1, nodes + 1) for w in REDIS}
    for i in range(1, nodes + 1):
        node = f"{group.inputs['replicationGroupId']}-{i:03d}"
        for what, (metric, stat, threshold) in REDIS.items():
            resource = alarm(program, f"redis-{i:03d}-{what}")
            assert_single_metric(
                resource,
                {
                    "namespace": "AWS/ElastiCache",
                    "metricName": metric,
                    "dimensions": {"CacheClusterId": node},
                    "statistic": stat,
                    "period": 300,
                    "evaluationPeriods": 2,
                    "threshold": threshold,
                    "comparisonOperator": "GreaterThanThreshold",
                    "treatMissingData": "missing",
                },
            )
            routed(program, resource, "warning")


def test_no_eks_node_alarms_without_container_insights(program):
    assert not [a for a in program.of_type(ALARM) if a.name.startswith("alarms-eks-")]


def test_every_alarm_is_routed_and_links_its_runbook(program):
    critical, warning = topic_arn(program, "critical"), topic_arn(program, "warning")
    for resource in program.of_type(ALARM):
        assert resource.inputs["alarmActions"] in ([critical], [warning]), resource.urn
        assert "Runbook: docs/runbooks/operations.md#" in resource.inputs["alarmDescription"]


# --- the data-tier catalog, without mocks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance_class", "gib", "connections"),
    [
        ("db.t4g.micro", 1, 112),
        ("db.t4g.medium", 4, 450),
        ("db.m6g.large", 8, 901),
        ("db.r6g.2xlarge", 64, 5000),
        ("db.m7g.xlarge", 16, 1802),
    ],
)
def test_max_connections_follow_the_rds_formula(instance_class, gib, connections):
    assert instance_memory_gib("dbInstanceClass", instance_class) == gib
    assert postgres_max_connections(instance_class) == connections


@pytest.mark.parametrize("instance_class", ["db.c6g.large", "db.t4g.huge", "db.z1d.large"])
def test_unknown_instance_class_is_rejected_naming_the_config_key(instance_class):
    with pytest.raises(
        ConfigError, match=f"'dbInstanceClass' has invalid value '{instance_class}'"
    ):
        postgres_max_connections(instance_class)


def test_data_tier_alarms_only_for_what_exists():
    assert data_tier_alarms(DataTierTargets()) == []
    assert data_tier_alarms(DataTierTargets(redis_nodes=3)) == []  # no group, no node alarms
    roles = [s.role for s in data_tier_alarms(DataTierTargets(eks_cluster="c"))]
    assert roles == []  # no Container Insights, nothing to read
    with_insights = DataTierTargets(eks_cluster="c", container_insights=True)
    specs = {s.role: s for s in data_tier_alarms(with_insights)}
    assert set(specs) == {"eks-node-cpu", "eks-node-memory"}
    assert (specs["eks-node-cpu"].threshold, specs["eks-node-memory"].threshold) == (80, 85)
    assert specs["eks-node-cpu"].signal.dimensions == (("ClusterName", "c"),)


def test_a_database_without_its_class_is_a_programming_error():
    with pytest.raises(ValueError, match="db_instance_class"):
        data_tier_alarms(DataTierTargets(db_instance_id="db"))


# --- salt rotation failures, saved queries ---------------------------------------------------------


SECRETS_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:"


def rotation_event(event_name: str, secret_id: str) -> dict[str, Any]:
    """A rotation event as EventBridge delivers it: an "AWS Service Event via CloudTrail" whose
    CloudTrail record names the secret only in additionalEventData.SecretId (its request
    parameters, response elements and resources are empty), as AWS describes these entries."""
    return {
        "version": "0",
        "id": "d82e0a2d-f36e-11fd-37cb-cba423a71196",
        "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.secretsmanager",
        "account": ACCOUNT_ID,
        "time": "2026-03-01T00:50:20Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {"accountId": ACCOUNT_ID, "invokedBy": "secretsmanager.amazonaws.com"},
            "eventTime": "2026-03-01T00:50:20Z",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "secretsmanager.amazonaws.com",
            "userAgent": "secretsmanager.amazonaws.com",
            "errorMessage": "Error when executing lambda during createSecret step",
            "requestParameters": None,
            "responseElements": None,
            "additionalEventData": {"SecretId": secret_id},
            "requestID": f"Rotation-{secret_id}",
            "eventID": "e3b69cfe-b70e-4c94-baa9-9decc3c150b9",
            "readOnly": False,
            "eventType": "AwsServiceEvent",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT_ID,
            "eventCategory": "Management",
        },
    }


def salt_secret(run: ProgramRun) -> tuple[str, str]:
    (secret,) = [
        s
        for s in run.of_type("aws:secretsmanager/secret:Secret")
        if s.inputs["name"].endswith("/fp-calibration/hmac-salt")
    ]
    return secret.outputs["arn"], secret.inputs["name"]


def matches(rule: Resource, event: dict[str, Any]) -> bool:
    """moto's EventBridge matcher (the one its event buses route with), on the deployed pattern."""
    return EventPattern.load(rule.inputs["eventPattern"]).matches_event(event)


def test_rotation_failures_of_this_stacks_salt_and_no_other_secret_page_critical(
    staging, production
):
    for run, other in ((staging, production), (production, staging)):
        rule = run.one("aws:cloudwatch/eventRule:EventRule", "alarms-rotation-failed")
        arn, name = salt_secret(run)
        other_arn, other_name = salt_secret(other)
        # GIVEN events of this stack's salt (by ARN and by name), of the other stack's salt,
        # of an unrelated secret, and unrelated events of this salt
        assert matches(rule, rotation_event("RotationFailed", arn)), rule.urn
        assert matches(rule, rotation_event("RotationFailed", name)), rule.urn
        assert matches(rule, rotation_event("TestRotationFailed", arn)), rule.urn
        for secret in (other_arn, other_name, f"{SECRETS_ARN}some-other-secret-AbCdEf"):
            assert not matches(rule, rotation_event("RotationFailed", secret)), (rule.urn, secret)
            assert not matches(rule, rotation_event("TestRotationFailed", secret))
        assert not matches(rule, rotation_event("RotationSucceeded", arn))
        api_call = {
            **rotation_event("RotationFailed", arn),
            "detail-type": "AWS API Call via CloudTrail",
        }
        assert not matches(rule, api_call)
        no_secret = rotation_event("RotationFailed", arn)
        del no_secret["detail"]["additionalEventData"]
        assert not matches(rule, no_secret)
        target = run.one("aws:cloudwatch/eventTarget:EventTarget", "alarms-rotation-failed-target")
        assert target.inputs["arn"] == topic_arn(run, "critical"), target.urn
        assert (
            target.inputs["rule"]
            == rule.outputs["name"]
            == f"phase-mirror-rotation-failed-{run.stack}"
        )


def test_rotation_failed_pattern_names_the_secret_where_service_events_carry_it():
    pattern = rotation_failed_pattern("arn:x", "/phase-mirror/staging/fp-calibration/hmac-salt")
    detail = pattern["detail"]
    assert pattern["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert detail["eventName"] == ["RotationFailed", "TestRotationFailed"]
    assert detail["additionalEventData"] == {
        "SecretId": ["arn:x", "/phase-mirror/staging/fp-calibration/hmac-salt"]
    }
    # requestParameters, responseElements and resources are empty in these events: never match on them
    assert (
        not {"requestParameters", "responseElements"} & set(detail) and "resources" not in pattern
    )


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
