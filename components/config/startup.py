"""Everything the program checks at start, before its first resource is registered.

``start`` is the first line of ``__main__.py``. In order: the stack file's own text (unquoted
values the CLI would rewrite, ``components/config/stack_file.py``), the config (``components/config/``,
including the production floors of ``components/config/keys.py``), the operator values only a team
can supply (``components/config/operator_values.py``: warnings on a dry run, a refusal on ``pulumi up``),
the Python that builds the Lambda layer, and the AWS create-time rules
(``components/aws_limits.py``). Each failure is one ``ConfigError`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import (
    ConfigError,
    StackConfig,
    aws_limits,
    operator_values,
    parse,
    stack_file,
)
from components.core import function


def engine_config(project: str) -> tuple[dict[str, str], str | None]:
    """This stack's project-namespace config (key -> string) and ``aws:region``."""
    prefix = f"{project}:"
    everything: dict[str, Any] = {
        **pulumi.runtime.config.get_config_env(),
        **pulumi.runtime.config.CONFIG.get(),
    }
    raw = {k[len(prefix) :]: str(v) for k, v in everything.items() if k.startswith(prefix)}
    return raw, everything.get("aws:region")


def check_stack_file(stack: str) -> None:
    try:
        root = pulumi.get_root_directory()
    except AttributeError:  # an engine too old to say where Pulumi.yaml is
        root = None
    stack_file.check_file(root, stack)


def check_operator_values(project: str, stack: str, raw: Mapping[str, str]) -> None:
    operator_values.enforce(
        project,
        stack,
        raw,
        dry_run=pulumi.runtime.is_dry_run(),
        warn=pulumi.log.warn,
        error=ConfigError,
    )


def check_build_python() -> None:
    problem = function.build_python_problem()
    if problem is None:
        return
    if pulumi.runtime.is_dry_run():
        pulumi.log.warn(f"{problem}; this preview shows the layer as changed")
        return
    raise ConfigError(f"pulumi up refused: {problem}")


def start() -> tuple[StackConfig, str]:
    """The validated config and the account id, or one ``ConfigError``."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    check_stack_file(stack)
    raw, region = engine_config(project)
    cfg = parse(raw, project=project, stack=stack, region=region)
    check_operator_values(project, stack, raw)
    check_build_python()
    account_id = aws.get_caller_identity().account_id
    aws_limits.check(cfg, account_id)
    return cfg, account_id
