"""Which resource types the estimate prices, which cost nothing, which only cost with traffic.

A type in none of the three lists is reported as unpriced (tests/test_cost.py fails on it for
the real stacks), so a new billable resource is priced on purpose, never left out unseen.
"""

from __future__ import annotations


class T:
    """Type tokens of the resources the estimate reads."""

    NAT = "aws:ec2/natGateway:NatGateway"
    EIP = "aws:ec2/eip:Eip"
    ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
    FLOW_LOG = "aws:ec2/flowLog:FlowLog"
    RDS = "aws:rds/instance:Instance"
    REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
    EKS = "eks:index:Cluster"
    NODE_GROUP = "eks:index:ManagedNodeGroup"
    KMS_KEY = "aws:kms/key:Key"
    TRAIL = "aws:cloudtrail/trail:Trail"
    SECRETS_MANAGER = "aws:secretsmanager/secret:Secret"
    ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
    DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
    METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
    BACKUP_PLAN = "aws:backup/plan:Plan"
    BACKUP_SELECTION = "aws:backup/selection:Selection"
    TABLE = "aws:dynamodb/table:Table"


PRICED = frozenset(
    value for name, value in vars(T).items() if name.isupper() and isinstance(value, str)
)

# Resources AWS does not bill for by themselves (their use is billed where it happens).
FREE: dict[str, str] = {
    "aws:apigatewayv2/authorizer:Authorizer": "part of the API (JWT authorizers bill nothing)",
    "aws:apigatewayv2/integration:Integration": "part of the API",
    "aws:apigatewayv2/route:Route": "part of the API",
    "aws:apigatewayv2/stage:Stage": "part of the API",
    "aws:backup/vault:Vault": "billed as the backups it holds",
    "aws:cloudwatch/eventRule:EventRule": "AWS service events on the default bus are free",
    "aws:cloudwatch/eventTarget:EventTarget": "part of its rule",
    "aws:cloudwatch/queryDefinition:QueryDefinition": "a saved query; queries bill per scan",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "no charge",
    "aws:ec2/internetGateway:InternetGateway": "no charge",
    "aws:ec2/route:Route": "no charge",
    "aws:ec2/routeTable:RouteTable": "no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "no charge",
    "aws:ec2/securityGroup:SecurityGroup": "no charge",
    "aws:ec2/subnet:Subnet": "no charge",
    "aws:ec2/vpc:Vpc": "no charge",
    "aws:elasticache/parameterGroup:ParameterGroup": "no charge",
    "aws:elasticache/subnetGroup:SubnetGroup": "no charge",
    "aws:elasticache/user:User": "no charge",
    "aws:elasticache/userGroup:UserGroup": "no charge",
    "aws:iam/policy:Policy": "no charge",
    "aws:iam/role:Role": "no charge",
    "aws:iam/rolePolicy:RolePolicy": "no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "no charge",
    "aws:kms/alias:Alias": "no charge",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": "no charge",
    "aws:lambda/permission:Permission": "no charge",
    "aws:rds/parameterGroup:ParameterGroup": "no charge",
    "aws:rds/subnetGroup:SubnetGroup": "no charge",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "bucket setting",
    "aws:s3/bucketLogging:BucketLogging": "bucket setting",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket setting",
    "aws:s3/bucketPolicy:BucketPolicy": "bucket setting",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket setting",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket setting"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "bucket setting",
    "aws:secretsmanager/secretRotation:SecretRotation": "billed as the function's invocations",
    "aws:secretsmanager/secretVersion:SecretVersion": "part of its secret",
    "aws:sns/topicPolicy:TopicPolicy": "no charge",
    "aws:sns/topicSubscription:TopicSubscription": "email deliveries bill per notification",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "no charge",
    "random:index/randomBytes:RandomBytes": "computed by the engine",
    "random:index/randomPassword:RandomPassword": "computed by the engine",
}

# Billed by traffic or stored data only: outside a floor at zero traffic; named in the output.
LEFT_OUT: dict[str, str] = {
    "aws:apigatewayv2/api:Api": "HTTP API requests",
    "aws:cloudwatch/logGroup:LogGroup": "log ingestion and storage of the functions and services",
    "aws:dynamodb/contributorInsights:ContributorInsights": "Contributor Insights events",
    "aws:lambda/function:Function": "Lambda invocations and duration (see `python -m bench`)",
    "aws:lambda/layerVersion:LayerVersion": "Lambda layer storage (within the free 75 GB)",
    "aws:s3/bucket:Bucket": "S3 storage and requests",
    "aws:scheduler/schedule:Schedule": (
        "EventBridge Scheduler invocations (the first 14 million a month are free)"
    ),
    "aws:sns/topic:Topic": "SNS notifications",
}
# Charges of priced resources that grow with traffic, also left out of the floor.
ALSO_LEFT_OUT = (
    "NAT gateway and interface endpoint data processing",
    "data transfer",
    "KMS and Secrets Manager requests",
    "DynamoDB storage and point-in-time recovery",
)


def is_component(type_: str) -> bool:
    """Components and providers own nothing in AWS."""
    return type_.startswith(("phase-mirror:", "pulumi:"))
