"""Subnet math of the three-tier VPC: plain ``ipaddress`` functions, tested without mocks.

The VPC is cut into ``AZ_SLOTS`` equal blocks, one per availability-zone position, whether or
not the stack uses that zone. Each block holds the zone's app subnet (the first half: EKS pods
take one VPC address each), then its public and data subnets (a quarter each). A subnet's CIDR
therefore depends only on the VPC CIDR and the zone's index, so going from 2 to 3 zones adds
subnets without replacing any existing one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Tier = str
TIERS: tuple[Tier, ...] = ("public", "app", "data")
AZ_SLOTS = 4
# AWS: a VPC is /16 at most; a subnet is /28 at least. Four slots of four quarters need /24.
LARGEST_VPC_PREFIX = 16
SMALLEST_VPC_PREFIX = 24


@dataclass(frozen=True)
class ZoneSubnets:
    """The three subnets of one availability zone."""

    public: ipaddress.IPv4Network
    app: ipaddress.IPv4Network
    data: ipaddress.IPv4Network

    def of(self, tier: Tier) -> ipaddress.IPv4Network:
        return {"public": self.public, "app": self.app, "data": self.data}[tier]


def vpc_problem(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """Why ``network`` cannot hold the subnet plan, or None when it can."""
    if not isinstance(network, ipaddress.IPv4Network) or not network.is_private:
        return "a private IPv4 range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)"
    if not LARGEST_VPC_PREFIX <= network.prefixlen <= SMALLEST_VPC_PREFIX:
        return (
            f"a prefix from /{LARGEST_VPC_PREFIX} to /{SMALLEST_VPC_PREFIX} (AWS VPCs are "
            f"/{LARGEST_VPC_PREFIX} at most, and a smaller VPC leaves subnets under AWS's /28 "
            "minimum)"
        )
    return None


def plan_subnets(vpc: ipaddress.IPv4Network, az_count: int) -> list[ZoneSubnets]:
    """The public, app and data subnets of the first ``az_count`` zones of ``vpc``."""
    problem = vpc_problem(vpc)
    if problem:
        raise ValueError(f"VPC CIDR {vpc} cannot hold the subnet plan: allowed {problem}")
    if not 1 <= az_count <= AZ_SLOTS:
        raise ValueError(f"az_count {az_count}: allowed 1 to {AZ_SLOTS}")
    slots = list(vpc.subnets(new_prefix=vpc.prefixlen + 2))
    zones = []
    for slot in slots[:az_count]:
        app, rest = slot.subnets(prefixlen_diff=1)
        public, data = rest.subnets(prefixlen_diff=1)
        zones.append(ZoneSubnets(public=public, app=app, data=data))
    return zones


def overlapping(
    a: ipaddress.IPv4Network | ipaddress.IPv6Network,
    b: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> bool:
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]
