"""Offline preview: the whole program under mocks, the policy rules, the pre-production checklist.

    python -m tools.preview STACK [--json FILE] [--against REF [--allow-replace URN ...]]

Runs ``__main__.py`` with ``Pulumi.<STACK>.yaml`` under the test mocks as a dry run, as
``pulumi preview`` does (no Pulumi CLI, no cloud credentials, no network), prints each resource
grouped by component with the settings a reviewer checks, the program's warnings (each operator
value the stack still lacks), then every violation of ``policy/rules.py`` (the functions the
CrossGuard pack runs), then the pre-production checklist (``tools/checklist.py``). Exits 1 on
any violation or failed checklist item; warnings do not fail it. ``--json`` writes the same findings with secret values masked.
``--against REF`` adds ``tools.against``: exit 1 (2 if REF cannot be run) when a stateful
resource of REF would be replaced or removed, unless ``--allow-replace URN`` names it.
Exit 2, with one line on stderr and nothing else, when the stack file is missing or unreadable,
the stack's config is refused (the line names the key), or REF is not a commit.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pulumi

from policy import rules
from testing.program import PROJECT, ROOT, ProgramRun, Resource, StackFileError, run_program
from tools import against, checklist

# What a reviewer looks at per type (dotted input paths); other types show their name only.
SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:dynamodb/table:Table": (
        "name", "billingMode", "pointInTimeRecovery.enabled", "deletionProtectionEnabled",
        "serverSideEncryption.kmsKeyArn", "ttl.attributeName",
    ),
    "aws:kms/key:Key": ("enableKeyRotation", "deletionWindowInDays"),
    "aws:s3/bucket:Bucket": ("bucket", "forceDestroy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration.status",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm",
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays", "kmsKeyId"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "name", "metricName", "comparisonOperator", "threshold", "period",
    ),
    "aws:cloudtrail/trail:Trail": (
        "name", "isMultiRegionTrail", "enableLogFileValidation", "kmsKeyId", "s3BucketName",
    ),
    "aws:lambda/function:Function": (
        "name", "runtime", "memorySize", "timeout", "reservedConcurrentExecutions",
        "loggingConfig.logGroup",
    ),
    "aws:rds/instance:Instance": (
        "identifier", "engineVersion", "instanceClass", "multiAz", "publiclyAccessible",
        "storageEncrypted", "iamDatabaseAuthenticationEnabled", "backupRetentionPeriod",
        "deletionProtection",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "nodeType", "numCacheClusters", "automaticFailoverEnabled", "atRestEncryptionEnabled",
        "transitEncryptionEnabled",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "fromPort", "toPort", "cidrIpv4", "referencedSecurityGroupId",
    ),
    "eks:index:Cluster": (
        "version", "endpointPrivateAccess", "endpointPublicAccess", "enabledClusterLogTypes",
    ),
    "aws:secretsmanager/secret:Secret": ("name", "kmsKeyId"),
    "aws:sns/topic:Topic": ("name", "kmsMasterKeyId"),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:iam/role:Role": ("name", "maxSessionDuration"),
}  # fmt: skip

MASK = "[secret]"
_SECRET_KEY = re.compile(r"password|passwd|secret|token|privatekey|credential|salt|nonce")
_REFERENCE_KEY = re.compile(r"(arn|id|name|path|url|ttl|seconds|days|description|endpoint)$")


@dataclass
class Report:
    stack: str
    run: ProgramRun
    violations: list[rules.Violation]
    advisories: list[rules.Violation]
    checklist: list[checklist.Item]

    @property
    def failed(self) -> bool:
        return bool(self.violations) or any(i.status == "fail" for i in self.checklist)


def context_for(run: ProgramRun, resource: Resource) -> rules.Context:
    provider = run.provider_of(resource)
    default_tags = provider.inputs.get("defaultTags", {}) if provider else {}
    tags = rules.effective_tags(
        rules.plain(resource.inputs), rules.Context(default_tags=default_tags)
    )
    # The stack's own `environment` setting plays the part of the pack's policy config
    # (policy/<stack>.json in the workflows).
    configured = run.config.get(f"{PROJECT}:environment")
    return rules.Context(
        environment=rules.environment_of(configured, tags),
        default_tags=default_tags,
        protect=resource.protect,
    )


def policy_findings(run: ProgramRun) -> tuple[list[rules.Violation], list[rules.Violation]]:
    """The pack's rules over every resource (as CrossGuard would), then the stack rules."""
    found: list[rules.Violation] = []
    undecided: list[rules.Violation] = []
    for r in run.resources:
        if r.type.startswith("pulumi:") or not (r.custom or r.type == "eks:index:Cluster"):
            continue  # components own nothing in AWS; the remote eks Cluster has real settings
        f, u = rules.check_resource(r.type, r.urn, r.inputs, context_for(run, r))
        found += f
        undecided += u
    f, u = rules.check_stack([checklist.subject(r) for r in run.resources])
    return found + f, undecided + u


def build(stack: str, run: ProgramRun | None = None) -> Report:
    run = run if run is not None else run_program(stack, preview=True)
    violations, advisories = policy_findings(run)
    return Report(stack, run, violations, advisories, checklist.evaluate(run, violations))


def masked(value: Any, key: str = "") -> Any:
    """Secrets the engine marks (the mocks keep them wrapped) and secret-looking keys hidden."""
    if isinstance(value, dict) and value.get(rules.SECRET_SIG_KEY) == rules.SECRET_SIG:
        return MASK
    normal = key.lower().replace("_", "").replace("-", "")
    if normal and _SECRET_KEY.search(normal) and not _REFERENCE_KEY.search(normal):
        # Flags such as skipCredentialsValidation stay readable; any other value is hidden.
        return value if value in (None, "", True, False, "true", "false") else MASK
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return f"[{type(value).__name__}]"  # not its repr, whose address changes every run
    return "[unknown]" if rules.plain(value) is rules.UNKNOWN else str(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    text = str(value)
    return text if len(text) <= 64 else "..." + text[-61:]


def _label(path: str) -> str:
    parts = [p for p in path.split(".") if not p.isdigit()]
    # "enabled" or "status" alone would not say of what.
    return ".".join(parts[-2:]) if parts[-1] in ("enabled", "status") else parts[-1]


def _top_component(run: ProgramRun, resource: Resource) -> Resource | None:
    by_urn = {r.urn: r for r in run.resources}
    node, top = resource, None
    while node.parent in by_urn:
        node = top = by_urn[node.parent]
    return top


def render_resources(run: ProgramRun) -> list[str]:
    groups: dict[str, list[str]] = {}
    for r in run.resources:
        if r.type.startswith("pulumi:") or not (r.custom or r.type.startswith("eks:")):
            continue
        top = _top_component(run, r)
        title = f"{top.name} ({top.type})" if top else "(top level)"
        inputs = masked(r.inputs)
        shown = [
            f"{_label(path)}={_show(v)}"
            for path in SETTINGS.get(r.type, ())
            if (v := rules.get(inputs, path)) is not None
        ]
        flag = " [protected]" if r.protect else ""
        groups.setdefault(title, []).append(
            f"  {r.type.split(':')[-1]} {r.name}{flag}  " + " ".join(shown)
        )
    lines = []
    for title in sorted(groups):
        lines += [f"== {title}", *sorted(groups[title])]
    return lines


def render(report: Report) -> str:
    items = report.checklist
    counts = {s: sum(i.status == s for i in items) for s in ("pass", "fail", "warn", "manual")}
    lines = [
        f"Offline preview of stack {report.stack}: {len(report.run.resources)} resources "
        "(mocks; no Pulumi CLI, credentials or network)",
        *render_resources(report.run),
        "",
        f"== Program warnings: {len(report.run.warnings)}",
        *(f"  WARNING {w}" for w in report.run.warnings),
        "",
        f"== Policy pack: {len(rules.RESOURCE_RULES) + len(rules.STACK_RULES)} mandatory rules, "
        f"{len(report.violations)} violations",
        *(
            f"  VIOLATION {v.policy}: {v.urn.rsplit('::', 1)[-1]}: {v.message}"
            for v in report.violations
        ),
        *(f"  advisory {v.policy}: {v.message}" for v in report.advisories),
        "",
        f"== Pre-production checklist: {counts['fail']} fail, {counts['warn']} warn, "
        f"{counts['manual']} manual, {counts['pass']} pass",
        *(
            f"  [{i.status.upper():6}] {i.section} {i.title}: {i.reason}"
            for i in checklist.ordered(items)
        ),
        "",
        "Result: " + ("FAIL" if report.failed else "PASS"),
    ]
    return "\n".join(lines)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "resources": [
            {"type": r.type, "name": r.name, "inputs": masked(r.inputs)}
            for r in report.run.resources
        ],
        "violations": [asdict(v) for v in report.violations],
        "checklist": [asdict(i) for i in report.checklist],
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.preview",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python -m tools.preview staging\n"
        "  python -m tools.preview production --json preview.json --against origin/main",
    )
    parser.add_argument("stack", help="stack name: Pulumi.<stack>.yaml is read")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write findings as JSON")
    parser.add_argument(
        "--against",
        metavar="REF",
        help="also fail if, compared with git ref REF, a stateful resource would be replaced "
        "or removed (tools/against.py)",
    )
    parser.add_argument(
        "--allow-replace",
        metavar="URN",
        action="append",
        default=[],
        help="with --against: accept replacing or removing this URN (repeatable)",
    )
    return parser


def _refuse(message: str) -> int:
    print(f"tools.preview: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.allow_replace and not args.against:
        parser.error("--allow-replace accepts what the comparison with --against REF finds")
    try:
        if args.against:
            against.resolve_ref(args.against, ROOT)  # a bad ref stops before any report
        report = build(args.stack)
    except (StackFileError, against.AgainstError) as exc:
        return _refuse(str(exc))
    except pulumi.RunError as exc:
        # The program's ConfigError: one line naming the key, the value and what is allowed.
        return _refuse(f"stack {args.stack}: {exc}")
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(to_json(report), indent=2, default=str) + "\n")
    status = 1 if report.failed else 0
    if args.against:
        print()
        status = max(status, against.report(args.stack, args.against, set(args.allow_replace)))
    return status


if __name__ == "__main__":
    sys.exit(main())
