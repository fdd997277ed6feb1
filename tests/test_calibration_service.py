"""CalibrationService: its functions as the handlers expect them, the HTTP API's routes and
authorizers, the release job, and the identity of the resources it took over.

docs/privacy.md is the contract; every table here is one of its tables, read back from what the
program registers under mocks.
"""

from __future__ import annotations

import json

import pytest

from components.observability.alarm_catalog import SERVICE_NAMESPACE
from testing.lambdas import variables_read
from testing.policy_eval import (
    Decision,
    identity_decision,
    role_request,
    service_request,
    trust_decision,
)
from testing.program import ACCOUNT_ID, ProgramRun, run_program
from tools.identity import Identities

P = "phase-mirror-infra:"
FUNCTION = "aws:lambda/function:Function"
ROUTE = "aws:apigatewayv2/route:Route"
PERMISSION = "aws:lambda/permission:Permission"
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
OTHER_ACCOUNT = "444455556666"

# name -> (handler folder, memory MB, timeout s, reserved concurrency or the config key)
FUNCTIONS = {
    "fp-ingestion": ("fp_ingestion", 256, 10, "ingestionConcurrency"),
    "fp-consent": ("consent", 256, 25, 5),
    "fp-admission": ("admission", 256, 25, 2),
    "fp-release": ("release", 512, 300, 1),
    "calibration-query": ("calibration_query", 512, 10, "queryConcurrency"),
}
CONFIG_DEFAULTS = {"ingestionConcurrency": 20, "queryConcurrency": 5}

# method and path -> (authorizer type, function): docs/privacy.md, "Routes".
ROUTES = {
    "POST /fp/ingest": ("JWT", "fp-ingestion"),
    "POST /internal/fp/ingest": ("AWS_IAM", "fp-ingestion"),
    "GET /fp/calibrate/{ruleId}": ("JWT", "calibration-query"),
    "GET /internal/fp/calibrate/{ruleId}": ("AWS_IAM", "calibration-query"),
    "PUT /fp/consent": ("JWT", "fp-consent"),
    "GET /fp/consent": ("JWT", "fp-consent"),
    "DELETE /fp/consent": ("JWT", "fp-consent"),
    "PUT /admin/admissions/{ownerId}": ("AWS_IAM", "fp-admission"),
    "GET /admin/admissions/{ownerId}": ("AWS_IAM", "fp-admission"),
    "DELETE /admin/admissions/{ownerId}": ("AWS_IAM", "fp-admission"),
}


def function(run: ProgramRun, role: str):
    name = f"phase-mirror-{role}-{run.stack}"
    (found,) = [f for f in run.of_type(FUNCTION) if f.inputs["name"] == name]
    return found


def env(run: ProgramRun, role: str) -> dict[str, str]:
    return function(run, role).inputs["environment"]["variables"]


def table_name(run: ProgramRun, role: str) -> str:
    return f"phase-mirror-{role}-{run.stack}"


# --- functions ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(FUNCTIONS))
def test_function_sizes_and_reserved_concurrency(program, role):
    _, memory, timeout, concurrency = FUNCTIONS[role]
    fn = function(program, role)
    if isinstance(concurrency, str):
        concurrency = int(program.config.get(P + concurrency, CONFIG_DEFAULTS[concurrency]))
    assert (fn.inputs["memorySize"], fn.inputs["timeout"]) == (memory, timeout)
    assert fn.inputs["reservedConcurrentExecutions"] == concurrency


@pytest.mark.parametrize("role", sorted(FUNCTIONS))
def test_program_sets_exactly_the_environment_the_handler_reads(program, role):
    folder = FUNCTIONS[role][0]
    variables = env(program, role)
    assert set(variables) - POWERTOOLS_ENV == variables_read(folder, variables), role
    assert variables["POWERTOOLS_SERVICE_NAME"] == role
    # The namespace the alarms watch is the one every function writes to.
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == SERVICE_NAMESPACE


def test_environment_names_the_resources_the_code_uses(program):
    store = {
        logical: table_name(program, role)
        for logical, role in (
            ("ADMISSION", "org-admission"),
            ("CONSENT", "consent-store"),
            ("PENDING", "pending-events"),
            ("DEDUP", "event-dedup"),
            ("PUBLISHED", "calibration-published"),
        )
    }
    secret = program.one("aws:secretsmanager/secret:Secret", "salt-rotation-secret")
    org_key = program.one("aws:kms/key:Key", "calibration-store-org-key")
    for role in FUNCTIONS:
        for name, value in env(program, role).items():
            if name.endswith("_TABLE_NAME"):
                assert value == store[name.removesuffix("_TABLE_NAME")], (role, name)
            elif name == "SALT_SECRET_ID":
                assert value == secret.outputs["arn"], role
            elif name == "ORG_KEY_ID":
                assert value == org_key.outputs["arn"], role
            elif name == "ENVIRONMENT":
                assert value == program.config[P + "environment"], role


@pytest.fixture(scope="module")
def configured() -> ProgramRun:
    """Staging with every service key set away from its default."""
    return run_program(
        "staging",
        overrides={
            f"{P}kAnonymity": "25",
            f"{P}maxEventsPerOrgPerBatch": "3",
            f"{P}saltCacheSeconds": "120",
            f"{P}releaseIntervalMinutes": "1440",
            f"{P}githubOidcAudience": "sts.example/fp",
            f"{P}adminPrincipalArns": [f"arn:aws:iam::{ACCOUNT_ID}:role/ops/operator"],
            f"{P}internalPrincipalArns": [
                f"arn:aws:iam::{ACCOUNT_ID}:role/smoke",
                f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
            ],
        },
    )


def test_config_reaches_the_functions_as_their_code_parses_it(configured):
    internal = [f"arn:aws:iam::{ACCOUNT_ID}:role/smoke", f"arn:aws:iam::{ACCOUNT_ID}:user/ci"]
    assert env(configured, "fp-release")["K_ANONYMITY"] == "25"
    assert env(configured, "calibration-query")["K_ANONYMITY"] == "25"
    assert env(configured, "fp-release")["MAX_EVENTS_PER_ORG"] == "3"
    assert env(configured, "fp-ingestion")["SALT_CACHE_SECONDS"] == "120"
    # JSON arrays, as the handlers' allow-list parser reads them
    assert json.loads(env(configured, "fp-ingestion")["INTERNAL_PRINCIPAL_ARNS"]) == internal
    assert json.loads(env(configured, "calibration-query")["INTERNAL_PRINCIPAL_ARNS"]) == internal
    assert json.loads(env(configured, "fp-admission")["ADMIN_PRINCIPAL_ARNS"]) == [
        f"arn:aws:iam::{ACCOUNT_ID}:role/ops/operator"
    ]
    schedule = configured.one(
        "aws:scheduler/schedule:Schedule", "calibration-service-release-schedule"
    )
    assert schedule.inputs["scheduleExpression"] == "rate(1440 minutes)"
    # the release job's alarms look at one interval per period (a day here)
    runs = configured.one("aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-release-runs-missing")
    assert (runs.inputs["period"], runs.inputs["evaluationPeriods"]) == (86400, 3)
    authorizer = configured.one(
        "aws:apigatewayv2/authorizer:Authorizer", "calibration-service-github-oidc"
    )
    assert authorizer.inputs["jwtConfiguration"]["audiences"] == ["sts.example/fp"]


def test_empty_allow_lists_reach_the_functions_as_empty_arrays(staging):
    assert env(staging, "fp-ingestion")["INTERNAL_PRINCIPAL_ARNS"] == "[]"
    assert env(staging, "fp-admission")["ADMIN_PRINCIPAL_ARNS"] == "[]"


def test_an_allow_listed_principal_of_another_account_stops_the_program():
    from components.config import ConfigError

    foreign = f"arn:aws:iam::{OTHER_ACCOUNT}:role/operator"
    with pytest.raises(ConfigError) as error:
        run_program("staging", overrides={f"{P}adminPrincipalArns": [foreign]})
    assert str(error.value) == (
        f"config key 'adminPrincipalArns[0]' has invalid value '{foreign}': "
        f"allowed an ARN of this stack's account {ACCOUNT_ID}"
    )


# --- the HTTP API ---------------------------------------------------------------------------


def test_exactly_the_contract_routes_each_with_one_authorizer_type_and_its_function(program):
    routes = {r.inputs["routeKey"]: r for r in program.of_type(ROUTE)}
    assert set(routes) == set(ROUTES)
    authorizer = program.one(
        "aws:apigatewayv2/authorizer:Authorizer", "calibration-service-github-oidc"
    )
    integrations = {
        f"integrations/{i.id}": i
        for i in program.of_type("aws:apigatewayv2/integration:Integration")
    }
    for key, (authorization, role) in ROUTES.items():
        route = routes[key]
        assert route.inputs["authorizationType"] == authorization, key
        if authorization == "JWT":
            assert route.inputs["authorizerId"] == authorizer.id, key
        else:
            assert "authorizerId" not in route.inputs, key
        integration = integrations[route.inputs["target"]]
        assert integration.inputs["integrationUri"] == function(program, role).outputs["invokeArn"]
        assert integration.inputs["integrationType"] == "AWS_PROXY"
        assert integration.inputs["payloadFormatVersion"] == "2.0"


def test_jwt_authorizer_accepts_github_tokens_for_this_stacks_audience(program):
    authorizer = program.one(
        "aws:apigatewayv2/authorizer:Authorizer", "calibration-service-github-oidc"
    )
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": "https://token.actions.githubusercontent.com",
        "audiences": [f"phase-mirror-fp-calibration-{program.stack}"],
    }


def test_each_function_may_be_invoked_only_through_its_own_routes(program):
    api = program.one("aws:apigatewayv2/api:Api", "calibration-service-http-api")
    execution = api.outputs["executionArn"]
    expected: dict[str, set[str]] = {}
    for key, (_, role) in ROUTES.items():
        method, path = key.split(" ", 1)
        path = path.replace("{ruleId}", "*").replace("{ownerId}", "*")
        expected.setdefault(function(program, role).outputs["name"], set()).add(
            f"{execution}/*/{method}{path}"
        )
    granted: dict[str, set[str]] = {}
    for permission in program.of_type(PERMISSION):
        if permission.inputs["principal"] == "apigateway.amazonaws.com":
            assert permission.inputs["action"] == "lambda:InvokeFunction"
            granted.setdefault(permission.inputs["function"], set()).add(
                permission.inputs["sourceArn"]
            )
    assert granted == expected


def test_stage_is_throttled_from_config_and_logs_json_to_an_encrypted_group(program):
    stage = program.one("aws:apigatewayv2/stage:Stage", "calibration-service-stage")
    settings = stage.inputs["defaultRouteSettings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (
        int(program.config.get(f"{P}apiRateLimit", 50)),
        int(program.config.get(f"{P}apiBurstLimit", 100)),
    )
    group = program.one("aws:cloudwatch/logGroup:LogGroup", "calibration-service-access-logs")
    assert stage.inputs["accessLogSettings"]["destinationArn"] == group.outputs["arn"]
    fields = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert "$context.requestId" in fields.values()
    # A token's claims hold the raw organisation id (repository_owner_id): never logged.
    assert not any("claims" in value for value in fields.values()), fields
    log_key = program.one("aws:kms/key:Key", "observability-log-key")
    assert group.inputs["kmsKeyId"] == log_key.outputs["arn"]
    assert group.inputs["retentionInDays"] == int(program.config[f"{P}logRetentionDays"])


# --- the release job ------------------------------------------------------------------------


def scheduler_role(run: ProgramRun):
    return run.one("aws:iam/role:Role", "calibration-service-release-scheduler-role")


def test_release_runs_on_a_fixed_rate_invoking_the_release_function(program):
    schedule = program.one(
        "aws:scheduler/schedule:Schedule", "calibration-service-release-schedule"
    )
    minutes = int(program.config.get(f"{P}releaseIntervalMinutes", 60))
    assert schedule.inputs["name"] == f"phase-mirror-fp-release-{program.stack}"
    assert schedule.inputs["scheduleExpression"] == f"rate({minutes} minutes)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule.inputs["target"] == {
        "arn": function(program, "fp-release").outputs["arn"],
        "roleArn": scheduler_role(program).outputs["arn"],
    }


def test_only_this_accounts_scheduler_may_assume_the_execution_role(program):
    trust = json.loads(scheduler_role(program).inputs["assumeRolePolicy"])

    def decide(service: str, **context: str) -> Decision:
        return trust_decision(trust, service_request(service, "sts:AssumeRole", **context))

    assert decide("scheduler.amazonaws.com", aws__SourceAccount=ACCOUNT_ID) is Decision.ALLOW
    # a schedule of another account (the confused deputy), or with no source at all
    denied = Decision.IMPLICIT_DENY
    assert decide("scheduler.amazonaws.com", aws__SourceAccount=OTHER_ACCOUNT) is denied
    assert decide("scheduler.amazonaws.com") is denied
    assert decide("events.amazonaws.com", aws__SourceAccount=ACCOUNT_ID) is denied
    assert decide("lambda.amazonaws.com", aws__SourceAccount=ACCOUNT_ID) is denied


def test_the_execution_role_may_invoke_the_release_function_and_nothing_else(program):
    policy = program.one(
        "aws:iam/rolePolicy:RolePolicy", "calibration-service-release-scheduler-policy"
    )
    document = json.loads(policy.inputs["policy"])
    role = scheduler_role(program).outputs["arn"]
    release = function(program, "fp-release").outputs["arn"]

    def allowed(action: str, resource: str) -> bool:
        return identity_decision([document], role_request(role, action, resource)).allowed

    assert allowed("lambda:InvokeFunction", release)
    assert allowed("lambda:InvokeFunction", f"{release}:$LATEST")
    for other in ("fp-ingestion", "fp-consent", "calibration-query"):
        assert not allowed("lambda:InvokeFunction", function(program, other).outputs["arn"])
    assert not allowed("lambda:UpdateFunctionCode", release)
    assert not allowed("lambda:InvokeFunction", f"{release}-copy")
    assert policy.inputs["role"] == scheduler_role(program).id


def test_release_retries_twice_within_an_hour_one_run_at_a_time(program):
    config = program.one(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "calibration-service-release-invoke-config",
    )
    assert config.inputs["functionName"] == function(program, "fp-release").outputs["name"]
    assert config.inputs["maximumRetryAttempts"] == 2
    assert config.inputs["maximumEventAgeInSeconds"] == 3600
    assert "qualifier" not in config.inputs  # the unqualified function: what Scheduler invokes
    assert function(program, "fp-release").inputs["reservedConcurrentExecutions"] == 1


# --- identity of what moved in -----------------------------------------------------------

OLD_API = "phase-mirror:index:CalibrationApi"
OLD_SALT = "phase-mirror:index:SaltRotation"
API_CHILDREN = [
    ("aws:apigatewayv2/api:Api", "http-api", "http-api"),
    ("aws:cloudwatch/logGroup:LogGroup", "access-logs", "access-logs"),
    ("aws:apigatewayv2/stage:Stage", "stage", "stage"),
    ("aws:apigatewayv2/integration:Integration", "ingest-integration", "ingest-integration"),
    ("aws:apigatewayv2/integration:Integration", "calibrate-integration", "calibrate-integration"),
    ("aws:apigatewayv2/route:Route", "ingest-route", "ingest-route"),
    ("aws:apigatewayv2/route:Route", "calibrate-route", "calibrate-route"),
    ("aws:lambda/permission:Permission", "ingest-invoke", "ingest-invoke"),
    ("aws:lambda/permission:Permission", "calibrate-invoke", "calibrate-invoke"),
    ("aws:iam/role:Role", "query-role", "query-role"),
    ("aws:cloudwatch/logGroup:LogGroup", "query-logs", "query-logs"),
    ("aws:iam/rolePolicy:RolePolicy", "query-policy", "query-policy"),
    ("aws:lambda/function:Function", "query-function", "query-function"),
]
INGESTION_PARTS = [
    ("aws:iam/role:Role", "role"),
    ("aws:cloudwatch/logGroup:LogGroup", "logs"),
    ("aws:iam/rolePolicy:RolePolicy", "policy"),
    ("aws:lambda/function:Function", "function"),
]
# URN before the move (after the stack and project) -> the resource that now answers to it.
MOVED = {
    f"{OLD_API}::calibration-api": "calibration-service",
    **{
        f"{OLD_API}${type_}::calibration-api-{old}": f"calibration-service-{new}"
        for type_, old, new in API_CHILDREN
    },
    **{
        f"{OLD_SALT}${type_}::salt-rotation-ingestion-{part}": f"calibration-service-ingestion-{part}"
        for type_, part in INGESTION_PARTS
    },
    "pulumi:providers:aws::aws-calibrationapi": "aws-calibrationservice",
}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_resource_that_moved_in_keeps_its_former_urn(request, stack):
    # GIVEN the URNs these resources had under CalibrationApi and SaltRotation
    run: ProgramRun = request.getfixturevalue(stack)
    answering = Identities(run).index()
    registered = {r.urn for r in run}
    for tail, name in MOVED.items():
        old = f"urn:pulumi:{stack}::phase-mirror-infra::{tail}"
        # THEN each is answered, through an alias, by the resource that replaced it: the
        # engine moves it in state instead of deleting and recreating it
        assert old not in registered, f"{old} is still registered under its old URN"
        assert old in answering, f"nothing answers to {old}: pulumi up would delete it"
        assert answering[old].name == name, (old, answering[old].urn)


def test_outputs_name_the_service_and_hold_no_secret(program):
    for role, export in (
        ("fp-ingestion", "ingestion"),
        ("fp-consent", "consent"),
        ("fp-admission", "admission"),
        ("fp-release", "release"),
        ("calibration-query", "query"),
    ):
        assert program.outputs[f"{export}FunctionName"] == f"phase-mirror-{role}-{program.stack}"
    assert program.outputs["releaseScheduleName"] == f"phase-mirror-fp-release-{program.stack}"
    assert program.outputs["githubOidcAudience"] == f"phase-mirror-fp-calibration-{program.stack}"
    assert program.outputs["apiEndpoint"].startswith("https://")
    # Names, ARNs and the endpoint only: no output is a secret or carries a salt.
    for name, value in program.outputs.items():
        assert isinstance(value, (str, list)), name
        # (a salt-named output is an ARN or a physical name, never a value)
        assert "salt" not in name.lower() or str(value).startswith(("arn:aws:", "phase-mirror-")), (
            name
        )
