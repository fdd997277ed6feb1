"""CalibrationApi: the calibration-query function and the HTTP API in front of both functions.

The API is the service's one public surface, so it owns what a caller meets:
``POST /fp/ingest`` (the fp-ingestion function of SaltRotation) and
``GET /fp/calibrate/{ruleId}`` (calibration-query, which needs no salt and so lives here).
Every route is IAM-authorised (SigV4), the stage is throttled and writes JSON access logs to
its own KMS-encrypted log group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.calibration_store import CalibrationStore
from components.config import Naming
from components.function import Function, FunctionArgs, lambda_function

INGEST_ROUTE = "POST /fp/ingest"
QUERY_ROUTE = "GET /fp/calibrate/{ruleId}"

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
)


@dataclass(frozen=True, kw_only=True)
class CalibrationApiArgs:
    """Inputs of ``CalibrationApi``.

    - naming, environment: names and the metrics' Environment dimension.
    - store: the CalibrationStore whose aggregates table the query reads (nothing else).
    - ingestion: the fp-ingestion function (owned by SaltRotation) behind ``POST /fp/ingest``.
    - k_anonymity: organisations needed before a rule's counts are disclosed.
    - query_concurrency: reserved concurrency of calibration-query.
    - rate_limit, burst_limit: stage throttling (requests per second / burst).
    - env_key_arn, log_key_arn, log_retention_days, layers: as for every function.
    """

    naming: Naming
    environment: str
    store: CalibrationStore
    ingestion: Function
    k_anonymity: int
    query_concurrency: int
    rate_limit: int
    burst_limit: int
    env_key_arn: pulumi.Input[str]
    log_key_arn: pulumi.Input[str]
    log_retention_days: int
    layers: Sequence[pulumi.Input[str]] = ()


class CalibrationApi(pulumi.ComponentResource):
    query: Function
    api: aws.apigatewayv2.Api
    stage: aws.apigatewayv2.Stage

    def __init__(
        self, name: str, args: CalibrationApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:CalibrationApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        naming, store = args.naming, args.store
        self.query = lambda_function(
            self,
            f"{name}-query",
            FunctionArgs(
                name=naming.physical("calibration-query"),
                code="calibration_query",
                description="Per-rule FP rate, disclosed only at k-anonymity",
                statements=store.aggregates_query_statements(),
                environment={
                    "ENVIRONMENT": args.environment,
                    "POWERTOOLS_SERVICE_NAME": "calibration-query",
                    "AGGREGATES_TABLE_NAME": store.tables["aggregates"].name,
                    "K_ANONYMITY": str(args.k_anonymity),
                },
                # bench (`python -m bench`): ~7.5 ms CPU to read and sum a rule's ~220 aggregate
                # items, peak RSS 51 MB; 512 MB is the smallest size keeping the modelled answer
                # under 50 ms (32 ms; 256 MB: 58 ms), $0.47 per million queries.
                memory_mb=512,
                timeout_s=10,
                reserved_concurrency=args.query_concurrency,
                env_key_arn=args.env_key_arn,
                log_key_arn=args.log_key_arn,
                log_retention_days=args.log_retention_days,
                layers=args.layers,
            ),
        )
        self.api = aws.apigatewayv2.Api(
            f"{name}-http-api",
            name=naming.physical("api"),
            protocol_type="HTTP",
            description="Phase Mirror FP calibration API (IAM-authorised)",
            opts=child,
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{naming.physical('api')}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            opts=child,
        )
        routes = [
            self._route(name, "ingest", INGEST_ROUTE, args.ingestion),
            self._route(name, "calibrate", QUERY_ROUTE, self.query),
        ]
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.rate_limit,
                throttling_burst_limit=args.burst_limit,
                detailed_metrics_enabled=True,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        self.register_outputs(
            {"apiEndpoint": self.api.api_endpoint, "queryName": self.query.function.name}
        )

    def _route(
        self, name: str, role: str, route_key: str, target: Function
    ) -> aws.apigatewayv2.Route:
        child = pulumi.ResourceOptions(parent=self)
        integration = aws.apigatewayv2.Integration(
            f"{name}-{role}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_uri=target.function.invoke_arn,
            payload_format_version="2.0",
            opts=child,
        )
        method, path = route_key.split(" ", 1)
        path = re.sub(r"\{[^}]+\}", "*", path)  # a path parameter matches any value
        aws.lambda_.Permission(
            f"{name}-{role}-invoke",
            action="lambda:InvokeFunction",
            function=target.function.name,
            principal="apigateway.amazonaws.com",
            # Only this API, this method and this path may invoke the function.
            source_arn=self.api.execution_arn.apply(lambda arn: f"{arn}/*/{method}{path}"),
            opts=child,
        )
        return aws.apigatewayv2.Route(
            f"{name}-{role}-route",
            api_id=self.api.id,
            route_key=route_key,
            authorization_type="AWS_IAM",
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            opts=child,
        )
