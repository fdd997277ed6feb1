"""Bootstrap: the state backend and CI identity, run once per account before the main project.

Its four outputs are exactly what the main project needs (README, "Bootstrap"):
``loginUrl`` for ``pulumi login``, ``secretsProvider`` for ``pulumi stack init
--secrets-provider``, and the two role ARNs for the workflows' repository variables.
"""

import sys
from pathlib import Path

# Pulumi runs this program from bootstrap/; the config helpers and SecureBucket it shares with
# the main project are imported from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_aws as aws

from bootstrap.ci_identity import DEPLOY_ROLE, PREVIEW_ROLE, CiIdentity, CiIdentityArgs, ci_role_arn
from bootstrap.config import check_operator_account, load_bootstrap_config
from bootstrap.state_backend import Replica, StateBackend, StateBackendArgs
from components.core.base import PROJECT_TAG

# One account serves both stacks of the main project.
ENVIRONMENT_TAG = "shared"


def tagged_provider(component: str, region: str, suffix: str = "") -> aws.Provider:
    return aws.Provider(
        f"aws-{component.lower()}{suffix}",
        region=region,
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={
                "Project": PROJECT_TAG,
                "Component": component,
                "Environment": ENVIRONMENT_TAG,
                "ManagedBy": "Pulumi",
            }
        ),
    )


cfg = load_bootstrap_config()
account_id = aws.get_caller_identity().account_id
check_operator_account(cfg, account_id)

backend = StateBackend(
    "state-backend",
    StateBackendArgs(
        naming=cfg.naming,
        account_id=account_id,
        region=cfg.region,
        deploy_role_arn=ci_role_arn(cfg.naming, account_id, DEPLOY_ROLE),
        preview_role_arn=ci_role_arn(cfg.naming, account_id, PREVIEW_ROLE),
        operator_role_arn_pattern=cfg.operator_role_arn_pattern,
        replica=(
            Replica(
                region=cfg.replica_region,
                provider=tagged_provider("StateBackend", cfg.replica_region, "-replica"),
            )
            if cfg.replica_region
            else None
        ),
    ),
    opts=pulumi.ResourceOptions(providers={"aws": tagged_provider("StateBackend", cfg.region)}),
)

ci = CiIdentity(
    "ci-identity",
    CiIdentityArgs(
        naming=cfg.naming,
        account_id=account_id,
        repository=cfg.github_repository,
        deploy_environments=cfg.deploy_environments,
        state_bucket_arns=[
            b.arn for b in (backend.bucket, backend.replica_bucket) if b is not None
        ],
        state_key_arns=[
            k.arn for k in (backend.keys["state"], backend.replica_keys.get("state")) if k
        ],
        secrets_key_arns=[
            k.arn for k in (backend.keys["secrets"], backend.replica_keys.get("secrets")) if k
        ],
        guarded_role_arns=[r.arn for r in (backend.replication_role,) if r is not None],
        existing_provider_arn=cfg.github_oidc_provider_arn,
    ),
    opts=pulumi.ResourceOptions(providers={"aws": tagged_provider("CiIdentity", cfg.region)}),
)

pulumi.export("loginUrl", backend.login_url)
pulumi.export("secretsProvider", backend.secrets_provider)
pulumi.export("previewRoleArn", ci.preview_role.arn)
pulumi.export("deployRoleArn", ci.deploy_role.arn)
