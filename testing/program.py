"""Run the whole Pulumi program offline, under mocks, with a stack's real config file.

The tests (tests/conftest.py) and the offline preview use this one harness. ``run_program``
reads ``Pulumi.<stack>.yaml``, runs ``__main__.py`` against ``PhaseMirrorMocks`` and returns
every registered resource with its inputs, parent, provider and resource options, plus the
stack outputs. ARNs follow AWS's formats for account ``ACCOUNT_ID`` (moto's default account),
so a policy the program builds can be evaluated by moto unchanged (the mocks: testing/mocks.py).
"""

from __future__ import annotations

import contextlib
import logging
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from testing.engine_config import Unreproduced, config_strings, engine_string
from testing.mocks import (
    ACCOUNT_ID,
    PhaseMirrorMocks,
    RecordingMonitor,
    _references_as_ids,
)

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "phase-mirror-infra"
BOOTSTRAP_PROJECT = "phase-mirror-bootstrap"
OPERATOR_ROLE_PATTERN = (
    f"arn:aws:iam::{ACCOUNT_ID}:role/aws-reserved/sso.amazonaws.com/*/"
    "AWSReservedSSO_AdministratorAccess_*"
)
# What a team puts in a stack file before its first ``pulumi up`` (docs/first-deploy.md): an
# update under the harness is the update of a configured team unless ``team=False``.
TEAM_VALUES: dict[str, str] = {
    f"{PROJECT}:alarmEmails": '["oncall@example.com"]',
    f"{PROJECT}:devopsRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/devops",
    f"{PROJECT}:developerRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/developer",
    f"{PROJECT}:deployRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-ci-deploy-bootstrap",
    f"{PROJECT}:operatorRoleArnPattern": OPERATOR_ROLE_PATTERN,
}
# The bootstrap's own: the administrators who run it (its stack file ships without them).
BOOTSTRAP_TEAM_VALUES: dict[str, str] = {
    f"{BOOTSTRAP_PROJECT}:operatorRoleArnPattern": OPERATOR_ROLE_PATTERN,
}
TEAM = {PROJECT: TEAM_VALUES, BOOTSTRAP_PROJECT: BOOTSTRAP_TEAM_VALUES}


@dataclass
class Resource:
    """One registered resource, as the engine would receive it."""

    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str
    provider: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    aliases: list[Any]
    ignore_changes: list[str]

    @property
    def component_type(self) -> str:
        """The type of the top-level component it belongs to ('' at top level).

        The outermost one, not the nearest: a building block nested in a component (a
        SecureBucket inside DataTier) carries the tags of the component that owns it.
        """
        parts = self.urn.split("::")[2].split("$")
        return parts[0] if len(parts) > 1 else ""


@dataclass
class ProgramRun:
    stack: str
    config: dict[str, str]
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # What the program logged with pulumi.log.warn (the CLI prints these as warnings).
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Resource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            known = sorted(r.name for r in self.of_type(type_))
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)}; {known}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def provider_of(self, resource: Resource) -> Resource | None:
        """The provider resource whose reference ``urn::id`` the resource carries."""
        if not resource.provider:
            return None
        urn = resource.provider.rsplit("::", 1)[0]
        return next((r for r in self.resources if r.urn == urn), None)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)


class StackFileError(Exception):
    """A stack file that cannot be read; the one-line message names the stack and the file."""


class UnknownStack(StackFileError, LookupError):
    """No ``Pulumi.<stack>.yaml``: the message names the stack and the stacks that exist."""


def stacks(root: Path = ROOT) -> list[str]:
    """The stacks of the project in ``root``: one per ``Pulumi.<stack>.yaml``."""
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
    )


def stack_config(stack: str, root: Path = ROOT) -> dict[str, str]:
    """The config of ``Pulumi.<stack>.yaml`` as the CLI passes it: every value a string, read
    as go-yaml v3 reads it (testing/engine_config.py), not as PyYAML's YAML 1.1 would."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stacks(root)) or "none"
        raise UnknownStack(f"unknown stack {stack!r}: no {path.name} (stacks: {known})")
    text = path.read_text()
    try:
        document = yaml.safe_load(text)
        if document is not None and not (
            isinstance(document, dict) and isinstance(document.get("config") or {}, dict)
        ):
            raise StackFileError(f"{path.name} has no 'config:' mapping")
        return config_strings(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise StackFileError(
            f"{path.name}{line} is not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    except Unreproduced as exc:
        raise StackFileError(f"{path.name}: {exc}") from None


def run_program(
    stack: str,
    *,
    overrides: Mapping[str, Any | None] | None = None,
    preview: bool = False,
    program: Path = ROOT / "__main__.py",
    root: Path = ROOT,
    unknowns: bool = False,
    project: str = PROJECT,
    team: bool | None = None,
    zone_map: Mapping[str, str] | None = None,
    python: tuple[int, int] | None = None,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under mocks and return what it registered.

    ``overrides`` maps full config keys (``phase-mirror-infra:kAnonymity``) to a value, or to
    ``None`` to remove the key. Exceptions the program raises propagate unchanged.
    ``root`` is the checkout whose ``Pulumi.<stack>.yaml`` is read (``tools.against`` runs
    another git ref's program). ``unknowns`` (with ``preview``) leaves every computed output
    unknown, as a real first preview does (tests/test_preview_mode.py). ``project`` names
    another Pulumi project of this repository (``bootstrap/`` runs with ``root`` its folder).
    ``team`` (default: on for an update) fills the operator values the stack file leaves to the
    team from ``TEAM`` (the project's own); ``team=False`` runs the file as shipped.
    ``zone_map`` is the account's zone names -> ids (default ``ZONE_MAP``). ``python`` is the
    interpreter the deploy runs on (default: the Lambda runtime's, as the workflows pin it).
    """
    config = stack_config(stack, root)
    if team or (team is None and not (preview or unknowns)):
        config = {**TEAM.get(project, {}), **config}
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = engine_string(value)
    region = config.get("aws:region", "us-east-1")
    mocks = PhaseMirrorMocks(region, unknowns=unknowns, zone_map=zone_map)
    preview = preview or unknowns
    monitor = RecordingMonitor(mocks)
    log = _WarningLog()
    settings.reset_options(project=project, stack=stack, preview=preview)
    pulumi_mocks.set_mocks(
        mocks, project=project, stack=stack, preview=preview, monitor=monitor, logger=log.logger
    )
    # The engine runs the program with the project's folder as its root directory.
    settings.SETTINGS.root_directory = str(root)  # type: ignore[misc]
    set_all_config(config)
    stack_resource = settings.get_root_resource()

    sys.path.insert(0, str(program.parent))
    try:

        def main() -> None:
            with _build_python(python):
                runpy.run_path(str(program), run_name="__main__")

        _sync_await(run_pulumi_func(main))
    finally:
        sys.path.remove(str(program.parent))

    run = ProgramRun(stack=stack, config=config, warnings=log.messages)
    for urn, request in monitor.requests.items():
        registration = monitor.resources[urn]
        run.resources.append(
            Resource(
                type=request.type,
                name=request.name,
                urn=urn,
                id=registration.id,
                inputs=_inputs(request),
                outputs=dict(registration.state),
                parent=request.parent,
                provider=request.provider,
                custom=request.custom,
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                aliases=list(request.aliases),
                ignore_changes=list(request.ignoreChanges),
            )
        )
    stack_outputs = getattr(stack_resource, "outputs", {})
    for name, value in stack_outputs.items():
        run.outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    return run


class _WarningLog(logging.Handler):
    """Collects the warnings the program sends to the (mock) engine."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []
        self.logger = logging.getLogger(f"phase-mirror-program-{id(self)}")
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_bootstrap(
    *, preview: bool = False, unknowns: bool = False, **overrides: object
) -> ProgramRun:
    """The bootstrap project (``bootstrap/``, stack ``bootstrap``) under mocks; ``overrides``
    are the bootstrap's own keys (``replicaRegion=None`` removes one)."""
    return run_program(
        "bootstrap",
        program=ROOT / "bootstrap" / "__main__.py",
        root=ROOT / "bootstrap",
        project=BOOTSTRAP_PROJECT,
        preview=preview,
        unknowns=unknowns,
        overrides={f"{BOOTSTRAP_PROJECT}:{k}": v for k, v in overrides.items()},
    )


@contextlib.contextmanager
def _build_python(version: tuple[int, int] | None) -> Iterator[None]:
    """Run as if on ``version`` (default the Lambda runtime's Python, as the workflows pin it)."""
    import components.core.function as module

    original = getattr(module, "build_python", None)
    if original is None:  # another checkout's program (tools.against), from before the check
        yield
        return
    runtime = module.runtime_version()
    module.build_python = lambda: version or runtime
    try:
        yield
    finally:
        module.build_python = original


def _inputs(request: Any) -> dict[str, Any]:
    from pulumi.runtime import rpc

    with _references_as_ids():
        return dict(rpc.deserialize_properties(request.object))
