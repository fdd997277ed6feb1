"""Run the whole Pulumi program offline, under mocks, with a stack's real config file.

The tests (tests/conftest.py) and the offline preview use this one harness. ``run_program``
reads ``Pulumi.<stack>.yaml``, runs ``__main__.py`` against ``PhaseMirrorMocks`` and returns
every registered resource with its inputs, parent, provider and resource options, plus the
stack outputs. ARNs follow AWS's formats for account ``ACCOUNT_ID`` (moto's default account),
so a policy the program builds can be evaluated by moto unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import runpy
import sys
import uuid
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

from tools.engine_config import Unreproduced, config_strings, engine_string

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "phase-mirror-infra"
ACCOUNT_ID = "123456789012"
# us-east-1's zone names as one real account maps them: names map to zone ids per account, and
# here us-east-1c is use1-az3, where EKS places no cluster subnet (EKS user guide, cluster
# subnet requirements). ``zone_map`` gives another account's mapping.
ZONE_MAP: dict[str, str] = {
    "us-east-1a": "use1-az1",
    "us-east-1b": "use1-az2",
    "us-east-1c": "use1-az3",
    "us-east-1d": "use1-az4",
    "us-east-1e": "use1-az5",
    "us-east-1f": "use1-az6",
}
# What a team puts in a stack file before its first ``pulumi up`` (docs/first-deploy.md): an
# update under the harness is the update of a configured team unless ``team=False``.
TEAM_VALUES: dict[str, str] = {
    f"{PROJECT}:alarmEmails": '["oncall@example.com"]',
    f"{PROJECT}:devopsRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/devops",
    f"{PROJECT}:developerRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/developer",
    f"{PROJECT}:deployRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-ci-deploy-bootstrap",
    f"{PROJECT}:operatorRoleArnPattern": (
        f"arn:aws:iam::{ACCOUNT_ID}:role/aws-reserved/sso.amazonaws.com/*/"
        "AWSReservedSSO_AdministratorAccess_*"
    ),
}


class UnknownInvoke(Exception):
    """The program made an invoke the mocks do not answer: add it here on purpose."""


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


def _arn(type_: str, name: str, inputs: Mapping[str, Any], region: str) -> str | None:
    physical = inputs.get("name") or name
    acct = ACCOUNT_ID
    match type_:
        case "aws:dynamodb/table:Table":
            return f"arn:aws:dynamodb:{region}:{acct}:table/{physical}"
        case "aws:kms/key:Key":
            return f"arn:aws:kms:{region}:{acct}:key/{_uuid(name)}"
        case "aws:secretsmanager/secret:Secret":
            return f"arn:aws:secretsmanager:{region}:{acct}:secret:{physical}-AbCdEf"
        case "aws:iam/role:Role":
            return f"arn:aws:iam::{acct}:role/{physical}"
        case "aws:iam/policy:Policy":
            return f"arn:aws:iam::{acct}:policy/{physical}"
        case "aws:lambda/function:Function":
            return f"arn:aws:lambda:{region}:{acct}:function:{physical}"
        case "aws:sns/topic:Topic":
            return f"arn:aws:sns:{region}:{acct}:{physical}"
        case "aws:s3/bucket:Bucket" | "aws:s3/bucketV2:BucketV2":
            return f"arn:aws:s3:::{inputs.get('bucket') or physical}"
        case "aws:cloudwatch/logGroup:LogGroup":
            return f"arn:aws:logs:{region}:{acct}:log-group:{physical}"
        case "aws:rds/instance:Instance":
            return f"arn:aws:rds:{region}:{acct}:db:{inputs.get('identifier') or name}"
        case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(inputs.get("url", physical)).removeprefix("https://")
            return f"arn:aws:iam::{acct}:oidc-provider/{host}"
    if type_.startswith("aws:"):
        service = type_.split(":")[1].split("/")[0]
        return f"arn:aws:{service}:{region}:{acct}:{type_.rsplit(':', 1)[1].lower()}/{physical}"
    return None


def _uuid(seed: str) -> str:
    return str(uuid.UUID(hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()))


class PhaseMirrorMocks(pulumi_mocks.Mocks):
    """Answers resource registrations with AWS-shaped outputs and the invokes the program uses.

    An invoke it does not know raises ``UnknownInvoke`` so a new data source is noticed.
    """

    def __init__(
        self, region: str, *, unknowns: bool = False, zone_map: Mapping[str, str] | None = None
    ) -> None:
        self.region = region
        self.unknowns = unknowns
        self.zone_map = dict(zone_map) if zone_map is not None else _zones_of(region)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.unknowns:
            # Like the engine previewing a create: inputs echo back, the id and every computed
            # output (arn, keyId, ...) stay unknown, so ``apply`` callbacks on them never run.
            return "", inputs
        outputs: dict[str, Any] = {**inputs}
        arn = _arn(args.typ, args.name, inputs, self.region)
        if arn:
            outputs.setdefault("arn", arn)
        if args.typ.startswith("aws:") and "name" not in outputs:
            outputs["name"] = args.name
        resource_id = f"{args.name}-id"
        match args.typ:
            case "aws:kms/key:Key":
                resource_id = _uuid(args.name)
                outputs["keyId"] = resource_id
            case "aws:secretsmanager/secret:Secret":
                resource_id = arn or resource_id
            case "aws:dynamodb/table:Table" | "aws:iam/role:Role":
                resource_id = outputs["name"]
            case "aws:apigatewayv2/api:Api":
                api_id = f"{args.name}-id"
                outputs["executionArn"] = f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}"
                outputs["apiEndpoint"] = f"https://{api_id}.execute-api.{self.region}.amazonaws.com"
            case "aws:rds/instance:Instance":
                host = f"{inputs.get('identifier')}.abcdefghijkl.{self.region}.rds.amazonaws.com"
                outputs["address"] = host
                outputs["endpoint"] = f"{host}:{int(inputs.get('port', 5432))}"
            case "aws:elasticache/replicationGroup:ReplicationGroup":
                group = inputs.get("replicationGroupId")
                outputs["primaryEndpointAddress"] = (
                    f"master.{group}.abc123.use1.cache.amazonaws.com"
                )
            case "eks:index:Cluster":
                # A remote component: its children never exist under mocks, so answer the
                # outputs the program reads (EKS's own cluster security group, the OIDC ARN).
                # Inputs are not echoed: resource references among them would be rehydrated.
                outputs = {"name": inputs.get("name")}
                outputs["clusterSecurityGroupId"] = "sg-0eks0cluster0mock"
                outputs["oidcProviderArn"] = (
                    f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.{self.region}"
                    ".amazonaws.com/id/MOCK"
                )
            case "eks:index:ManagedNodeGroup":
                outputs = {}
            case "aws:lambda/function:Function":
                outputs["invokeArn"] = (
                    f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
                    f"{arn}/invocations"
                )
            case "random:index/randomBytes:RandomBytes":
                outputs["base64"] = "bW9jay1zYWx0LW5vdC1yZWFsLW1vY2stc2FsdC0wMDA="
                outputs["hex"] = "00" * int(inputs.get("length", 32))
            case "random:index/randomPassword:RandomPassword":
                outputs["result"] = "mock-password-not-real"
        return resource_id, outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        # Answers must be camelCase, as the provider's are (pulumi/pulumi#4774).
        match args.token:
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "accountId": ACCOUNT_ID,
                    "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
                    "userId": "AIDAMOCK",
                    "id": ACCOUNT_ID,
                }
            case "aws:index/getRegion:getRegion":
                return {"name": self.region, "region": self.region, "id": self.region}
            case "aws:index/getPartition:getPartition":
                return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                # AWS's order kept; excluded ids (and names) dropped, as the API does.
                excluded = set(args.args.get("excludeZoneIds") or ())
                excluded_names = set(args.args.get("excludeNames") or ())
                zones = [
                    (name, zone_id)
                    for name, zone_id in self.zone_map.items()
                    if zone_id not in excluded and name not in excluded_names
                ]
                return {
                    "names": [name for name, _ in zones],
                    "zoneIds": [zone_id for _, zone_id in zones],
                    "id": self.region,
                }
        raise UnknownInvoke(f"the mocks do not answer invoke {args.token} ({args.args})")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, also keeping each request's parent, provider and options."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine's URN: the parent's whole type chain, and no root-stack prefix
        # (``Comp$aws:...`` nested as ``Outer$Comp$aws:...``). The stock mock keeps only the
        # parent's last type, which would hide a grandchild's URN change from the snapshot.
        parent_type = parent.split("::")[2] if parent else ""
        if parent_type and parent_type != "pulumi:pulumi:Stack":
            type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join(
            [settings.get_stack(), settings.get_project(), type_, name]
        )

    def RegisterResource(self, request: Any) -> Any:
        with _references_as_ids():
            response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.requests[response.urn] = request
        return response


class StackFileError(Exception):
    """A stack file that cannot be read; the one-line message names the stack and the file."""


class UnknownStack(StackFileError, LookupError):
    """No ``Pulumi.<stack>.yaml``: the message names the stack and the stacks that exist."""


def stacks(root: Path = ROOT) -> list[str]:
    """The stacks of the project in ``root``: one per ``Pulumi.<stack>.yaml``."""
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
    )


def _zones_of(region: str) -> dict[str, str]:
    if region == "us-east-1":
        return dict(ZONE_MAP)
    # AWS's zone-id scheme: eu-west-1 -> euw1, ap-southeast-2 -> apse2.
    geo, direction, number = region.split("-")[-3:]
    short = {"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}
    code = f"{geo}{short.get(direction, direction[0])}{number}"
    return {f"{region}{z}": f"{code}-az{i + 1}" for i, z in enumerate("abcd")}


def stack_config(stack: str, root: Path = ROOT) -> dict[str, str]:
    """The config of ``Pulumi.<stack>.yaml`` as the CLI passes it: every value a string, read
    as go-yaml v3 reads it (tools/engine_config.py), not as PyYAML's YAML 1.1 would."""
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
    ``team`` (default: on for an update of the main project) fills the operator values the
    stack file leaves to the team from ``TEAM_VALUES``; ``team=False`` runs the file as shipped.
    ``zone_map`` is the account's zone names -> ids (default ``ZONE_MAP``). ``python`` is the
    interpreter the deploy runs on (default: the Lambda runtime's, as the workflows pin it).
    """
    config = stack_config(stack, root)
    if team or (team is None and not (preview or unknowns) and project == PROJECT):
        config = {**TEAM_VALUES, **config}
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


@contextlib.contextmanager
def _references_as_ids() -> Iterator[None]:
    """Read resource references among inputs (a role given to eks.Cluster) as their id or URN.

    The SDK would rebuild the referenced resource on the monitor's thread, in another event
    loop than the program's, and the run then fails with "attached to a different loop".
    """
    from pulumi.runtime import rpc

    original = rpc.get_resource_module
    rpc.get_resource_module = lambda *_args: None  # type: ignore[assignment]
    try:
        yield
    finally:
        rpc.get_resource_module = original
