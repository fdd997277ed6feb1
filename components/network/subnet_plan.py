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


# RFC 1918 private ranges and RFC 6598 shared address space: what AWS recommends for a VPC
# ("VPC CIDR blocks", Amazon VPC user guide). AWS also accepts public ranges, but a VPC on
# one shadows those internet addresses for everything inside it.
VPC_RANGES = tuple(
    ipaddress.IPv4Network(r)
    for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
PRIVATE_OR_SHARED = (
    "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) or 100.64.0.0/10 (RFC 6598)"
)


def vpc_problem(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """Why ``network`` cannot hold the subnet plan, or None when it can."""
    if not isinstance(network, ipaddress.IPv4Network):
        return f"an IPv4 range within {PRIVATE_OR_SHARED}"
    kinds = (
        ("loopback", network.is_loopback),
        ("link-local", network.is_link_local),
        ("multicast", network.is_multicast),
    )
    for kind, found in kinds:
        if found:
            return f"a range within {PRIVATE_OR_SHARED}, not a {kind} range"
    if not any(network.subnet_of(allowed) for allowed in VPC_RANGES):
        return f"a range within {PRIVATE_OR_SHARED}, not a public or reserved range"
    if not LARGEST_VPC_PREFIX <= network.prefixlen <= SMALLEST_VPC_PREFIX:
        return (
            f"a prefix from /{LARGEST_VPC_PREFIX} to /{SMALLEST_VPC_PREFIX} (AWS takes /16 to "
            f'/28, "VPC CIDR blocks"; this program cuts the VPC into {AZ_SLOTS} zone blocks of '
            "four subnets, so below /24 a subnet would fall under AWS's /28 minimum)"
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
