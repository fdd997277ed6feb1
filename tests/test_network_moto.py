"""The network the program declares, replayed into moto's EC2 and read back with AWS's own API.

The mock tests read the program's inputs; here EC2 itself must accept them (subnets inside the
VPC and never conflicting, each subnet associated once) and the network audit's verification is run as
written: ``describe-route-tables`` on a data subnet's table finds no peering and no default
route, and no security group takes traffic from anywhere but the load balancer's on 80/443.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from testing.program import ProgramRun, run_program

P = "phase-mirror-infra:"
PEERING = {f"{P}peerCidr": "10.99.0.0/16", f"{P}peeringConnectionId": "pcx-0a1b2c3d4e5f6a7b8"}
ANYWHERE = {"0.0.0.0/0", "::/0"}


class Replay:
    """Creates the run's VPC resources in moto, mapping each mock id to moto's."""

    def __init__(self, run: ProgramRun) -> None:
        self.run = run
        self.ec2 = boto3.client("ec2", region_name=run.config["aws:region"])
        self.ids: dict[str, str] = {}
        self.vpc_id = ""

    def of(self, type_: str) -> list:
        return [r for r in self.run.of_type(f"aws:ec2/{type_}") if "Network" in r.urn]

    def ref(self, value: str) -> str:
        return self.ids.get(value, value)

    def build(self) -> Replay:
        ec2 = self.ec2
        (vpc,) = self.of("vpc:Vpc")
        vpc_id = ec2.create_vpc(CidrBlock=vpc.inputs["cidrBlock"])["Vpc"]["VpcId"]
        self.ids[vpc.id] = self.vpc_id = vpc_id
        for subnet in self.of("subnet:Subnet"):
            self.ids[subnet.id] = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=subnet.inputs["cidrBlock"],
                AvailabilityZone=subnet.inputs["availabilityZone"],
            )["Subnet"]["SubnetId"]
        for igw in self.of("internetGateway:InternetGateway"):
            self.ids[igw.id] = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=self.ids[igw.id], VpcId=vpc_id)
        for nat in self.of("natGateway:NatGateway"):
            allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
            self.ids[nat.id] = ec2.create_nat_gateway(
                SubnetId=self.ref(nat.inputs["subnetId"]), AllocationId=allocation
            )["NatGateway"]["NatGatewayId"]
        peer = self.run.config.get(f"{P}peeringConnectionId")
        if peer:
            other = ec2.create_vpc(CidrBlock=self.run.config[f"{P}peerCidr"])["Vpc"]["VpcId"]
            self.ids[peer] = ec2.create_vpc_peering_connection(VpcId=vpc_id, PeerVpcId=other)[
                "VpcPeeringConnection"
            ]["VpcPeeringConnectionId"]
        for table in self.of("routeTable:RouteTable"):
            self.ids[table.id] = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        for route in self.of("route:Route"):
            target = {
                "gatewayId": "GatewayId",
                "natGatewayId": "NatGatewayId",
                "vpcPeeringConnectionId": "VpcPeeringConnectionId",
            }
            (key,) = [k for k in target if route.inputs.get(k)]
            ec2.create_route(
                RouteTableId=self.ref(route.inputs["routeTableId"]),
                DestinationCidrBlock=route.inputs["destinationCidrBlock"],
                **{target[key]: self.ref(route.inputs[key])},
            )
        for assoc in self.of("routeTableAssociation:RouteTableAssociation"):
            ec2.associate_route_table(
                RouteTableId=self.ref(assoc.inputs["routeTableId"]),
                SubnetId=self.ref(assoc.inputs["subnetId"]),
            )
        self._security_groups(vpc_id)
        return self

    def _security_groups(self, vpc_id: str) -> None:
        for group in self.of("securityGroup:SecurityGroup"):
            self.ids[group.id] = self.ec2.create_security_group(
                GroupName=group.inputs["name"], Description="replay", VpcId=vpc_id
            )["GroupId"]
        rules = [
            r
            for r in self.run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if "Network" in r.urn
        ]
        for rule in rules:
            source = rule.inputs.get("referencedSecurityGroupId")
            if source and source not in self.ids:  # the EKS-created cluster group
                self.ids[source] = self.ec2.create_security_group(
                    GroupName="eks-cluster-sg", Description="stand-in", VpcId=vpc_id
                )["GroupId"]
            permission: dict = {
                "IpProtocol": rule.inputs["ipProtocol"],
                "FromPort": int(rule.inputs["fromPort"]),
                "ToPort": int(rule.inputs["toPort"]),
            }
            if source:
                permission["UserIdGroupPairs"] = [{"GroupId": self.ids[source]}]
            elif rule.inputs.get("cidrIpv6"):
                permission["Ipv6Ranges"] = [{"CidrIpv6": rule.inputs["cidrIpv6"]}]
            else:
                permission["IpRanges"] = [{"CidrIp": rule.inputs["cidrIpv4"]}]
            self.ec2.authorize_security_group_ingress(
                GroupId=self.ids[rule.inputs["securityGroupId"]], IpPermissions=[permission]
            )

    def table_of(self, subnet_name: str) -> dict:
        subnet_id = self.ids[f"{subnet_name}-id"]
        (table,) = self.ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
        )["RouteTables"]
        return table


# Module scope: one replay per stack variant, read by every test below.
@pytest.fixture(scope="module", params=["staging", "production", "production-peered"])
def replay(request: pytest.FixtureRequest) -> Iterator[Replay]:
    stack, _, peered = request.param.partition("-")
    run = run_program(stack, overrides=PEERING) if peered else request.getfixturevalue(stack)
    with mock_aws():
        yield Replay(run).build()


def zones(replay: Replay) -> int:
    return int(replay.run.config[f"{P}availabilityZones"])


def test_ec2_accepts_every_subnet_and_association(replay):
    # Building raised nothing: every CIDR lies in the VPC and none conflicts with another.
    subnets = replay.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [replay.vpc_id]}])[
        "Subnets"
    ]
    assert len(subnets) == 3 * zones(replay)


def test_data_subnets_route_only_inside_the_vpc(replay):
    for i in range(zones(replay)):
        routes = replay.table_of(f"network-data-{i}")["Routes"]
        assert [r["GatewayId"] for r in routes] == ["local"], routes
        assert not [r for r in routes if "VpcPeeringConnectionId" in r], routes


def test_app_subnets_leave_through_a_nat_and_reach_the_peer_only_when_configured(replay):
    peered = f"{P}peeringConnectionId" in replay.run.config
    for i in range(zones(replay)):
        routes = replay.table_of(f"network-app-{i}")["Routes"]
        default = [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert len(default) == 1 and default[0]["NatGatewayId"].startswith("nat-"), routes
        peering = [r for r in routes if "VpcPeeringConnectionId" in r]
        assert len(peering) == (1 if peered else 0), routes


def test_no_group_takes_traffic_from_anywhere_but_the_load_balancer_on_web_ports(replay):
    lb = replay.ids["network-lb-sg-id"]
    groups = replay.ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [replay.vpc_id]}]
    )["SecurityGroups"]
    assert len(groups) >= 5
    for group in groups:
        for permission in group["IpPermissions"]:
            cidrs = {r["CidrIp"] for r in permission.get("IpRanges", [])}
            cidrs |= {r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])}
            if cidrs & ANYWHERE:
                assert group["GroupId"] == lb, group["GroupName"]
                assert permission["FromPort"] in (80, 443), group["GroupName"]
