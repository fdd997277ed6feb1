"""CiIdentity: GitHub Actions' OIDC provider and the two roles CI assumes (checklist 001, 2.1).

No long-lived credentials: workflows exchange GitHub's OIDC token for one-hour sessions.

- preview role: ``ReadOnlyAccess`` plus reading the state and decrypting with the state and
  secrets keys (``pulumi preview`` takes no lock on an S3 backend, so it writes nothing).
  Trusted only for pull requests of the configured repository.
- deploy role: ``PowerUserAccess`` plus IAM for the workload's roles and policies, minus guard
  rails: it can create no IAM user or access key, change neither CI role nor the OIDC
  provider, and cannot weaken the state bucket or the keys. Trusted only for the ``main``
  branch and the configured GitHub environments.

Every trust condition is ``StringEquals`` (audience and subject): no wildcard subject, so no
other repository, branch or fork can assume either role.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import Naming

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
MAX_SESSION_SECONDS = 3600
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER_ACCESS = "arn:aws:iam::aws:policy/PowerUserAccess"

STATE_READ_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning")
STATE_OBJECT_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
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
    - repository: ``OWNER/REPO``, validated (no wildcards).
    - deploy_environments: GitHub environments trusted by the deploy role besides ``main``.
    - state_bucket_arns: the state bucket and its replica: readable by preview, guarded.
    - key_arns: the state and secrets keys and their replicas: decrypt for preview, guarded.
    - guarded_role_arns: further roles the deploy role may not change (the replication role).
    - existing_provider_arn: the account's GitHub OIDC provider, or none to create it.
    """

    naming: Naming
    account_id: str
    repository: str
    deploy_environments: Sequence[str]
    state_bucket_arns: Sequence[pulumi.Input[str]]
    key_arns: Sequence[pulumi.Input[str]]
    guarded_role_arns: Sequence[pulumi.Input[str]] = ()
    existing_provider_arn: str | None = None


def preview_subjects(repository: str) -> list[str]:
    return [f"repo:{repository}:pull_request"]


def deploy_subjects(repository: str, environments: Sequence[str]) -> list[str]:
    return [
        f"repo:{repository}:ref:refs/heads/main",
        *(f"repo:{repository}:environment:{env}" for env in environments),
    ]


def github_trust_policy(provider_arn: str, subjects: Sequence[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActions",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": list(subjects),
                    }
                },
            }
        ],
    }


def state_read_policy(bucket_arns: Sequence[str], key_arns: Sequence[str]) -> dict[str, Any]:
    """What ``pulumi preview`` needs beyond ``ReadOnlyAccess``: decrypting state and secrets."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListState",
                "Effect": "Allow",
                "Action": list(STATE_READ_ACTIONS),
                "Resource": list(bucket_arns),
            },
            {
                "Sid": "ReadState",
                "Effect": "Allow",
                "Action": list(STATE_OBJECT_READ_ACTIONS),
                "Resource": [f"{arn}/*" for arn in bucket_arns],
            },
            {
                "Sid": "DecryptStateAndSecrets",
                "Effect": "Allow",
                "Action": list(KEY_READ_ACTIONS),
                "Resource": list(key_arns),
            },
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
            name, "ci-preview", preview_subjects(args.repository), READ_ONLY_ACCESS, args
        )
        self.deploy_role = self._role(
            name,
            "ci-deploy",
            deploy_subjects(args.repository, args.deploy_environments),
            POWER_USER_ACCESS,
            args,
        )
        aws.iam.RolePolicy(
            f"{name}-ci-preview-state",
            role=self.preview_role.name,
            policy=pulumi.Output.all(
                pulumi.Output.all(*args.state_bucket_arns), pulumi.Output.all(*args.key_arns)
            ).apply(lambda a: json.dumps(state_read_policy(a[0], a[1]))),
            opts=pulumi.ResourceOptions(parent=self),
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
                pulumi.Output.all(*args.key_arns),
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
        self, name: str, role: str, subjects: list[str], managed: str, args: CiIdentityArgs
    ) -> aws.iam.Role:
        created = aws.iam.Role(
            f"{name}-{role}",
            name=args.naming.physical(role),
            description=f"Assumed by GitHub Actions of {args.repository} ({', '.join(subjects)})",
            assume_role_policy=self.provider_arn.apply(
                lambda arn: json.dumps(github_trust_policy(arn, subjects))
            ),
            max_session_duration=MAX_SESSION_SECONDS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-{role}-managed",
            role=created.name,
            policy_arn=managed,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return created
