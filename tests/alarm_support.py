"""What the alarm tests share: the alarm type, the service namespace as the alarms must read it
(written out, not imported from the catalog, so a one-sided rename fails), and lookups in a
mocked program run."""

from __future__ import annotations

from testing.program import ProgramRun, Resource

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NS = "PhaseMirror/FPCalibration"


def alarm(run: ProgramRun, role: str) -> Resource:
    return run.one(ALARM, f"alarms-{role}")


def topic_arn(run: ProgramRun, severity: str) -> str:
    return run.one("aws:sns/topic:Topic", f"observability-{severity}-topic").outputs["arn"]


def function_names(run: ProgramRun) -> set[str]:
    return {f.inputs["name"] for f in run.of_type("aws:lambda/function:Function")}
