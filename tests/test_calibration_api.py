"""CalibrationApi: the HTTP API's routes, authorisation, throttling, logs and invoke permissions."""

from __future__ import annotations

import json

import pytest

ROUTE = "aws:apigatewayv2/route:Route"


def test_exactly_two_routes_both_iam_authorised(program):
    routes = {r.inputs["routeKey"]: r for r in program.of_type(ROUTE)}
    assert set(routes) == {"POST /fp/ingest", "GET /fp/calibrate/{ruleId}"}
    for route in routes.values():
        assert route.inputs["authorizationType"] == "AWS_IAM", route.urn


@pytest.mark.parametrize(
    ("role", "function"),
    [
        ("ingest", "salt-rotation-ingestion-function"),
        ("calibrate", "calibration-api-query-function"),
    ],
)
def test_each_route_proxies_to_its_function(program, role, function):
    route = program.one(ROUTE, f"calibration-api-{role}-route")
    integration = program.one(
        "aws:apigatewayv2/integration:Integration", f"calibration-api-{role}-integration"
    )
    target = program.one("aws:lambda/function:Function", function)
    assert route.inputs["target"] == f"integrations/{integration.id}"
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["integrationUri"] == target.outputs["invokeArn"]


@pytest.mark.parametrize(
    ("role", "source"),
    [("ingest", "/*/POST/fp/ingest"), ("calibrate", "/*/GET/fp/calibrate/*")],
)
def test_only_this_api_route_may_invoke_the_function(program, role, source):
    permission = program.one("aws:lambda/permission:Permission", f"calibration-api-{role}-invoke")
    api = program.one("aws:apigatewayv2/api:Api", "calibration-api-http-api")
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == api.outputs["executionArn"] + source


def test_stage_is_throttled_from_config_and_logs_json_to_an_encrypted_group(program):
    stage = program.one("aws:apigatewayv2/stage:Stage", "calibration-api-stage")
    settings = stage.inputs["defaultRouteSettings"]
    prefix = "phase-mirror-infra:"
    expected_rate = int(program.config.get(f"{prefix}apiRateLimit", 50))
    expected_burst = int(program.config.get(f"{prefix}apiBurstLimit", 100))
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (
        expected_rate,
        expected_burst,
    )
    group = program.one("aws:cloudwatch/logGroup:LogGroup", "calibration-api-access-logs")
    assert stage.inputs["accessLogSettings"]["destinationArn"] == group.outputs["arn"]
    assert "$context.requestId" in json.loads(stage.inputs["accessLogSettings"]["format"]).values()
    assert (
        group.inputs["kmsKeyId"]
        == program.one("aws:kms/key:Key", "observability-log-key").outputs["arn"]
    )
    assert group.inputs["retentionInDays"] == int(program.config[f"{prefix}logRetentionDays"])
