"""Network: subnet math, route tables, security group rules, flow logs and endpoints.

Every test over ``program`` runs once per real stack file; the reviewer's checks are: data route
tables have no default and no peering route, app routes go to their own zone's NAT (or the single
one), and nothing is open to the internet except 80/443 on the load balancer group.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from components.config import ConfigError
from components.network.network import select_zones
from components.network.subnet_plan import AZ_SLOTS, plan_subnets, vpc_problem
from testing.mocks import ZONE_MAP
from testing.program import ProgramRun, Resource, run_program

P = "phase-mirror-infra:"
NETWORK = "phase-mirror:index:Network"
ROUTE = "aws:ec2/route:Route"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ANYWHERE = {"0.0.0.0/0", "::/0"}
PEERING = {f"{P}peerCidr": "10.99.0.0/16", f"{P}peeringConnectionId": "pcx-0a1b2c3d4e5f6a7b8"}


def settings(run: ProgramRun) -> tuple[str, int, str]:
    c = run.config
    return (c[f"{P}vpcCidr"], int(c[f"{P}availabilityZones"]), c[f"{P}natGateways"])


def sg_id(role: str) -> str:
    return f"network-{role}-sg-id"


# --- subnet math, without mocks -----------------------------------------------------------


@pytest.mark.parametrize("vpc", ["10.20.0.0/16", "172.16.8.0/22", "192.168.1.0/24"])
@pytest.mark.parametrize("zones", [2, 3])
def test_subnets_lie_inside_the_vpc_never_overlap_and_meet_aws_minimum(vpc, zones):
    network = ipaddress.IPv4Network(vpc)
    subnets = [z.of(t) for z in plan_subnets(network, zones) for t in ("public", "app", "data")]
    assert len(subnets) == 3 * zones
    for i, a in enumerate(subnets):
        assert a.subnet_of(network) and a.prefixlen <= 28, (vpc, a)
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b), (vpc, a, b)


def test_a_16_gives_app_subnets_of_8192_addresses_and_public_data_of_4096():
    zone = plan_subnets(ipaddress.IPv4Network("10.20.0.0/16"), 3)[1]
    assert (str(zone.app), str(zone.public), str(zone.data)) == (
        "10.20.64.0/19",
        "10.20.96.0/20",
        "10.20.112.0/20",
    )


def test_adding_a_zone_keeps_every_existing_subnet_cidr():
    # GIVEN a 2-zone plan WHEN the stack moves to 3 zones THEN no subnet is replaced
    vpc = ipaddress.IPv4Network("10.30.0.0/16")
    assert plan_subnets(vpc, 3)[:2] == plan_subnets(vpc, 2)


def test_private_and_shared_ranges_hold_the_plan():
    # RFC 1918 and RFC 6598 (carrier-grade NAT space, used for overlay VPCs)
    for vpc in ("10.20.0.0/16", "172.16.0.0/20", "192.168.0.0/24", "100.64.0.0/16"):
        assert vpc_problem(ipaddress.ip_network(vpc)) is None, vpc


@pytest.mark.parametrize(
    ("vpc", "fragment"),
    [
        ("10.20.0.0/25", "prefix from /16 to /24"),
        # AWS takes /28, but four zone blocks of four subnets would fall under AWS's /28.
        ("10.20.0.0/28", "below /24 a subnet would fall under AWS's /28 minimum"),
        ("10.0.0.0/8", "prefix from /16 to /24"),
        ("8.8.0.0/16", "not a public or reserved range"),
        ("127.0.0.0/16", "not a loopback range"),
        ("169.254.0.0/16", "not a link-local range"),
        ("224.0.0.0/16", "not a multicast range"),
        ("198.18.0.0/16", "not a public or reserved range"),
        ("fd00::/56", "an IPv4 range"),
    ],
)
def test_vpc_that_cannot_hold_the_plan_is_refused(vpc, fragment):
    network = ipaddress.ip_network(vpc)
    assert fragment in (vpc_problem(network) or "")
    if isinstance(network, ipaddress.IPv4Network):
        with pytest.raises(ValueError, match=fragment):
            plan_subnets(network, 2)


def test_more_zones_than_slots_is_refused():
    with pytest.raises(ValueError, match=f"allowed 1 to {AZ_SLOTS}"):
        plan_subnets(ipaddress.IPv4Network("10.20.0.0/16"), AZ_SLOTS + 1)


def test_zones_are_the_first_ones_aws_lists_and_too_few_is_a_config_error():
    # AWS's order, not sorted: a re-sort could move an existing zone's subnets elsewhere.
    assert select_zones(["c", "a", "d", "b"], 3) == ["c", "a", "d"]
    with pytest.raises(ConfigError, match="'availabilityZones' has invalid value 3"):
        select_zones(["us-west-1a", "us-west-1b"], 3)


# --- the program, for both stack files ----------------------------------------------------


def test_each_zone_gets_public_app_and_data_subnets_from_the_plan(program):
    vpc_cidr, zones, _ = settings(program)
    plan = plan_subnets(ipaddress.IPv4Network(vpc_cidr), zones)
    # us-east-1c is use1-az3 in the mocked account: EKS cannot use it, so a, b, d.
    usable = [name for name, zone_id in ZONE_MAP.items() if zone_id != "use1-az3"]
    assert program.one("aws:ec2/vpc:Vpc", "network-vpc").inputs["cidrBlock"] == vpc_cidr
    subnets = program.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 3 * zones, [s.name for s in subnets]
    for i, zone in enumerate(plan):
        for tier in ("public", "app", "data"):
            subnet = program.one("aws:ec2/subnet:Subnet", f"network-{tier}-{i}")
            assert subnet.inputs["cidrBlock"] == str(zone.of(tier)), subnet.urn
            assert subnet.inputs["availabilityZone"] == usable[i], subnet.urn
            assert subnet.inputs["mapPublicIpOnLaunch"] is False, subnet.urn


def routes_of(run: ProgramRun, table: Resource) -> list[Resource]:
    return [r for r in run.of_type(ROUTE) if r.inputs["routeTableId"] == f"{table.name}-id"]


def associated_table(run: ProgramRun, subnet: str) -> str:
    (assoc,) = [
        a
        for a in run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["subnetId"] == f"{subnet}-id"
    ]
    return assoc.inputs["routeTableId"]


def test_public_route_table_sends_only_the_default_route_to_the_internet_gateway(program):
    table = program.one("aws:ec2/routeTable:RouteTable", "network-public-rt")
    (route,) = routes_of(program, table)
    assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0", route.urn
    assert route.inputs["gatewayId"] == "network-igw-id", route.urn
    for i in range(settings(program)[1]):
        assert associated_table(program, f"network-public-{i}") == "network-public-rt-id"


def test_app_route_tables_default_to_their_own_zones_nat_or_the_single_one(program):
    _, zones, nat = settings(program)
    nats = program.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == (zones if nat == "one_per_az" else 1), [n.name for n in nats]
    for i in range(zones):
        table = program.one("aws:ec2/routeTable:RouteTable", f"network-app-rt-{i}")
        assert associated_table(program, f"network-app-{i}") == f"{table.name}-id"
        (route,) = routes_of(program, table)
        expected = i if nat == "one_per_az" else 0
        assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0", route.urn
        assert route.inputs["natGatewayId"] == f"network-nat-{expected}-id", route.urn
        nat_gw = program.one("aws:ec2/natGateway:NatGateway", f"network-nat-{expected}")
        assert nat_gw.inputs["subnetId"] == f"network-public-{expected}-id", nat_gw.urn


def test_data_route_tables_are_their_own_and_have_no_route_at_all(program):
    zones = settings(program)[1]
    for i in range(zones):
        table = program.one("aws:ec2/routeTable:RouteTable", f"network-data-rt-{i}")
        assert "routes" not in table.inputs or not table.inputs["routes"], table.urn
        assert routes_of(program, table) == [], f"{table.urn} has a route"
        assert associated_table(program, f"network-data-{i}") == f"{table.name}-id"


def test_peering_routes_go_to_app_route_tables_only():
    run = run_program("production", overrides=PEERING)
    peering = [r for r in run.of_type(ROUTE) if r.inputs.get("vpcPeeringConnectionId")]
    tables = sorted(r.inputs["routeTableId"] for r in peering)
    assert tables == [f"network-app-rt-{i}-id" for i in range(3)], tables
    for route in peering:
        assert route.inputs["destinationCidrBlock"] == "10.99.0.0/16", route.urn
    for i in range(3):
        data = run.one("aws:ec2/routeTable:RouteTable", f"network-data-rt-{i}")
        assert routes_of(run, data) == [], f"{data.urn} got a route with peering on"


def test_real_stacks_have_no_peering_route(program):
    assert not [r.urn for r in program.of_type(ROUTE) if r.inputs.get("vpcPeeringConnectionId")]


def rule_set(run: ProgramRun, type_: str) -> set[tuple[str, int, str]]:
    """(group, port, source) of every rule of that type; source is a CIDR or a group id."""
    found = set()
    for rule in run.of_type(type_):
        assert rule.inputs["ipProtocol"] == "tcp", rule.urn
        assert rule.inputs["fromPort"] == rule.inputs["toPort"], f"{rule.urn} opens a range"
        source = (
            rule.inputs.get("cidrIpv4")
            or rule.inputs.get("cidrIpv6")
            or rule.inputs["referencedSecurityGroupId"]
        )
        found.add((rule.inputs["securityGroupId"], int(rule.inputs["fromPort"]), source))
    return found


def test_only_the_load_balancer_takes_80_and_443_from_anywhere(program):
    for rule in program.of_type(INGRESS):
        source = {rule.inputs.get("cidrIpv4"), rule.inputs.get("cidrIpv6")}
        if source & ANYWHERE:
            assert rule.inputs["securityGroupId"] == sg_id("lb"), rule.urn
            assert rule.inputs["fromPort"] in (80, 443), rule.urn


def test_every_ingress_rule_is_one_the_design_allows(program):
    port = int(program.config.get(f"{P}appPort", 8080))
    cluster_sg = "sg-0eks0cluster0mock"
    expected = {
        (sg_id("lb"), 80, "0.0.0.0/0"),
        (sg_id("lb"), 443, "0.0.0.0/0"),
        (sg_id("app"), port, sg_id("lb")),
        (sg_id("data"), 5432, sg_id("app")),
        (sg_id("data"), 6379, sg_id("app")),
        (sg_id("data"), 5432, cluster_sg),
        (sg_id("data"), 6379, cluster_sg),
        (sg_id("endpoints"), 443, settings(program)[0]),
    }
    assert rule_set(program, INGRESS) == expected


def test_egress_rules_are_scoped_and_data_and_admin_groups_have_none(program):
    port = int(program.config.get(f"{P}appPort", 8080))
    assert rule_set(program, EGRESS) == {
        (sg_id("lb"), port, sg_id("app")),
        (sg_id("app"), 443, "0.0.0.0/0"),
        (sg_id("app"), 5432, sg_id("data")),
        (sg_id("app"), 6379, sg_id("data")),
    }
    for group in program.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress"), group.urn


def test_default_security_group_is_stripped_of_every_rule(program):
    default = program.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default-sg")
    assert not default.inputs.get("ingress") and not default.inputs.get("egress"), default.urn


def test_admin_ports_open_only_to_the_devops_ranges():
    ranges = ["203.0.113.0/24", "2001:db8::/48"]
    run = run_program("staging", overrides={f"{P}devopsCidrs": ranges})
    admin = {r for r in rule_set(run, INGRESS) if r[0] == sg_id("admin")}
    assert admin == {(sg_id("admin"), p, c) for p in (22, 3389) for c in ranges}
    (v6,) = [
        r
        for r in run.of_type(INGRESS)
        if r.inputs.get("cidrIpv6") == "2001:db8::/48"
        if r.inputs["fromPort"] == 22
    ]
    assert "cidrIpv4" not in v6.inputs, v6.urn


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0"])
def test_admin_range_open_to_the_internet_stops_the_program(everyone):
    with pytest.raises(ConfigError, match=r"'devopsCidrs\[0\]' has invalid value .*network audit"):
        run_program("production", overrides={f"{P}devopsCidrs": [everyone]})


def test_flow_logs_capture_all_traffic_into_an_encrypted_group_with_retention(program):
    group = program.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    log_key = program.one("aws:kms/key:Key", "observability-log-key").outputs["arn"]
    assert group.inputs["kmsKeyId"] == log_key, group.urn
    assert group.inputs["retentionInDays"] == int(program.config[f"{P}logRetentionDays"])
    flow = program.one("aws:ec2/flowLog:FlowLog", "network-flow-log")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["vpcId"] == "network-vpc-id"
    assert flow.inputs["logDestination"] == group.outputs["arn"], flow.urn
    policy = json.loads(
        program.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs-policy").inputs["policy"]
    )
    write, lookup = policy["Statement"]
    assert write["Resource"] == [group.outputs["arn"], group.outputs["arn"] + ":*"]
    assert lookup == {
        "Sid": "FindFlowLogGroup",
        "Effect": "Allow",
        "Action": "logs:DescribeLogGroups",
        # The Service Authorization Reference (list_amazoncloudwatchlogs) gives the action no
        # resource type: only "*" applies.
        "Resource": "*",
    }


def test_gateway_endpoints_serve_app_and_data_route_tables(program):
    zones = settings(program)[1]
    private = sorted(f"network-{t}-rt-{i}-id" for t in ("app", "data") for i in range(zones))
    for service in ("s3", "dynamodb"):
        endpoint = program.one("aws:ec2/vpcEndpoint:VpcEndpoint", f"network-{service}-endpoint")
        assert endpoint.inputs["vpcEndpointType"] == "Gateway", endpoint.urn
        assert sorted(endpoint.inputs["routeTableIds"]) == private, endpoint.urn


def test_interface_endpoints_follow_config_and_sit_in_app_subnets(program):
    wanted = program.config[f"{P}interfaceEndpoints"] == "true"
    interface = [
        e
        for e in program.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    services = sorted(e.inputs["serviceName"].rsplit(".", 1)[1] for e in interface)
    assert services == (sorted(["secretsmanager", "kms", "logs", "sts"]) if wanted else [])
    zones = settings(program)[1]
    for endpoint in interface:
        assert endpoint.inputs["subnetIds"] == [f"network-app-{i}-id" for i in range(zones)]
        assert endpoint.inputs["securityGroupIds"] == [sg_id("endpoints")], endpoint.urn
        assert endpoint.inputs["privateDnsEnabled"] is True, endpoint.urn


def test_production_spans_three_zones_with_a_nat_each_and_staging_two_with_one(staging, production):
    assert settings(production)[1:] == (3, "one_per_az")
    assert settings(staging)[1:] == (2, "single")


def test_network_children_all_belong_to_the_component(program):
    network = [r for r in program if NETWORK in r.urn.split("::")[2] and r.type != NETWORK]
    assert network
    (component,) = program.of_type(NETWORK)
    for resource in network:
        assert resource.parent == component.urn, resource.urn
