"""The bootstrap project: its config rules, the state backend and the CI identity under mocks.

One module over 400 lines: every section reads the same module-scoped mocked run of the
bootstrap program, which a split would repeat.
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws
from moto.core import enable_iam_authentication

from bootstrap.config import DEFAULT_DEPLOY_ENVIRONMENTS, parse
from bootstrap.preview_access import preview_policy
from components.config import ConfigError
from testing.program import ACCOUNT_ID, ROOT, ProgramRun, Resource, run_bootstrap

PROJECT = "phase-mirror-bootstrap"
BOOTSTRAP = ROOT / "bootstrap"
REPO = "phase-mirror/phase-mirror-infra"
BUCKET = f"phase-mirror-state-{ACCOUNT_ID}-us-east-1-bootstrap"
REPLICA_BUCKET = f"phase-mirror-state-{ACCOUNT_ID}-us-west-2-bootstrap"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
S3_BUCKET = "aws:s3/bucket:Bucket"


@pytest.fixture(scope="module")
def boot() -> ProgramRun:
    return run_bootstrap()


@pytest.fixture(scope="module")
def single_region() -> ProgramRun:
    return run_bootstrap(replicaRegion=None)


def by_name(run: ProgramRun, type_: str, key: str = "name") -> dict[str, Resource]:
    return {r.inputs.get(key): r for r in run.of_type(type_)}


def policy_of(run: ProgramRun, name: str) -> dict:
    return json.loads(run.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])


def region(run: ProgramRun, resource: Resource) -> str:
    provider = run.provider_of(resource)
    assert provider is not None, resource.urn
    return provider.inputs["region"]


def trust_of(run: ProgramRun, physical: str) -> dict:
    role = by_name(run, ROLE)[physical]
    return json.loads(role.inputs["assumeRolePolicy"])


# --- config: plain functions, no mocks ------------------------------------------------------

GOOD = {"githubRepository": REPO}


def test_config_defaults():
    cfg = parse(GOOD, stack="bootstrap", region="us-east-1")
    assert cfg.replica_region is None and cfg.github_oidc_provider_arn is None
    assert cfg.deploy_environments == DEFAULT_DEPLOY_ENVIRONMENTS == ("staging", "production")
    assert cfg.naming.physical("ci-deploy") == "phase-mirror-ci-deploy-bootstrap"


@pytest.mark.parametrize(
    ("raw", "region", "stack", "message"),
    [
        ({}, "us-east-1", "bootstrap", "'githubRepository' is required"),
        ({"githubRepository": "phase-mirror/*"}, "us-east-1", "bootstrap", "without wildcards"),
        ({"githubRepository": "phase-mirror"}, "us-east-1", "bootstrap", "OWNER/REPO"),
        ({"githubRepository": "*/infra"}, "us-east-1", "bootstrap", "'githubRepository'"),
        # Immutable subjects carry both ids or neither.
        ({"githubRepository": "phase-mirror@1/infra"}, "us-east-1", "bootstrap", "REPO_ID"),
        ({"githubRepository": "phase-mirror/infra@2"}, "us-east-1", "bootstrap", "REPO_ID"),
        ({"githubRepository": "phase-mirror@x/infra@2"}, "us-east-1", "bootstrap", "REPO_ID"),
        ({**GOOD, "replicaRegion": "us-east-1"}, "us-east-1", "bootstrap", "other than aws:region"),
        ({**GOOD, "replicaRegion": "mars-1"}, "us-east-1", "bootstrap", "'replicaRegion'"),
        ({**GOOD, "deployEnvironments": "production"}, "us-east-1", "bootstrap", "a YAML list"),
        ({**GOOD, "deployEnvironments": '["prod*"]'}, "us-east-1", "bootstrap", "environment"),
        (
            {**GOOD, "deployEnvironments": '["production", "production"]'},
            "us-east-1",
            "bootstrap",
            "each listed once",
        ),
        (
            {**GOOD, "githubOidcProviderArn": "arn:aws:iam::1:oidc-provider/x"},
            "us-east-1",
            "bootstrap",
            "'githubOidcProviderArn'",
        ),
        ({**GOOD, "stateBucket": "x"}, "us-east-1", "bootstrap", "'stateBucket' is not a setting"),
        (GOOD, None, "bootstrap", "'aws:region' is required"),
        (GOOD, "useast1", "bootstrap", "'aws:region'"),
        ({**GOOD, "namePrefix": "Phase"}, "us-east-1", "bootstrap", "'namePrefix'"),
        (GOOD, "us-east-1", "Bootstrap", "stack name 'Bootstrap'"),
        (
            {**GOOD, "replicaRegion": "ap-southeast-2"},
            "us-east-1",
            "bootstrap-account-01",
            "63 characters",
        ),
    ],
)
def test_bad_config_is_refused_naming_key_and_value(raw, region, stack, message):
    with pytest.raises(ConfigError, match=message.replace("*", r"\*")):
        parse(raw, stack=stack, region=region)


def test_config_accepts_a_repository_with_immutable_ids():
    raw = {"githubRepository": "phase-mirror@1234567/phase-mirror-infra@7654321"}
    cfg = parse(raw, stack="bootstrap", region="us-east-1")
    assert cfg.github_repository == raw["githubRepository"]


def test_config_accepts_an_existing_oidc_provider_and_main_only_deploys():
    cfg = parse(
        {**GOOD, "githubOidcProviderArn": OIDC_ARN, "deployEnvironments": "[]"},
        stack="bootstrap",
        region="eu-west-1",
    )
    assert cfg.github_oidc_provider_arn == OIDC_ARN and cfg.deploy_environments == ()


# --- outputs ----------------------------------------------------------------------------------


def test_outputs_are_exactly_what_the_main_project_needs(boot):
    assert boot.outputs == {
        "loginUrl": f"s3://{BUCKET}",
        "secretsProvider": "awskms://alias/phase-mirror-pulumi-secrets-bootstrap?region=us-east-1",
        "previewRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-ci-preview-bootstrap",
        "deployRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-ci-deploy-bootstrap",
    }


def test_the_secrets_provider_alias_points_at_the_secrets_key_in_both_regions(boot):
    aliases = [
        r
        for r in boot.of_type("aws:kms/alias:Alias")
        if r.inputs["name"].endswith("-secrets-bootstrap")
    ]
    keys = {k.outputs["arn"]: k for k in boot.of_type(KEY) + boot.of_type(REPLICA_KEY)}
    keys.update({k.outputs["keyId"]: k for k in boot.of_type(KEY)})
    targets = {keys[a.inputs["targetKeyId"]].name for a in aliases}
    assert targets == {"state-backend-secrets-key", "state-backend-secrets-key-replica"}
    regions = {region(boot, a) for a in aliases}
    assert regions == {"us-east-1", "us-west-2"}, [a.urn for a in aliases]


# --- state backend ----------------------------------------------------------------------------


@pytest.mark.parametrize("physical", [BUCKET, REPLICA_BUCKET])
def test_state_buckets_are_protected_versioned_encrypted_private_and_tls_only(boot, physical):
    bucket = by_name(boot, S3_BUCKET, "bucket")[physical]
    assert bucket.protect and bucket.retain_on_delete, bucket.urn
    assert not bucket.inputs.get("forceDestroy"), bucket.urn
    parent = bucket.parent

    def child(type_: str):
        (found,) = [r for r in boot.of_type(type_) if r.parent == parent]
        return found

    versioning = child("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled", versioning.urn
    sse = child(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"], sse.urn
    block = child("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block.inputs[f] is True for f in flags), block.urn
    policy = json.loads(child("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    denies = {s["Sid"]: s for s in policy["Statement"] if s["Effect"] == "Deny"}
    assert denies["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    history = denies["StateHistoryIsKept"]
    assert set(history["Action"]) == {"s3:DeleteBucket", "s3:DeleteObjectVersion"}, physical
    assert history["Resource"] == [f"arn:aws:s3:::{physical}", f"arn:aws:s3:::{physical}/*"]


def test_state_bucket_is_encrypted_with_the_state_key_and_replica_with_its_replica(boot):
    keys = {r.name: r for r in [*boot.of_type(KEY), *boot.of_type(REPLICA_KEY)]}
    encryption = {
        r.name: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        for r in boot.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    }
    assert encryption == {
        "state-backend-bucket-encryption": keys["state-backend-state-key"].outputs["arn"],
        "state-backend-replica-bucket-encryption": keys["state-backend-state-key-replica"].outputs[
            "arn"
        ],
    }


def test_keys_rotate_are_multi_region_protected_and_replicated(boot):
    keys = boot.of_type(KEY)
    assert {k.name for k in keys} == {"state-backend-state-key", "state-backend-secrets-key"}
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True, key.urn
        assert key.inputs["multiRegion"] is True, key.urn
        assert key.protect and key.retain_on_delete, key.urn
    replicas = {r.inputs["primaryKeyArn"]: r for r in boot.of_type(REPLICA_KEY)}
    assert set(replicas) == {k.outputs["arn"] for k in keys}
    for replica in replicas.values():
        assert replica.protect and replica.retain_on_delete, replica.urn
        assert region(boot, replica) == "us-west-2", replica.urn


def test_replication_copies_every_version_and_delete_marker_to_the_replica(boot):
    (config,) = boot.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    (rule,) = config.inputs["rules"]
    replica_key = boot.one(REPLICA_KEY, "state-backend-state-key-replica")
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}, config.urn
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}, config.urn
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    destination = rule["destination"]
    assert destination["bucket"] == f"arn:aws:s3:::{REPLICA_BUCKET}", config.urn
    assert destination["encryptionConfiguration"] == {"replicaKmsKeyId": replica_key.outputs["arn"]}
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    role = by_name(boot, ROLE)["phase-mirror-state-replication-bootstrap"]
    assert config.inputs["role"] == role.outputs["arn"], config.urn
    assert region(boot, by_name(boot, S3_BUCKET, "bucket")[REPLICA_BUCKET]) == "us-west-2"


def test_replication_role_is_scoped_to_the_two_buckets_and_keys(boot):
    trust = trust_of(boot, "phase-mirror-state-replication-bootstrap")
    assert trust["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    statements = {
        s["Sid"]: s for s in policy_of(boot, "state-backend-replication-policy")["Statement"]
    }
    assert statements["ReadSourceVersions"]["Resource"] == f"arn:aws:s3:::{BUCKET}/*"
    assert statements["WriteReplica"]["Resource"] == f"arn:aws:s3:::{REPLICA_BUCKET}/*"
    assert (
        statements["DecryptSource"]["Resource"]
        == boot.one(KEY, "state-backend-state-key").outputs["arn"]
    )
    assert (
        statements["EncryptReplica"]["Resource"]
        == boot.one(REPLICA_KEY, "state-backend-state-key-replica").outputs["arn"]
    )
    for statement in statements.values():
        assert "*" not in json.dumps(statement["Resource"]).replace("/*", ""), statement


def test_without_a_replica_region_nothing_is_replicated(single_region):
    assert [r.inputs["bucket"] for r in single_region.of_type(S3_BUCKET)] == [BUCKET]
    for type_ in (REPLICA_KEY, "aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        assert single_region.of_type(type_) == [], type_
    assert "phase-mirror-state-replication-bootstrap" not in by_name(single_region, ROLE)
    read = {
        s["Sid"]: s for s in policy_of(single_region, "ci-identity-ci-preview-reads")["Statement"]
    }
    assert read["ListState"]["Resource"] == [f"arn:aws:s3:::{BUCKET}"]
    assert len(read["DecryptStateThroughS3"]["Resource"]) == 1
    assert len(read["DecryptStackSecrets"]["Resource"]) == 1


# --- CI identity --------------------------------------------------------------------------------


def test_github_oidc_provider_has_sts_audience_and_is_protected(boot):
    (provider,) = boot.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"], provider.urn
    assert provider.protect and provider.retain_on_delete, provider.urn


PREVIEW_SUBJECT = (
    f"repo:{REPO}:pull_request:job_workflow_ref:{REPO}/.github/workflows/preview.yml"
    "@refs/pull/*/merge"
)


def deploy_subject(environment: str) -> str:
    return (
        f"repo:{REPO}:environment:{environment}:job_workflow_ref:"
        f"{REPO}/.github/workflows/deploy.yml@refs/heads/main"
    )


@pytest.mark.parametrize(
    ("physical", "condition"),
    [
        (
            "phase-mirror-ci-preview-bootstrap",
            {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                # StringLike only for the pull request number (tests/test_ci_identity.py).
                "StringLike": {"token.actions.githubusercontent.com:sub": [PREVIEW_SUBJECT]},
            },
        ),
        (
            "phase-mirror-ci-deploy-bootstrap",
            {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": [
                        deploy_subject("staging"),
                        deploy_subject("production"),
                    ],
                }
            },
        ),
    ],
)
def test_ci_roles_trust_only_the_repository_subjects_for_one_hour(boot, physical, condition):
    role = by_name(boot, ROLE)[physical]
    assert role.inputs["maxSessionDuration"] == 3600, role.urn
    (statement,) = trust_of(boot, physical)["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}, physical
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", physical
    assert statement["Condition"] == condition, physical


def test_deploy_environments_come_from_config():
    run = run_bootstrap(deployEnvironments=["production"], replicaRegion=None)
    (statement,) = trust_of(run, "phase-mirror-ci-deploy-bootstrap")["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        deploy_subject("production")
    ]


def test_an_existing_oidc_provider_is_reused_not_created():
    existing = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
    run = run_bootstrap(githubOidcProviderArn=existing, replicaRegion=None)
    assert run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    for physical in ("phase-mirror-ci-preview-bootstrap", "phase-mirror-ci-deploy-bootstrap"):
        (statement,) = trust_of(run, physical)["Statement"]
        assert statement["Principal"] == {"Federated": existing}, physical


def managed(run: ProgramRun, role_name: str) -> list[str]:
    return [
        r.inputs["policyArn"]
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == role_name
    ]


def test_preview_role_holds_only_the_preview_policy_on_the_exact_state_arns(boot):
    assert managed(boot, "phase-mirror-ci-preview-bootstrap") == []
    keys = {r.name: r.outputs["arn"] for r in [*boot.of_type(KEY), *boot.of_type(REPLICA_KEY)]}
    assert policy_of(boot, "ci-identity-ci-preview-reads") == preview_policy(
        state_bucket_arns=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{REPLICA_BUCKET}"],
        state_key_arns=[keys["state-backend-state-key"], keys["state-backend-state-key-replica"]],
        secrets_key_arns=[
            keys["state-backend-secrets-key"],
            keys["state-backend-secrets-key-replica"],
        ],
    )
    # Renamed from the state-only policy it replaces: the same inline policy, not a new one.
    (policy,) = [
        r for r in boot.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-reads")
    ]
    assert [a.spec.name for a in policy.aliases] == ["ci-identity-ci-preview-state"], policy.aliases


def test_deploy_role_cannot_touch_ci_identity_state_backend_or_create_credentials(boot):
    assert managed(boot, "phase-mirror-ci-deploy-bootstrap") == [
        "arn:aws:iam::aws:policy/PowerUserAccess"
    ]
    statements = {
        s["Sid"]: s for s in policy_of(boot, "ci-identity-ci-deploy-workload")["Statement"]
    }
    roles = by_name(boot, ROLE)
    guarded = statements["CiIdentityIsFixed"]
    assert guarded["Effect"] == "Deny" and guarded["NotAction"] == ["iam:Get*", "iam:List*"]
    assert set(guarded["Resource"]) == {
        OIDC_ARN,
        *(
            roles[n].outputs["arn"]
            for n in (
                "phase-mirror-ci-preview-bootstrap",
                "phase-mirror-ci-deploy-bootstrap",
                "phase-mirror-state-replication-bootstrap",
            )
        ),
    }
    credentials = statements["NoLongLivedCredentials"]
    assert credentials["Effect"] == "Deny" and "iam:CreateAccessKey" in credentials["Action"]
    state = statements["StateBackendIsFixed"]
    assert state["Effect"] == "Deny" and {"s3:PutBucketPolicy", "s3:DeleteObjectVersion"} <= set(
        state["Action"]
    )
    assert f"arn:aws:s3:::{REPLICA_BUCKET}" in state["Resource"]
    keys = statements["KeysAreFixed"]
    assert keys["Effect"] == "Deny" and "kms:ScheduleKeyDeletion" in keys["Action"]
    assert len(keys["Resource"]) == 4
    # IAM users are out of reach: the only IAM it may write is roles, policies and profiles.
    assert not any(":user/" in r for r in statements["WorkloadIam"]["Resource"])


# --- shared rules -----------------------------------------------------------------------------


def test_every_aws_resource_is_tagged_by_its_component_provider(boot):
    for resource in boot:
        if not resource.type.startswith("aws:"):
            continue
        provider = boot.provider_of(resource)
        assert provider is not None, f"{resource.urn} uses the untagged default provider"
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags["Component"] in {"StateBackend", "CiIdentity"}, resource.urn
        assert tags["Environment"] == "shared" and tags["ManagedBy"] == "Pulumi", resource.urn
        assert tags["Project"] == "PhaseMirror", resource.urn
        assert not resource.inputs.get("tags"), resource.urn
        assert "pulumi:pulumi:Stack" not in resource.parent, f"{resource.urn} has no parent"


def test_a_first_preview_with_unknown_outputs_registers_the_same_resources(boot):
    preview = run_bootstrap(unknowns=True)
    assert sorted(r.urn for r in preview) == sorted(r.urn for r in boot)


# --- the policies, enforced by moto's IAM -------------------------------------------------------
# moto ignores conditions and knows no AWS managed policy, so each role holds the program's
# inline policy plus a stand-in for its managed policy's S3 part; the point is what the
# program's own statements allow and deny on the exact ARNs.

STATE_KEY = ".pulumi/stacks/phase-mirror-infra/production.json"
S3_STAND_IN = {"Sid": "StandInForManagedS3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}


@pytest.fixture
def aws_account(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (BUCKET, "phase-mirror-baselines-production"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=b"{}")
        iam = boto3.client("iam", region_name="us-east-1")
        for role in ("phase-mirror-ci-preview-bootstrap", "phase-mirror-fp-ingestion-production"):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
        yield


def session_with_policy(role: str, policy: str) -> boto3.Session:
    """An assumed-role session of a new role holding exactly ``policy``."""
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=role, PolicyName="under-test", PolicyDocument=policy)
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{role}", RoleSessionName="bootstrap-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def allowed(call) -> bool:
    try:
        call()
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}, exc
        return False
    return True


def test_preview_role_reads_state_and_cannot_write_it(boot, aws_account):
    session = session_with_policy(
        "preview-under-test", json.dumps(policy_of(boot, "ci-identity-ci-preview-reads"))
    )
    s3 = session.client("s3")
    with enable_iam_authentication():
        assert allowed(lambda: s3.get_object(Bucket=BUCKET, Key=STATE_KEY))
        assert allowed(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=".pulumi/"))
        assert not allowed(lambda: s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=b"x"))
        assert not allowed(lambda: s3.delete_object(Bucket=BUCKET, Key=STATE_KEY))
        assert not allowed(lambda: s3.put_bucket_policy(Bucket=BUCKET, Policy="{}"))


def test_deploy_role_writes_state_and_workload_but_not_the_guard_rails(boot, aws_account):
    policy = policy_of(boot, "ci-identity-ci-deploy-workload")
    policy["Statement"].append(S3_STAND_IN)
    session = session_with_policy("deploy-under-test", json.dumps(policy))
    s3, iam = session.client("s3"), session.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"}
            ],
        }
    )
    with enable_iam_authentication():
        # `pulumi up` writes checkpoints and locks; the workload's buckets and roles are its job.
        assert allowed(lambda: s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=b"{}"))
        assert allowed(
            lambda: s3.put_bucket_policy(
                Bucket="phase-mirror-baselines-production", Policy=bucket_policy
            )
        )
        assert allowed(
            lambda: iam.update_assume_role_policy(
                RoleName="phase-mirror-fp-ingestion-production", PolicyDocument=trust
            )
        )
        # The state backend, the CI identity and long-lived credentials are out of reach.
        assert not allowed(lambda: s3.put_bucket_policy(Bucket=BUCKET, Policy=bucket_policy))
        assert not allowed(
            lambda: s3.put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
            )
        )
        assert not allowed(lambda: s3.delete_bucket(Bucket=BUCKET))
        assert not allowed(
            lambda: iam.update_assume_role_policy(
                RoleName="phase-mirror-ci-preview-bootstrap", PolicyDocument=trust
            )
        )
        assert not allowed(lambda: iam.create_user(UserName="backdoor"))
        assert not allowed(lambda: iam.create_access_key(UserName="backdoor"))
