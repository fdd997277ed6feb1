"""CiIdentity: GitHub Actions' OIDC provider and the two roles CI assumes.

No long-lived credentials: workflows exchange GitHub's OIDC token for one-hour sessions.

The trust policies condition on a GitHub token's ``aud`` and ``sub`` only ("Support for custom
claims for OIDC is unavailable in AWS": GitHub, "Configuring OpenID Connect in Amazon Web
Services"), so every binding lives in ``sub``. The repository's subject template is customised once (``PUT /repos/{owner}/{repo}/
actions/oidc/customization/sub`` with ``include_claim_keys`` ``SUBJECT_CLAIM_KEYS``, see
docs/bootstrap.md), which makes every job's subject
``repo:OWNER/REPO:<context>:job_workflow_ref:OWNER/REPO/.github/workflows/<file>@<ref>``
(GitHub, "OpenID Connect reference", "Customizing the subject claims for an organization or
repository"); ``<context>`` is ``environment:<name>`` for a job bound to an environment,
``pull_request`` for a pull request, else ``ref:<ref>``.

- preview role: trusted for ``preview.yml`` running on a pull request of the repository
  (``StringLike``: the pull request number varies). Its identity policy is
  ``bootstrap.preview_access.preview_policy``: refresh reads, the state, the secrets key, and
  an explicit deny on data-plane reads. No AWS managed policy.
- deploy role: trusted for ``deploy.yml`` at ``refs/heads/main`` in the configured GitHub
  environments (``StringEquals``). ``PowerUserAccess`` plus IAM for the workload's roles and
  policies, minus guard rails: it can create no IAM user or access key, change neither CI role
  nor the OIDC provider, and cannot weaken the state bucket or the keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from bootstrap.preview_access import preview_policy
from components.config import Naming
from components.core.key_policy import role_arn

PREVIEW_ROLE = "ci-preview"
DEPLOY_ROLE = "ci-deploy"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
MAX_SESSION_SECONDS = 3600
POWER_USER_ACCESS = "arn:aws:iam::aws:policy/PowerUserAccess"
# The repository's OIDC subject template (one-time setting, docs/bootstrap.md).
SUBJECT_CLAIM_KEYS = ("repo", "context", "job_workflow_ref")
PREVIEW_WORKFLOW = ".github/workflows/preview.yml"
DEPLOY_WORKFLOW = ".github/workflows/deploy.yml"
DEPLOY_REF = "refs/heads/main"
# A pull_request run's ref is the pull request's merge ref; pull_request_target runs the base
# branch's workflow (refs/heads/...), so it never matches.
PULL_REQUEST_REF = "refs/pull/*/merge"

LONG_LIVED_CREDENTIAL_ACTIONS = (
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
)
STATE_GUARDED_ACTIONS = (
    "s3:DeleteBucket",
    "s3:DeleteObjectVersion",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)
KEY_GUARDED_ACTIONS = (
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
)


@dataclass(frozen=True, kw_only=True)
class CiIdentityArgs:
    """Inputs of ``CiIdentity``.

    - naming: the bootstrap stack's physical-name rule (``{prefix}-ci-preview-{stack}``, ...).
    - account_id: the account whose IAM roles, policies and profiles the deploy role manages.
    - repository: ``OWNER/REPO`` (or ``OWNER@ID/REPO@ID``, the immutable subject form),
      validated (no wildcards).
    - deploy_environments: GitHub environments whose ``deploy.yml`` jobs may assume the deploy
      role; none: its jobs on ``main`` without an environment.
    - state_bucket_arns: the state bucket and its replica: readable by preview, guarded.
    - state_key_arns: the state key and its replica: preview decrypts through S3 only.
    - secrets_key_arns: the stacks' secrets key and its replica: preview decrypts.
    - guarded_role_arns: further roles the deploy role may not change (the replication role).
    - existing_provider_arn: the account's GitHub OIDC provider, or none to create it.
    """

    naming: Naming
    account_id: str
    repository: str
    deploy_environments: Sequence[str]
    state_bucket_arns: Sequence[pulumi.Input[str]]
    state_key_arns: Sequence[pulumi.Input[str]]
    secrets_key_arns: Sequence[pulumi.Input[str]]
    guarded_role_arns: Sequence[pulumi.Input[str]] = ()
    existing_provider_arn: str | None = None


def ci_role_arn(naming: Naming, account_id: str, role: str) -> str:
    """A CI role's ARN before it exists (no path): the state and secrets keys name it."""
    return role_arn(account_id, naming.physical(role))


def repository_names(repository: str) -> str:
    """``OWNER/REPO`` without the immutable ids: ``job_workflow_ref`` names the workflow file."""
    return re.sub(r"@\d+", "", repository)


def github_subject(repository: str, context: str, workflow: str, ref: str) -> str:
    """The ``sub`` a job presents under the ``SUBJECT_CLAIM_KEYS`` template."""
    job_workflow_ref = f"{repository_names(repository)}/{workflow}@{ref}"
    return f"repo:{repository}:{context}:job_workflow_ref:{job_workflow_ref}"


def preview_subjects(repository: str) -> list[str]:
    """``StringLike`` patterns: preview.yml on any pull request of the repository."""
    return [github_subject(repository, "pull_request", PREVIEW_WORKFLOW, PULL_REQUEST_REF)]


def deploy_subjects(repository: str, environments: Sequence[str]) -> list[str]:
    """Exact subjects: deploy.yml at main, in each deploy environment (or in none)."""
    contexts = [f"environment:{env}" for env in environments] or [f"ref:{DEPLOY_REF}"]
    return [github_subject(repository, c, DEPLOY_WORKFLOW, DEPLOY_REF) for c in contexts]


def github_trust_policy(
    provider_arn: str, subjects: Sequence[str], *, like: bool = False
) -> dict[str, Any]:
    """Trust for GitHub's tokens: audience exact; subject exact, or ``StringLike`` patterns."""
    audience = {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE}
    subject = {f"{GITHUB_OIDC_HOST}:sub": list(subjects)}
    condition = (
        {"StringEquals": audience, "StringLike": subject}
        if like
        else {"StringEquals": {**audience, **subject}}
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActions",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }


def deploy_policy(
    *,
    account_id: str,
    bucket_arns: Sequence[str],
    key_arns: Sequence[str],
    guarded_arns: Sequence[str],
) -> dict[str, Any]:
    """IAM for the workload's roles (``PowerUserAccess`` has none), and the guard rails."""
    iam = f"arn:aws:iam::{account_id}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WorkloadIam",
                "Effect": "Allow",
                "Action": "iam:*",
                "Resource": [
                    f"{iam}:role/*",
                    f"{iam}:policy/*",
                    f"{iam}:instance-profile/*",
                    f"{iam}:oidc-provider/*",
                ],
            },
            {
                "Sid": "ReadIam",
                "Effect": "Allow",
                "Action": ["iam:Get*", "iam:List*"],
                "Resource": "*",
            },
            {
                "Sid": "NoLongLivedCredentials",
                "Effect": "Deny",
                "Action": list(LONG_LIVED_CREDENTIAL_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "CiIdentityIsFixed",
                "Effect": "Deny",
                "NotAction": ["iam:Get*", "iam:List*"],
                "Resource": list(guarded_arns),
            },
            {
                "Sid": "StateBackendIsFixed",
                "Effect": "Deny",
                "Action": list(STATE_GUARDED_ACTIONS),
                "Resource": [*bucket_arns, *(f"{arn}/*" for arn in bucket_arns)],
            },
            {
                "Sid": "KeysAreFixed",
                "Effect": "Deny",
                "Action": list(KEY_GUARDED_ACTIONS),
                "Resource": list(key_arns),
            },
        ],
    }


class CiIdentity(pulumi.ComponentResource):
    """The GitHub OIDC provider (or the existing one) and the preview and deploy roles."""

    provider_arn: pulumi.Output[str]
    preview_role: aws.iam.Role
    deploy_role: aws.iam.Role

    def __init__(
        self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:bootstrap:CiIdentity", name, None, opts)
        if args.existing_provider_arn is None:
            # AWS trusts GitHub's certificate through its own CA library: no thumbprint to pin.
            # Protected: every role of the account that trusts GitHub depends on it.
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=[STS_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
            )
            self.provider_arn = provider.arn
        else:
            self.provider_arn = pulumi.Output.from_input(args.existing_provider_arn)
        self.preview_role = self._role(
            name,
            PREVIEW_ROLE,
            github_trust_policy_output(
                self.provider_arn, preview_subjects(args.repository), like=True
            ),
            f"GitHub Actions: {PREVIEW_WORKFLOW} on pull requests of {args.repository}",
            args,
        )
        environments = ", ".join(args.deploy_environments) or "no environment"
        self.deploy_role = self._role(
            name,
            DEPLOY_ROLE,
            github_trust_policy_output(
                self.provider_arn,
                deploy_subjects(args.repository, args.deploy_environments),
                like=False,
            ),
            f"GitHub Actions: {DEPLOY_WORKFLOW} on main of {args.repository} ({environments})",
            args,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ci-deploy-managed",
            role=self.deploy_role.name,
            policy_arn=POWER_USER_ACCESS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-ci-preview-reads",
            role=self.preview_role.name,
            policy=pulumi.Output.all(
                pulumi.Output.all(*args.state_bucket_arns),
                pulumi.Output.all(*args.state_key_arns),
                pulumi.Output.all(*args.secrets_key_arns),
            ).apply(
                lambda a: json.dumps(
                    preview_policy(
                        state_bucket_arns=a[0], state_key_arns=a[1], secrets_key_arns=a[2]
                    )
                )
            ),
            opts=pulumi.ResourceOptions(
                parent=self, aliases=[pulumi.Alias(name=f"{name}-ci-preview-state")]
            ),
        )
        guarded = [
            self.preview_role.arn,
            self.deploy_role.arn,
            self.provider_arn,
            *args.guarded_role_arns,
        ]
        aws.iam.RolePolicy(
            f"{name}-ci-deploy-workload",
            role=self.deploy_role.name,
            policy=pulumi.Output.all(
                pulumi.Output.all(*args.state_bucket_arns),
                pulumi.Output.all(*args.state_key_arns, *args.secrets_key_arns),
                pulumi.Output.all(*guarded),
            ).apply(
                lambda a: json.dumps(
                    deploy_policy(
                        account_id=args.account_id,
                        bucket_arns=a[0],
                        key_arns=a[1],
                        guarded_arns=a[2],
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "providerArn": self.provider_arn,
                "previewRoleArn": self.preview_role.arn,
                "deployRoleArn": self.deploy_role.arn,
            }
        )

    def _role(
        self,
        name: str,
        role: str,
        trust: pulumi.Output[str],
        description: str,
        args: CiIdentityArgs,
    ) -> aws.iam.Role:
        return aws.iam.Role(
            f"{name}-{role}",
            name=args.naming.physical(role),
            description=description,
            assume_role_policy=trust,
            max_session_duration=MAX_SESSION_SECONDS,
            opts=pulumi.ResourceOptions(parent=self),
        )


def github_trust_policy_output(
    provider_arn: pulumi.Output[str], subjects: list[str], *, like: bool
) -> pulumi.Output[str]:
    return provider_arn.apply(lambda arn: json.dumps(github_trust_policy(arn, subjects, like=like)))
