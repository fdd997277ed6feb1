"""CalibrationService: the service's functions, its release job and the HTTP API in front of them.

The contract between this program and the functions is docs/privacy.md; here it is wired:
- fp-ingestion stores an admitted, consenting organisation's events as *pending*;
- fp-consent grants, reads and revokes the caller's own consent (revocation purges its pending
  events); fp-admission lets operators admit and withdraw organisations, audited;
- fp-release, run by EventBridge Scheduler every ``releaseIntervalMinutes``, publishes pending
  events only in batches of at least k organisations; calibration-query reads only what it
  published;
- the HTTP API (service_api.py) with a GitHub OIDC JWT authorizer and IAM-authorised routes.

Each function's role holds exactly the statements the components owning the resources hand out
(``CalibrationStore``'s tables and org key, ``SaltRotation``'s secret), nothing else. The HTTP
API and calibration-query were ``CalibrationApi``'s and fp-ingestion was ``SaltRotation``'s:
aliases keep their identity (nothing is replaced by the move).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import ServiceSettings
from components.core.base import service_trust
from components.core.context import StackContext
from components.core.function import (
    Function,
    FunctionArgs,
    MovedFrom,
    Statement,
    allow,
    lambda_function,
    powertools_environment,
)
from components.core.grants import Grants
from components.service.calibration_store import CalibrationStore
from components.service.salt_rotation import SaltRotation
from components.service.service_api import HttpApi, HttpApiArgs, http_api

PREVIOUS_TYPE = "phase-mirror:index:CalibrationApi"
PREVIOUS_NAME = "calibration-api"
# The functions that turn an owner id into its keyed hashes: they read the salt and derive the
# org secret, so the salt key and the org key name exactly their roles.
PSEUDONYM_FUNCTIONS = ("fp-ingestion", "fp-consent", "fp-admission")
# Reserved concurrency of the functions no config key sizes. fp-release: one run at a time
# (overlapping runs are safe, but they would only race for claims).
FIXED_CONCURRENCY = {"fp-consent": 5, "fp-admission": 2, "fp-release": 1}
INVOKE_ACTIONS = ["lambda:InvokeFunction"]
# Lambda drops an asynchronous event after two retries or an hour, whichever comes first; the
# next scheduled run picks up whatever a dropped one left (every run is idempotent).
RELEASE_RETRIES = 2
RELEASE_MAX_EVENT_AGE_S = 3600


@dataclass(frozen=True)
class FunctionSpec:
    """A function's fixed facts: its folder, stem, sizes and the variables its code reads,
    exactly (declared here only: tests compare them with what the handler's settings read)."""

    code: str
    key: str
    description: str
    memory_mb: int
    timeout_s: int
    env: tuple[str, ...]


FUNCTIONS: dict[str, FunctionSpec] = {
    # bench (`python -m bench`): 256 MB is the smallest size keeping the modelled warm p99
    # under 50 ms for one transaction per event.
    "fp-ingestion": FunctionSpec(
        "fp_ingestion",
        "ingestion",
        "Checks caller, admission and consent; stores FP events as pending",
        256,
        10,
        (
            "ENVIRONMENT",
            "ADMISSION_TABLE_NAME",
            "CONSENT_TABLE_NAME",
            "PENDING_TABLE_NAME",
            "DEDUP_TABLE_NAME",
            "SALT_SECRET_ID",
            "SALT_CACHE_SECONDS",
            "ORG_KEY_ID",
            "INTERNAL_PRINCIPAL_ARNS",
        ),
    ),
    # A revocation queries and deletes every pending event of the organisation under two salts.
    "fp-consent": FunctionSpec(
        "consent",
        "consent",
        "Grants, reads and revokes the calling organisation's consent",
        256,
        25,
        (
            "ENVIRONMENT",
            "ADMISSION_TABLE_NAME",
            "CONSENT_TABLE_NAME",
            "PENDING_TABLE_NAME",
            "SALT_SECRET_ID",
            "ORG_KEY_ID",
        ),
    ),
    "fp-admission": FunctionSpec(
        "admission",
        "admission",
        "Operators admit and withdraw organisations (audited)",
        256,
        25,
        (
            "ENVIRONMENT",
            "ADMISSION_TABLE_NAME",
            "PENDING_TABLE_NAME",
            "SALT_SECRET_ID",
            "ORG_KEY_ID",
            "ADMIN_PRINCIPAL_ARNS",
        ),
    ),
    # One scan of the pending table per run: linear in pending events, minutes at most.
    "fp-release": FunctionSpec(
        "release",
        "release",
        "Publishes pending FP events in batches of at least k organisations",
        512,
        300,
        (
            "ENVIRONMENT",
            "PENDING_TABLE_NAME",
            "PUBLISHED_TABLE_NAME",
            "SALT_SECRET_ID",
            "K_ANONYMITY",
            "MAX_EVENTS_PER_ORG",
        ),
    ),
    # bench: 512 MB keeps the modelled answer under 50 ms (one Query of a rule's periods).
    "calibration-query": FunctionSpec(
        "calibration_query",
        "query",
        "Per-rule FP rate from published k-anonymous batches only",
        512,
        10,
        ("ENVIRONMENT", "PUBLISHED_TABLE_NAME", "K_ANONYMITY", "INTERNAL_PRINCIPAL_ARNS"),
    ),
}


@dataclass(frozen=True, kw_only=True)
class CalibrationServiceArgs:
    """Inputs of ``CalibrationService``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - store: the CalibrationStore (tables, org key); salt: the SaltRotation (salt secret, the
      functions' environment key and Powertools layer).
    - settings: the service's stack config (concurrency, throttling, release interval, the
      per-organisation cap, the OIDC audience and the allow-lists).
    - k_anonymity: organisations a released batch must cover.
    """

    stack: StackContext
    store: CalibrationStore
    salt: SaltRotation
    settings: ServiceSettings
    k_anonymity: int


class CalibrationService(pulumi.ComponentResource):
    functions: dict[str, Function]
    http: HttpApi
    schedule: aws.scheduler.Schedule

    def __init__(
        self, name: str, args: CalibrationServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        previous = pulumi.Alias(type_=PREVIOUS_TYPE, name=PREVIOUS_NAME)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[previous]))
        super().__init__("phase-mirror:index:CalibrationService", name, None, opts)
        self._args = args
        store, salt, settings = args.store, args.salt, args.settings
        grants = {role: Grants(role) for role in FUNCTIONS}
        store.grant_ingest(grants["fp-ingestion"])
        store.grant_read_admission(grants["fp-consent"])
        store.grant_write_consent(grants["fp-consent"])
        store.grant_manage_admission(grants["fp-admission"])
        store.grant_release(grants["fp-release"])
        store.grant_query_published(grants["calibration-query"])
        for role in PSEUDONYM_FUNCTIONS:
            salt.grant_read(grants[role])
            store.grant_org_pseudonyms(grants[role])
        for role in ("fp-consent", "fp-admission"):  # revocation and withdrawal
            store.grant_purge_pending(grants[role])
        salt.grant_describe(grants["fp-release"])
        concurrency = {
            "fp-ingestion": settings.ingestion_concurrency,
            **FIXED_CONCURRENCY,
            "calibration-query": settings.query_concurrency,
        }
        moved = {
            "fp-ingestion": MovedFrom("salt-rotation-ingestion", parent=salt),
            "calibration-query": MovedFrom(f"{PREVIOUS_NAME}-query"),
        }
        values = self._environment_values()
        self.functions = {
            role: lambda_function(
                self,
                f"{name}-{spec.key}",
                FunctionArgs(
                    name=args.stack.naming.physical(role),
                    code=spec.code,
                    description=spec.description,
                    grants=grants[role],
                    environment={
                        **powertools_environment(role),
                        **{variable: values[variable] for variable in spec.env},
                    },
                    memory_mb=spec.memory_mb,
                    timeout_s=spec.timeout_s,
                    reserved_concurrency=concurrency[role],
                    env_key_arn=salt.env_key.arn,
                    log_key_arn=args.stack.log_key,
                    log_retention_days=args.stack.log_retention_days,
                    layers=[salt.powertools.arn],
                ),
                moved.get(role),
            )
            for role, spec in FUNCTIONS.items()
        }
        self.http = http_api(
            self,
            name,
            HttpApiArgs(
                api_name=args.stack.naming.physical("api"),
                authorizer_name=args.stack.naming.physical("github-oidc"),
                audience=settings.github_oidc_audience,
                rate_limit=settings.api_rate_limit,
                burst_limit=settings.api_burst_limit,
                log_key_arn=args.stack.log_key,
                log_retention_days=args.stack.log_retention_days,
                previous=PREVIOUS_NAME,
            ),
            self.functions,
        )
        self.schedule = self._release_schedule(name)
        self.register_outputs(
            {
                "apiEndpoint": self.http.api.api_endpoint,
                "releaseScheduleName": self.schedule.name,
                **{f"{role}Name": fn.function.name for role, fn in self.functions.items()},
            }
        )

    @property
    def ingestion(self) -> Function:
        return self.functions["fp-ingestion"]

    @property
    def release(self) -> Function:
        return self.functions["fp-release"]

    def _environment_values(self) -> Mapping[str, pulumi.Input[str]]:
        """Every variable a function may read; each function gets the ones its code lists."""
        args, tables = self._args, self._args.store.tables
        settings = args.settings
        return {
            "ENVIRONMENT": args.stack.environment,
            "ADMISSION_TABLE_NAME": tables["admission"].name,
            "CONSENT_TABLE_NAME": tables["consent"].name,
            "PENDING_TABLE_NAME": tables["pending"].name,
            "DEDUP_TABLE_NAME": tables["dedup"].name,
            "PUBLISHED_TABLE_NAME": tables["published"].name,
            "SALT_SECRET_ID": args.salt.secret.arn,
            "SALT_CACHE_SECONDS": str(settings.salt_cache_seconds),
            "ORG_KEY_ID": args.store.org_key.arn,
            "K_ANONYMITY": str(args.k_anonymity),
            "MAX_EVENTS_PER_ORG": str(settings.max_events_per_org_per_batch),
            "INTERNAL_PRINCIPAL_ARNS": json.dumps(list(settings.internal_principal_arns)),
            "ADMIN_PRINCIPAL_ARNS": json.dumps(list(settings.admin_principal_arns)),
        }

    def release_invoke_statements(self) -> list[Statement]:
        """Invoke the release function, any version of it, and nothing else."""
        arn = self.release.function.arn
        return [
            allow("InvokeReleaseFunction", INVOKE_ACTIONS, [arn, arn.apply(lambda a: f"{a}:*")])
        ]

    def _release_schedule(self, name: str) -> aws.scheduler.Schedule:
        """EventBridge Scheduler invokes fp-release asynchronously every interval."""
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        role_name = args.stack.naming.physical("fp-release-scheduler")
        role = aws.iam.Role(
            f"{name}-release-scheduler-role",
            name=role_name,
            # Only schedules of this account may use the role (confused deputy: "Set up the
            # execution role", EventBridge Scheduler user guide).
            assume_role_policy=scheduler_trust(args.stack.account_id),
            max_session_duration=3600,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-release-scheduler-policy",
            name=f"{role_name}-permissions",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {"Version": "2012-10-17", "Statement": self.release_invoke_statements()}
            ),
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-release-invoke-config",
            function_name=self.release.function.name,
            maximum_retry_attempts=RELEASE_RETRIES,
            maximum_event_age_in_seconds=RELEASE_MAX_EVENT_AGE_S,
            opts=child,
        )
        return aws.scheduler.Schedule(
            f"{name}-release-schedule",
            name=args.stack.naming.physical("fp-release"),
            description="Publishes pending FP events in k-anonymous batches",
            # The interval is at least 5 minutes, so the unit is always the plural AWS requires.
            schedule_expression=f"rate({args.settings.release_interval_minutes} minutes)",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=self.release.function.arn, role_arn=role.arn
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def scheduler_trust(account_id: str) -> str:
    return service_trust(
        "scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account_id}}
    )
