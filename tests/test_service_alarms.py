"""The calibration service's alarms, checked against docs/privacy.md's "Metrics" table written out
here (not against the module they are built from), so a changed threshold, period, severity or
missing-data rule fails."""

from __future__ import annotations

import pytest

from components.observability.alarm_catalog import Metric
from components.service.service_alarms import calibration_service_alarms
from testing.program import ProgramRun

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NS = "PhaseMirror/FPCalibration"
WEEK = 604800
# role -> (metric, statistic, period ("interval": the release interval), evaluation periods,
# comparison, threshold, missing data, topic, runbook anchor)
CONTRACT = {
    "caller-refusals-warning": ("CallerRefusals", "Sum", 300, 1, ">=", 1, "notBreaching", "warning", "caller-refusals"),
    "admission-refusals-warning": ("AdmissionRefusals", "Sum", 300, 1, ">", 20, "notBreaching", "warning", "admission-refusals"),
    "impersonation-refusals-warning": ("ImpersonationRefusals", "Sum", 300, 1, ">=", 1, "notBreaching", "warning", "impersonation-refusals"),
    "event-store-failures-critical": ("EventStoreFailures", "Sum", 300, 1, ">", 5, "notBreaching", "critical", "event-store-failures"),
    "salt-not-seeded-critical": ("SaltNotSeeded", "Sum", 300, 3, ">=", 1, "notBreaching", "critical", "salt-not-seeded"),
    "consent-store-failures-critical": ("ConsentStoreFailures", "Sum", 300, 1, ">=", 1, "notBreaching", "critical", "consent-store-failures"),
    "admin-refusals-warning": ("AdminRefusals", "Sum", 300, 1, ">=", 1, "notBreaching", "warning", "admin-refusals"),
    "admission-store-failures-warning": ("AdmissionStoreFailures", "Sum", 300, 1, ">=", 1, "notBreaching", "warning", "admission-store-failures"),
    "release-runs-missing": ("ReleaseRuns", "Sum", "interval", 3, "<", 1, "breaching", "warning", "release-runs-missing"),
    "release-failures-critical": ("ReleaseFailures", "Sum", "interval", 2, ">=", 1, "notBreaching", "critical", "release-failures"),
    "excess-events-dropped-warning": ("ExcessEventsDropped", "Sum", 3600, 1, ">", 0, "notBreaching", "warning", "excess-events-dropped"),
    "pending-events-too-old-warning": ("OldestPendingEventAgeSeconds", "Maximum", "interval", 1, ">", WEEK, "notBreaching", "warning", "pending-events-too-old"),
    "query-store-failures-warning": ("QueryStoreFailures", "Sum", 300, 1, ">=", 1, "notBreaching", "warning", "query-store-failures"),
    "stale-pending-salt-critical": ("StalePendingSaltRefused", "Sum", 300, 1, ">=", 1, "notBreaching", "critical", "stale-pending-salt"),
    "rotation-step-refused-critical": ("RotationStepRefused", "Sum", 300, 1, ">=", 1, "notBreaching", "critical", "rotation-step-refused"),
}  # fmt: skip
COMPARISON = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
}
# The alarms the service had before keep their definitions (tests/test_alarms.py).
EARLIER = {
    "consent-check-failures-critical": "ConsentCheckFailures",
    "salt-loading-failures-critical": "AnonymizationErrors",
    "fp-ingest-latency-warning": "FPIngestLatency",
    "salt-age-critical": "SaltAgeDays",
}


def check(run: ProgramRun, role: str, interval_minutes: int) -> None:
    metric, stat, period, periods, cmp, threshold, missing, severity, anchor = CONTRACT[role]
    if period == "interval":
        period = interval_minutes * 60
    resource = run.one(ALARM, f"alarms-{role}")
    topic = run.one("aws:sns/topic:Topic", f"observability-{severity}-topic").outputs["arn"]
    expected = {
        "name": f"phase-mirror-{role}-{run.stack}",
        "namespace": NS,
        "metricName": metric,
        "dimensions": {"Environment": run.config["phase-mirror-infra:environment"]},
        "statistic": stat,
        "period": period,
        "evaluationPeriods": periods,
        "comparisonOperator": COMPARISON[cmp],
        "threshold": threshold,
        "treatMissingData": missing,
        "alarmActions": [topic],
        "okActions": [topic],
    }
    assert {k: resource.inputs.get(k) for k in expected} == expected, resource.urn
    description = resource.inputs["alarmDescription"]
    assert description.endswith(f"Runbook: docs/runbooks/operations.md#{anchor}"), description
    # CloudWatch looks back at most 7 days: period x evaluation periods must fit.
    assert period * periods <= WEEK, resource.urn


@pytest.mark.parametrize("role", sorted(CONTRACT))
def test_service_alarm_full_definition(program, role):
    check(program, role, int(program.config.get("phase-mirror-infra:releaseIntervalMinutes", 60)))


@pytest.mark.parametrize("minutes", [5, 60, 1440])
def test_every_alarm_fits_cloudwatchs_seven_day_look_back_at_any_allowed_interval(minutes):
    # A CloudWatch alarm evaluates at most 7 days (period x evaluation periods); the release
    # job's alarms scale with the interval, up to three days for a daily job.
    periods = {}
    for spec in calibration_service_alarms("staging", minutes):
        assert isinstance(spec.signal, Metric), spec.role
        periods[spec.role] = spec.signal.period
        assert spec.signal.period * spec.evaluation_periods <= WEEK, spec.role
        assert spec.signal.period % 60 == 0, spec.role
    assert periods["release-runs-missing"] == minutes * 60


def test_every_failure_metric_of_the_contract_has_exactly_one_alarm(staging):
    watched = [
        a.inputs["metricName"] for a in staging.of_type(ALARM) if a.inputs.get("namespace") == NS
    ]
    expected = [row[0] for row in CONTRACT.values()] + list(EARLIER.values())
    assert sorted(watched) == sorted(expected)
