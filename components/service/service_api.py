"""The calibration service's HTTP API: routes, their authorizers, integrations and invoke grants.

A plain function, not a component: ``CalibrationService`` owns these resources (its children).
Each route takes exactly one authorizer type (docs/privacy.md, "Callers and identity"):
- ``JWT`` routes accept GitHub Actions OIDC tokens for this stack's audience; the function takes
  the organisation from the token's ``repository_owner_id`` claim, never from the body.
- ``AWS_IAM`` routes accept SigV4 callers of the account. HTTP APIs have no resource policy, so
  any principal holding ``execute-api:Invoke`` gets through; the function then checks the
  caller against its allow-list (``internalPrincipalArns`` / ``adminPrincipalArns``).
Each function may be invoked only through its own routes (one ``lambda:Permission`` per route).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.core.base import log_group
from components.core.function import Function

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY_SOURCE = "$request.header.Authorization"
Authorization = Literal["JWT", "AWS_IAM"]


@dataclass(frozen=True)
class Route:
    """One route: its key, its one authorizer type, the function behind it, and the stem of its
    resources' logical names."""

    key: str
    authorization: Authorization
    function: str
    role: str

    @property
    def source_path(self) -> str:
        """``/METHOD/path`` of the route's execute-api ARN; a path parameter matches any value."""
        method, path = self.key.split(" ", 1)
        return f"/{method}" + re.sub(r"\{[^}]+\}", "*", path)


ROUTES = (
    Route("POST /fp/ingest", "JWT", "fp-ingestion", "ingest"),
    Route("POST /internal/fp/ingest", "AWS_IAM", "fp-ingestion", "internal-ingest"),
    Route("GET /fp/calibrate/{ruleId}", "JWT", "calibration-query", "calibrate"),
    Route(
        "GET /internal/fp/calibrate/{ruleId}", "AWS_IAM", "calibration-query", "internal-calibrate"
    ),
    Route("PUT /fp/consent", "JWT", "fp-consent", "consent-put"),
    Route("GET /fp/consent", "JWT", "fp-consent", "consent-get"),
    Route("DELETE /fp/consent", "JWT", "fp-consent", "consent-delete"),
    Route("PUT /admin/admissions/{ownerId}", "AWS_IAM", "fp-admission", "admission-put"),
    Route("GET /admin/admissions/{ownerId}", "AWS_IAM", "fp-admission", "admission-get"),
    Route("DELETE /admin/admissions/{ownerId}", "AWS_IAM", "fp-admission", "admission-delete"),
)
# One integration per function, shared by its routes; the first two kept their earlier names.
INTEGRATIONS = {
    "fp-ingestion": "ingest",
    "calibration-query": "calibrate",
    "fp-consent": "consent",
    "fp-admission": "admission",
}
# Children of the former CalibrationApi component ("calibration-api-<suffix>").
PREVIOUS_CHILDREN = frozenset(
    {
        "http-api",
        "access-logs",
        "stage",
        *(
            f"{role}-{kind}"
            for role in ("ingest", "calibrate")
            for kind in ("integration", "route")
        ),
        "ingest-invoke",
        "calibrate-invoke",
    }
)

# No claim of the token is logged: its repository_owner_id is the raw organisation id.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "authorizerError": "$context.authorizer.error",
        "integrationError": "$context.integrationErrorMessage",
    }
)


@dataclass(frozen=True, kw_only=True)
class HttpApiArgs:
    """What the API needs: names, the token audience, throttling, its log group's settings.

    - api_name: the physical API name (also names the access log group).
    - authorizer_name: the physical name of the GitHub OIDC authorizer.
    - audience: the one ``aud`` the JWT authorizer accepts (stack config ``githubOidcAudience``).
    - rate_limit, burst_limit: stage throttling (requests per second / burst).
    - previous: name of the component that registered the API before (aliases), or ``None``.
    """

    api_name: str
    authorizer_name: str
    audience: str
    rate_limit: int
    burst_limit: int
    log_key_arn: pulumi.Input[str]
    log_retention_days: int
    previous: str | None = None


@dataclass(frozen=True)
class HttpApi:
    api: aws.apigatewayv2.Api
    authorizer: aws.apigatewayv2.Authorizer
    routes: dict[str, aws.apigatewayv2.Route]
    stage: aws.apigatewayv2.Stage


def http_api(
    parent: pulumi.Resource, key: str, args: HttpApiArgs, functions: Mapping[str, Function]
) -> HttpApi:
    """The API under ``parent``, its resources named ``f"{key}-<role>"``."""

    def child(
        suffix: str, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        aliases: list[pulumi.Alias | str] | None = None
        if args.previous and suffix in PREVIOUS_CHILDREN:
            aliases = [pulumi.Alias(name=f"{args.previous}-{suffix}")]
        return pulumi.ResourceOptions(parent=parent, aliases=aliases, depends_on=depends_on)

    api = aws.apigatewayv2.Api(
        f"{key}-http-api",
        name=args.api_name,
        protocol_type="HTTP",
        description="Phase Mirror FP calibration API (GitHub OIDC and IAM-authorised routes)",
        opts=child("http-api"),
    )
    access_logs = log_group(
        f"{key}-access-logs",
        f"/aws/apigateway/{args.api_name}",
        key_arn=args.log_key_arn,
        retention_days=args.log_retention_days,
        opts=child("access-logs"),
    )
    # The authorizer checks only kid, iss, aud, exp and nbf ("Controlling access to HTTP APIs
    # with JWT authorizers"); any workflow may ask GitHub for this audience, so the functions
    # still check the issuer and that the owner was admitted.
    authorizer = aws.apigatewayv2.Authorizer(
        f"{key}-github-oidc",
        api_id=api.id,
        name=args.authorizer_name,
        authorizer_type="JWT",
        identity_sources=[IDENTITY_SOURCE],
        jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
            issuer=GITHUB_ISSUER, audiences=[args.audience]
        ),
        opts=child("github-oidc"),
    )
    integrations = {
        function: aws.apigatewayv2.Integration(
            f"{key}-{role}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=functions[function].function.invoke_arn,
            payload_format_version="2.0",
            opts=child(f"{role}-integration"),
        )
        for function, role in INTEGRATIONS.items()
    }
    routes: dict[str, aws.apigatewayv2.Route] = {}
    for route in ROUTES:
        aws.lambda_.Permission(
            f"{key}-{route.role}-invoke",
            action="lambda:InvokeFunction",
            function=functions[route.function].function.name,
            principal="apigateway.amazonaws.com",
            # Only this API, this method and this path may invoke the function.
            source_arn=api.execution_arn.apply(lambda arn, r=route: f"{arn}/*{r.source_path}"),
            opts=child(f"{route.role}-invoke"),
        )
        jwt = route.authorization == "JWT"
        routes[route.key] = aws.apigatewayv2.Route(
            f"{key}-{route.role}-route",
            api_id=api.id,
            route_key=route.key,
            authorization_type=route.authorization,
            authorizer_id=authorizer.id if jwt else None,
            target=integrations[route.function].id.apply(lambda i: f"integrations/{i}"),
            opts=child(f"{route.role}-route"),
        )
    stage = aws.apigatewayv2.Stage(
        f"{key}-stage",
        api_id=api.id,
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
        opts=child("stage", depends_on=[*routes.values()]),
    )
    return HttpApi(api=api, authorizer=authorizer, routes=routes, stage=stage)
