"""From registered resources and stated usage to priced lines, one function per group."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from tools.cost.catalog import FREE, LEFT_OUT, PRICED, T, is_component
from tools.cost.model import INGESTED_EVENT, CostError, Estimate, Line, Registered, Usage
from tools.prices import HOURS_PER_MONTH, PRICES, Price

GB_PER_KB = 1e-6  # decimal units, as AWS bills
EVENTS = 1_000_000
MONTH_DAYS = 365 / 12


def _hours(count: float) -> float:
    return count * HOURS_PER_MONTH


def instance_price(kind: str, name: str, prices: Mapping[str, Price]) -> str:
    """The key of ``kind``'s price for instance class ``name``; ``CostError`` when there is none."""
    priced = sorted(key.split(":", 1)[1] for key in prices if key.startswith(f"{kind}:"))
    if name not in priced:
        raise CostError(
            f"no {kind} price for {name!r} in tools/prices.py (priced: {', '.join(priced)}); "
            "add it with its source"
        )
    return f"{kind}:{name}"


def network(rs: Sequence[Registered], usage: Usage) -> list[Line]:
    g = "Network"
    nats = sum(r.type == T.NAT for r in rs)
    addresses = sum(r.type == T.EIP for r in rs)
    interface = [
        r for r in rs if r.type == T.ENDPOINT and r.inputs.get("vpcEndpointType") == "Interface"
    ]
    # An interface endpoint has a network interface, billed by the hour, in each subnet's zone.
    zones = sum(len(r.inputs.get("subnetIds") or []) for r in interface)
    flow_logs = sum(
        r.type == T.FLOW_LOG
        and r.inputs.get("logDestinationType", "cloud-watch-logs") == "cloud-watch-logs"
        for r in rs
    )
    lines = []
    if nats:
        lines.append(Line(g, "NAT gateways", _hours(nats), "nat-gateway", f"{nats} x 730 h"))
    if addresses:
        lines.append(
            Line(
                g,
                "public IPv4 addresses (the NATs' Elastic IPs)",
                _hours(addresses),
                "public-ipv4",
                f"{addresses} x 730 h",
            )
        )
    if interface:
        services = ", ".join(
            sorted(str(r.inputs.get("serviceName", r.name)).rsplit(".")[-1] for r in interface)
        )
        lines.append(
            Line(
                g,
                f"interface endpoints ({services})",
                _hours(zones),
                "interface-endpoint",
                f"{zones} endpoint-zones x 730 h",
            )
        )
    if flow_logs:
        gb = usage.flow_log_gb * flow_logs
        lines.append(
            Line(g, "flow-log ingestion into CloudWatch Logs", gb, "log-ingestion", f"{gb:g} GB")
        )
    return lines


def data_tier(rs: Sequence[Registered], prices: Mapping[str, Price]) -> list[Line]:
    g = "Data tier"
    lines = []
    for db in (r for r in rs if r.type == T.RDS):
        cls = str(db.inputs.get("instanceClass"))
        copies = 2 if db.inputs.get("multiAz") else 1
        az = " (Multi-AZ: primary and standby)" if copies == 2 else ""
        key = instance_price("rds", cls, prices)
        lines.append(Line(g, f"database {cls}{az}", _hours(copies), key, f"{copies} x 730 h"))
        storage = str(db.inputs.get("storageType", "gp2"))
        if storage != "gp3" or db.inputs.get("iops") or db.inputs.get("storageThroughput"):
            raise CostError(
                f"{db.name}: only gp3 storage at its baseline performance is priced "
                f"(storageType {storage!r}, iops {db.inputs.get('iops')!r})"
            )
        gb = float(db.inputs.get("allocatedStorage", 0))
        lines.append(
            Line(g, f"database gp3 storage{az}", gb * copies, "rds-gp3", f"{gb:g} GB x {copies}")
        )
    for group in (r for r in rs if r.type == T.REDIS):
        node = str(group.inputs.get("nodeType"))
        nodes = int(group.inputs.get("numCacheClusters", 1))
        key = instance_price("elasticache", node, prices)
        lines.append(Line(g, f"cache nodes {node}", _hours(nodes), key, f"{nodes} x 730 h"))
    clusters = sum(r.type == T.EKS for r in rs)
    if clusters:
        lines.append(
            Line(
                g,
                "EKS control plane",
                _hours(clusters),
                "eks-cluster",
                f"{clusters} x 730 h",
                "a version in standard support",
            )
        )
    for group in (r for r in rs if r.type == T.NODE_GROUP):
        lines += node_group(group, prices)
    return lines


def node_group(group: Registered, prices: Mapping[str, Price]) -> list[Line]:
    """A managed node group at its minimum size: instance hours and root volumes."""
    count = int((group.inputs.get("scalingConfig") or {}).get("minSize", 0))
    if not count:
        return []  # a group that scales from zero costs nothing until it scales
    types = list(group.inputs.get("instanceTypes") or [])
    if not types:
        raise CostError(f"{group.name}: no instanceTypes to price")
    # Managed node groups fill on-demand capacity with the first listed type first ("Managed
    # node groups", EKS User Guide: the order of instance types passed in the API).
    key = instance_price("ec2", types[0], prices)
    spot = group.inputs.get("capacityType") == "SPOT"
    disk = float(group.inputs.get("diskSize", 20))  # the node group API's default size
    return [
        Line(
            "Data tier",
            f"{'spot' if spot else 'on-demand'} nodes {types[0]}, the group's minimum size",
            _hours(count),
            key,
            f"{count} x 730 h",
            "spot priced on demand, an upper bound" if spot else "",
        ),
        Line(
            "Data tier",
            "node root volumes (gp2)",
            count * disk,
            "ebs-gp2",
            f"{count} x {disk:g} GB",
            "the volume type without a launch template",
        ),
    ]


def security(rs: Sequence[Registered], usage: Usage) -> list[Line]:
    g = "Security and audit"
    lines = []
    keys = sum(r.type == T.KMS_KEY for r in rs)
    if keys:
        lines.append(
            Line(
                g,
                "KMS keys",
                keys,
                "kms-key",
                f"{keys} keys",
                "each yearly rotation adds $1 a month per key",
            )
        )
    trails = [r for r in rs if r.type == T.TRAIL and r.inputs.get("enableLogging", True)]
    events = usage.management_events
    if trails:
        free = min(len(trails), max(0, 1 - usage.trails_before))
        paid = len(trails) - free
        lines.append(
            Line(
                g,
                "CloudTrail management-event copies",
                paid * events,
                "cloudtrail-paid-copy",
                f"{paid} x {events:,} events",
                f"{len(trails)} trail(s) here, {usage.trails_before} before in the account: "
                f"{free} free first copy, {paid} paid",
            )
        )
    to_logs = sum(bool(r.inputs.get("cloudWatchLogsGroupArn")) for r in trails)
    if to_logs:
        gb = to_logs * events * usage.trail_record_kb * GB_PER_KB
        lines.append(
            Line(g, "trail events into CloudWatch Logs", gb, "log-ingestion", f"{gb:g} GB")
        )
    secrets = sum(r.type == T.SECRETS_MANAGER for r in rs)
    # RDS creates and keeps the master user secret itself; the program never registers it.
    managed = sum(r.type == T.RDS and bool(r.inputs.get("manageMasterUserPassword")) for r in rs)
    if secrets or managed:
        lines.append(
            Line(
                g,
                "Secrets Manager secrets",
                secrets + managed,
                "secret",
                f"{secrets + managed} secrets",
                f"{secrets} declared, {managed} kept by the database itself",
            )
        )
    return lines


def alarm_metrics(alarm: Registered) -> tuple[int, bool]:
    """(alarm metrics billed, high resolution) of one metric alarm: a math alarm bills each
    metric it reads, never its expressions."""
    queries = alarm.inputs.get("metricQueries") or []
    if any("ANOMALY_DETECTION_BAND" in str(q.get("expression", "")) for q in queries):
        raise CostError(f"{alarm.name}: anomaly-detection alarms are not priced yet")
    if queries:
        metrics = [q["metric"] for q in queries if q.get("metric")]
        shortest = min((float(m.get("period", 60)) for m in metrics), default=60.0)
        return len(metrics), shortest < 60
    return 1, float(alarm.inputs.get("period", 60)) < 60


def observability(rs: Sequence[Registered]) -> list[Line]:
    g = "Observability"
    standard = high = 0
    for alarm in (r for r in rs if r.type == T.ALARM):
        count, high_resolution = alarm_metrics(alarm)
        high, standard = (high + count, standard) if high_resolution else (high, standard + count)
    lines = []
    if standard:
        lines.append(
            Line(
                g,
                "alarm metrics, standard resolution",
                standard,
                "alarm-metric",
                f"{standard} alarm metrics",
            )
        )
    if high:
        lines.append(
            Line(
                g,
                "alarm metrics, high resolution",
                high,
                "alarm-metric-high-resolution",
                f"{high} alarm metrics",
            )
        )
    dashboards = sum(r.type == T.DASHBOARD for r in rs)
    if dashboards:
        lines.append(Line(g, "dashboards", dashboards, "dashboard", f"{dashboards} dashboard(s)"))
    # A filter with a default value publishes with every batch its log group receives, so its
    # metric exists all month; one without publishes only on a match.
    filters = sum(
        r.type == T.METRIC_FILTER
        and (r.inputs.get("metricTransformation") or {}).get("defaultValue") is not None
        for r in rs
    )
    if filters:
        lines.append(
            Line(
                g,
                "custom metrics of log metric filters",
                filters,
                "custom-metric",
                f"{filters} metrics",
                "with a default value: published all month",
            )
        )
    return lines


def interval_days(schedule: str, rule: str) -> float:
    """Days between runs of an AWS Backup cron schedule (daily, weekly or monthly ones)."""
    fields = schedule.removeprefix("cron(").removesuffix(")").split()
    unreadable = CostError(f"backup rule {rule!r}: cannot read schedule {schedule!r}")
    if not schedule.startswith("cron(") or len(fields) != 6:
        raise unreadable
    day_of_month, day_of_week = fields[2], fields[4]
    wild = ("*", "?")
    if day_of_month in wild and day_of_week in wild:
        return 1
    if day_of_month in wild:
        return 7 / len(day_of_week.split(","))
    if day_of_week in wild and day_of_month.isdigit():
        return MONTH_DAYS
    raise unreadable


def retained_copies(plan: Registered) -> float:
    """Recovery points a plan keeps at once: each rule's retention over its interval."""
    copies = 0.0
    for rule in plan.inputs.get("rules") or []:
        name = str(rule.get("ruleName"))
        keep = (rule.get("lifecycle") or {}).get("deleteAfter")
        if not keep:
            raise CostError(f"backup rule {name!r} keeps recovery points forever: no floor")
        copies += float(keep) / interval_days(str(rule.get("schedule", "")), name)
    return copies


def backup(rs: Sequence[Registered], usage: Usage) -> list[Line]:
    g = "Backup"
    plans = [r for r in rs if r.type == T.BACKUP_PLAN]
    if not plans:
        return []
    if len(plans) > 1:
        raise CostError("more than one backup plan: tools.cost pairs one plan with the selections")
    copies = retained_copies(plans[0])
    selected = [
        str(arn)
        for r in rs
        if r.type == T.BACKUP_SELECTION
        for arn in r.inputs.get("resources", [])
    ]
    lines = []
    if any(":dynamodb:" in arn for arn in selected):
        lines.append(
            Line(
                g,
                "DynamoDB backups",
                usage.dynamodb_gb * copies,
                "backup-dynamodb",
                f"{usage.dynamodb_gb:g} GB x {copies:.2f} recovery points",
                "each a full copy; points kept = retention / interval, summed over the rules",
            )
        )
    if any(":rds:" in arn for arn in selected):
        gb = usage.rds_backup_billed_gb
        lines.append(
            Line(g, "database backups", gb, "backup-rds", f"{gb:g} GB", "beyond the free allowance")
        )
    return lines


def per_event(rs: Sequence[Registered]) -> list[Line]:
    """DynamoDB request units of a million ingested events, when the tables are on demand."""
    if not any(r.type == T.TABLE and r.inputs.get("billingMode") == "PAY_PER_REQUEST" for r in rs):
        return []
    g = "DynamoDB on demand, per million ingested events"
    lines = []
    for request in INGESTED_EVENT:
        if request.write_units:
            lines.append(
                Line(
                    g,
                    request.what,
                    request.write_units * EVENTS,
                    "dynamodb-write",
                    f"{request.write_units:g} WRU x 1M",
                )
            )
        if request.read_units:
            lines.append(
                Line(
                    g,
                    request.what,
                    request.read_units * EVENTS,
                    "dynamodb-read",
                    f"{request.read_units:g} RRU x 1M",
                )
            )
    return lines


def estimate(
    stack: str,
    resources: Iterable[Registered],
    usage: Usage,
    prices: Mapping[str, Price] = PRICES,
) -> Estimate:
    """Price ``resources`` with ``usage`` and ``prices``; ``CostError`` names what cannot be."""
    # Sorted: the engine may register in any order, and the output must not change with it.
    rs = sorted((r for r in resources if not is_component(r.type)), key=lambda r: (r.type, r.name))
    found = Estimate(stack=stack, usage=usage, prices=prices)
    found.floor = [
        *network(rs, usage),
        *data_tier(rs, prices),
        *security(rs, usage),
        *observability(rs),
        *backup(rs, usage),
    ]
    found.per_million_events = per_event(rs)
    present = Counter(r.type for r in rs)
    found.left_out = sorted({LEFT_OUT[t] for t in present if t in LEFT_OUT})
    known = PRICED | FREE.keys() | LEFT_OUT.keys()
    found.unpriced = {t: n for t, n in sorted(present.items()) if t not in known}
    return found
