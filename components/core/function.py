"""One Lambda function as this project builds them: role, log group, package, function.

``lambda_function`` is a plain function, not a component: its resources are children of the
component that owns the function, so a newcomer finds them there and the owner's provider tags
them. It also records each function's name for the run (``registered_function_names``): the
alarms, created last, give every function its ``Errors`` and ``Throttles`` alarms without
anyone listing it. Each role gets one inline policy built from its ``Grants`` (the ``grant_*``
methods of the components that own the resources, components/core/grants.py), plus writing to its own
log group and X-Ray. Tests read that one policy and prove it with moto.
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core.base import log_group, service_trust
from components.core.grants import Grants
from components.core.key_policy import via
from components.observability.alarm_catalog import SERVICE_NAMESPACE

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
BUILD = LAMBDAS.parent / "build"
# Modules every function ships beside its own (caller identity, keyed hashes, the salt).
SHARED = "shared"
RUNTIME = "python3.13"
ARCHITECTURE = "x86_64"

Statement = Mapping[str, Any]

# Powertools and the one dependency the Lambda runtime lacks (jmespath comes with boto3), as
# installed from requirements.txt: the layer ships exactly the version the tests ran against.
LAYER_PACKAGES = ("aws_lambda_powertools", "typing_extensions")

LAMBDA_TRUST = service_trust("lambda.amazonaws.com")
# Where every function's Powertools metrics go: the alarms read the same, single definition.
METRICS_NAMESPACE = SERVICE_NAMESPACE


def powertools_environment(service: str) -> dict[str, str]:
    """Powertools' own settings: the log's ``service`` and the metrics' namespace."""
    return {"POWERTOOLS_SERVICE_NAME": service, "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


# Function names per program run, keyed by the run's root stack resource: tests run the program
# many times in one process, and each run must see only its own functions.
_REGISTERED: weakref.WeakKeyDictionary[pulumi.Resource, list[str]] = weakref.WeakKeyDictionary()


def registered_function_names() -> tuple[str, ...]:
    """The physical names of every function ``lambda_function`` created so far in this run."""
    root = pulumi.runtime.get_root_resource()
    return tuple(_REGISTERED.get(root, ())) if root is not None else ()


def allow(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    condition: Mapping[str, Any] | None = None,
) -> Statement:
    """One Allow statement; the components' ``grant_*`` methods are built from it."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": list(resources),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def key_via_service(
    sid: str, actions: Sequence[str], key_arn: pulumi.Input[str], service: str, region: str
) -> Statement:
    """Use of a KMS key only through the AWS service that owns the data it protects."""
    return allow(sid, actions, [key_arn], via(service, region))


# X-Ray accepts no resource-level permissions: "*" is the only resource these actions take.
XRAY_STATEMENT: Statement = {
    "Sid": "WriteTraces",
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}


@dataclass(frozen=True, kw_only=True)
class FunctionArgs:
    """Inputs of one function.

    - name: the physical function name (``naming.physical(role)``); also names the role and
      the log group ``/aws/lambda/{name}``.
    - code: the folder under ``lambdas/`` holding ``handler.py`` (entry ``handler.handler``).
    - grants: what its code needs, added by the components that own the resources.
    - environment: variables (never secrets: the salt is read from Secrets Manager).
    - memory_mb, timeout_s: sized from the benchmark (bench/).
    - reserved_concurrency: the most copies that may run at once.
    - env_key_arn: CMK encrypting the environment; log_key_arn / log_retention_days: its log
      group's CMK and retention; layers: layer ARNs (Powertools).
    """

    name: str
    code: str
    description: str
    grants: Grants
    environment: Mapping[str, pulumi.Input[str]]
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int
    env_key_arn: pulumi.Input[str]
    log_key_arn: pulumi.Input[str]
    log_retention_days: int
    layers: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True)
class MovedFrom:
    """Where a function's resources were registered before: their key stem and their parent
    (``None``: the same parent, e.g. one whose type was renamed and which carries the alias)."""

    key: str
    parent: pulumi.Resource | None = None

    def options(self, parent: pulumi.Resource, suffix: str, **extra: Any) -> pulumi.ResourceOptions:
        name = f"{self.key}-{suffix}"
        alias = (
            pulumi.Alias(name=name, parent=self.parent) if self.parent else pulumi.Alias(name=name)
        )
        return pulumi.ResourceOptions(parent=parent, aliases=[alias], **extra)


@dataclass(frozen=True)
class Function:
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    function: aws.lambda_.Function


def runtime_version(runtime: str | None = None) -> tuple[int, int]:
    major, minor = (runtime or RUNTIME).removeprefix("python").split(".")
    return int(major), int(minor)


def build_python() -> tuple[int, int]:
    """The Python this program runs on, which decides whether the layer carries bytecode."""
    return sys.version_info[0], sys.version_info[1]


def build_python_problem() -> str | None:
    """Why this Python cannot build the layer as deployed (None on the runtime's own Python).

    The layer's asset hash covers its bytecode, which only the runtime's Python can produce:
    a deploy from another Python would replace the layer and every function's version with a
    sources-only build that recompiles Powertools at each cold start.
    """
    here, runtime = build_python(), runtime_version()
    if here == runtime:
        return None
    return (
        "the Lambda layer is built with bytecode on Python {}.{} only (the runtime {}); this is "
        "Python {}.{}: recreate .venv with python{}.{} -m venv .venv, or deploy through the "
        "deploy workflow, which pins it".format(*runtime, RUNTIME, *here, *runtime)
    )


def layer_archive(
    packages: Sequence[str] = LAYER_PACKAGES, *, build_dir: Path = BUILD / "layer-bytecode"
) -> pulumi.AssetArchive:
    """The installed packages under ``python/``, where Lambda looks for them.

    Lambda's file system is read-only, so a layer without bytecode makes Python compile every
    module it imports at each cold start (about 80 ms for Powertools, bench/). When the program
    runs on the runtime's own Python (the deploy and preview workflows use 3.13), the layer
    also carries bytecode, compiled with hash-checked invalidation and the path Lambda loads it
    from, so the same sources always give the same bytes. On any other Python the layer holds
    sources only: bytecode of another version would be ignored by Lambda anyway.
    """
    compile_here = sys.version_info[:2] == runtime_version()
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"{name} is not installed: run ./scripts/check first")
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            base = origin.parent.parent
            sources = sorted(p for p in origin.parent.rglob("*.py") if "__pycache__" not in p.parts)
        else:
            base, sources = origin.parent, [origin]
        for source in sources:
            relative = source.relative_to(base)
            assets[f"python/{relative}"] = pulumi.FileAsset(str(source))
            if compile_here:
                cached = Path(importlib.util.cache_from_source(str(relative)))
                target = build_dir / cached
                target.parent.mkdir(parents=True, exist_ok=True)
                py_compile.compile(
                    str(source),
                    cfile=str(target),
                    dfile=f"/opt/python/{relative}",
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
                )
                assets[f"python/{cached}"] = pulumi.FileAsset(str(target))
    return pulumi.AssetArchive(assets)


def powertools_layer(parent: pulumi.Resource, key: str, name: str) -> aws.lambda_.LayerVersion:
    return aws.lambda_.LayerVersion(
        key,
        layer_name=name,
        description="Powertools for AWS Lambda (Python), as pinned in requirements.txt",
        code=layer_archive(),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _sources(folder: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def package(code: str) -> pulumi.AssetArchive:
    """The function's own ``.py`` files and the shared modules, side by side at the root.

    Lambda puts the archive's root on ``sys.path``, so ``lambdas/shared/caller.py`` is imported
    as ``caller``. A module present in both folders would silently shadow the other: refused.
    Only file paths and contents enter the archive, in sorted order, so the asset's hash
    changes only when a shipped file does.
    """
    folder = LAMBDAS / code
    own, shared = _sources(folder), _sources(LAMBDAS / SHARED)
    if "handler.py" not in own:
        raise FileNotFoundError(f"{folder} has no handler.py")
    clash = sorted(set(own) & set(shared))
    if clash:
        raise ValueError(
            f"lambdas/{code} and lambdas/{SHARED} both hold {', '.join(clash)}: "
            "one archive root cannot hold two modules of one name; rename one"
        )
    project_root = LAMBDAS.parent
    files = {**own, **shared}
    return pulumi.AssetArchive(
        {
            name: pulumi.FileAsset(str(files[name].relative_to(project_root)))
            for name in sorted(files)
        }
    )


def unique_statements(statements: Sequence[Statement]) -> list[Statement]:
    """Drop repeats of one statement; two different statements with one Sid are a bug.

    IAM rejects a policy whose Sids repeat; a shared statement (a table key's) may reach a role
    through two grants.
    """
    by_sid: dict[str, Statement] = {}
    for statement in statements:
        seen = by_sid.setdefault(statement["Sid"], statement)
        if seen is not statement:
            raise ValueError(f"two different IAM statements share the Sid {statement['Sid']!r}")
    return list(by_sid.values())


def lambda_function(
    parent: pulumi.Resource, key: str, args: FunctionArgs, moved_from: MovedFrom | None = None
) -> Function:
    """Create the role, log group, policy and function of one Lambda under ``parent``.

    ``key`` is the stable logical-name stem (``f"{component}-{role}"``); ``moved_from`` keeps
    the identity of resources registered under another stem or parent before.
    """
    root = pulumi.runtime.get_root_resource()
    if root is not None:
        _REGISTERED.setdefault(root, []).append(args.name)

    def child(suffix: str, **extra: Any) -> pulumi.ResourceOptions:
        if moved_from is None:
            return pulumi.ResourceOptions(parent=parent, **extra)
        return moved_from.options(parent, suffix, **extra)

    role = aws.iam.Role(
        f"{key}-role",
        name=args.name,
        assume_role_policy=LAMBDA_TRUST,
        max_session_duration=3600,
        opts=child("role"),
    )
    logs = log_group(
        f"{key}-logs",
        f"/aws/lambda/{args.name}",
        key_arn=args.log_key_arn,
        retention_days=args.log_retention_days,
        opts=child("logs"),
    )
    own_logs: Statement = {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": logs.arn.apply(lambda arn: f"{arn}:*"),
    }
    statements = unique_statements([*args.grants.close(), own_logs, XRAY_STATEMENT])
    policy = aws.iam.RolePolicy(
        f"{key}-policy",
        name=f"{args.name}-permissions",
        role=role.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": statements,
            }
        ),
        opts=child("policy"),
    )
    function = aws.lambda_.Function(
        f"{key}-function",
        name=args.name,
        description=args.description,
        role=role.arn,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler="handler.handler",
        code=package(args.code),
        memory_size=args.memory_mb,
        timeout=args.timeout_s,
        reserved_concurrent_executions=args.reserved_concurrency,
        kms_key_arn=args.env_key_arn,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON", log_group=logs.name
        ),
        layers=list(args.layers),
        # The log group and policy exist before the first invocation can need them.
        opts=child("function", depends_on=[logs, policy]),
    )
    return Function(role=role, log_group=logs, function=function)
