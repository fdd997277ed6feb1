"""Typed, validated config of the bootstrap stack (``Pulumi.bootstrap.yaml``).

Validated with the main project's helpers (``components/config/``), so a bad value stops the
program at start with one ``ConfigError`` naming the key, the value received and what is
allowed, and an unknown key is rejected. ``parse`` is a plain function, unit-tested without
mocks (tests/test_bootstrap.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.config import (
    NAME_PREFIX,
    REGION,
    ConfigError,
    Naming,
    Reader,
    bad,
    json_list,
    operator_values,
    pattern,
    stack_file,
)
from components.config.keys import role_arn_pattern

# GitHub's limits: owner 1-39 characters, repository 1-100. No wildcard can pass, so a trust
# policy built from it never matches another repository. Repositories created or renamed since
# 15 July 2026 present immutable subjects, ``repo:OWNER@OWNER_ID/REPO@REPO_ID:...`` (GitHub,
# "OpenID Connect reference", "Immutable subject claims"): both ids, or neither.
REPOSITORY = pattern(
    r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}"
    r"|[A-Za-z0-9][A-Za-z0-9-]{0,38}@\d{1,20}/[A-Za-z0-9._-]{1,100}@\d{1,20}",
    "OWNER/REPO of a GitHub repository without wildcards, such as phase-mirror/infra, or "
    "OWNER@OWNER_ID/REPO@REPO_ID when the repository presents immutable OIDC subjects",
)
ENVIRONMENT_NAME = pattern(
    r"[A-Za-z0-9._-]{1,255}", "a GitHub environment name of letters, digits, '.', '_' or '-'"
)
OIDC_PROVIDER_ARN = pattern(
    r"arn:aws:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com",
    "the ARN of this account's token.actions.githubusercontent.com OIDC provider",
)
# The stack name ends every physical name, bucket names included (lowercase only).
STACK = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
DEFAULT_DEPLOY_ENVIRONMENTS = ("staging", "production")
# S3 bucket names: at most 63 characters.
MAX_BUCKET_NAME = 63


@dataclass(frozen=True, kw_only=True)
class BootstrapConfig:
    """All settings of the bootstrap stack.

    Fields (config key, default, constraint):
    - region (``aws:region``, required): where the state bucket and the keys live.
    - github_repository (``githubRepository``, required): ``OWNER/REPO`` whose workflows may
      assume the CI roles; nothing else can. ``OWNER@ID/REPO@ID`` when the repository's OIDC
      subjects carry the immutable ids (its ``sub_claim_prefix``, docs/bootstrap.md).
    - name_prefix (``namePrefix``, ``phase-mirror``): as in the main project.
    - replica_region (``replicaRegion``, none): a second region holding a replica of the state
      bucket and of both keys (disaster recovery); must differ from ``aws:region``.
    - deploy_environments (``deployEnvironments``, ``[staging, production]``): the GitHub
      environments of the deploy workflow's jobs; each such job on ``main`` may assume the
      deploy role. Empty: the deploy workflow's jobs run on ``main`` without an environment.
    - github_oidc_provider_arn (``githubOidcProviderArn``, none): reuse the account's existing
      GitHub OIDC provider (an account holds one per URL) instead of creating it.
    - operator_role_arn_pattern (``operatorRoleArnPattern``, none): ``ArnLike`` pattern of the
      administrators' role (an SSO role) that runs this program and the main stacks' first
      ``pulumi up``; it administers the state and secrets keys and uses them. An operator value:
      a dry run without it warns and leaves the administrators out of the key policies,
      ``pulumi up`` refuses (the keys would lock their administrators out).
    """

    stack: str
    region: str
    github_repository: str
    name_prefix: str = "phase-mirror"
    replica_region: str | None = None
    deploy_environments: tuple[str, ...] = DEFAULT_DEPLOY_ENVIRONMENTS
    github_oidc_provider_arn: str | None = None
    operator_role_arn_pattern: str | None = None

    @property
    def naming(self) -> Naming:
        return Naming(prefix=self.name_prefix, stack=self.stack)


def check_operator_account(cfg: BootstrapConfig, account_id: str) -> None:
    """The administrators' pattern names a role of the account the program runs in: a key
    policy matches ``aws:PrincipalArn`` only within its own account's principal."""
    pattern = cfg.operator_role_arn_pattern
    if pattern is not None and pattern.split(":")[4] != account_id:
        raise bad("operatorRoleArnPattern", pattern, f"a role pattern of account {account_id}")


def state_bucket_name(naming: Naming, account_id: str, region: str) -> str:
    """Bucket names are global: the account and region make them unique and tell them apart."""
    return naming.physical(f"state-{account_id}-{region}")


def parse(raw: Mapping[str, str], *, stack: str, region: str | None) -> BootstrapConfig:
    """Validate the raw project-namespace config (key -> string) of the bootstrap stack."""
    r = Reader(raw)
    if region is None or region == "":
        raise ConfigError("config key 'aws:region' is required and missing")
    if not STACK.fullmatch(stack):
        raise ConfigError(
            f"stack name {stack!r} is not allowed: 1-20 characters of a-z, 0-9 and '-' "
            "(it ends every physical name, S3 bucket names included)"
        )
    region = REGION("aws:region", region)
    replica = r.optional("replicaRegion", None, REGION)
    environments = r.optional("deployEnvironments", None, json_list(ENVIRONMENT_NAME))
    cfg = BootstrapConfig(
        stack=stack,
        region=region,
        github_repository=r.required("githubRepository", REPOSITORY),
        name_prefix=r.optional("namePrefix", "phase-mirror", NAME_PREFIX),
        replica_region=replica,
        deploy_environments=(
            DEFAULT_DEPLOY_ENVIRONMENTS if environments is None else tuple(environments)
        ),
        github_oidc_provider_arn=r.optional("githubOidcProviderArn", None, OIDC_PROVIDER_ARN),
        operator_role_arn_pattern=r.optional("operatorRoleArnPattern", None, role_arn_pattern),
    )
    unknown = sorted(set(raw) - r.read)
    if unknown:
        raise ConfigError(
            f"config key '{unknown[0]}' is not a setting of this project: allowed "
            + ", ".join(sorted(r.read))
        )
    if replica == region:
        raise bad("replicaRegion", replica, f"a region other than aws:region ({region})")
    longest = max((region, replica or ""), key=len)
    too_long = state_bucket_name(cfg.naming, "0" * 12, longest)
    if len(too_long) > MAX_BUCKET_NAME:
        raise bad(
            "namePrefix",
            cfg.name_prefix,
            f"a prefix short enough for the bucket name {too_long!r} to fit "
            f"{MAX_BUCKET_NAME} characters",
        )
    return cfg


# Stands in for a missing githubRepository in a dry run only (operator_values refuses `up`):
# the preview then shows the trust policies' shape without naming any real repository.
PREVIEW_REPOSITORY = "OWNER/REPO"


def load_bootstrap_config() -> BootstrapConfig:
    """Read the bootstrap stack's config from the engine and validate it."""
    prefix = f"{pulumi.get_project()}:"
    everything: dict[str, Any] = {
        **pulumi.runtime.config.get_config_env(),
        **pulumi.runtime.config.CONFIG.get(),
    }
    raw = {k[len(prefix) :]: str(v) for k, v in everything.items() if k.startswith(prefix)}
    stack_file.check_file(pulumi.get_root_directory(), pulumi.get_stack())
    absent = operator_values.enforce(
        pulumi.get_project(),
        pulumi.get_stack(),
        raw,
        dry_run=pulumi.runtime.is_dry_run(),
        warn=pulumi.log.warn,
        error=ConfigError,
    )
    if any("githubRepository" in value.keys for value in absent):
        raw = {**raw, "githubRepository": PREVIEW_REPOSITORY}
    return parse(raw, stack=pulumi.get_stack(), region=everything.get("aws:region"))
