"""Alarms: every alarm's full definition (the service's, every function's and table's, the API's
and the data tier's). The salt-failure rule is in test_rotation_failure_rule.py, the saved
queries, the dashboard and CloudWatch's acceptance of both in test_dashboard.py.

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

import pytest

from components.config import ConfigError, Naming
from components.observability.alarm_catalog import (
    DataTierTargets,
    data_tier_alarms,
    instance_memory_gib,
    postgres_max_connections,
)
from components.observability.resource_alarms import function_role
from testing.program import ProgramRun, Resource
from tests.alarm_support import ALARM, NS, alarm, function_names, topic_arn

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
