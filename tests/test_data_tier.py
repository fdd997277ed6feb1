"""DataTier: RDS PostgreSQL, Redis, the EKS cluster, for both real stack files."""

from __future__ import annotations

import fnmatch
import json

import pytest

from components.config import DataSettings
from components.core.grants import Grants
from components.data_tier.eks_cluster import access_entries
from components.data_tier.redis_cache import grant_connect
from testing.program import ProgramRun, Resource, run_program

P = "phase-mirror-infra:"
DB = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
CLUSTER = "eks:index:Cluster"
NODE_GROUP = "eks:index:ManagedNodeGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DEVOPS = "arn:aws:iam::123456789012:role/devops"
DEVELOPER = "arn:aws:iam::123456789012:role/developer"


def cfg(run: ProgramRun, key: str) -> str:
    return run.config[f"{P}{key}"]


def protected(run: ProgramRun) -> bool:
    return cfg(run, "deletionProtection") == "true"


def key_arn(run: ProgramRun, name: str) -> str:
    return run.one("aws:kms/key:Key", name).outputs["arn"]


SECRET_SIG = "4dabf18193072939515e22adb298388d"


def is_secret(value: object) -> bool:
    """The engine's wrapper for a secret value: it is encrypted in state and masked in output."""
    return isinstance(value, dict) and SECRET_SIG in value


def plain(value: object) -> object:
    """The value inside a secret, as the mocks see it."""
    return value["value"] if is_secret(value) else value  # type: ignore[index]


def db(run: ProgramRun) -> Resource:
    return run.one(DB, "data-tier-db")


def assert_encrypted_log_group(run: ProgramRun, group: Resource) -> None:
    assert group.inputs["kmsKeyId"] == key_arn(run, "observability-log-key"), group.urn
    assert group.inputs["retentionInDays"] == int(cfg(run, "logRetentionDays")), group.urn


# --- RDS ------------------------------------------------------------------------------------


def test_database_is_private_encrypted_gp3_with_autoscaling_in_the_data_subnets(program):
    inputs = db(program).inputs
    assert inputs["engine"] == "postgres" and inputs["engineVersion"] == "17"
    assert inputs["instanceClass"] == cfg(program, "dbInstanceClass")
    assert inputs["storageType"] == "gp3" and inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"] == key_arn(program, "data-tier-key")
    assert inputs["allocatedStorage"] == int(cfg(program, "dbAllocatedStorageGb"))
    assert inputs["maxAllocatedStorage"] == int(cfg(program, "dbMaxAllocatedStorageGb"))
    assert inputs["maxAllocatedStorage"] > inputs["allocatedStorage"]
    assert inputs["publiclyAccessible"] is False
    assert inputs["vpcSecurityGroupIds"] == ["network-data-sg-id"]
    subnets = program.one("aws:rds/subnetGroup:SubnetGroup", "data-tier-db-subnets")
    assert inputs["dbSubnetGroupName"] == subnets.inputs["name"]
    zones = int(cfg(program, "availabilityZones"))
    assert subnets.inputs["subnetIds"] == [f"network-data-{i}-id" for i in range(zones)]


def test_database_availability_and_backups_follow_the_stack(staging, production):
    for run, multi_az, retention in ((staging, False, 7), (production, True, 30)):
        inputs = db(run).inputs
        assert inputs["multiAz"] is multi_az, run.stack
        assert inputs["backupRetentionPeriod"] == retention, run.stack
        assert inputs["backupWindow"] == "03:00-04:00"
        assert inputs["maintenanceWindow"] == "sun:04:30-sun:05:30"
        assert inputs["copyTagsToSnapshot"] is True


def test_production_database_is_deletion_protected_with_a_final_snapshot(staging, production):
    prod = db(production)
    assert prod.inputs["deletionProtection"] is True and prod.inputs["skipFinalSnapshot"] is False
    assert prod.inputs["finalSnapshotIdentifier"] == "phase-mirror-db-final-production"
    assert prod.inputs["deleteAutomatedBackups"] is False
    assert (prod.protect, prod.retain_on_delete) == (True, True), prod.urn
    stage = db(staging)
    assert stage.inputs["deletionProtection"] is False and stage.inputs["skipFinalSnapshot"]
    assert not stage.protect


def test_master_password_is_managed_by_secrets_manager_and_never_in_state(program):
    inputs = db(program).inputs
    assert inputs["manageMasterUserPassword"] is True
    assert inputs["masterUserSecretKmsKeyId"] == key_arn(program, "data-tier-key")
    assert "password" not in inputs and "passwordWo" not in inputs, db(program).urn


def test_database_monitoring_auth_logging_and_ca(program):
    inputs = db(program).inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["performanceInsightsKmsKeyId"] == key_arn(program, "data-tier-key")
    assert inputs["monitoringInterval"] == 60
    role = program.one("aws:iam/role:Role", "data-tier-db-monitoring-role")
    assert inputs["monitoringRoleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert inputs["iamDatabaseAuthenticationEnabled"] is True
    assert inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    for export in ("postgresql", "upgrade"):
        group = program.one(LOG_GROUP, f"data-tier-db-log-{export}")
        assert group.inputs["name"] == (
            f"/aws/rds/instance/phase-mirror-db-{program.stack}/{export}"
        )
        assert_encrypted_log_group(program, group)


def test_parameter_group_forces_tls_and_logs_slow_queries(program):
    params = program.one("aws:rds/parameterGroup:ParameterGroup", "data-tier-db-params")
    assert db(program).inputs["parameterGroupName"] == params.inputs["name"]
    assert params.inputs["family"] == "postgres17"
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert values["rds.force_ssl"] == "1"
    assert values["log_min_duration_statement"] == "1000"


def test_database_joins_the_backup_plan(program):
    (selection,) = program.of_type("aws:backup/selection:Selection")
    assert db(program).outputs["arn"] in selection.inputs["resources"], selection.urn


# --- Redis ----------------------------------------------------------------------------------


def redis(run: ProgramRun) -> Resource:
    return run.one(REDIS, "data-tier-redis")


def test_redis_is_encrypted_at_rest_and_in_transit_with_no_password(program):
    inputs = redis(program).inputs
    assert inputs["engine"] == "redis" and inputs["engineVersion"].startswith("7.")
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["kmsKeyId"] == key_arn(program, "data-tier-key")
    assert inputs["transitEncryptionEnabled"] is True
    # IAM authentication: no AUTH token exists, so none can leak or go unrotated
    assert "authToken" not in inputs and "authTokenWo" not in inputs
    assert not program.of_type("random:index/randomPassword:RandomPassword")
    assert inputs["securityGroupIds"] == ["network-data-sg-id"]
    subnets = program.one("aws:elasticache/subnetGroup:SubnetGroup", "data-tier-redis-subnets")
    assert inputs["subnetGroupName"] == subnets.inputs["name"]
    zones = int(cfg(program, "availabilityZones"))
    assert subnets.inputs["subnetIds"] == [f"network-data-{i}-id" for i in range(zones)]


USER = "aws:elasticache/user:User"


def test_redis_admits_only_the_iam_user_and_the_required_default_user_is_off(program):
    # GIVEN the user group attached to the replication group
    (group,) = program.of_type("aws:elasticache/userGroup:UserGroup")
    assert redis(program).inputs["userGroupIds"] == [group.inputs["userGroupId"]]
    assert group.inputs["engine"] == "redis"
    users = {u.inputs["userId"]: u.inputs for u in program.of_type(USER)}
    # THEN it holds exactly two users: a user named "default" (ElastiCache refuses a group
    # without one), switched off, and the application user, authenticated by IAM only
    assert sorted(group.inputs["userIds"]) == sorted(users)
    (default,) = [u for u in users.values() if u["userName"] == "default"]
    assert default["accessString"].split()[0] == "off"
    assert default["userId"] == f"phase-mirror-redis-default-{program.stack}"
    (app,) = [u for u in users.values() if u["userName"] != "default"]
    # IAM authentication requires the user id to equal the user name
    assert app["userId"] == app["userName"] == f"phase-mirror-redis-app-{program.stack}"
    assert app["authenticationMode"] == {"type": "iam"}
    assert "passwords" not in app and not app.get("noPasswordRequired")
    assert app["accessString"].startswith("on ") and "-@dangerous" in app["accessString"]


def allows(statements: list[dict], action: str, resource: str) -> bool:
    """IAM's rule for Allow statements without conditions: the action and the resource each
    match a pattern of one statement (``*`` and ``?`` wildcards; "Policy evaluation logic")."""
    return any(
        s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in s["Action"])
        and any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"])
        for s in statements
    )


def elasticache_arn(kind: str, name: str) -> str:
    return f"arn:aws:elasticache:us-east-1:123456789012:{kind}:{name}"


def test_redis_connect_grant_allows_this_group_and_user_and_nothing_else(staging, production):
    # GIVEN a client role holding the data tier's grant for staging's cache
    group = redis(staging).inputs["replicationGroupId"]
    users = {u.inputs["userName"]: u.inputs["userId"] for u in staging.of_type(USER)}
    app = users[f"phase-mirror-redis-app-{staging.stack}"]
    granted = grant_connect(
        Grants("app"), elasticache_arn("replicationgroup", group), elasticache_arn("user", app)
    ).close()
    # THEN Connect is allowed on the group and the application user, which ElastiCache both
    # requires ("Authenticating with IAM"), and on nothing else
    assert allows(granted, "elasticache:Connect", elasticache_arn("replicationgroup", group))
    assert allows(granted, "elasticache:Connect", elasticache_arn("user", app))
    assert not allows(granted, "elasticache:Connect", elasticache_arn("user", users["default"]))
    other = redis(production).inputs["replicationGroupId"]
    assert not allows(granted, "elasticache:Connect", elasticache_arn("replicationgroup", other))
    for action in ("elasticache:ModifyReplicationGroup", "elasticache:ModifyUser"):
        assert not allows(granted, action, elasticache_arn("replicationgroup", group))
    assert [s["Sid"] for s in granted] == ["ConnectToRedisAsAppUser"]


def test_redis_fails_over_across_zones_with_two_nodes_or_more(program):
    inputs = redis(program).inputs
    assert inputs["numCacheClusters"] == int(cfg(program, "redisNodes")) >= 2
    assert inputs["automaticFailoverEnabled"] is True and inputs["multiAzEnabled"] is True


def test_single_node_redis_turns_failover_off():
    inputs = redis(run_program("staging", overrides={f"{P}redisNodes": 1})).inputs
    assert inputs["numCacheClusters"] == 1
    assert inputs["automaticFailoverEnabled"] is False and inputs["multiAzEnabled"] is False


def test_redis_snapshots_eviction_and_logs(program):
    inputs = redis(program).inputs
    assert inputs["snapshotRetentionLimit"] == int(cfg(program, "redisSnapshotRetentionDays"))
    assert inputs["snapshotWindow"] == "05:00-06:00"
    params = program.one("aws:elasticache/parameterGroup:ParameterGroup", "data-tier-redis-params")
    assert inputs["parameterGroupName"] == params.inputs["name"]
    assert {"name": "maxmemory-policy", "value": "allkeys-lru"} in params.inputs["parameters"]
    deliveries = {d["logType"]: d for d in inputs["logDeliveryConfigurations"]}
    assert set(deliveries) == {"slow-log", "engine-log"}
    for kind, delivery in deliveries.items():
        group = program.one(LOG_GROUP, f"data-tier-redis-{kind}")
        assert delivery["destination"] == group.inputs["name"]
        assert delivery["destinationType"] == "cloudwatch-logs"
        assert_encrypted_log_group(program, group)


def test_redis_is_protected_with_a_final_snapshot_in_production(staging, production):
    prod = redis(production)
    assert (prod.protect, prod.retain_on_delete) == (True, True), prod.urn
    assert prod.inputs["finalSnapshotIdentifier"] == "phase-mirror-redis-final-production"
    assert "finalSnapshotIdentifier" not in redis(staging).inputs


def test_exports_name_endpoints_and_never_a_password_or_token(program):
    outputs = program.outputs
    assert outputs["dbEndpoint"] == db(program).outputs["endpoint"]
    assert outputs["redisEndpoint"] == redis(program).outputs["primaryEndpointAddress"]
    assert outputs["vpcId"] == "network-vpc-id"
    for tier in ("public", "app", "data"):
        assert len(outputs[f"{tier}SubnetIds"]) == int(cfg(program, "availabilityZones"))
    # Bucket names are global: the account and region keep two teams' names apart.
    expected = f"phase-mirror-baselines-123456789012-us-east-1-{program.stack}"
    assert outputs["baselinesBucketName"] == expected
    # Redis clients need only the endpoint and the user name: there is no password to hand out
    assert outputs["redisUserName"] == f"phase-mirror-redis-app-{program.stack}"
    assert not [k for k in outputs if "password" in k.lower() or "token" in k.lower()]
    assert not [k for k in outputs if k.lower().startswith("redis") and "secret" in k.lower()]


# --- EKS ------------------------------------------------------------------------------------


def cluster(run: ProgramRun) -> Resource:
    return run.one(CLUSTER, "data-tier-eks")


def test_cluster_runs_a_supported_version_in_the_app_subnets_with_a_private_endpoint(program):
    inputs = cluster(program).inputs
    assert inputs["name"] == f"phase-mirror-eks-{program.stack}"
    assert inputs["version"] == "1.35"
    zones = int(cfg(program, "availabilityZones"))
    assert inputs["privateSubnetIds"] == [f"network-app-{i}-id" for i in range(zones)]
    assert inputs["vpcId"] == "network-vpc-id"
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is False and "publicAccessCidrs" not in inputs
    assert inputs["nodeAssociatePublicIpAddress"] is False


def test_public_endpoint_opens_only_to_the_configured_ranges():
    run = run_program("staging", overrides={f"{P}eksPublicAccessCidrs": ["203.0.113.0/24"]})
    inputs = cluster(run).inputs
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_cluster_logs_everything_encrypts_secrets_and_has_oidc(program):
    inputs = cluster(program).inputs
    assert set(inputs["enabledClusterLogTypes"]) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    assert inputs["encryptionConfigKeyArn"] == key_arn(program, "data-tier-eks-secrets-key")
    assert inputs["createOidcProvider"] is True
    group = program.one(LOG_GROUP, "data-tier-eks-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/phase-mirror-eks-{program.stack}/cluster"
    assert_encrypted_log_group(program, group)
    assert program.outputs["clusterOidcProviderArn"].startswith("arn:aws:iam::123456789012:oidc")


def test_cluster_uses_access_entries_never_aws_auth(program):
    inputs = cluster(program).inputs
    assert inputs["authenticationMode"] == "API"
    # pulumi-eks refuses role/user mappings and non-empty instanceRoles with mode API.
    for aws_auth_only in ("roleMappings", "userMappings", "instanceRoles", "instanceRole"):
        assert aws_auth_only not in inputs, f"{cluster(program).urn} sets {aws_auth_only}"
    # One entry per configured role (the team's in an update, none in the shipped files).
    configured = {who for who in ("devops", "developer") if program.config.get(f"{P}{who}RoleArn")}
    assert set(inputs.get("accessEntries", {})) == configured


def test_devops_role_is_cluster_admin_and_developer_role_read_only():
    overrides = {f"{P}devopsRoleArn": DEVOPS, f"{P}developerRoleArn": DEVELOPER}
    entries = cluster(run_program("production", overrides=overrides)).inputs["accessEntries"]
    assert entries == {
        "devops": {
            "principalArn": DEVOPS,
            "accessPolicies": {
                "devops": {
                    "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    "accessScope": {"type": "cluster"},
                }
            },
        },
        "developer": {
            "principalArn": DEVELOPER,
            "accessPolicies": {
                "developer": {
                    "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                    "accessScope": {"type": "cluster"},
                }
            },
        },
    }


def test_access_entries_skip_roles_that_are_not_configured():
    assert list(access_entries(DataSettings(developer_role_arn=DEVELOPER))) == ["developer"]


def test_on_demand_and_spot_node_groups_with_a_no_schedule_taint_on_spot(program):
    groups = {g.name: g.inputs for g in program.of_type(NODE_GROUP)}
    assert set(groups) == {"data-tier-eks-on-demand", "data-tier-eks-spot"}
    zones = int(cfg(program, "availabilityZones"))
    types = json.loads(cfg(program, "eksInstanceTypes"))
    for inputs in groups.values():
        assert inputs["cluster"] == cluster(program).urn
        assert inputs["subnetIds"] == [f"network-app-{i}-id" for i in range(zones)]
        assert inputs["instanceTypes"] == types
        assert inputs["ignoreScalingChanges"] is True
    on_demand, spot = groups["data-tier-eks-on-demand"], groups["data-tier-eks-spot"]
    assert on_demand["capacityType"] == "ON_DEMAND" and "taints" not in on_demand
    low, high = int(cfg(program, "eksOnDemandMinSize")), int(cfg(program, "eksOnDemandMaxSize"))
    assert on_demand["scalingConfig"] == {"minSize": low, "maxSize": high, "desiredSize": low}
    assert spot["capacityType"] == "SPOT"
    assert spot["taints"] == [{"key": "capacity-type", "value": "spot", "effect": "NO_SCHEDULE"}]
    assert spot["scalingConfig"]["maxSize"] == int(cfg(program, "eksSpotMaxSize"))


def test_node_role_has_the_worker_policies(program):
    role = program.one("aws:iam/role:Role", "data-tier-eks-node-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[1]
        for a in program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("data-tier-eks-node-policy-")
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonSSMManagedInstanceCore",
    }


def test_cluster_is_protected_in_production(staging, production):
    prod = cluster(production)
    assert (prod.protect, prod.retain_on_delete) == (True, True), prod.urn
    assert prod.inputs["deletionProtection"] is True
    assert not cluster(staging).protect


def test_eks_disabled_creates_no_cluster_and_no_node_access_to_data():
    run = run_program("staging", overrides={f"{P}eksEnabled": False})
    assert not run.of_type(CLUSTER) and not run.of_type(NODE_GROUP)
    assert "clusterName" not in run.outputs
    assert not [r.urn for r in run if r.name.endswith("from-cluster-nodes")]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_stateful_resources_protection_follows_deletion_protection(stack, request):
    run = request.getfixturevalue(stack)
    for type_, name in (
        (DB, "data-tier-db"),
        (REDIS, "data-tier-redis"),
        (CLUSTER, "data-tier-eks"),
        ("aws:kms/key:Key", "data-tier-key"),
        ("aws:kms/key:Key", "data-tier-eks-secrets-key"),
    ):
        resource = run.one(type_, name)
        assert resource.protect is protected(run), resource.urn
        assert resource.retain_on_delete is protected(run), resource.urn
