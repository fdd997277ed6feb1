"""Every AWS resource is tagged once through its component's provider; names never collide."""

from __future__ import annotations

import json
import re

REQUIRED_TAGS = {"Project", "Component", "Environment", "ManagedBy"}


def test_every_aws_resource_gets_the_four_tags_from_its_component_provider(program):
    env = program.config["phase-mirror-infra:environment"]
    for resource in program:
        if not resource.type.startswith("aws:"):
            continue
        provider = program.provider_of(resource)
        assert provider is not None, f"{resource.urn} uses the untagged default provider"
        # Providers receive nested config JSON-encoded, as the engine passes it.
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert set(tags) == REQUIRED_TAGS, resource.urn
        assert tags["ManagedBy"] == "Pulumi" and tags["Environment"] == env, resource.urn
        component = resource.component_type.rsplit(":", 1)[-1]
        assert tags["Component"] == component, f"{resource.urn} tagged {tags['Component']}"


def test_tags_are_not_repeated_on_resources(program):
    for resource in program:
        if resource.type.startswith("aws:"):
            assert not (REQUIRED_TAGS & set(resource.inputs.get("tags") or {})), resource.urn


# The naming rule, after a prefix AWS mandates for the type (log groups, KMS aliases).
RULE = re.compile(r"(alias/|/aws/[a-z-]+/(instance/)?)?/?phase-mirror[-/].*")
# Names that live inside another resource, not in the account: an HTTP API's "$default" stage.
SCOPED_NAMES = {"aws:apigatewayv2/stage:Stage"}


def test_physical_names_differ_between_stacks_and_follow_the_rule(staging, production):
    def names(run):
        return {
            (r.type, r.inputs["name"])
            for r in run
            if r.type.startswith("aws:")
            and r.type not in SCOPED_NAMES
            and isinstance(r.inputs.get("name"), str)
        }

    staging_names, production_names = names(staging), names(production)
    assert staging_names and not (staging_names & production_names)
    for run, physical in ((staging, staging_names), (production, production_names)):
        for type_, name in physical:
            assert RULE.fullmatch(name), (type_, name)
            assert run.stack in name, (type_, name)
