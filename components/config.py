"""Typed, validated stack configuration.

Every value a stack may change is a key here with its default. ``load_stack_config`` reads the
project's namespace from ``pulumi.Config`` and ``parse`` turns the raw strings into a frozen
``StackConfig``; any bad value stops the program at start with one ``ConfigError`` naming the
key, the value received and what is allowed. ``parse`` is a plain function so that every rule
is unit-tested without mocks (tests/test_config.py).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import pulumi

Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("staging", "production")

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """Bad stack configuration. ``RunError`` makes the engine print the message alone."""


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """All settings of one stack.

    Fields (config key, default, constraint):
    - environment (``environment``, required): ``staging`` or ``production``.
    - region (``aws:region``, required): an AWS region such as ``us-east-1``.
    - name_prefix (``namePrefix``, ``phase-mirror``): 2-24 chars of ``[a-z0-9-]``, starting
      with a letter; every physical name starts with it (see ``Naming``).
    - deletion_protection (``deletionProtection``, true): AWS deletion protection on stateful
      resources, and Pulumi ``protect`` plus retain-on-delete. Must be true in production.
    - log_retention_days (``logRetentionDays``, 90): one of CloudWatch's retention values.
    - k_anonymity (``kAnonymity``, 10): 2-1000 distinct organisations before a rule's
      calibration is disclosed.
    - service (``ServiceSettings``): the functions and the HTTP API (``ingestionConcurrency``, ...).
    - alerts (``AlertSettings``): alert recipients and the trail's retention (``alarmEmails``, ...).
    """

    project: str
    stack: str
    environment: Environment
    region: str
    name_prefix: str = "phase-mirror"
    deletion_protection: bool = True
    log_retention_days: int = 90
    k_anonymity: int = 10
    service: ServiceSettings = field(default_factory=lambda: ServiceSettings())
    alerts: AlertSettings = field(default_factory=lambda: AlertSettings())

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def naming(self) -> Naming:
        return Naming(prefix=self.name_prefix, stack=self.stack)


@dataclass(frozen=True)
class Naming:
    """The one rule for physical names: ``{prefix}-{role}-{stack}``.

    Staging and production share an account without collisions because the stack is part of
    every name. Paths (Secrets Manager, SSM) use ``/{prefix}/{stack}/{role}``.
    """

    prefix: str
    stack: str

    def physical(self, role: str) -> str:
        return f"{self.prefix}-{role}-{self.stack}"

    def path(self, *parts: str) -> str:
        return "/" + "/".join((self.prefix, self.stack, *parts))

    def alias(self, role: str) -> str:
        return f"alias/{self.physical(role)}"


class _Reader:
    """Reads keys from the raw config map, remembering which ones were read."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._raw = raw
        self.read: set[str] = set()

    def _get(self, key: str) -> str | None:
        self.read.add(key)
        return self._raw.get(key)

    def required(self, key: str, parse: Callable[[str, str], T]) -> T:
        value = self._get(key)
        if value is None or value == "":
            raise ConfigError(f"config key '{key}' is required and missing")
        return parse(key, value)

    def optional(self, key: str, default: T, parse: Callable[[str, str], T]) -> T:
        value = self._get(key)
        return default if value is None else parse(key, value)


def bad(key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"config key '{key}' has invalid value {value!r}: allowed {allowed}")


def enum(*allowed: str) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in allowed:
            raise bad(key, value, "one of " + ", ".join(allowed))
        return value

    return parse


def boolean(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise bad(key, value, "true or false")
    return lowered == "true"


def int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise bad(key, value, f"a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise bad(key, value, f"a whole number from {low} to {high}")
        return number

    return parse


def one_of_ints(allowed: tuple[int, ...]) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        if not value.strip().isdigit() or int(value) not in allowed:
            raise bad(key, value, "one of " + ", ".join(map(str, allowed)))
        return int(value)

    return parse


def pattern(regex: str, description: str) -> Callable[[str, str], str]:
    compiled = re.compile(regex)

    def parse(key: str, value: str) -> str:
        if not compiled.fullmatch(value):
            raise bad(key, value, description)
        return value

    return parse


def cidr(key: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise bad(key, value, "a CIDR block with no host bits set, such as 10.20.0.0/16") from None


def json_list(item: Callable[[str, str], T]) -> Callable[[str, str], list[T]]:
    """A list given in YAML (the engine passes it as a JSON string)."""

    def parse(key: str, value: str) -> list[T]:
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise bad(key, value, "a YAML list") from None
        if not isinstance(items, list):
            raise bad(key, value, "a YAML list")
        return [item(f"{key}[{i}]", str(v)) for i, v in enumerate(items)]

    return parse


REGION = pattern(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region such as us-east-1")
NAME_PREFIX = pattern(
    r"[a-z][a-z0-9-]{1,23}", "2-24 characters of a-z, 0-9 and '-', starting with a letter"
)


# --- Calibration service settings (issue 3) ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The functions and HTTP API of the calibration service.

    Fields (config key, default, constraint):
    - ingestion_concurrency (``ingestionConcurrency``, 20): 1-1000 reserved copies of
      fp-ingestion; the hard bound on what a flood of requests can cost.
    - query_concurrency (``queryConcurrency``, 5): 1-100 reserved copies of calibration-query.
    - salt_cache_seconds (``saltCacheSeconds``, 300): 30-900; how long a warm ingestion
      container trusts its cached salt (a newer-month event re-reads at once).
    - api_rate_limit (``apiRateLimit``, 50): 1-10000 requests per second, steady state.
    - api_burst_limit (``apiBurstLimit``, 100): 1-5000 requests, at least the rate limit.
    """

    ingestion_concurrency: int = 20
    query_concurrency: int = 5
    salt_cache_seconds: int = 300
    api_rate_limit: int = 50
    api_burst_limit: int = 100


def _service(r: _Reader) -> ServiceSettings:
    d = ServiceSettings()
    service = ServiceSettings(
        ingestion_concurrency=r.optional(
            "ingestionConcurrency", d.ingestion_concurrency, int_range(1, 1000)
        ),
        query_concurrency=r.optional("queryConcurrency", d.query_concurrency, int_range(1, 100)),
        salt_cache_seconds=r.optional("saltCacheSeconds", d.salt_cache_seconds, int_range(30, 900)),
        api_rate_limit=r.optional("apiRateLimit", d.api_rate_limit, int_range(1, 10000)),
        api_burst_limit=r.optional("apiBurstLimit", d.api_burst_limit, int_range(1, 5000)),
    )
    if service.api_burst_limit < service.api_rate_limit:
        raise bad(
            "apiBurstLimit",
            str(service.api_burst_limit),
            f"at least apiRateLimit ({service.api_rate_limit})",
        )
    return service


# --- Alert settings (issue 5) -----------------------------------------------------------

# Deliberately loose: SNS confirms each address by mail; this only catches typos and lists.
EMAIL = pattern(r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}", "an email address such as oncall@example.com")
# Checklist 001 3.1 asks for 90 days of trail logs; CIS and Security Hub a year in production.
MIN_TRAIL_RETENTION_DAYS = 90
PRODUCTION_TRAIL_RETENTION_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """Who hears the alarms, and how long the audit trail is kept.

    Fields (config key, default, constraint):
    - alarm_emails (``alarmEmails``, ``[]``): addresses subscribed to both alert topics.
    - critical_emails (``criticalAlarmEmails``, ``[]``): addresses for the critical topic only
      (the on-call rotation's pager address).
    - warning_emails (``warningAlarmEmails``, ``[]``): addresses for the warning topic only.
    - trail_retention_days (``trailRetentionDays``, 365): days CloudTrail log files stay in
      their bucket, 90-3653; at least 365 in production.
    """

    alarm_emails: tuple[str, ...] = ()
    critical_emails: tuple[str, ...] = ()
    warning_emails: tuple[str, ...] = ()
    trail_retention_days: int = PRODUCTION_TRAIL_RETENTION_DAYS


def _alerts(r: _Reader) -> AlertSettings:
    emails = json_list(EMAIL)
    return AlertSettings(
        alarm_emails=tuple(r.optional("alarmEmails", [], emails)),
        critical_emails=tuple(r.optional("criticalAlarmEmails", [], emails)),
        warning_emails=tuple(r.optional("warningAlarmEmails", [], emails)),
        trail_retention_days=r.optional(
            "trailRetentionDays",
            PRODUCTION_TRAIL_RETENTION_DAYS,
            int_range(MIN_TRAIL_RETENTION_DAYS, 3653),
        ),
    )


def parse(raw: Mapping[str, str], *, project: str, stack: str, region: str | None) -> StackConfig:
    """Validate the raw project-namespace config (key -> string) of one stack."""
    r = _Reader(raw)
    if region is None or region == "":
        raise ConfigError("config key 'aws:region' is required and missing")
    cfg = StackConfig(
        project=project,
        stack=stack,
        region=REGION("aws:region", region),
        environment=cast(Environment, r.required("environment", enum(*ENVIRONMENTS))),
        name_prefix=r.optional("namePrefix", "phase-mirror", NAME_PREFIX),
        deletion_protection=r.optional("deletionProtection", True, boolean),
        log_retention_days=r.optional("logRetentionDays", 90, one_of_ints(LOG_RETENTION_DAYS)),
        k_anonymity=r.optional("kAnonymity", 10, int_range(2, 1000)),
        service=_service(r),
        alerts=_alerts(r),
    )
    unknown = sorted(set(raw) - r.read)
    if unknown:
        raise ConfigError(
            f"config key '{unknown[0]}' is not a setting of this project: allowed "
            + ", ".join(sorted(r.read))
        )
    if cfg.is_production and not cfg.deletion_protection:
        raise bad("deletionProtection", "false", "true when environment is production")
    if cfg.is_production and cfg.alerts.trail_retention_days < PRODUCTION_TRAIL_RETENTION_DAYS:
        raise bad(
            "trailRetentionDays",
            str(cfg.alerts.trail_retention_days),
            f"at least {PRODUCTION_TRAIL_RETENTION_DAYS} when environment is production",
        )
    return cfg


def load_stack_config() -> StackConfig:
    """Read this stack's config from the engine and validate it."""
    project = pulumi.get_project()
    prefix = f"{project}:"
    everything: dict[str, Any] = {
        **pulumi.runtime.config.get_config_env(),
        **pulumi.runtime.config.CONFIG.get(),
    }
    raw = {k[len(prefix) :]: str(v) for k, v in everything.items() if k.startswith(prefix)}
    region = everything.get("aws:region")
    return parse(raw, project=project, stack=pulumi.get_stack(), region=region)
