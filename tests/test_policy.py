"""The policy pack: each rule with a passing and a violating resource, unknowns, the wrappers.

Rules are plain functions (policy/rules.py) tested directly; the CrossGuard wrappers
(policy/__main__.py) are driven with the argument objects the analyzer builds, including its
unknown-checking proxy, so what `pulumi preview --policy-pack policy` does is tested here too.
One module over 400 lines: a passing and a violating case for each of the pack's rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as policy_proxy
from pulumi_policy.policy import PolicyCustomTimeouts
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

import policy.__main__ as pack
from policy import rules
from policy.rules import UNKNOWN, Context, Subject, Undecidable

PACK_DIR = Path(__file__).resolve().parent.parent / "policy"
CMK = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TAGS = {
    "Project": "PhaseMirror",
    "Component": "Test",
    "Environment": "production",
    "ManagedBy": "Pulumi",
}
PROD = Context(environment="production", default_tags={"tags": TAGS}, protect=True)
TLS_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
EKS_LOGS = list(rules.EKS_LOG_TYPES)

# rule, type, a passing resource's props, a violating one's, a fragment of the violation.
CASES: list[tuple[rules.ResourceCheck, str, dict[str, Any], dict[str, Any], str]] = [
    (rules.encryption_with_cmk, "aws:dynamodb/table:Table",
     {"serverSideEncryption": {"enabled": True, "kmsKeyArn": CMK}},
     {"serverSideEncryption": {"enabled": True}}, "customer-managed"),
    (rules.encryption_with_cmk, SSE,
     {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": CMK}}]},
     # AES256 is judged by the stack rule (only on access-log targets); aws:kms needs a CMK.
     {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}, "kmsMasterKeyId"),
    (rules.encryption_with_cmk, "aws:rds/instance:Instance",
     {"storageEncrypted": True, "kmsKeyId": CMK}, {"storageEncrypted": False}, "storageEncrypted"),
    (rules.encryption_with_cmk, "aws:elasticache/replicationGroup:ReplicationGroup",
     {"atRestEncryptionEnabled": True, "transitEncryptionEnabled": True, "kmsKeyId": CMK},
     {"atRestEncryptionEnabled": True, "kmsKeyId": CMK}, "in transit"),
    (rules.encryption_with_cmk, "aws:elasticache/cluster:Cluster",
     {"engine": "redis", "replicationGroupId": "rg"}, {"engine": "redis"}, "ReplicationGroup"),
    (rules.encryption_with_cmk, "aws:sns/topic:Topic",
     {"kmsMasterKeyId": CMK}, {"kmsMasterKeyId": "alias/aws/sns"}, "AWS-managed"),
    (rules.encryption_with_cmk, "aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": CMK}, {}, "kmsKeyId"),
    (rules.encryption_with_cmk, "aws:secretsmanager/secret:Secret", {"kmsKeyId": CMK}, {}, "kmsKeyId"),
    (rules.encryption_with_cmk, "aws:ssm/parameter:Parameter",
     {"type": "SecureString", "keyId": CMK}, {"type": "String"}, "SecureString"),
    (rules.point_in_time_recovery, "aws:dynamodb/table:Table",
     {"pointInTimeRecovery": {"enabled": True}}, {}, "pointInTimeRecovery"),
    (rules.deletion_protection, "aws:dynamodb/table:Table",
     {"deletionProtectionEnabled": True}, {"deletionProtectionEnabled": False}, "deletionProtectionEnabled"),
    (rules.deletion_protection, "aws:rds/instance:Instance",
     {"deletionProtection": True}, {}, "deletionProtection"),
    (rules.deletion_protection, "aws:lb/loadBalancer:LoadBalancer",
     {"enableDeletionProtection": True}, {}, "enableDeletionProtection"),
    (rules.s3_public_access_block, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
     {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True},
     {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True}, "restrictPublicBuckets"),
    (rules.s3_versioning, "aws:s3/bucketVersioning:BucketVersioning",
     {"versioningConfiguration": {"status": "Enabled"}},
     {"versioningConfiguration": {"status": "Suspended"}}, "Enabled"),
    (rules.s3_tls_only, "aws:s3/bucketPolicy:BucketPolicy",
     {"policy": TLS_POLICY}, {"policy": json.dumps({"Statement": []})}, "SecureTransport"),
    (rules.kms_rotation, "aws:kms/key:Key", {"enableKeyRotation": True}, {}, "enableKeyRotation"),
    (rules.cloudtrail, "aws:cloudtrail/trail:Trail",
     {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": CMK},
     {"isMultiRegionTrail": False, "enableLogFileValidation": True, "kmsKeyId": CMK}, "isMultiRegionTrail"),
    (rules.no_world_ingress, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
     {"cidrIpv4": "0.0.0.0/0", "fromPort": 443, "toPort": 443, "ipProtocol": "tcp"},
     {"cidrIpv4": "0.0.0.0/0", "fromPort": 22, "toPort": 22, "ipProtocol": "tcp"}, "only 80/443"),
    (rules.no_world_ingress, "aws:ec2/securityGroup:SecurityGroup",
     {"ingress": [{"cidrBlocks": ["10.0.0.0/16"], "fromPort": 5432, "toPort": 5432, "protocol": "tcp"}]},
     {"ingress": [{"ipv6CidrBlocks": ["::/0"], "fromPort": 0, "toPort": 65535, "protocol": "tcp"}]}, "::/0"),
    (rules.no_world_ingress, "aws:ec2/securityGroupRule:SecurityGroupRule",
     {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 80, "toPort": 80, "protocol": "tcp"},
     {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 443, "toPort": 443, "protocol": "-1"}, "only 80/443"),
    (rules.rds_hardening, "aws:rds/instance:Instance",
     {"publiclyAccessible": False, "iamDatabaseAuthenticationEnabled": True, "backupRetentionPeriod": 7},
     {"publiclyAccessible": True, "iamDatabaseAuthenticationEnabled": True, "backupRetentionPeriod": 7}, "publiclyAccessible"),
    (rules.rds_hardening, "aws:rds/cluster:Cluster",
     {"iamDatabaseAuthenticationEnabled": True, "backupRetentionPeriod": 14.0},
     {"iamDatabaseAuthenticationEnabled": True, "backupRetentionPeriod": 1}, "at least 7"),
    (rules.eks_hardening, "eks:index:Cluster",
     {"endpointPrivateAccess": True, "endpointPublicAccess": False, "enabledClusterLogTypes": EKS_LOGS, "encryptionConfigKeyArn": CMK},
     {"endpointPrivateAccess": True, "enabledClusterLogTypes": EKS_LOGS, "encryptionConfigKeyArn": CMK}, "endpointPublicAccess"),
    (rules.eks_hardening, "aws:eks/cluster:Cluster",
     {"vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
      "enabledClusterLogTypes": EKS_LOGS, "encryptionConfig": {"provider": {"keyArn": CMK}, "resources": ["secrets"]}},
     {"vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
      "enabledClusterLogTypes": ["api"], "encryptionConfig": {"provider": {"keyArn": CMK}, "resources": ["secrets"]}}, "audit"),
    (rules.log_retention, "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 365}, {"retentionInDays": 0}, "retentionInDays"),
    (rules.lambda_environment, "aws:lambda/function:Function",
     {"environment": {"variables": {"SALT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s", "TABLE": "t"}}},
     {"environment": {"variables": {"HMAC_SALT": "c2VjcmV0LXNhbHQ="}}}, "HMAC_SALT"),
    (rules.lambda_environment, "aws:lambda/function:Function",
     {"environment": {"variables": {"LOG_LEVEL": "INFO"}}},
     {"environment": {"variables": {"UPSTREAM": "AKIAABCDEFGHIJKLMNOP"}}}, "credential-shaped"),
    (rules.required_tags, "aws:dynamodb/table:Table", {}, {"tags": {"Project": "PhaseMirror"}}, "Component"),
]  # fmt: skip


def ids(case: tuple[Any, ...]) -> str:
    return f"{case[0].__name__}[{case[1].split(':')[-1]}]"


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_rule_passes_the_compliant_resource_and_flags_the_other(case: tuple[Any, ...]) -> None:
    check, type_, good, bad, fragment = case
    # required-tags fails on its own when the provider adds no tags; every other rule on props.
    ctx = Context() if check is rules.required_tags else PROD
    assert check(type_, good, PROD) == [], f"{type_} {good} should pass {check.__name__}"
    found = check(type_, bad, ctx)
    assert any(fragment in m for m in found), f"{type_} {bad}: {found} lacks {fragment!r}"


def test_every_resource_rule_has_a_case() -> None:
    tested = {c[0] for c in CASES}
    untested = [r.name for r in rules.RESOURCE_RULES if r.check not in tested]
    assert not untested, f"rules without a pass/violate case: {untested}"


def test_deletion_protection_is_required_only_in_production() -> None:
    unprotected = {"deletionProtectionEnabled": False}
    staging = Context(environment="staging", protect=False)
    assert rules.deletion_protection("aws:dynamodb/table:Table", unprotected, staging) == []
    found = rules.deletion_protection(
        "aws:dynamodb/table:Table", unprotected, Context(protect=False)
    )
    assert len(found) == 2, f"production table without the flag and protect: {found}"


def test_environment_comes_from_config_then_tag_then_defaults_to_production() -> None:
    assert rules.environment_of("staging", {"Environment": "production"}) == "staging"
    assert rules.environment_of(None, {"Environment": "staging"}) == "staging"
    assert rules.environment_of(None, {}) == "production"


def test_asymmetric_keys_need_no_rotation() -> None:
    props = {"customerMasterKeySpec": "RSA_2048", "enableKeyRotation": False}
    assert rules.kms_rotation("aws:kms/key:Key", props, PROD) == []


def test_required_tags_read_the_provider_default_tags_as_the_engine_sends_them() -> None:
    # Provider config reaches the engine as a JSON string.
    ctx = Context(default_tags=json.dumps({"tags": TAGS}))
    assert rules.required_tags("aws:sns/topic:Topic", {}, ctx) == []


# --- unknown values during preview -----------------------------------------------------------


def engine_props(props: dict[str, Any]) -> Any:
    """Props exactly as the analyzer hands them to a policy: behind its unknown-checking proxy."""
    return unknown_checking_proxy(props)


def test_sentinels_match_pulumi_policy_and_the_engine() -> None:
    sentinels = {
        v
        for k, v in vars(policy_proxy).items()
        if k.startswith("UNKNOWN_") and k.endswith("_VALUE")
    }
    assert sentinels == rules.UNKNOWN_SENTINELS
    assert rpc._special_sig_key == rules.SECRET_SIG_KEY
    assert rpc._special_secret_sig == rules.SECRET_SIG


def test_plain_unwraps_proxies_unknowns_and_secrets() -> None:
    props = engine_props(
        {"a": {"b": [UNKNOWN_STRING_VALUE]}, "s": rpc.wrap_rpc_secret("x"), "n": 1}
    )
    assert rules.plain(props) == {"a": {"b": [UNKNOWN]}, "s": "x", "n": 1}


def test_an_unknown_key_reference_counts_as_set() -> None:
    # GIVEN a table whose key ARN is an output of a key created in the same update
    props = rules.plain(
        engine_props({"serverSideEncryption": {"enabled": True, "kmsKeyArn": UNKNOWN_STRING_VALUE}})
    )
    # THEN the rule passes: a reference is what it requires
    assert rules.encryption_with_cmk("aws:dynamodb/table:Table", props, PROD) == []


@pytest.mark.parametrize(
    ("check", "type_", "props"),
    [
        (rules.s3_tls_only, "aws:s3/bucketPolicy:BucketPolicy", {"policy": UNKNOWN_STRING_VALUE}),
        (rules.point_in_time_recovery, "aws:dynamodb/table:Table", {"pointInTimeRecovery": {"enabled": UNKNOWN_STRING_VALUE}}),
        (rules.no_world_ingress, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"cidrIpv4": UNKNOWN_STRING_VALUE}),
        (rules.lambda_environment, "aws:lambda/function:Function", {"environment": {"variables": {"DB_PASSWORD": UNKNOWN_STRING_VALUE}}}),
    ],
)  # fmt: skip
def test_an_unknown_value_the_rule_must_read_is_undecidable(
    check: Any, type_: str, props: dict[str, Any]
) -> None:
    with pytest.raises(Undecidable):
        check(type_, rules.plain(engine_props(props)), PROD)


def test_an_unknown_value_with_a_harmless_name_is_not_read() -> None:
    props = {
        "environment": {
            "variables": {
                "TABLE_NAME": UNKNOWN_STRING_VALUE,
                "SALT_SECRET_ARN": UNKNOWN_STRING_VALUE,
            }
        }
    }
    assert (
        rules.lambda_environment(
            "aws:lambda/function:Function", rules.plain(engine_props(props)), PROD
        )
        == []
    )


# --- the CrossGuard wrappers -------------------------------------------------------------------


def policy_named(name: str) -> Any:
    return next(p for p in pack.POLICIES if p.name == name)


def validate(
    name: str,
    type_: str,
    props: dict[str, Any],
    *,
    protect: bool = True,
    tags: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
) -> list[str]:
    opts = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    provider = PolicyProviderResource(
        "pulumi:providers:aws",
        engine_props({"defaultTags": json.dumps({"tags": tags or TAGS})}),
        "urn:provider",
        "aws-test",
    )
    args = ResourceValidationArgs(
        type_, engine_props(props), "urn:test", "test", opts, provider, config
    )
    found: list[str] = []
    policy_named(name).validate(args, lambda message, urn=None: found.append(message))
    return found


def test_the_pack_wraps_every_rule_as_a_mandatory_policy() -> None:
    names = [p.name for p in pack.POLICIES]
    expected = [r.name for r in rules.RESOURCE_RULES] + [r.name for r in rules.STACK_RULES]
    assert names == expected
    for p in pack.POLICIES:
        assert p.enforcement_level == EnforcementLevel.MANDATORY, p.name
        kind = (
            ResourceValidationPolicy
            if p.name in [r.name for r in rules.RESOURCE_RULES]
            else StackValidationPolicy
        )
        assert isinstance(p, kind), p.name


def test_wrapper_reports_the_rules_violations() -> None:
    found = validate("kms-key-rotation", "aws:kms/key:Key", {"enableKeyRotation": False})
    assert found == ["enableKeyRotation must be true"]
    assert validate("kms-key-rotation", "aws:kms/key:Key", {"enableKeyRotation": True}) == []


def test_wrapper_ignores_types_the_rule_does_not_cover() -> None:
    assert validate("kms-key-rotation", "aws:sns/topic:Topic", {}) == []


def test_wrapper_turns_undecidable_into_crossguards_preview_advisory() -> None:
    # The analyzer catches UnknownValueError and reports "can't run policy during preview".
    with pytest.raises(UnknownValueError):
        validate(
            "s3-tls-only", "aws:s3/bucketPolicy:BucketPolicy", {"policy": UNKNOWN_STRING_VALUE}
        )


def test_wrapper_reads_environment_from_tags_config_and_protect_from_options() -> None:
    table = "aws:dynamodb/table:Table"
    props = {"deletionProtectionEnabled": True}
    name = "deletion-protection-in-production"
    assert validate(name, table, props, protect=False) == [
        "the Pulumi protect option must be set in production"
    ]
    staging_tags = {**TAGS, "Environment": "staging"}
    assert validate(name, table, props, protect=False, tags=staging_tags) == []
    assert validate(
        name, table, props, protect=False, tags=staging_tags, config={"environment": "production"}
    )


def test_stack_wrapper_follows_property_dependencies() -> None:
    # GIVEN a bucket whose name is unknown in preview and companions that depend on it
    opts = PolicyResourceOptions(True, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)

    def resource(type_: str, name: str, props: dict[str, Any]) -> PolicyResource:
        return PolicyResource(
            type_, engine_props(props), f"urn:{name}", name, opts, None, None, [], {}
        )

    bucket = resource("aws:s3/bucket:Bucket", "b", {"bucket": UNKNOWN_STRING_VALUE})
    companions = [
        resource(t[0], f"c{i}", {"bucket": UNKNOWN_STRING_VALUE})
        for i, t in enumerate(rules.BUCKET_COMPANIONS.values())
    ]
    for c in companions:
        c.property_dependencies["bucket"] = [bucket]
    found: list[tuple[str, str | None]] = []
    policy = policy_named("s3-bucket-controls-present")
    # WHEN all four companions exist THEN nothing is reported
    policy.validate(
        StackValidationArgs([bucket, *companions]), lambda m, urn=None: found.append((m, urn))
    )
    assert found == []
    # WHEN the versioning is missing THEN the bucket's URN is reported
    policy.validate(
        StackValidationArgs([bucket, *companions[:1], *companions[2:]]),
        lambda m, urn=None: found.append((m, urn)),
    )
    assert found == [("bucket b has no versioning", "urn:b")]


# --- stack rules -------------------------------------------------------------------------------


def subject(type_: str, logical: str, **props: Any) -> Subject:
    return Subject(type=type_, name=logical, urn=f"urn:{logical}", props=props, id=f"{logical}-id")


def test_bucket_companions_match_by_value_too() -> None:
    bucket = subject("aws:s3/bucket:Bucket", "logs", bucket="phase-mirror-logs-production")
    companions = [
        subject(t[0], f"c{i}", bucket="logs-id")
        for i, t in enumerate(rules.BUCKET_COMPANIONS.values())
    ]
    assert rules.buckets_complete([bucket, *companions]) == []
    missing = rules.buckets_complete([bucket])
    assert len(missing) == 4, missing


def test_world_web_ingress_only_into_the_load_balancer_group() -> None:
    lb_group = subject(
        "aws:ec2/securityGroup:SecurityGroup", "lb", name="phase-mirror-lb-production"
    )
    app_group = subject(
        "aws:ec2/securityGroup:SecurityGroup", "app", name="phase-mirror-app-production"
    )
    rule_type = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    into_lb = subject(
        rule_type,
        "lb-in-443",
        cidrIpv4="0.0.0.0/0",
        fromPort=443,
        toPort=443,
        securityGroupId="lb-id",
    )
    into_app = subject(
        rule_type,
        "app-in-443",
        cidrIpv4="0.0.0.0/0",
        fromPort=443,
        toPort=443,
        securityGroupId="app-id",
    )
    assert rules.web_ingress_only_on_lb([lb_group, app_group, into_lb]) == []
    found = rules.web_ingress_only_on_lb([lb_group, app_group, into_app])
    assert found and found[0][0] == "urn:app-in-443", found


def test_a_load_balancer_in_the_program_marks_its_group() -> None:
    group = subject("aws:ec2/securityGroup:SecurityGroup", "web", name="phase-mirror-web-production",
                    ingress=[{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 443, "toPort": 443}])  # fmt: skip
    lb = subject("aws:lb/loadBalancer:LoadBalancer", "alb", securityGroups=["web-id"])
    assert rules.web_ingress_only_on_lb([group, lb]) == []
    assert rules.web_ingress_only_on_lb([group]) != []


def test_functions_need_a_managed_log_group() -> None:
    fn = subject("aws:lambda/function:Function", "fn", name="phase-mirror-fn-production")
    group = subject(
        "aws:cloudwatch/logGroup:LogGroup", "lg", name="/aws/lambda/phase-mirror-fn-production"
    )
    assert rules.functions_have_log_groups([fn, group]) == []
    assert rules.functions_have_log_groups([fn]) != []
    unnamed = subject("aws:lambda/function:Function", "fn2", name=UNKNOWN)
    with pytest.raises(Undecidable):
        rules.functions_have_log_groups([unnamed])


def test_unknown_sentinel_is_the_engines_unknown() -> None:
    assert rules.plain(UNKNOWN_STRING_VALUE) is UNKNOWN
    assert rules.plain(rpc.UNKNOWN) is UNKNOWN


def test_a_companion_with_an_unknown_bucket_and_no_dependencies_is_undecidable() -> None:
    bucket = subject("aws:s3/bucket:Bucket", "logs", bucket="phase-mirror-logs-production")
    unknown = [
        subject(t[0], f"c{i}", bucket=UNKNOWN)
        for i, t in enumerate(rules.BUCKET_COMPANIONS.values())
    ]
    with pytest.raises(Undecidable):
        rules.buckets_complete([bucket, *unknown])


def test_the_pack_loads_as_the_cli_runs_it(tmp_path: Path) -> None:
    # The analyzer runs `runpy.run_path(<pack folder>)` from elsewhere; `__main__` is skipped
    # here only because it would serve gRPC forever.
    probe = (
        "import runpy, sys\n"
        f"g = runpy.run_path({str(PACK_DIR)!r}, run_name='probe')\n"
        "print(len(g['POLICIES']), g['rules'].__name__)\n"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(pack.POLICIES)), "policy.rules"]


def test_the_packs_own_requirements_pin_what_the_tests_ran() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        return dict(ln.split("==") for ln in lines if "==" in ln)

    ours, packs = pins(PACK_DIR.parent / "requirements.txt"), pins(PACK_DIR / "requirements.txt")
    assert packs and all(ours.get(name) == version for name, version in packs.items()), packs
    settings = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert settings["runtime"]["name"] == "python" and settings["version"], settings


def all_unknown(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: all_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [all_unknown(v) for v in value]
    return UNKNOWN_STRING_VALUE


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_unknown_values_never_invent_a_violation(case: tuple[Any, ...]) -> None:
    # GIVEN the compliant resource as a first preview sees it: every value unknown
    check, type_, good, _, _ = case
    props = rules.plain(engine_props(all_unknown(good)))
    # THEN the rule passes (only references were needed) or cannot decide (CrossGuard advisory)
    try:
        found = check(type_, props, PROD)
    except Undecidable:
        return
    assert found == [], f"{type_} with unknown {sorted(good)}: {found}"


def test_an_unknown_item_of_a_list_the_rule_reads_is_undecidable() -> None:
    # GIVEN an EKS cluster whose settings are known but one log type is an output
    props = {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "enabledClusterLogTypes": [*EKS_LOGS[:-1], UNKNOWN_STRING_VALUE],
        "encryptionConfigKeyArn": CMK,
    }
    # THEN the rule does not call the unknown item missing
    with pytest.raises(Undecidable):
        rules.eks_hardening("eks:index:Cluster", rules.plain(engine_props(props)), PROD)
