"""docs/operations.md: the table of what pages is the one the alarm definitions give today."""

from __future__ import annotations

import copy
import re

import pytest

from testing.program import ProgramRun
from tools import alarm_table

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def committed_table() -> str:
    text = alarm_table.DOC.read_text()
    return text.split(alarm_table.BEGIN + "\n", 1)[1].split("\n" + alarm_table.END, 1)[0]


def test_the_committed_table_is_the_one_the_program_gives(staging, production):
    assert committed_table() == alarm_table.render([staging, production]), (
        "docs/operations.md is stale: run python -m tools.alarm_table"
    )


def test_every_alarm_and_paging_rule_of_both_stacks_has_a_row(staging, production):
    rows = set(re.findall(r"^\| `([^`]+)` \|", committed_table(), re.M))
    for run in (staging, production):
        names = {a.inputs["name"] for a in run.of_type(ALARM)} | {
            "phase-mirror-rotation-failed-" + run.stack
        }
        assert {n.removesuffix(f"-{run.stack}") + "-<stack>" for n in names} <= rows
    # a schedule is not a page
    assert "phase-mirror-salt-age-check-<stack>" not in rows


def test_a_changed_threshold_makes_the_table_stale(staging, production):
    changed: ProgramRun = copy.deepcopy(production)
    (latency,) = [a for a in changed.of_type(ALARM) if a.name == "alarms-fp-ingest-latency-warning"]
    latency.inputs["threshold"] = 2000.0
    table = alarm_table.render([staging, changed])
    assert table != committed_table()
    (row,) = [line for line in table.splitlines() if "fp-ingest-latency-warning" in line]
    assert "staging: `FPIngestLatency` Average (PhaseMirror/FPCalibration) > 1000" in row
    assert "production: `FPIngestLatency` Average (PhaseMirror/FPCalibration) > 2000" in row


def test_rows_mark_alarms_one_stack_has_and_missing_data_that_fires(staging, production):
    table = alarm_table.render([staging, production])
    by_name = {line.split("`")[1]: line for line in table.splitlines()[2:]}
    assert "| production |" in by_name["phase-mirror-cis-root-account-use-<stack>"]
    assert "| production |" in by_name["phase-mirror-redis-003-cpu-<stack>"]
    assert "| both | critical (pages) |" in by_name["phase-mirror-api-5xx-rate-<stack>"]
    assert "missing data fires too" in by_name["phase-mirror-salt-age-critical-<stack>"]
    assert (
        "(runbooks/operations.md#salt-too-old)" in by_name["phase-mirror-salt-age-critical-<stack>"]
    )
    assert not [line for line in table.splitlines() if "-staging" in line or "-production" in line]


def test_a_document_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="lacks the markers"):
        alarm_table.rewrite("# Operations\n", "| table |")
    assert alarm_table.rewrite(f"a\n{alarm_table.BEGIN}\nold\n{alarm_table.END}\nb", "new") == (
        f"a\n{alarm_table.BEGIN}\nnew\n{alarm_table.END}\nb"
    )
