"""Change safety: the replacement table, protected data, and ``tools.against``.

The comparison tests build two small runs by hand (GIVEN the program at a ref and in the work
tree, WHEN compared, THEN ...); tests/test_against_git.py runs the real program at real refs.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import alias_pb2

from testing.program import ProgramRun, Resource
from tools import against, replacement
from tools.replacement import STATEFUL, STATEFUL_RESOURCES, is_stateful

TABLE = "aws:dynamodb/table:Table"
RDS = "aws:rds/instance:Instance"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
BASE = "urn:pulumi:production::phase-mirror-infra::"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _resource_class(token: str) -> type:
    package, rest = token.split(":", 1)
    module_path, cls = rest.rsplit(":", 1)
    module = module_path.split("/")[0] if package == "aws" else ""
    sdk = "pulumi_aws" if package == "aws" else "pulumi_eks"
    mod = importlib.import_module(f"{sdk}.{module}" if module else sdk)
    return getattr(mod, cls)


ENTRIES = {**STATEFUL, **STATEFUL_RESOURCES}


@pytest.mark.parametrize("key", sorted(ENTRIES))
def test_every_replace_forcing_input_is_an_argument_of_the_installed_sdk(key):
    """A misspelt input name would never match a change: check each against the SDK."""
    token = ENTRIES[key].token
    cls = _resource_class(token)
    params = set(inspect.signature(cls._internal_init).parameters)  # type: ignore[attr-defined]
    for forcing in ENTRIES[key].forcing:
        top = _snake(forcing.name.split(".")[0])
        assert top in params, f"{token}: {forcing.name} ({top}) is not an argument of {cls}"
        assert forcing.source.startswith(("https://", ".venv/")), (token, forcing)
    for secret in ENTRIES[key].secret_inputs:
        assert _snake(secret) in params, f"{token}: secret input {secret} unknown"


def test_every_stateful_type_is_gated():
    wanted = {
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        TABLE,
        "aws:s3/bucket:Bucket",
        "aws:secretsmanager/secret:Secret",
        SECRET_VERSION,
        "aws:kms/key:Key",
        "eks:index:Cluster",
        "aws:cloudtrail/trail:Trail",
        "aws:backup/vault:Vault",
    }
    assert wanted <= set(STATEFUL), wanted - set(STATEFUL)
    assert "hashKey" in replacement.forcing_inputs(TABLE)
    assert replacement.forcing_inputs("aws:iam/role:Role") == ()


def test_resources_gated_by_urn_exist_in_the_baseline_stack_with_their_type(production):
    """A URN entry that no longer names a resource would silently gate nothing."""
    by_key = {replacement.urn_key(r.urn): r for r in production}
    for key, entry in STATEFUL_RESOURCES.items():
        assert key in by_key, f"{key} is not a resource of the production program"
        assert by_key[key].type == entry.token, key
        assert is_stateful(entry.token, by_key[key].urn)
    # one log group by URN, not every log group by type
    other = next(
        r
        for r in production
        if r.type == "aws:cloudwatch/logGroup:LogGroup"
        and replacement.urn_key(r.urn) not in STATEFUL_RESOURCES
    )
    assert not is_stateful(other.type, other.urn)
    assert replacement.forcing_inputs(other.type, other.urn) == ()
    assert "name" in replacement.forcing_inputs(entry.token, by_key[key].urn)


def test_a_removed_trail_log_group_is_reported(production):
    (group,) = [r for r in production if r.name == "audit-trail-trail-logs"]
    old = ProgramRun(stack="production", config={}, resources=[group])
    (change,) = against.compare(old, run_of())
    assert change.kind == "removed" and "CloudTrail log group" in change.describe()


def test_type_of_urn_reads_the_last_type_of_the_chain():
    urn = f"{BASE}phase-mirror:index:DataTier$aws:rds/instance:Instance::data-tier-db"
    assert replacement.type_of_urn(urn) == RDS
    with pytest.raises(ValueError, match="not a Pulumi URN"):
        replacement.type_of_urn("arn:aws:rds:us-east-1:123456789012:db:x")


def test_production_protects_and_retains_every_stateful_resource(production):
    stateful = [r for r in production if is_stateful(r.type, r.urn)]
    assert {r.type for r in stateful} >= {TABLE, "aws:kms/key:Key", "aws:backup/vault:Vault"}
    unprotected = [r.urn for r in stateful if not (r.protect and r.retain_on_delete)]
    assert not unprotected, (
        "production stateful resources without protect + retain_on_delete:\n"
        + ("\n".join(unprotected))
    )


def test_staging_stateful_resources_can_be_torn_down(staging):
    assert staging.config["phase-mirror-infra:deletionProtection"] == "false"
    stateful = [r for r in staging if is_stateful(r.type, r.urn)]
    assert stateful
    kept = [r.urn for r in stateful if r.protect or r.retain_on_delete]
    assert not kept, "staging resources protected or retained:\n" + "\n".join(kept)


# --- tools.against: the comparison -------------------------------------------------------


def res(
    type_: str, name: str, inputs: dict[str, Any], *, parent: str = "", **extra: Any
) -> Resource:
    """A recorded resource, every other field at its empty value."""
    chain = parent.split("::")[2] + "$" if parent else ""
    values: dict[str, Any] = {
        "type": type_,
        "name": name,
        "urn": f"{BASE}{chain}{type_}::{name}",
        "inputs": inputs,
        "parent": parent,
        **extra,
    }
    for f in dataclasses.fields(Resource):
        if f.name not in values:
            values[f.name] = {"str": "", "bool": False}.get(
                str(f.type), [] if "list" in str(f.type) else {}
            )
    return Resource(**values)


def run_of(*resources: Resource) -> ProgramRun:
    return ProgramRun(stack="production", config={}, resources=list(resources))


STORE = f"{BASE}phase-mirror:index:CalibrationStore::calibration-store"
CONSENT = {"name": "phase-mirror-consent-store-production", "hashKey": "orgId"}


def test_unchanged_stateful_resources_pass():
    old = run_of(res(TABLE, "consent", CONSENT, parent=STORE))
    new = run_of(res(TABLE, "consent", dict(CONSENT), parent=STORE))
    assert against.compare(old, new) == []


def test_a_changed_hash_key_is_a_replacement_naming_the_input_and_both_values():
    old = run_of(res(TABLE, "consent", CONSENT, parent=STORE))
    new = run_of(res(TABLE, "consent", {**CONSENT, "hashKey": "organisationId"}, parent=STORE))
    (change,) = against.compare(old, new)
    assert change.kind == "replaced" and change.blocking
    assert (change.input, change.old, change.new) == ("hashKey", "'orgId'", "'organisationId'")
    assert change.urn in change.describe() and "DynamoDB table" in change.describe()


def test_a_change_outside_the_forcing_inputs_is_not_reported():
    old = run_of(res(TABLE, "consent", {**CONSENT, "billingMode": "PROVISIONED"}))
    new = run_of(res(TABLE, "consent", {**CONSENT, "billingMode": "PAY_PER_REQUEST"}))
    assert against.compare(old, new) == []


def test_a_stateful_resource_missing_from_the_work_tree_is_removed():
    old = run_of(res(TABLE, "consent", CONSENT), res("aws:iam/role:Role", "r", {}))
    (change,) = against.compare(old, run_of())
    assert change.kind == "removed" and change.urn.endswith("::consent")


def test_a_renamed_resource_with_an_alias_is_the_same_resource():
    alias = alias_pb2.Alias(spec=alias_pb2.Alias.Spec(name="consent"))
    old = run_of(res(TABLE, "consent", CONSENT, parent=STORE))
    renamed = res(TABLE, "consent-store", CONSENT, parent=STORE, aliases=[alias])
    assert against.compare(old, run_of(renamed)) == []
    without_alias = res(TABLE, "consent-store", CONSENT, parent=STORE)
    assert [c.kind for c in against.compare(old, run_of(without_alias))] == ["removed"]


def test_a_resource_moved_out_of_its_component_keeps_identity_through_an_alias_on_parent():
    old = run_of(res(TABLE, "consent", CONSENT, parent=STORE))
    moved = res(
        TABLE,
        "consent",
        CONSENT,
        aliases=[alias_pb2.Alias(spec=alias_pb2.Alias.Spec(parentUrn=STORE))],
    )
    assert against.compare(old, run_of(moved)) == []


def test_a_nested_block_input_is_compared_by_path():
    eks = "aws:eks/cluster:Cluster"
    old = run_of(res(eks, "c", {"name": "c", "kubernetesNetworkConfig": {"serviceIpv4Cidr": "a"}}))
    new = run_of(res(eks, "c", {"name": "c", "kubernetesNetworkConfig": {"serviceIpv4Cidr": "b"}}))
    (change,) = against.compare(old, new)
    assert change.input == "kubernetesNetworkConfig.serviceIpv4Cidr"


def test_secret_values_are_masked_even_when_they_change():
    old = run_of(res(SECRET_VERSION, "v", {"secretId": "s", "secretString": "old-salt-value"}))
    new = run_of(res(SECRET_VERSION, "v", {"secretId": "s", "secretString": "new-salt-value"}))
    (change,) = against.compare(old, new)
    text = change.describe()
    assert "old-salt-value" not in text and "new-salt-value" not in text, text
    assert change.input == "secretString" and "[secret]" in text


def test_a_value_the_program_marked_secret_is_masked_whatever_its_input():
    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": "hunter2"}
    old = run_of(res(TABLE, "t", {**CONSENT, "name": "a"}))
    new = run_of(res(TABLE, "t", {**CONSENT, "name": secret}))
    (change,) = against.compare(old, new)
    assert "hunter2" not in change.describe(), change.describe()


def test_renaming_the_database_is_reported_but_does_not_block():
    old = run_of(res(RDS, "db", {"identifier": "phase-mirror-db-production"}))
    new = run_of(res(RDS, "db", {"identifier": "phase-mirror-database-production"}))
    (change,) = against.compare(old, new)
    assert change.kind == "renamed" and not change.blocking


def test_a_change_to_an_ignored_input_replaces_nothing():
    # The salt's first version is written once; ignore_changes keeps the engine off it.
    old = run_of(res(SECRET_VERSION, "v", {"secretId": "s", "secretString": "a"}))
    new = run_of(
        res(
            SECRET_VERSION,
            "v",
            {"secretId": "s", "secretString": "b"},
            ignore_changes=["secretString", "versionStages"],
        )
    )
    assert against.compare(old, new) == []


def test_allow_replace_accepts_exactly_the_named_urns():
    table = f"{BASE}{TABLE}::consent"
    key = f"{BASE}aws:kms/key:Key::key"
    changes = [
        against.Change(table, TABLE, "replaced", "hashKey", "'a'", "'b'"),
        against.Change(key, "aws:kms/key:Key", "removed"),
    ]
    lines, status = against.verdict(changes, {table})
    assert status == 1 and "1 stateful resource(s)" in lines[-1]
    assert any(table in line and "allowed by --allow-replace" in line for line in lines)
    lines, status = against.verdict(changes, {table, key, f"{BASE}typo"})
    assert status == 0
    assert any("typo matches no replaced or removed resource" in line for line in lines)
    # Each allowed URN is named with the change it allows; the summary claims nothing more.
    assert f"  --allow-replace {table} allowed: hashKey: 'a' -> 'b'" in lines
    assert f"  --allow-replace {key} allowed: removed" in lines
    assert lines[-1] == "passing: only the 2 URN(s) allowed above would be replaced or removed"


def test_renames_alone_pass():
    rename = against.Change(f"{BASE}{RDS}::db", RDS, "renamed", "identifier", "'a'", "'b'")
    assert against.verdict([rename], set())[1] == 0


VAULT = "aws:backup/vault:Vault"
KEY = "aws:kms/key:Key"


def key_and_vault(key_name: str, key_arn: str, **key_extra: Any) -> ProgramRun:
    key = res(KEY, key_name, {}, outputs={"arn": key_arn}, **key_extra)
    vault = res(VAULT, "vault", {"name": "v", "kmsKeyArn": key_arn})
    return run_of(key, vault)


def test_a_reference_to_a_key_renamed_with_an_alias_is_the_same_key():
    # GIVEN the vault's key renamed with an alias: the mocks give it a new ARN
    old = key_and_vault("key", "arn:aws:kms:us-east-1:1:key/old")
    alias = alias_pb2.Alias(spec=alias_pb2.Alias.Spec(name="key"))
    new = key_and_vault("vault-key", "arn:aws:kms:us-east-1:1:key/new", aliases=[alias])
    # THEN the vault still uses the same key: nothing is replaced
    assert against.compare(old, new) == []


def test_a_reference_to_a_different_key_replaces_the_vault():
    old = key_and_vault("key", "arn:aws:kms:us-east-1:1:key/old")
    new = key_and_vault("vault-key", "arn:aws:kms:us-east-1:1:key/new")
    kinds = {(c.urn.rsplit("::", 1)[1], c.kind, c.input) for c in against.compare(old, new)}
    assert kinds == {("key", "removed", ""), ("vault", "replaced", "kmsKeyArn")}


PHYSICAL_NAME = ("name", "bucket", "identifier", "replicationGroupId")


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_stateful_physical_names_follow_the_naming_rule_and_never_vary_between_runs(request, stack):
    """Two independent runs (an update and a preview) give every stateful resource the same
    physical name, made by ``Naming`` (prefix and stack in it): nothing random or time-based."""
    from tests.conftest import preview_run

    update: ProgramRun = request.getfixturevalue(stack)
    again = {r.urn: r for r in preview_run(stack)}
    named = 0
    for resource in update:
        if not is_stateful(resource.type, resource.urn):
            continue
        for key in PHYSICAL_NAME:
            value = resource.inputs.get(key)
            if value is None:
                continue
            named += 1
            # CloudTrail's log group keeps the /aws/cloudtrail/ path the console looks in.
            assert isinstance(value, str) and value.startswith(
                ("phase-mirror-", "/phase-mirror/", "/aws/cloudtrail/phase-mirror-")
            ), (
                resource.urn,
                value,
            )
            assert stack in value, f"{resource.urn}: {key}={value!r} does not name the stack"
            assert again[resource.urn].inputs.get(key) == value, f"{resource.urn}: {key} varies"
    assert named >= 10


def test_an_alias_given_as_a_whole_urn_keeps_identity_too():
    old_urn = f"{BASE}{TABLE}::consent"
    old = run_of(res(TABLE, "consent", CONSENT))
    new = run_of(res(TABLE, "consent-store", CONSENT, aliases=[alias_pb2.Alias(urn=old_urn)]))
    assert against.compare(old, new) == []
