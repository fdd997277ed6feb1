"""The data tier's Redis (an ElastiCache replication group), kept in its own module for size.

Encrypted at rest with the tier's key and in transit with TLS, one node per zone up to
``redisNodes`` with automatic failover from two nodes, slow and engine logs to KMS-encrypted log
groups. No password exists: clients authenticate as the application user with a short-lived IAM
token (ElastiCache "Authenticating with IAM"), so there is no static secret to rotate, store or
leak. The user group holds the ``default`` user ElastiCache requires, switched off.

Its resources are children of ``DataTier`` (``parent``), as they always were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import DataSettings, Naming
from components.core.base import log_group, stateful
from components.core.function import allow
from components.core.grants import Grants

REDIS_PORT = 6379
REDIS_PARAMETERS = {"maxmemory-policy": "allkeys-lru"}
# Kept clear of the default snapshot window (05:00-06:00) and the RDS windows.
REDIS_MAINTENANCE_WINDOW = "sun:06:30-sun:07:30"
# Every user group must contain a user named "default" (CreateUserGroup: DefaultUserRequired);
# "off" disables it, so nobody can connect without an IAM token.
REDIS_DEFAULT_ACCESS = "off -@all"
# The application reads and writes any key; admin and dangerous commands (FLUSHALL, CONFIG,
# KEYS, DEBUG, ...) are refused.
REDIS_APP_ACCESS = "on ~* +@all -@dangerous"


@dataclass(frozen=True, kw_only=True)
class RedisArgs:
    """Inputs of ``build_redis``.

    - naming: the group is ``{prefix}-redis-{stack}``, the users ``{prefix}-redis-app-{stack}``
      (IAM) and ``{prefix}-redis-default-{stack}`` (named ``default``, off).
    - settings: node type and count, engine version, snapshot retention and window.
    - subnet_ids, security_group_id: the data subnets and the data security group.
    - key_arn: the data tier's key (at rest).
    - log_key_arn, log_retention_days: the slow-log and engine-log groups.
    - protect: Pulumi ``protect``, retain-on-delete and a final snapshot.
    """

    naming: Naming
    settings: DataSettings
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    log_key_arn: pulumi.Input[str]
    log_retention_days: int
    protect: bool


def grant_connect(
    grants: Grants, group_arn: pulumi.Input[str], user_arn: pulumi.Input[str]
) -> Grants:
    """Connect as the application user with an IAM token.

    ElastiCache authorises ``elasticache:Connect`` on the replication group and on the user,
    both required ("Authenticating with IAM"). The token is a SigV4-presigned request, valid 15
    minutes; a connection must re-authenticate within 12 hours (docs/redis.md).
    """
    return grants.add(
        allow("ConnectToRedisAsAppUser", ["elasticache:Connect"], [group_arn, user_arn])
    )


@dataclass(frozen=True)
class RedisCache:
    group: aws.elasticache.ReplicationGroup
    user: aws.elasticache.User

    def grant_connect(self, grants: Grants) -> Grants:
        return grant_connect(grants, self.group.arn, self.user.arn)


def _users(
    parent: pulumi.Resource, name: str, naming: Naming
) -> tuple[aws.elasticache.User, aws.elasticache.UserGroup]:
    child = pulumi.ResourceOptions(parent=parent)
    default = aws.elasticache.User(
        f"{name}-redis-default-user",
        user_id=naming.physical("redis-default"),
        user_name="default",
        engine="redis",
        access_string=REDIS_DEFAULT_ACCESS,
        authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="no-password-required"),
        opts=child,
    )
    # For IAM authentication the user id must equal the user name.
    app_id = naming.physical("redis-app")
    app = aws.elasticache.User(
        f"{name}-redis-app-user",
        user_id=app_id,
        user_name=app_id,
        engine="redis",
        access_string=REDIS_APP_ACCESS,
        authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="iam"),
        opts=child,
    )
    group = aws.elasticache.UserGroup(
        f"{name}-redis-users",
        user_group_id=naming.physical("redis-users"),
        engine="redis",
        user_ids=[default.user_id, app.user_id],
        opts=child,
    )
    return app, group


def build_redis(parent: pulumi.Resource, name: str, args: RedisArgs) -> RedisCache:
    s, naming, protect = args.settings, args.naming, args.protect
    child = pulumi.ResourceOptions(parent=parent)
    app, users = _users(parent, name, naming)
    params = aws.elasticache.ParameterGroup(
        f"{name}-redis-params",
        name=naming.physical("redis7"),
        family="redis7",
        description="Phase Mirror Redis: LRU eviction over all keys",
        parameters=[
            aws.elasticache.ParameterGroupParameterArgs(name=k, value=v)
            for k, v in REDIS_PARAMETERS.items()
        ],
        opts=child,
    )
    subnets = aws.elasticache.SubnetGroup(
        f"{name}-redis-subnets",
        name=naming.physical("redis"),
        description="Phase Mirror data subnets",
        subnet_ids=args.subnet_ids,
        opts=child,
    )
    logs = {
        kind: log_group(
            f"{name}-redis-{kind}",
            naming.path("redis", kind),
            key_arn=args.log_key_arn,
            retention_days=args.log_retention_days,
            opts=child,
        )
        for kind in ("slow-log", "engine-log")
    }
    failover = s.redis_nodes >= 2
    group = aws.elasticache.ReplicationGroup(
        f"{name}-redis",
        replication_group_id=naming.physical("redis"),
        description="Phase Mirror cache",
        engine="redis",
        engine_version=s.redis_engine_version,
        node_type=s.redis_node_type,
        num_cache_clusters=s.redis_nodes,
        port=REDIS_PORT,
        parameter_group_name=params.name,
        subnet_group_name=subnets.name,
        security_group_ids=[args.security_group_id],
        at_rest_encryption_enabled=True,
        kms_key_id=args.key_arn,
        # IAM authentication needs TLS and a user group; with no AUTH token there is nothing
        # for Secrets Manager to rotate (Checkov CKV2_AWS_57 has no secret to ask about).
        transit_encryption_enabled=True,
        user_group_ids=[users.user_group_id],
        automatic_failover_enabled=failover,
        multi_az_enabled=failover,
        snapshot_retention_limit=s.redis_snapshot_retention_days,
        snapshot_window=s.redis_snapshot_window,
        maintenance_window=REDIS_MAINTENANCE_WINDOW,
        final_snapshot_identifier=naming.physical("redis-final") if protect else None,
        auto_minor_version_upgrade=True,
        log_delivery_configurations=[
            aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                destination=log_group.name,
                destination_type="cloudwatch-logs",
                log_format="json",
                log_type=kind,
            )
            for kind, log_group in logs.items()
        ],
        opts=stateful(parent, protect),
    )
    return RedisCache(group=group, user=app)
