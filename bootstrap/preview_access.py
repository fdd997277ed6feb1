"""What the CI preview role may read: the refresh reads per resource type, and what it may not.

``pulumi preview --refresh`` runs on every pull request with the preview role, and a pull
request's author controls the program it runs. So the role carries no AWS managed policy
(``ReadOnlyAccess`` includes DynamoDB ``GetItem``/``Query``/``Scan``, S3 ``GetObject`` and
CloudWatch log events): it may read the state, decrypt with the stacks' secrets key, and call
the control-plane reads a refresh of each resource type this program manages performs, and it
is explicitly denied the data-plane reads of every service the program uses.

``REFRESH_READS`` is the one list of those reads, keyed on the Pulumi type token; each entry is
what the provider's read of that type calls (pulumi-aws bridges terraform-provider-aws, whose
``Read`` function of the type is the source). ``tests/test_ci_identity.py`` runs the program
under mocks and fails when it registers a type that has no entry here, so a new kind of
resource cannot silently break the pull-request preview. Types whose refresh would read a
value the role is denied are listed in ``UNREFRESHABLE`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_S3_BUCKET_READS = (
    # HeadBucket is authorised as s3:ListBucket.
    "s3:ListBucket",
    "s3:GetBucket*",
    "s3:GetAccelerateConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
)
_EC2_ROUTES = ("ec2:DescribeRouteTables",)
_EC2_RULES = ("ec2:DescribeSecurityGroupRules",)
_API = ("apigateway:GET",)  # API Gateway authorises every read of an HTTP API as GET
_ROLE = ("iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies")
_NOTHING: tuple[str, ...] = ()

REFRESH_READS: Mapping[str, tuple[str, ...]] = {
    "aws:apigatewayv2/api:Api": _API,
    "aws:apigatewayv2/integration:Integration": _API,
    "aws:apigatewayv2/authorizer:Authorizer": _API,
    "aws:apigatewayv2/route:Route": _API,
    "aws:apigatewayv2/stage:Stage": _API,
    "aws:backup/plan:Plan": ("backup:GetBackupPlan", "backup:ListTags"),
    "aws:backup/selection:Selection": ("backup:GetBackupSelection",),
    "aws:backup/vault:Vault": ("backup:DescribeBackupVault", "backup:ListTags"),
    "aws:cloudtrail/trail:Trail": (
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrail",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
        "cloudtrail:GetInsightSelectors",
        "cloudtrail:ListTags",
    ),
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch:GetDashboard",),
    "aws:cloudwatch/eventRule:EventRule": ("events:DescribeRule", "events:ListTagsForResource"),
    "aws:cloudwatch/eventTarget:EventTarget": ("events:ListTargetsByRule",),
    "aws:cloudwatch/logGroup:LogGroup": (
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
        "logs:ListTagsLogGroup",
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("logs:DescribeMetricFilters",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
    ),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": (
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
    ),
    "aws:cloudwatch/queryDefinition:QueryDefinition": ("logs:DescribeQueryDefinitions",),
    "aws:dynamodb/contributorInsights:ContributorInsights": (
        "dynamodb:DescribeContributorInsights",
    ),
    "aws:dynamodb/table:Table": (
        "dynamodb:DescribeTable",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:ListTagsOfResource",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("ec2:DescribeSecurityGroups",),
    "aws:ec2/eip:Eip": ("ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"),
    "aws:ec2/flowLog:FlowLog": ("ec2:DescribeFlowLogs",),
    "aws:ec2/internetGateway:InternetGateway": ("ec2:DescribeInternetGateways",),
    "aws:ec2/natGateway:NatGateway": ("ec2:DescribeNatGateways",),
    "aws:ec2/route:Route": _EC2_ROUTES,
    "aws:ec2/routeTable:RouteTable": _EC2_ROUTES,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _EC2_ROUTES,
    "aws:ec2/securityGroup:SecurityGroup": ("ec2:DescribeSecurityGroups",),
    "aws:ec2/subnet:Subnet": ("ec2:DescribeSubnets",),
    "aws:ec2/vpc:Vpc": (
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        # The VPC's default network ACL, route table and security group are read with it.
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": (
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointServices",
        "ec2:DescribePrefixLists",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _EC2_RULES,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _EC2_RULES,
    "aws:elasticache/parameterGroup:ParameterGroup": (
        "elasticache:DescribeCacheParameterGroups",
        "elasticache:DescribeCacheParameters",
        "elasticache:ListTagsForResource",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "elasticache:DescribeReplicationGroups",
        "elasticache:DescribeCacheClusters",
        "elasticache:ListTagsForResource",
    ),
    "aws:elasticache/user:User": ("elasticache:DescribeUsers", "elasticache:ListTagsForResource"),
    "aws:elasticache/userGroup:UserGroup": (
        "elasticache:DescribeUserGroups",
        "elasticache:ListTagsForResource",
    ),
    "aws:elasticache/subnetGroup:SubnetGroup": (
        "elasticache:DescribeCacheSubnetGroups",
        "elasticache:ListTagsForResource",
    ),
    "aws:iam/role:Role": _ROLE,
    "aws:iam/rolePolicy:RolePolicy": ("iam:GetRolePolicy",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:ListAttachedRolePolicies",),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("iam:GetOpenIDConnectProvider",),
    "aws:kms/alias:Alias": ("kms:ListAliases",),
    "aws:kms/key:Key": (
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
    ),
    "aws:lambda/function:Function": (
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetFunctionRecursionConfig",
        "lambda:GetRuntimeManagementConfig",
        "lambda:ListVersionsByFunction",
        "lambda:ListTags",
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        "lambda:GetFunctionEventInvokeConfig",
    ),
    "aws:lambda/layerVersion:LayerVersion": ("lambda:GetLayerVersion",),
    "aws:lambda/permission:Permission": ("lambda:GetPolicy",),
    "aws:rds/instance:Instance": ("rds:DescribeDBInstances", "rds:ListTagsForResource"),
    "aws:rds/parameterGroup:ParameterGroup": (
        "rds:DescribeDBParameterGroups",
        "rds:DescribeDBParameters",
        "rds:ListTagsForResource",
    ),
    "aws:rds/subnetGroup:SubnetGroup": ("rds:DescribeDBSubnetGroups", "rds:ListTagsForResource"),
    "aws:s3/bucket:Bucket": _S3_BUCKET_READS,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "s3:GetLifecycleConfiguration",
    ),
    "aws:s3/bucketLogging:BucketLogging": ("s3:GetBucketLogging",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:GetBucketOwnershipControls",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:GetBucketPolicy",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:GetBucketPublicAccessBlock",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:GetEncryptionConfiguration",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:GetBucketVersioning",),
    "aws:scheduler/schedule:Schedule": ("scheduler:GetSchedule",),
    "aws:secretsmanager/secret:Secret": (
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
    ),
    "aws:secretsmanager/secretRotation:SecretRotation": ("secretsmanager:DescribeSecret",),
    "aws:sns/topic:Topic": ("sns:GetTopicAttributes", "sns:ListTagsForResource"),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:GetTopicAttributes",),
    "aws:sns/topicSubscription:TopicSubscription": ("sns:GetSubscriptionAttributes",),
    # Children of pulumi-eks's remote components, which the mocks never see (EKS_CHILDREN).
    "aws:eks/cluster:Cluster": ("eks:DescribeCluster",),
    "aws:eks/addon:Addon": ("eks:DescribeAddon",),
    "aws:eks/nodeGroup:NodeGroup": ("eks:DescribeNodegroup",),
    "aws:eks/accessEntry:AccessEntry": ("eks:DescribeAccessEntry",),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": (
        "eks:ListAssociatedAccessPolicies",
    ),
    # No cloud call: providers are not refreshed, components hold no state of their own, and
    # pulumi-random's values live only in the state.
    "pulumi:providers:aws": _NOTHING,
    "pulumi:providers:kubernetes": _NOTHING,
    "random:index/randomBytes:RandomBytes": _NOTHING,
    "random:index/randomPassword:RandomPassword": _NOTHING,
}

# Components (the program's own and pulumi-eks's) own no cloud object: nothing to refresh.
COMPONENT_PREFIXES = ("phase-mirror:", "eks:index:")

# pulumi-eks 4.x, as this program configures it (authentication mode API, OIDC provider,
# managed node groups, no default node group or security groups): the resources its
# ``Cluster`` and ``ManagedNodeGroup`` create inside the eks provider, where mocks cannot see
# them (pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts, servicerole.ts,
# cluster/authenticationMode.ts, addons/cni-addon.ts, nodes/nodegroup.ts).
EKS_CHILDREN: Mapping[str, tuple[str, ...]] = {
    "eks:index:Cluster": (
        "aws:iam/role:Role",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:eks/cluster:Cluster",
        "aws:eks/addon:Addon",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "pulumi:providers:kubernetes",
    ),
    "eks:index:ManagedNodeGroup": ("aws:eks/nodeGroup:NodeGroup",),
}

# What a preview calls besides refreshing: the program's invokes (keyed on the invoke token;
# sts:GetCallerIdentity needs no permission), and the addon-version lookups pulumi-eks makes
# for kube-proxy, CoreDNS and the VPC CNI.
INVOKE_READS: Mapping[str, tuple[str, ...]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _NOTHING,
    "aws:index/getRegion:getRegion": _NOTHING,
    "aws:index/getPartition:getPartition": _NOTHING,
    "aws:index/getAvailabilityZones:getAvailabilityZones": ("ec2:DescribeAvailabilityZones",),
    "aws:eks/getAddonVersion:getAddonVersion": ("eks:DescribeAddonVersions",),
}

# Types whose refresh reads a value the role is denied (DATA_PLANE_READS), with those reads:
# while the program declares one, pull-request previews run without --refresh.
UNREFRESHABLE: Mapping[str, tuple[str, ...]] = {
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretsmanager:GetSecretValue",),
}

# Data-plane reads of the services the program uses: denied outright, whatever a key, bucket
# or resource policy allows. S3 objects and KMS Decrypt have their own statements below.
DATA_PLANE_READS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PartiQLSelect",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ExportTableToPointInTime",
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StartLiveTail",
    "logs:GetLogRecord",
    "logs:Unmask",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:ReEncrypt*",
    "rds-db:connect",
    "rds-data:ExecuteStatement",
    "rds-data:BatchExecuteStatement",
    "elasticache:Connect",
    "lambda:InvokeFunction",
    "lambda:InvokeFunctionUrl",
    "execute-api:Invoke",
    "xray:BatchGetTraces",
    "xray:GetTraceSummaries",
)
OBJECT_READS = "s3:GetObject*"
STATE_LIST_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning")
STATE_OBJECT_READS = ("s3:GetObject",)
DECRYPT = "kms:Decrypt"


def refresh_actions(types: Iterable[str] | None = None) -> list[str]:
    """The sorted, distinct actions a refresh of ``types`` (default: every known type) and the
    program's invokes call."""
    chosen = REFRESH_READS.keys() if types is None else types
    actions = {a for t in chosen for a in REFRESH_READS[t]}
    actions.update(a for reads in INVOKE_READS.values() for a in reads)
    return sorted(actions)


def preview_policy(
    *,
    state_bucket_arns: Sequence[str],
    state_key_arns: Sequence[str],
    secrets_key_arns: Sequence[str],
) -> dict[str, Any]:
    """The preview role's identity policy: refresh reads, state, secrets key; no data."""
    objects = [f"{arn}/*" for arn in state_bucket_arns]
    keys = [*state_key_arns, *secrets_key_arns]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RefreshReads",
                "Effect": "Allow",
                "Action": refresh_actions(),
                "Resource": "*",
            },
            {
                "Sid": "ListState",
                "Effect": "Allow",
                "Action": list(STATE_LIST_ACTIONS),
                "Resource": list(state_bucket_arns),
            },
            {
                "Sid": "ReadState",
                "Effect": "Allow",
                "Action": list(STATE_OBJECT_READS),
                "Resource": objects,
            },
            {
                # State objects are SSE-KMS: S3 decrypts them with the state key for the caller.
                "Sid": "DecryptStateThroughS3",
                "Effect": "Allow",
                "Action": DECRYPT,
                "Resource": list(state_key_arns),
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            },
            {
                # The CLI decrypts the stack's data key itself (awskms:// secrets provider).
                "Sid": "DecryptStackSecrets",
                "Effect": "Allow",
                "Action": DECRYPT,
                "Resource": list(secrets_key_arns),
            },
            {
                "Sid": "NoDataPlaneReads",
                "Effect": "Deny",
                "Action": list(DATA_PLANE_READS),
                "Resource": "*",
            },
            {
                "Sid": "NoObjectReadsOutsideState",
                "Effect": "Deny",
                "Action": OBJECT_READS,
                "NotResource": objects,
            },
            {
                "Sid": "NoDecryptOutsideStateKeys",
                "Effect": "Deny",
                "Action": DECRYPT,
                "NotResource": keys,
            },
        ],
    }
