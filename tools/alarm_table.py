"""Write the table of docs/operations.md: what pages and why, from the alarms the program creates.

    python -m tools.alarm_table           # rewrite the table in docs/operations.md
    python -m tools.alarm_table --check   # exit 1 when the committed table is stale

Both stack files run under mocks (testing.program); every CloudWatch alarm and every
EventBridge rule that targets an alert topic becomes one row, named with ``<stack>`` and marked
with the stacks that create it. The rows come from the registered resources, not from a list
kept here, so a new function's alarms appear as soon as the program creates them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testing.program import ROOT, ProgramRun, run_program

DOC = ROOT / "docs" / "operations.md"
BEGIN = "<!-- alarm table: written by `python -m tools.alarm_table`; do not edit by hand -->"
END = "<!-- end of alarm table -->"
STACKS = ("staging", "production")
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
OPERATORS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
MIB = 1024**2


def _number(value: float) -> str:
    if value >= 1024 * MIB and value % (1024 * MIB) == 0:
        return f"{value / (1024 * MIB):g} GiB"
    if value >= MIB and value % MIB == 0:
        return f"{value / MIB:g} MiB"
    return f"{value:g}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def _condition(inputs: dict[str, Any]) -> str:
    """When an alarm fires, in one line: signal, comparison, window, missing data."""
    if "metricQueries" in inputs:
        queries = inputs["metricQueries"]
        (total,) = [q for q in queries if "expression" in q]
        metrics = [q["metric"] for q in queries if "metric" in q]
        names = sorted({m["metricName"] for m in metrics})
        signal = (
            f"{total['label']} ({', '.join(f'`{n}`' for n in names)}, {metrics[0]['namespace']})"
        )
        period = metrics[0]["period"]
    else:
        signal = f"`{inputs['metricName']}` {inputs['statistic']} ({inputs['namespace']})"
        period = inputs["period"]
    periods = int(inputs["evaluationPeriods"])
    window = f"per {_minutes(period)}" + (f", {periods} periods in a row" if periods > 1 else "")
    condition = f"{signal} {OPERATORS[inputs['comparisonOperator']]} {_number(inputs['threshold'])} {window}"
    if inputs.get("treatMissingData") == "breaching":
        condition += "; missing data fires too"
    return condition


def _severity(run: ProgramRun, target: str) -> str:
    topics = {t.outputs["arn"]: t.inputs["name"] for t in run.of_type("aws:sns/topic:Topic")}
    name = topics.get(target, "")
    return "critical (pages)" if "-critical-" in name else "warning (email)"


def _runbook(description: str) -> tuple[str, str]:
    why, _, link = description.partition(" Runbook: ")
    if not link:
        return why.rstrip("."), ""
    anchor = link.rsplit("#", 1)[1]
    return why.rstrip("."), f"[{anchor}](runbooks/operations.md#{anchor})"


Row = tuple[str, str, str, str]


def _templated(cells: Row, suffix: str) -> Row:
    severity, condition, why, link = (cell.replace(suffix, "-<stack>") for cell in cells)
    return severity, condition, why, link


def rows(run: ProgramRun) -> dict[str, Row]:
    """Alarm name (with ``<stack>``) -> (severity, fires when, why, runbook link)."""
    suffix = f"-{run.stack}"
    found: dict[str, Row] = {}
    for alarm in run.of_type(ALARM):
        inputs = alarm.inputs
        why, link = _runbook(inputs.get("alarmDescription", ""))
        name = inputs["name"].removesuffix(suffix) + "-<stack>"
        found[name] = (
            _severity(run, inputs["alarmActions"][0]),
            _condition(inputs),
            why,
            link,
        )
    topics = {t.outputs["arn"] for t in run.of_type("aws:sns/topic:Topic")}
    for target in run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        if target.inputs["arn"] not in topics:
            continue  # a schedule invoking a function, not a page
        (rule,) = [
            r
            for r in run.of_type("aws:cloudwatch/eventRule:EventRule")
            if r.outputs["name"] == target.inputs["rule"]
        ]
        name = rule.inputs["name"].removesuffix(suffix) + "-<stack>"
        why, link = _runbook(rule.inputs.get("description", ""))
        condition = "EventBridge rule: an event matches its pattern (no evaluation period)"
        found[name] = (_severity(run, target.inputs["arn"]), condition, why, link)
    # The stack's name inside a cell (a table's, a function's) reads as <stack> too.
    return {name: _templated(cells, suffix) for name, cells in found.items()}


def render(runs: Sequence[ProgramRun]) -> str:
    """The Markdown table for ``runs`` (one per stack file)."""
    per_stack = {run.stack: rows(run) for run in runs}
    names = sorted({name for found in per_stack.values() for name in found})
    lines = [
        "| alarm | stacks | goes to | fires when | why it matters | runbook |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in names:
        stacks = [stack for stack in per_stack if name in per_stack[stack]]
        label = "both" if len(stacks) == len(per_stack) else ", ".join(stacks)
        columns = []
        for i in range(4):
            values = {stack: per_stack[stack][name][i] for stack in stacks}
            if len(set(values.values())) == 1:
                columns.append(values[stacks[0]])
            else:  # a threshold that follows the stack's sizes
                columns.append("; ".join(f"{stack}: {value}" for stack, value in values.items()))
        cells = (f"`{name}`", label, *columns)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def rewrite(document: str, table: str) -> str:
    """``document`` with the text between the markers replaced by ``table``."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{DOC.name} lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.alarm_table",
        description="Write the table of docs/operations.md from the alarms the program creates.",
        epilog="examples:\n  python -m tools.alarm_table\n  python -m tools.alarm_table --check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="fail when the table is stale")
    args = parser.parse_args(argv)
    table = render([run_program(stack) for stack in STACKS])
    current = DOC.read_text()
    wanted = rewrite(current, table)
    if args.check:
        if wanted != current:
            print(
                f"{DOC.relative_to(ROOT)} is stale: run python -m tools.alarm_table",
                file=sys.stderr,
            )
            return 1
        return 0
    Path(DOC).write_text(wanted)
    print(f"wrote {DOC.relative_to(ROOT)} ({table.count(chr(10)) - 1} alarms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
