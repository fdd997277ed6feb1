"""Network: the three-tier VPC (public / app / data) and who may talk to whom.

- public subnets: the load balancer and the NAT gateways; one route table to the internet gateway.
- app subnets: workloads and EKS nodes; one route table per zone, default route to a NAT gateway
  (the zone's own with ``one_per_az``), plus the optional peering route.
- data subnets: RDS and Redis; route tables of their own with no default route and never a
  peering route (PCI DSS network segmentation), so nothing there reaches or is reached
  from outside the VPC.
Security groups: load balancer (80/443 from ``ingress_cidrs``), app (the app port from the load
balancer only), data (5432/6379 from app and, through ``allow_data_access``, cluster nodes),
admin (22/3389 from ``devops_cidrs`` only), endpoints (443 from inside the VPC).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import ConfigError, NetworkSettings
from components.core.base import log_group, service_trust
from components.core.context import StackContext
from components.network.subnet_plan import TIERS, plan_subnets

DATA_PORTS = {"postgres": 5432, "redis": 6379}
ADMIN_PORTS = {"ssh": 22, "rdp": 3389}
GATEWAY_ENDPOINTS = ("s3", "dynamodb")
INTERFACE_ENDPOINTS = ("secretsmanager", "kms", "logs", "sts")
ANYWHERE = "0.0.0.0/0"
# Zone ids where EKS places no cluster subnet (EKS user guide, "Subnet requirements and
# considerations"; CreateCluster fails with UnsupportedAvailabilityZoneException). Names map to
# ids differently in each account, so zones are chosen by id. The app subnets host the cluster,
# and every tier shares the zones, so the whole VPC avoids them.
EKS_UNSUPPORTED_ZONE_IDS = ("use1-az3", "usw1-az2", "cac1-az3")
FLOW_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """Inputs of ``Network``.

    - stack: the stack's shared context (names, account and region, protection,
      deployers, log key and retention: components/core/context.py).
    - settings: the VPC keys of the stack config (``NetworkSettings``, each key documented there).
    """

    stack: StackContext
    settings: NetworkSettings


def select_zones(available: list[str], count: int) -> list[str]:
    """The first ``count`` zones AWS reports, in its order (stable across runs); AWS has
    already left out the ``EKS_UNSUPPORTED_ZONE_IDS``."""
    if len(available) < count:
        raise ConfigError(
            f"config key 'availabilityZones' has invalid value {count!r}: allowed at most "
            f"{len(available)} (the zones this region offers outside the zone ids EKS does not "
            f"support, {', '.join(EKS_UNSUPPORTED_ZONE_IDS)}: {', '.join(available)})"
        )
    return available[:count]


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    zones: list[str]
    subnets: dict[str, list[aws.ec2.Subnet]]
    route_tables: dict[str, list[aws.ec2.RouteTable]]
    nat_gateways: list[aws.ec2.NatGateway]
    security_groups: dict[str, aws.ec2.SecurityGroup]
    flow_log_group: aws.cloudwatch.LogGroup

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("phase-mirror:index:Network", name, None, opts)
        self._name = name
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        available = aws.get_availability_zones(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            exclude_zone_ids=list(EKS_UNSUPPORTED_ZONE_IDS),
            opts=pulumi.InvokeOptions(parent=self),
        ).names
        self.zones = select_zones(list(available), s.availability_zones)
        plan = plan_subnets(ipaddress.IPv4Network(s.vpc_cidr), len(self.zones))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=s.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            opts=child,
        )
        # Owning the default group with no rules strips AWS's allow-all-within-group default.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, opts=child)
        self.subnets = {tier: [] for tier in TIERS}
        for i, (zone, zone_plan) in enumerate(zip(self.zones, plan, strict=True)):
            for tier in TIERS:
                self.subnets[tier].append(
                    aws.ec2.Subnet(
                        f"{name}-{tier}-{i}",
                        vpc_id=self.vpc.id,
                        availability_zone=zone,
                        cidr_block=str(zone_plan.of(tier)),
                        map_public_ip_on_launch=False,
                        tags=_discovery_tags(tier),
                        opts=child,
                    )
                )
        self._routing(name, args)
        self._security_groups(name, args)
        self._flow_logs(name, args)
        self._endpoints(name, args)
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                **{f"{t}SubnetIds": self.subnet_ids(t) for t in TIERS},
                **{f"{k}SecurityGroupId": g.id for k, g in self.security_groups.items()},
            }
        )

    def subnet_ids(self, tier: str) -> list[pulumi.Output[str]]:
        return [subnet.id for subnet in self.subnets[tier]]

    def allow_data_access(self, role: str, source_security_group_id: pulumi.Input[str]) -> None:
        """Let ``source_security_group_id`` (e.g. the cluster nodes) reach Postgres and Redis."""
        for port_name, port in DATA_PORTS.items():
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-data-in-{port_name}-from-{role}",
                security_group_id=self.security_groups["data"].id,
                referenced_security_group_id=source_security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"{port_name} from {role}",
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _routing(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        public = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=self.vpc.id, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=igw.id,
            opts=child,
        )
        nat_count = len(self.zones) if args.settings.nat_gateways == "one_per_az" else 1
        self.nat_gateways = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i}", domain="vpc", opts=child)
            self.nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.subnets["public"][i].id,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        self.route_tables = {"public": [public], "app": [], "data": []}
        for i in range(len(self.zones)):
            app = aws.ec2.RouteTable(f"{name}-app-rt-{i}", vpc_id=self.vpc.id, opts=child)
            aws.ec2.Route(
                f"{name}-app-default-{i}",
                route_table_id=app.id,
                destination_cidr_block=ANYWHERE,
                nat_gateway_id=self.nat_gateways[i % nat_count].id,
                opts=child,
            )
            if args.settings.peering_connection_id and args.settings.peer_cidr:
                aws.ec2.Route(
                    f"{name}-app-peering-{i}",
                    route_table_id=app.id,
                    destination_cidr_block=args.settings.peer_cidr,
                    vpc_peering_connection_id=args.settings.peering_connection_id,
                    opts=child,
                )
            # Data route tables get no route at all: only the VPC's implicit local route.
            data = aws.ec2.RouteTable(f"{name}-data-rt-{i}", vpc_id=self.vpc.id, opts=child)
            self.route_tables["app"].append(app)
            self.route_tables["data"].append(data)
        for tier in TIERS:
            for i, subnet in enumerate(self.subnets[tier]):
                table = self.route_tables[tier][0 if tier == "public" else i]
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-rta-{i}",
                    subnet_id=subnet.id,
                    route_table_id=table.id,
                    opts=child,
                )

    def _security_groups(self, name: str, args: NetworkArgs) -> None:
        s, naming = args.settings, args.stack.naming
        purposes = {
            "lb": "Load balancer: 80/443 from the configured ingress ranges",
            "app": f"App: port {s.app_port} from the load balancer only",
            "data": "Data: Postgres and Redis from app and cluster nodes only",
            "admin": "Admin: SSH/RDP from the DevOps ranges only",
            "endpoints": "Interface endpoints: HTTPS from inside the VPC",
        }
        self.security_groups = {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}-sg",
                name=naming.physical(role),
                description=purpose,
                vpc_id=self.vpc.id,
                revoke_rules_on_delete=True,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for role, purpose in purposes.items()
        }
        sg = {role: group.id for role, group in self.security_groups.items()}
        for i, block in enumerate(s.ingress_cidrs):
            for port in (80, 443):
                self._rule(f"lb-in-{port}-{i}", sg["lb"], port, cidr=block)
        self._rule("lb-out-app", sg["lb"], s.app_port, source=sg["app"], egress=True)
        self._rule("app-in-lb", sg["app"], s.app_port, source=sg["lb"])
        # App egress: AWS APIs and image registries over HTTPS (via NAT or endpoints), and data.
        self._rule("app-out-https", sg["app"], 443, cidr=ANYWHERE, egress=True)
        for port_name, port in DATA_PORTS.items():
            self._rule(f"app-out-{port_name}", sg["app"], port, source=sg["data"], egress=True)
            self._rule(f"data-in-{port_name}-from-app", sg["data"], port, source=sg["app"])
        for i, block in enumerate(s.devops_cidrs):
            for port_name, port in ADMIN_PORTS.items():
                self._rule(f"admin-in-{port_name}-{i}", sg["admin"], port, cidr=block)
        self._rule("endpoints-in-https", sg["endpoints"], 443, cidr=s.vpc_cidr)

    def _rule(
        self,
        role: str,
        group_id: pulumi.Input[str],
        port: int,
        *,
        cidr: str | None = None,
        source: pulumi.Input[str] | None = None,
        egress: bool = False,
    ) -> None:
        v6 = cidr is not None and ipaddress.ip_network(cidr).version == 6
        rule = aws.vpc.SecurityGroupEgressRule if egress else aws.vpc.SecurityGroupIngressRule
        rule(
            f"{self._name}-{role}",
            security_group_id=group_id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=None if v6 else cidr,
            cidr_ipv6=cidr if v6 else None,
            referenced_security_group_id=source,
            description=role,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _flow_logs(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.flow_log_group = log_group(
            f"{name}-flow-logs",
            args.stack.naming.path("vpc", "flow-logs"),
            key_arn=args.stack.log_key,
            retention_days=args.stack.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            name=args.stack.naming.physical("vpc-flow-logs"),
            assume_role_policy=service_trust(
                "vpc-flow-logs.amazonaws.com",
                {"StringEquals": {"aws:SourceAccount": args.stack.account_id}},
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=self.flow_log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "WriteFlowLogs",
                                "Effect": "Allow",
                                "Action": list(FLOW_LOG_ACTIONS),
                                "Resource": [arn, f"{arn}:*"],
                            },
                            {
                                # The delivery service looks its group up by name first. The
                                # Service Authorization Reference lists no resource type for
                                # logs:DescribeLogGroups (it lists the account's groups), so
                                # "*" is the only resource the action accepts; a log-group ARN
                                # there matches nothing.
                                "Sid": "FindFlowLogGroup",
                                "Effect": "Allow",
                                "Action": "logs:DescribeLogGroups",
                                "Resource": "*",
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )

    def _endpoints(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        private_tables = [t.id for t in self.route_tables["app"] + self.route_tables["data"]]
        for service in GATEWAY_ENDPOINTS:
            # Gateway endpoints cost nothing and keep S3/DynamoDB traffic off the NAT.
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.stack.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=private_tables,
                opts=child,
            )
        if not args.settings.interface_endpoints:
            return
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.stack.region}.{service}",
                vpc_endpoint_type="Interface",
                subnet_ids=self.subnet_ids("app"),
                security_group_ids=[self.security_groups["endpoints"].id],
                private_dns_enabled=True,
                opts=child,
            )


def _discovery_tags(tier: str) -> dict[str, str] | None:
    """Functional tags, not metadata: the AWS load balancer controller finds subnets by them."""
    if tier == "public":
        return {"kubernetes.io/role/elb": "1"}
    if tier == "app":
        return {"kubernetes.io/role/internal-elb": "1"}
    return None
