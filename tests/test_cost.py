"""``python -m tools.cost``: the monthly floor from the resource graph, and its generated doc.

The arithmetic is checked on a hand-made resource list whose every quantity is worked out
here; the real stacks are checked for coverage (nothing unpriced), for the account's free
trail copy, and against docs/cost.md; the DynamoDB request units declared per ingested event are
checked against what the handlers do on moto in tests/test_cost_per_event.py. One module
over 400 lines: each priced resource type has its worked example.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from testing.program import ROOT, ProgramRun, run_program
from tools import cost
from tools.cost import items
from tools.cost.model import (
    CostError,
    Estimate,
    Line,
    Usage,
)
from tools.cost.render import render_doc, render_markdown, render_text
from tools.prices import PRICES


@dataclass
class R:
    type: str
    name: str = "r"
    inputs: Mapping[str, Any] = field(default_factory=dict)


USAGE = Usage(
    flow_log_gb=10,
    management_events=200_000,
    trail_record_kb=2,
    trails_before=1,
    dynamodb_gb=2,
    rds_backup_billed_gb=3,
)
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
DB_ARN = "arn:aws:rds:us-east-1:123456789012:db:d"


def metric(name: str, period: int = 300) -> dict[str, Any]:
    return {"metricName": name, "namespace": "AWS/DynamoDB", "period": period, "stat": "Sum"}


HAND_MADE = [
    R("phase-mirror:index:Network", "network"),
    R("pulumi:providers:aws", "aws"),
    R("aws:ec2/natGateway:NatGateway", "nat-0"),
    R("aws:ec2/natGateway:NatGateway", "nat-1"),
    R("aws:ec2/eip:Eip", "eip-0", {"domain": "vpc"}),
    R("aws:ec2/eip:Eip", "eip-1", {"domain": "vpc"}),
    R(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "kms",
        {
            "vpcEndpointType": "Interface",
            "serviceName": "com.amazonaws.us-east-1.kms",
            "subnetIds": ["a", "b", "c"],
        },
    ),
    R("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"}),
    R("aws:ec2/flowLog:FlowLog", "flow", {"logDestinationType": "cloud-watch-logs"}),
    R(
        "aws:rds/instance:Instance",
        "db",
        {
            "instanceClass": "db.t4g.medium",
            "multiAz": True,
            "allocatedStorage": 100,
            "storageType": "gp3",
            "manageMasterUserPassword": True,
        },
    ),
    R(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "redis",
        {"nodeType": "cache.t4g.small", "numCacheClusters": 3},
    ),
    R("eks:index:Cluster", "eks"),
    R(
        "eks:index:ManagedNodeGroup",
        "on-demand",
        {
            "capacityType": "ON_DEMAND",
            "instanceTypes": ["t3.medium", "t3a.medium"],
            "diskSize": 30,
            "scalingConfig": {"minSize": 2, "maxSize": 5},
        },
    ),
    R(
        "eks:index:ManagedNodeGroup",
        "spot",
        {"capacityType": "SPOT", "instanceTypes": ["t3.medium"], "scalingConfig": {"minSize": 0}},
    ),
    R("aws:kms/key:Key", "k1"),
    R("aws:kms/key:Key", "k2"),
    R("aws:cloudtrail/trail:Trail", "trail", {"cloudWatchLogsGroupArn": "arn:aws:logs:x"}),
    R("aws:secretsmanager/secret:Secret", "salt"),
    R("aws:cloudwatch/metricAlarm:MetricAlarm", "plain", {"period": 300}),
    R(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "math",
        {
            "metricQueries": [
                {"id": "m0", "metric": metric("a")},
                {"id": "m1", "metric": metric("b")},
                {"id": "m2", "metric": metric("c")},
                {"id": "e1", "expression": "SUM([m0, m1, m2])", "returnData": True},
            ]
        },
    ),
    R("aws:cloudwatch/metricAlarm:MetricAlarm", "fast", {"period": 10}),
    R("aws:cloudwatch/dashboard:Dashboard", "board"),
    R(
        "aws:cloudwatch/logMetricFilter:LogMetricFilter",
        "always",
        {"metricTransformation": {"name": "m", "value": "1", "defaultValue": "0"}},
    ),
    R(
        "aws:cloudwatch/logMetricFilter:LogMetricFilter",
        "on-match",
        {"metricTransformation": {"name": "n", "value": "1"}},
    ),
    R(
        "aws:backup/plan:Plan",
        "plan",
        {
            "rules": [
                {
                    "ruleName": "daily",
                    "schedule": "cron(0 5 * * ? *)",
                    "lifecycle": {"deleteAfter": 7},
                },
                {
                    "ruleName": "weekly",
                    "schedule": "cron(0 5 ? * SUN *)",
                    "lifecycle": {"deleteAfter": 28},
                },
                {
                    "ruleName": "monthly",
                    "schedule": "cron(0 5 1 * ? *)",
                    "lifecycle": {"deleteAfter": 365 / 12 * 3},
                },
            ]
        },
    ),
    R("aws:backup/selection:Selection", "selection", {"resources": [TABLE_ARN, DB_ARN]}),
    R("aws:dynamodb/table:Table", "events", {"billingMode": "PAY_PER_REQUEST"}),
    R("aws:iam/role:Role", "role"),
    R("aws:lambda/function:Function", "fn"),
]

# Base units per price of HAND_MADE, worked out by hand (730 hours a month).
EXPECTED = {
    "nat-gateway": 2 * 730,
    "public-ipv4": 2 * 730,
    "interface-endpoint": 3 * 730,  # one network interface per subnet's zone; gateway is free
    "log-ingestion": 10 + 200_000 * 2 / 1e6,  # flow logs + trail records into CloudWatch Logs
    "rds:db.t4g.medium": 2 * 730,  # Multi-AZ: primary and standby
    "rds-gp3": 2 * 100,
    "elasticache:cache.t4g.small": 3 * 730,
    "eks-cluster": 730,
    "ec2:t3.medium": 2 * 730,  # the first listed type, at the minimum size; spot min 0: nothing
    "ebs-gp2": 2 * 30,
    "kms-key": 2,
    "cloudtrail-paid-copy": 200_000,  # a trail existed before: this copy pays
    "secret": 1 + 1,  # the declared one and the one RDS keeps for the master user
    "alarm-metric": 1 + 3,  # the math alarm bills its three metrics, not its expression
    "alarm-metric-high-resolution": 1,
    "dashboard": 1,
    "custom-metric": 1,  # only the filter with a default value publishes all month
    "backup-dynamodb": 2 * (7 + 4 + 3),  # 2 GB x recovery points kept by the three rules
    "backup-rds": 3,
}


def quantities(lines: list[Line]) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in lines:
        found[line.price_key] = found.get(line.price_key, 0) + line.quantity
    return found


@pytest.fixture(scope="module")
def hand_made() -> Estimate:
    return items.estimate("hand", HAND_MADE, USAGE)


def test_every_quantity_of_a_hand_made_stack_is_counted_as_worked_out(hand_made: Estimate):
    assert quantities(hand_made.floor) == pytest.approx(EXPECTED)


def test_each_line_costs_quantity_over_the_price_unit_times_the_price(hand_made: Estimate):
    # GIVEN prices of 1 to 25 dollars, one per key, so a line priced with the wrong key shows
    prices = {
        key: dataclasses.replace(price, usd=float(n))
        for n, (key, price) in enumerate(PRICES.items(), start=1)
    }
    estimate = items.estimate("hand", HAND_MADE, USAGE, prices)
    usd = {key: float(n) for n, key in enumerate(PRICES, start=1)}
    # THEN every line and the total follow, e.g. 200,000 events at N dollars per 100,000
    expected = {key: qty / PRICES[key].per_units * usd[key] for key, qty in EXPECTED.items()}
    by_key: dict[str, float] = {}
    for line in estimate.floor:
        by_key[line.price_key] = by_key.get(line.price_key, 0) + estimate.monthly(line)
    assert by_key == pytest.approx(expected)
    assert estimate.total == pytest.approx(sum(expected.values()))


def test_real_prices_give_the_hand_computed_dollars(hand_made: Estimate):
    cost_of = {line.price_key: hand_made.monthly(line) for line in hand_made.floor}
    assert cost_of["nat-gateway"] == pytest.approx(2 * 730 * 0.045)  # $65.70
    assert cost_of["cloudtrail-paid-copy"] == pytest.approx(2 * 2.00)  # 2 x 100,000 events
    assert cost_of["rds:db.t4g.medium"] == pytest.approx(2 * 730 * 0.065)


def test_a_million_events_cost_their_request_units_on_demand(hand_made: Estimate):
    units_by_key = quantities(hand_made.per_million_events)
    # 4 x 2 ingestion + 2 claim + 1 delete + 2 x 2 / 10 publishing; a 270-byte share of a Scan
    assert units_by_key == pytest.approx({"dynamodb-write": 11_400_000, "dynamodb-read": 65_900})
    assert hand_made.per_million == pytest.approx(11.4 * 0.625 + 0.0659 * 0.125)  # $7.13


def test_the_account_s_first_trail_copies_management_events_free():
    trail = R("aws:cloudtrail/trail:Trail", "trail")
    first = dataclasses.replace(USAGE, trails_before=0)
    [line] = [x for x in items.security([trail], first) if x.price_key == "cloudtrail-paid-copy"]
    assert line.quantity == 0
    [line] = [
        x for x in items.security([trail, trail], first) if x.price_key == "cloudtrail-paid-copy"
    ]
    assert line.quantity == USAGE.management_events  # the second trail pays for its copy


def test_a_group_that_scales_from_zero_and_a_gateway_endpoint_cost_nothing():
    spot = R("eks:index:ManagedNodeGroup", "spot", {"scalingConfig": {"minSize": 0}})
    gateway = R("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"})
    assert items.estimate("s", [spot, gateway], USAGE).floor == []


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (R("aws:rds/instance:Instance", "db", {"instanceClass": "db.r6g.large"}), "db.r6g.large"),
        (
            R(
                "aws:elasticache/replicationGroup:ReplicationGroup",
                "c",
                {"nodeType": "cache.m7g.large"},
            ),
            "cache.m7g.large",
        ),
        (
            R(
                "eks:index:ManagedNodeGroup",
                "g",
                {"instanceTypes": ["m7i.large"], "scalingConfig": {"minSize": 1}},
            ),
            "m7i.large",
        ),
        (
            R(
                "aws:rds/instance:Instance",
                "db",
                {"instanceClass": "db.t4g.medium", "storageType": "io2", "iops": 3000},
            ),
            "io2",
        ),
        (
            R(
                "aws:backup/plan:Plan",
                "p",
                {"rules": [{"ruleName": "forever", "schedule": "cron(0 5 * * ? *)"}]},
            ),
            "forever",
        ),
        (
            R(
                "aws:backup/plan:Plan",
                "p",
                {
                    "rules": [
                        {
                            "ruleName": "odd",
                            "schedule": "rate(1 day)",
                            "lifecycle": {"deleteAfter": 7},
                        }
                    ]
                },
            ),
            "rate",
        ),
        (
            R(
                "aws:cloudwatch/metricAlarm:MetricAlarm",
                "anomaly",
                {"metricQueries": [{"id": "b", "expression": "ANOMALY_DETECTION_BAND(m1, 2)"}]},
            ),
            "anomaly",
        ),
    ],
)
def test_what_no_price_covers_fails_naming_it(resource: R, message: str):
    with pytest.raises(CostError, match=re.escape(message)):
        items.estimate("s", [resource], USAGE)


def test_an_unknown_resource_type_is_reported_not_priced():
    balancer = R("aws:lb/loadBalancer:LoadBalancer", "alb")
    found = items.estimate("s", [balancer], USAGE)
    assert found.unpriced == {"aws:lb/loadBalancer:LoadBalancer": 1}
    assert "NOT PRICED" in render_text([found])
    assert "NOT PRICED" in render_markdown([found])


# --- the real stacks -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def estimates(staging: ProgramRun, production: ProgramRun) -> dict[str, Estimate]:
    runs = {"staging": staging.resources, "production": production.resources}
    return {e.stack: e for e in cost.estimate_stacks(cost.STACKS, runs)}


def test_every_resource_type_of_both_stacks_is_priced_free_or_named_as_left_out(
    estimates: dict[str, Estimate],
):
    for found in estimates.values():
        assert found.unpriced == {}, f"{found.stack}: price these in tools/cost/catalog.py"


def test_the_account_s_one_trail_is_the_free_copy(estimates: dict[str, Estimate]):
    # The shipped files keep the account baseline in production only (accountBaseline), so
    # the account has one trail and its management events are the free first copy.
    def trail_cost(stack: str) -> float:
        found = estimates[stack]
        return sum(found.monthly(x) for x in found.floor if x.price_key == "cloudtrail-paid-copy")

    assert trail_cost("staging") == 0
    assert trail_cost("production") == 0


def test_production_counts_both_database_copies_and_the_managed_secret(
    estimates: dict[str, Estimate],
):
    got = quantities(estimates["production"].floor)
    assert got["rds:db.t4g.large"] == 2 * 730
    assert got["rds-gp3"] == 2 * 500
    assert got["secret"] == 2  # the salt and the database's own (Redis uses IAM, no secret)


def test_docs_cost_md_is_what_the_tool_writes(estimates: dict[str, Estimate]):
    written = render_doc([estimates["staging"], estimates["production"]])
    assert cost.DOC.read_text() == written, (
        "docs/cost.md is stale: run python -m tools.cost --write-doc"
    )


def test_every_price_names_its_aws_page_and_where_it_was_checked():
    for key, price in PRICES.items():
        assert price.source.startswith("https://aws.amazon.com/"), key
        assert price.checked.strip(), key
        assert price.usd > 0 and price.per_units >= 1, key


# --- the command -----------------------------------------------------------------------------


def test_an_unknown_stack_is_one_line_naming_it_and_exit_2(capsys: pytest.CaptureFixture[str]):
    assert cost.main(["qa"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "'qa'" in err and "production, staging" in err


def test_a_refused_config_value_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    bad = functools.partial(run_program, overrides={"phase-mirror-infra:dbMultiAz": "maybe"})
    monkeypatch.setattr(cost, "run_program", bad)
    assert cost.main(["staging"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "'dbMultiAz'" in err and "Traceback" not in err


def test_no_stack_and_no_doc_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        cost.main([])
    assert exit_.value.code == 2
    assert "name a stack" in capsys.readouterr().err


def test_markdown_for_two_stacks_has_a_table_each_and_the_sum(
    estimates: dict[str, Estimate],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setattr(cost, "estimate_stacks", lambda stacks: [estimates[s] for s in stacks])
    assert cost.main(["staging", "production", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("| group | item | quantity | unit price | per month |") == 2
    together = estimates["staging"].total + estimates["production"].total
    assert f"${together:,.2f} a month" in out


def test_text_output_states_the_prices_and_usage_it_assumes(estimates: dict[str, Estimate]):
    text = render_text([estimates["production"]])
    assert "us-east-1 on-demand list prices of" in text
    assert "management events: 1,000,000 a month" in text
    assert "https://aws.amazon.com/vpc/pricing/" in text
    assert re.search(r"NAT gateways\s+3 x 730 h x \$0\.045 per hour\s+= +\$98\.55", text)


def test_the_preview_workflow_adds_its_stack_s_cost_to_the_job_summary():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "preview.yml").read_text())
    (job,) = workflow["jobs"].values()
    [step] = [s for s in job["steps"] if "tools.cost" in str(s.get("run", ""))]
    # The stack reaches the shell through env: (the step's or the job's), never as ${{ }}
    # spliced into the script.
    assert {**job.get("env", {}), **step.get("env", {})}["STACK"] == "${{ matrix.stack }}"
    assert "${{" not in step["run"]
    assert '-m tools.cost "$STACK" --markdown >> "$GITHUB_STEP_SUMMARY"' in step["run"]
