"""The EKS cluster of the data tier (pulumi-eks), kept in its own module for size.

Private API endpoint (public only for ``eks_public_access_cidrs``), every control-plane log type
into a KMS-encrypted log group, secrets envelope-encrypted with a KMS key, an OIDC provider for
IRSA, access entries (authentication mode API, never the aws-auth ConfigMap, which a private
endpoint makes unreachable from the deploying machine), and two managed node groups in the app
subnets: on-demand, and spot with a ``NoSchedule`` taint so only workloads that tolerate
interruption land there. The cluster is a child of ``DataTier`` from the start: moving a remote
component under another parent later is not reliably aliasable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.config import DataSettings
from components.core.base import log_group, managed_key, service_trust, stateful
from components.core.context import StackContext
from components.core.key_policy import deployer_grants, key_policy, via

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
SPOT_TAINT = aws.eks.NodeGroupTaintArgs(key="capacity-type", value="spot", effect="NO_SCHEDULE")
NODE_DISK_GB = 50


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    """Inputs of ``build_cluster``.

    - stack: the stack's shared context; the cluster is ``{prefix}-eks-{stack}``.
    - settings: version, node sizes, instance types, public CIDRs and access roles.
    - vpc_id, subnet_ids: the VPC and its app subnets (control-plane ENIs and nodes).
    """

    stack: StackContext
    settings: DataSettings
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]


def secrets_key_policy(stack: StackContext) -> str:
    """EKS envelope-encrypts Kubernetes secrets on a grant it creates for the principal that
    creates the cluster (kms:CreateGrant, kms:DescribeKey; "Encrypt Kubernetes secrets with KMS
    on existing clusters": https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html).
    Nobody else uses the key; DescribeKey comes with administration."""
    grants = deployer_grants(stack.account_id, stack.deployers, via("eks", stack.region))
    return key_policy(stack.account_id, stack.deployers, grants)


def access_entries(settings: DataSettings) -> dict[str, eks.AccessEntryArgs]:
    """DevOps role: cluster admin; developer role: read-only view (least privilege for people)."""
    grants = {"devops": (settings.devops_role_arn, ADMIN_POLICY)}
    grants["developer"] = (settings.developer_role_arn, VIEW_POLICY)
    return {
        who: eks.AccessEntryArgs(
            principal_arn=arn,
            access_policies={
                who: eks.AccessPolicyAssociationArgs(
                    policy_arn=policy,
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                )
            },
        )
        for who, (arn, policy) in grants.items()
        if arn
    }


def build_cluster(name: str, args: EksClusterArgs, *, parent: pulumi.Resource) -> eks.Cluster:
    s, naming = args.settings, args.stack.naming
    child = pulumi.ResourceOptions(parent=parent)
    cluster_name = naming.physical("eks")
    key = managed_key(
        f"{name}-secrets-key",
        parent=parent,
        stack=args.stack,
        alias_role="eks-secrets",
        description=f"EKS secrets envelope encryption for {cluster_name}",
        policy=secrets_key_policy(args.stack),
    )
    # EKS would create this group itself, unencrypted and kept forever: create it first.
    control_plane_logs = log_group(
        f"{name}-control-plane-logs",
        f"/aws/eks/{cluster_name}/cluster",
        key_arn=args.stack.log_key,
        retention_days=args.stack.log_retention_days,
        opts=child,
    )
    node_role = aws.iam.Role(
        f"{name}-node-role",
        name=naming.physical("eks-node"),
        assume_role_policy=service_trust("ec2.amazonaws.com"),
        opts=child,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-policy-{i}", role=node_role.name, policy_arn=arn, opts=child
        )
        for i, arn in enumerate(NODE_POLICIES)
    ]
    cluster = eks.Cluster(
        name,
        name=cluster_name,
        version=s.kubernetes_version,
        vpc_id=args.vpc_id,
        private_subnet_ids=list(args.subnet_ids),
        endpoint_private_access=True,
        endpoint_public_access=bool(s.eks_public_access_cidrs),
        public_access_cidrs=list(s.eks_public_access_cidrs) or None,
        enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
        encryption_config_key_arn=key.arn,
        create_oidc_provider=True,
        authentication_mode=eks.AuthenticationMode.API,
        access_entries=access_entries(s),
        # Managed node groups only; their nodes share the EKS-created cluster security group.
        # No ``instance_roles``: with authentication mode API pulumi-eks refuses them, and EKS
        # itself creates the node role's access entry for a managed node group.
        skip_default_node_group=True,
        skip_default_security_groups=True,
        node_associate_public_ip_address=False,
        deletion_protection=args.stack.protect,
        opts=pulumi.ResourceOptions.merge(
            stateful(parent, args.stack.protect),
            pulumi.ResourceOptions(depends_on=[control_plane_logs]),
        ),
    )
    groups = {"on-demand": (s.eks_on_demand_min_size, s.eks_on_demand_max_size)}
    if s.eks_spot_max_size > 0:
        groups["spot"] = (0, s.eks_spot_max_size)
    for role, (low, high) in groups.items():
        spot = role == "spot"
        eks.ManagedNodeGroup(
            f"{name}-{role}",
            cluster=cluster,
            node_group_name=naming.physical(f"eks-{role}"),
            node_role=node_role,
            subnet_ids=list(args.subnet_ids),
            capacity_type="SPOT" if spot else "ON_DEMAND",
            instance_types=list(s.eks_instance_types),
            disk_size=NODE_DISK_GB,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=low, max_size=high, desired_size=low
            ),
            # The cluster autoscaler owns the desired size; Pulumi must not reset it.
            ignore_scaling_changes=True,
            labels={"capacity-type": "spot" if spot else "on-demand"},
            taints=[SPOT_TAINT] if spot else None,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=attachments),
        )
    return cluster
