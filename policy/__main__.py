"""The Phase Mirror CrossGuard pack: ``pulumi preview --policy-pack policy``.

Thin wrappers: each CrossGuard policy calls one plain function of ``rules.py``, the same function
the offline preview (``python -m tools.preview``) and the tests run. Every policy is mandatory.

Policy config (``--policy-pack-config policy/<stack>.json``, which the workflows pass):
``deletion-protection-in-production`` takes ``{"environment": "staging" | "production"}``;
without it the resource's ``Environment`` tag decides, and an untagged resource is judged as
production.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

if not __package__:
    # Run by the CLI's policy analyzer (runpy on this folder): make the `policy` package
    # importable, so the rules are the same modules the tests and tools.preview import.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy import rules

PACK_NAME = "phase-mirror"
ENVIRONMENT_SCHEMA = PolicyConfigSchema(
    properties={"environment": {"type": "string", "enum": ["staging", "production"]}}
)


def _undecidable(exc: rules.Undecidable) -> UnknownValueError:
    # CrossGuard reports this as its "can't run policy during preview" advisory; `pulumi up`
    # runs the policy again with the known value before it creates the resource.
    return UnknownValueError(UNKNOWN_STRING_VALUE, exc.path.split("."))


def context_of(args: ResourceValidationArgs, props: Any) -> rules.Context:
    provider = rules.plain(args.provider.props) if args.provider else {}
    default_tags = rules.get(provider, "defaultTags") or {}
    try:
        tags = rules.effective_tags(props, rules.Context(default_tags=default_tags))
    except rules.Undecidable:
        tags = {}
    return rules.Context(
        environment=rules.environment_of(args.get_config().get("environment"), tags),
        default_tags=default_tags,
        protect=bool(args.opts.protect) if args.opts else False,
    )


def resource_policy(rule: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies(args.resource_type):
            return
        props = rules.plain(args.props)
        try:
            messages = rule.check(args.resource_type, props, context_of(args, props))
        except rules.Undecidable as exc:
            raise _undecidable(exc) from exc
        for message in messages:
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=(
            ENVIRONMENT_SCHEMA if rule.name == "deletion-protection-in-production" else None
        ),
    )


def stack_policy(rule: rules.StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        subjects = [
            rules.Subject(
                type=r.resource_type,
                name=r.name,
                urn=r.urn,
                props=rules.plain(r.props),
                id=rules.get(rules.plain(r.props), "id"),
                property_dependencies={
                    k: [d.urn for d in deps] for k, deps in r.property_dependencies.items()
                },
            )
            for r in args.resources
        ]
        try:
            found = rule.check(subjects)
        except rules.Undecidable as exc:
            raise _undecidable(exc) from exc
        for urn, message in found:
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES: list[Policy] = [
    *(resource_policy(r) for r in rules.RESOURCE_RULES),
    *(stack_policy(r) for r in rules.STACK_RULES),
]

if __name__ == "__main__":
    # Serves the analyzer over gRPC until the CLI stops it, so only when run as the pack.
    PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
