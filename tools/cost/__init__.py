"""The monthly floor of a stack: what it costs with no traffic, before the first event arrives.

    python -m tools.cost production                 # one stack, a line per item
    python -m tools.cost staging production         # both, and what they cost together
    python -m tools.cost production --markdown      # a table for a pull-request comment
    python -m tools.cost --write-doc                # rewrite docs/cost.md

Runs the program under the test mocks (testing.program: no Pulumi CLI, no credentials, no
network), so every quantity comes from the resources the stack registers and their inputs:
NAT gateways and their public IPv4 addresses, the database (Multi-AZ doubles instance and
storage), cache nodes, the EKS control plane and the on-demand nodes at the group's minimum
size with their disks, interface endpoints per zone, KMS keys, trails, secrets (with the one
RDS keeps itself), alarm metrics, dashboards, metric filters, flow-log and trail log ingestion,
backup storage. Prices: the dated table of tools/prices.py. What the graph cannot tell (log
volume, management events, table data) is stated per stack and printed with every estimate.
DynamoDB on demand is priced per million ingested events, from the requests lambdas/fp_ingestion
makes. A resource type the tool does not know is listed as not priced, never left out unseen.
Exit status 2 when a stack cannot be read or holds something no price covers.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from testing.program import ROOT, StackFileError, run_program
from tools.cost.catalog import T
from tools.cost.items import estimate
from tools.cost.model import CostError, Estimate, Usage
from tools.cost.render import render_doc, render_markdown, render_text

__all__ = ["CostError", "Estimate", "Usage", "estimate", "estimate_stacks", "main", "usage_for"]

DOC = ROOT / "docs" / "cost.md"
STACKS = ("staging", "production")
# Both stacks live in one account (one bootstrap per account; .github/workflows/deploy.yml uses
# one deploy role for both) and deploy in this order: staging's trail is the free first copy.
ACCOUNT_ORDER = STACKS
# Staging runs 2 nodes in 2 zones, production 3 in 3 with more traffic between them.
FLOW_LOG_GB = {"staging": 5.0, "production": 15.0}
# A few million anonymised events: an event item is a few hundred bytes.
DYNAMODB_GB = {"staging": 1.0, "production": 5.0}


def usage_for(stack: str, trails_before: int) -> Usage:
    """The stated usage of ``stack`` (production's figures for a stack not named here)."""
    return Usage(
        flow_log_gb=FLOW_LOG_GB.get(stack, FLOW_LOG_GB["production"]),
        # EKS, RDS, Lambda and the services' calls to KMS on the functions' behalf, all Regions.
        management_events=1_000_000,
        trail_record_kb=1.5,
        trails_before=trails_before,
        dynamodb_gb=DYNAMODB_GB.get(stack, DYNAMODB_GB["production"]),
    )


def estimate_stacks(
    stacks: Sequence[str], runs: Mapping[str, Sequence[Any]] | None = None
) -> list[Estimate]:
    """Run each stack's program under the mocks (and the stacks deployed before it into the same
    account, whose trails decide who pays for a copy) and price it. ``runs`` holds resources
    already registered, by stack."""
    runs = dict(runs or {})

    def resources(stack: str) -> Sequence[Any]:
        if stack not in runs:
            runs[stack] = run_program(stack).resources
        return runs[stack]

    found = []
    for stack in stacks:
        earlier = ACCOUNT_ORDER[: ACCOUNT_ORDER.index(stack)] if stack in ACCOUNT_ORDER else ()
        before = sum(r.type == T.TRAIL for other in earlier for r in resources(other))
        found.append(estimate(stack, resources(stack), usage_for(stack, before)))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    summary, examples, detail = (__doc__ or "\n\n\n\n").split("\n\n", 2)
    parser = argparse.ArgumentParser(
        prog="python -m tools.cost",
        description=f"{summary}\n\n{detail}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n" + textwrap.indent(textwrap.dedent(examples), "  "),
    )
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="e.g. staging production")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument(
        "--write-doc", action="store_true", help="rewrite docs/cost.md (both stacks)"
    )
    args = parser.parse_args(argv)
    if not args.stacks and not args.write_doc:
        parser.error("name a stack, e.g. `python -m tools.cost staging`, or pass --write-doc")
    try:
        if args.write_doc:
            DOC.write_text(render_doc(estimate_stacks(STACKS)))
            print(f"wrote {DOC.relative_to(ROOT)}")
        if args.stacks:
            found = estimate_stacks(args.stacks)
            print(render_markdown(found) if args.markdown else render_text(found))
    except (StackFileError, CostError, pulumi.RunError) as exc:
        print(f"tools.cost: {exc}", file=sys.stderr)
        return 2
    return 0
