"""Who may assume the CI roles, and what the preview role may read: evaluated, not claimed.

The trust policies and the preview role's identity policy are taken from the bootstrap program
run under mocks and evaluated with ``testing/policy_eval.py`` (AWS's "Policy evaluation logic").

- Trust: the policies condition on a GitHub token's ``aud`` and ``sub`` only ("Support for
  custom claims for OIDC is unavailable in AWS": GitHub, "Configuring OpenID Connect in Amazon
  Web Services"). With the repository's subject template ``["repo", "context",
  "job_workflow_ref"]`` every job presents ``repo:O/R:<context>:job_workflow_ref:<ref>``
  (GitHub, "OpenID Connect reference", "Customizing the subject claims ... Example: Requiring a
  reusable workflow and other claims"; a job in an environment presents
  ``environment:<name>`` as context). Each token below is one GitHub would issue.
- Preview role: every read a refresh of the program's resource types performs is allowed; the
  data-plane reads of those resources are explicitly denied, whatever their own policies say.

One module over 400 lines because it is two tables (tokens that must be accepted or refused,
reads that must be allowed or denied) over one mocked bootstrap run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from bootstrap.ci_identity import (
    DEPLOY_WORKFLOW,
    GITHUB_OIDC_HOST,
    PREVIEW_WORKFLOW,
    STS_AUDIENCE,
    SUBJECT_CLAIM_KEYS,
    github_subject,
)
from bootstrap.preview_access import (
    COMPONENT_PREFIXES,
    EKS_CHILDREN,
    INVOKE_READS,
    REFRESH_READS,
    UNREFRESHABLE,
    refresh_actions,
)
from testing.mocks import PhaseMirrorMocks
from testing.policy_eval import (
    Decision,
    Request,
    identity_decision,
    key_decision,
    resource_decision,
    role_request,
    trust_decision,
)
from testing.program import ACCOUNT_ID, ROOT, ProgramRun, run_bootstrap, run_program

REPO = "phase-mirror/phase-mirror-infra"
PROJECT = "phase-mirror-bootstrap"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{GITHUB_OIDC_HOST}"
PREVIEW_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-ci-preview-bootstrap"
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/phase-mirror-ci-deploy-bootstrap"
STATE_BUCKET = f"phase-mirror-state-{ACCOUNT_ID}-us-east-1-bootstrap"
STATE_OBJECT = f"arn:aws:s3:::{STATE_BUCKET}/.pulumi/stacks/phase-mirror-infra/production.json"
# IAM and AWS STS quotas: a role's inline policies total at most 10,240 characters, white space
# not counted.
INLINE_POLICY_LIMIT = 10_240
# "Default key policy" (AWS KMS Developer Guide): a key created without a policy lets the
# account's IAM policies decide.
DEFAULT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


@pytest.fixture(scope="module")
def boot() -> ProgramRun:
    return run_bootstrap()


def role_named(run: ProgramRun, arn: str):
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.outputs["arn"] == arn]
    return role


def trust(run: ProgramRun, role_arn: str) -> dict[str, Any]:
    return json.loads(role_named(run, role_arn).inputs["assumeRolePolicy"])


def preview_identity(run: ProgramRun) -> dict[str, Any]:
    role = role_named(run, PREVIEW_ROLE)
    (policy,) = [
        r
        for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.inputs["role"] == role.inputs["name"]
    ]
    return json.loads(policy.inputs["policy"])


def token(sub: str | None, aud: str | None = STS_AUDIENCE) -> Request:
    claims = {f"{GITHUB_OIDC_HOST}:sub": sub, f"{GITHUB_OIDC_HOST}:aud": aud}
    return Request(
        principal=OIDC_ARN,
        action="sts:AssumeRoleWithWebIdentity",
        context={k: v for k, v in claims.items() if v is not None},
        kind="Federated",
    )


def wf(name: str, repo: str = REPO) -> str:
    return f"{repo}/.github/workflows/{name}"


def sub(context: str, job_workflow_ref: str, repo: str = REPO) -> str:
    return f"repo:{repo}:{context}:job_workflow_ref:{job_workflow_ref}"


MAIN = "@refs/heads/main"
PR = "@refs/pull/42/merge"
DEPLOY_STAGING = sub("environment:staging", wf("deploy.yml") + MAIN)
DEPLOY_PRODUCTION = sub("environment:production", wf("deploy.yml") + MAIN)
PREVIEW_PR = sub("pull_request", wf("preview.yml") + PR)

DEPLOY_TOKENS = [
    ("the staging job of deploy.yml on main", token(DEPLOY_STAGING), True),
    ("the production job of deploy.yml on main", token(DEPLOY_PRODUCTION), True),
    (
        "the default subject, before the repository's template is set",
        token(f"repo:{REPO}:environment:production"),
        False,
    ),
    (
        "another workflow's job in the production environment",
        token(sub("environment:production", wf("test.yml") + MAIN)),
        False,
    ),
    (
        "deploy.yml from another branch, in the production environment",
        token(sub("environment:production", wf("deploy.yml") + "@refs/heads/feature")),
        False,
    ),
    (
        "deploy.yml from a tag",
        token(sub("environment:production", wf("deploy.yml") + "@refs/tags/v1.0.0")),
        False,
    ),
    ("deploy.yml in a pull request", token(sub("pull_request", wf("deploy.yml") + PR)), False),
    (
        "deploy.yml on main without an environment (skips the required reviewers)",
        token(sub("ref:refs/heads/main", wf("deploy.yml") + MAIN)),
        False,
    ),
    (
        "deploy.yml on main in an environment not configured",
        token(sub("environment:sandbox", wf("deploy.yml") + MAIN)),
        False,
    ),
    (
        "another repository",
        token(sub("environment:production", wf("deploy.yml", "evil/infra") + MAIN, "evil/infra")),
        False,
    ),
    (
        "a repository whose name starts with ours",
        token(
            sub(
                "environment:production",
                wf("deploy.yml", REPO + "-fork") + MAIN,
                REPO + "-fork",
            )
        ),
        False,
    ),
    (
        "our deploy.yml called as a reusable workflow from another repository",
        token(sub("environment:production", wf("deploy.yml") + MAIN, "evil/infra")),
        False,
    ),
    ("the preview job of a pull request", token(PREVIEW_PR), False),
    (
        "a token minted for another audience",
        token(DEPLOY_PRODUCTION, "https://github.com/x"),
        False,
    ),
    ("a token without an audience", token(DEPLOY_PRODUCTION, None), False),
]

PREVIEW_TOKENS = [
    ("preview.yml on pull request 42", token(PREVIEW_PR), True),
    (
        "preview.yml on pull request 1",
        token(sub("pull_request", wf("preview.yml") + "@refs/pull/1/merge")),
        True,
    ),
    (
        "the default subject, before the repository's template is set",
        token(f"repo:{REPO}:pull_request"),
        False,
    ),
    (
        "another workflow on a pull request",
        token(sub("pull_request", wf("test.yml") + PR)),
        False,
    ),
    (
        "preview.yml on a push to a branch",
        token(sub("ref:refs/heads/feature", wf("preview.yml") + "@refs/heads/feature")),
        False,
    ),
    (
        "pull_request_target: the base branch's preview.yml",
        token(sub("pull_request", wf("preview.yml") + MAIN)),
        False,
    ),
    (
        "a job of preview.yml in the production environment",
        token(sub("environment:production", wf("preview.yml") + PR)),
        False,
    ),
    (
        "an environment job of another workflow",
        token(sub("environment:production", wf("deploy.yml") + MAIN)),
        False,
    ),
    (
        "another repository's pull request",
        token(sub("pull_request", wf("preview.yml", "evil/infra") + PR, "evil/infra")),
        False,
    ),
    (
        "our preview.yml called as a reusable workflow from another repository",
        token(sub("pull_request", wf("preview.yml") + PR, "evil/infra")),
        False,
    ),
    ("a token minted for another audience", token(PREVIEW_PR, "https://github.com/x"), False),
]


# --- trust -------------------------------------------------------------------------------


def test_subjects_follow_the_repository_template_of_the_docs():
    assert SUBJECT_CLAIM_KEYS == ("repo", "context", "job_workflow_ref")
    # GitHub's own example of this template.
    assert github_subject(
        "octo-org/octo-repo", "environment:prod", ".github/workflows/oidc.yml", "refs/heads/main"
    ) == (
        "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:"
        "octo-org/octo-repo/.github/workflows/oidc.yml@refs/heads/main"
    )
    assert (ROOT / DEPLOY_WORKFLOW).is_file() and (ROOT / PREVIEW_WORKFLOW).is_file()


@pytest.mark.parametrize(
    ("case", "request_", "accepted"), DEPLOY_TOKENS, ids=[c for c, _, _ in DEPLOY_TOKENS]
)
def test_deploy_role_trusts_only_deploy_yml_on_main_in_its_environments(
    boot, case, request_, accepted
):
    decision = trust_decision(trust(boot, DEPLOY_ROLE), request_)
    assert decision.allowed is accepted, (case, decision)


@pytest.mark.parametrize(
    ("case", "request_", "accepted"), PREVIEW_TOKENS, ids=[c for c, _, _ in PREVIEW_TOKENS]
)
def test_preview_role_trusts_only_preview_yml_on_pull_requests(boot, case, request_, accepted):
    decision = trust_decision(trust(boot, PREVIEW_ROLE), request_)
    assert decision.allowed is accepted, (case, decision)


def test_without_deploy_environments_only_deploy_yml_on_main_is_trusted():
    run = run_bootstrap(deployEnvironments=[], replicaRegion=None)
    policy = trust(run, DEPLOY_ROLE)
    on_main = token(sub("ref:refs/heads/main", wf("deploy.yml") + MAIN))
    assert trust_decision(policy, on_main).allowed
    assert not trust_decision(policy, token(DEPLOY_PRODUCTION)).allowed
    elsewhere = token(sub("ref:refs/heads/feature", wf("deploy.yml") + "@refs/heads/feature"))
    assert not trust_decision(policy, elsewhere).allowed


def test_a_repository_on_immutable_subjects_is_matched_by_its_ids():
    immutable = "phase-mirror@1234567/phase-mirror-infra@7654321"
    run = run_bootstrap(githubRepository=immutable, replicaRegion=None)
    # The ids are in `repo`; job_workflow_ref names the workflow file by its path.
    deploy = sub("environment:production", wf("deploy.yml") + MAIN, immutable)
    preview = sub("pull_request", wf("preview.yml") + PR, immutable)
    assert trust_decision(trust(run, DEPLOY_ROLE), token(deploy)).allowed
    assert trust_decision(trust(run, PREVIEW_ROLE), token(preview)).allowed
    # The name-only subject of a look-alike repository (same names, other ids) is refused.
    assert not trust_decision(trust(run, DEPLOY_ROLE), token(DEPLOY_PRODUCTION)).allowed
    other = sub(
        "environment:production", wf("deploy.yml") + MAIN, "phase-mirror@1/phase-mirror-infra@2"
    )
    assert not trust_decision(trust(run, DEPLOY_ROLE), token(other)).allowed


def test_the_workflows_the_roles_trust_are_the_ones_that_assume_them():
    def roles(name: str) -> set[str]:
        data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        return {
            step["with"]["role-to-assume"]
            for job in data["jobs"].values()
            for step in job["steps"]
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
        }

    assert roles("preview.yml") == {"${{ vars.AWS_PREVIEW_ROLE_ARN }}"}
    assert roles("deploy.yml") == {"${{ vars.AWS_DEPLOY_ROLE_ARN }}"}
    assert roles("test.yml") == set()
    deploy = yaml.safe_load((ROOT / DEPLOY_WORKFLOW).read_text())
    bootstrap = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.bootstrap.yaml").read_text())
    environments = bootstrap["config"]["phase-mirror-bootstrap:deployEnvironments"]
    assert [job["environment"] for job in deploy["jobs"].values()] == environments


# --- the preview role's identity policy ----------------------------------------------------------


def program_types(*runs: ProgramRun) -> set[str]:
    found = {r.type for run in runs for r in run}
    for component, children in EKS_CHILDREN.items():
        if component in found:
            found.update(children)
    return found


@pytest.fixture(scope="module")
def everything_on() -> tuple[ProgramRun, set[str]]:
    """Production with every optional resource the config can add (alert subscriptions), and
    the invoke tokens the run made."""
    made: set[str] = set()
    answer = PhaseMirrorMocks.call

    def recording(self: PhaseMirrorMocks, args: Any) -> dict[str, Any]:
        made.add(args.token)
        return answer(self, args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PhaseMirrorMocks, "call", recording)
        run = run_program(
            "production",
            overrides={
                "phase-mirror-infra:alarmEmails": '["oncall@example.com"]',
                "phase-mirror-infra:devopsRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/devops",
                "phase-mirror-infra:developerRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/developer",
            },
        )
    return run, made


def test_every_type_the_program_manages_has_its_refresh_reads_listed(
    staging, production, everything_on
):
    types = program_types(staging, production, everything_on[0])
    missing = sorted(
        t
        for t in types
        if t not in REFRESH_READS
        and t not in UNREFRESHABLE
        and not t.startswith(COMPONENT_PREFIXES)
    )
    assert not missing, f"add each type's refresh reads to bootstrap/preview_access.py: {missing}"


def test_every_invoke_the_program_makes_has_its_reads_listed(everything_on):
    _, made = everything_on
    assert made, "the program makes no invoke?"
    assert made <= set(INVOKE_READS), sorted(made - set(INVOKE_READS))


def test_pull_request_previews_refresh_exactly_when_no_type_forbids_it(staging, production):
    blocking = sorted(program_types(staging, production) & set(UNREFRESHABLE))
    workflow = yaml.safe_load((ROOT / PREVIEW_WORKFLOW).read_text())
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    refresh = step["with"].get("refresh", False)
    if blocking:
        assert refresh is False, {t: UNREFRESHABLE[t] for t in blocking}
    else:
        assert refresh is True, "nothing blocks a refresh now: set refresh: true in preview.yml"


@pytest.mark.parametrize("type_", sorted(REFRESH_READS))
def test_a_refresh_of_each_type_is_allowed(boot, type_):
    policy = preview_identity(boot)
    for action in REFRESH_READS[type_]:
        decision = identity_decision([policy], role_request(PREVIEW_ROLE, action))
        assert decision is Decision.ALLOW, (type_, action, decision)


@pytest.mark.parametrize("type_", sorted(UNREFRESHABLE))
def test_a_refresh_of_an_unrefreshable_type_is_denied(boot, type_):
    # Exactly what the deny on data-plane reads must stop (a secret value).
    for action in UNREFRESHABLE[type_]:
        request = role_request(PREVIEW_ROLE, action)
        assert identity_decision([preview_identity(boot)], request) is Decision.EXPLICIT_DENY


def test_the_invokes_of_a_preview_are_allowed(boot):
    policy = preview_identity(boot)
    for token_, actions in INVOKE_READS.items():
        for action in actions:
            assert identity_decision([policy], role_request(PREVIEW_ROLE, action)).allowed, token_


def test_the_action_list_is_the_one_in_preview_access(boot):
    (reads,) = [s for s in preview_identity(boot)["Statement"] if s["Sid"] == "RefreshReads"]
    assert reads["Action"] == refresh_actions() and reads["Resource"] == "*"


def test_the_policy_fits_a_roles_inline_policy_quota(boot):
    policy = json.dumps(preview_identity(boot), separators=(",", ":"))
    assert len(re.sub(r"\s", "", policy)) <= INLINE_POLICY_LIMIT


def state_bucket_policy(boot: ProgramRun) -> dict[str, Any]:
    (bucket,) = [
        r for r in boot.of_type("aws:s3/bucket:Bucket") if r.inputs["bucket"] == STATE_BUCKET
    ]
    (policy,) = [
        r
        for r in boot.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if r.inputs["bucket"] == bucket.id
    ]
    return json.loads(policy.inputs["policy"])


def key_policy(boot: ProgramRun, name: str) -> tuple[str, dict[str, Any]]:
    key = boot.one("aws:kms/key:Key", name)
    policy = key.inputs.get("policy")
    return key.outputs["arn"], json.loads(policy) if policy else DEFAULT_KEY_POLICY


def test_preview_reads_the_state_through_the_bucket_and_its_key(boot):
    identity = [preview_identity(boot)]
    tls = {"aws:SecureTransport": True}
    bucket = state_bucket_policy(boot)
    get = role_request(PREVIEW_ROLE, "s3:GetObject", STATE_OBJECT, **tls)
    assert resource_decision(bucket, get, identity) is Decision.ALLOW
    listing = role_request(PREVIEW_ROLE, "s3:ListBucket", f"arn:aws:s3:::{STATE_BUCKET}", **tls)
    assert resource_decision(bucket, listing, identity) is Decision.ALLOW
    for action in ("s3:PutObject", "s3:DeleteObject"):
        write = role_request(PREVIEW_ROLE, action, STATE_OBJECT, **tls)
        assert resource_decision(bucket, write, identity) is Decision.IMPLICIT_DENY, action
    # Over plain HTTP even a read is refused by the bucket's TLS-only statement.
    plain = role_request(PREVIEW_ROLE, "s3:GetObject", STATE_OBJECT, aws__SecureTransport=False)
    assert resource_decision(bucket, plain, identity) is Decision.EXPLICIT_DENY
    # S3 decrypts the object with the state key on the caller's behalf; with an S3 Bucket Key
    # the encryption context is the bucket's ARN.
    state_key, state_key_policy = key_policy(boot, "state-backend-state-key")
    via_s3 = role_request(
        PREVIEW_ROLE,
        "kms:Decrypt",
        state_key,
        kms__ViaService="s3.us-east-1.amazonaws.com",
        **{"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{STATE_BUCKET}"},
    )
    assert key_decision(state_key_policy, via_s3, identity) is Decision.ALLOW
    direct = role_request(PREVIEW_ROLE, "kms:Decrypt", state_key)
    assert key_decision(state_key_policy, direct, identity) is Decision.IMPLICIT_DENY


def test_preview_decrypts_the_stacks_secrets_with_the_secrets_key_only(boot, production):
    identity = [preview_identity(boot)]
    secrets_key, secrets_key_policy = key_policy(boot, "state-backend-secrets-key")
    decrypt = role_request(PREVIEW_ROLE, "kms:Decrypt", secrets_key)
    assert key_decision(secrets_key_policy, decrypt, identity) is Decision.ALLOW
    for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"):
        other = role_request(PREVIEW_ROLE, action, secrets_key)
        assert key_decision(secrets_key_policy, other, identity) is not Decision.ALLOW, action
    for key in production.of_type("aws:kms/key:Key"):
        request = role_request(PREVIEW_ROLE, "kms:Decrypt", key.outputs["arn"])
        # Even a key policy that named the preview role could not open these.
        assert identity_decision(identity, request) is Decision.EXPLICIT_DENY, key.urn


def data_plane_reads(run: ProgramRun) -> list[tuple[str, str]]:
    """(action, resource) of every data read on the program's own resources."""
    reads: list[tuple[str, str]] = []
    for table in run.of_type("aws:dynamodb/table:Table"):
        arn = table.outputs["arn"]
        for action in ("GetItem", "BatchGetItem", "Query", "Scan", "PartiQLSelect"):
            reads.append((f"dynamodb:{action}", arn))
        reads.append(("dynamodb:Query", f"{arn}/index/rule-index"))
        reads.append(("dynamodb:GetRecords", f"{arn}/stream/2026-01-01T00:00:00.000"))
    for secret in run.of_type("aws:secretsmanager/secret:Secret"):
        reads.append(("secretsmanager:GetSecretValue", secret.outputs["arn"]))
    for group in run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        arn = group.outputs["arn"]
        reads += [
            ("logs:GetLogEvents", f"{arn}:log-stream:x"),
            ("logs:FilterLogEvents", arn),
            ("logs:StartQuery", arn),
            ("logs:StartLiveTail", arn),
        ]
    reads.append(("logs:GetQueryResults", "*"))
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        arn = bucket.outputs["arn"]
        reads += [("s3:GetObject", f"{arn}/x"), ("s3:GetObjectVersion", f"{arn}/x")]
    for function in run.of_type("aws:lambda/function:Function"):
        reads.append(("lambda:InvokeFunction", function.outputs["arn"]))
    reads.append(("execute-api:Invoke", f"arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:x/*"))
    return reads


def test_every_data_plane_read_of_the_program_is_explicitly_denied(boot, production):
    identity = [preview_identity(boot)]
    reads = data_plane_reads(production)
    assert len(reads) > 60, len(reads)
    allowed = [
        (action, resource)
        for action, resource in reads
        if identity_decision(identity, role_request(PREVIEW_ROLE, action, resource))
        is not Decision.EXPLICIT_DENY
    ]
    assert not allowed, allowed


def test_a_resource_policy_naming_the_preview_role_cannot_open_data(boot, production):
    # Explicit denies win over any Allow ("Policy evaluation logic"): a table or bucket policy
    # (or a key policy delegating to IAM) that let the role in would still be overruled.
    identity = [preview_identity(boot)]
    table = production.of_type("aws:dynamodb/table:Table")[0].outputs["arn"]
    open_table = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": PREVIEW_ROLE},
                "Action": "dynamodb:*",
                "Resource": "*",
            }
        ],
    }
    request = role_request(PREVIEW_ROLE, "dynamodb:GetItem", table)
    assert resource_decision(open_table, request, identity) is Decision.EXPLICIT_DENY
    assert resource_decision(open_table, request) is Decision.ALLOW  # what the deny prevents


def test_preview_writes_nothing(boot, production):
    identity = [preview_identity(boot)]
    table = production.of_type("aws:dynamodb/table:Table")[0].outputs["arn"]
    for action, resource in [
        ("s3:PutObject", STATE_OBJECT),
        ("dynamodb:PutItem", table),
        ("iam:PassRole", DEPLOY_ROLE),
        ("sts:AssumeRole", DEPLOY_ROLE),
        ("iam:CreateRole", "*"),
        ("lambda:UpdateFunctionCode", "*"),
        ("kms:CreateGrant", "*"),
        ("secretsmanager:PutSecretValue", "*"),
    ]:
        decision = identity_decision(identity, role_request(PREVIEW_ROLE, action, resource))
        assert not decision.allowed, (action, decision)


def test_the_preview_role_has_no_managed_policy(boot):
    name = role_named(boot, PREVIEW_ROLE).inputs["name"]
    attached = [
        r.inputs["policyArn"]
        for r in boot.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.inputs["role"] == name
    ]
    assert attached == [], "ReadOnlyAccess would bring DynamoDB, S3 and log reads back"


def test_docs_name_the_workflows_and_template_the_trust_relies_on():
    text = (ROOT / "docs" / "bootstrap.md").read_text()
    assert json.dumps(list(SUBJECT_CLAIM_KEYS)) in text
    assert "actions/oidc/customization/sub" in text
    for name in ("deploy.yml", "preview.yml"):
        assert f"job_workflow_ref:OWNER/REPO/.github/workflows/{name}@" in text, name
