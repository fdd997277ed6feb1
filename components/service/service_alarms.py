"""Alarms on the calibration service's privacy, consent, admission and release metrics.

docs/privacy.md ("Metrics") lists what each function counts and which count pages ("critical")
or warns ("warning"); the three alarms the service had before (consent checks, salt loading,
ingestion latency) stay in alarm_catalog.py. Every metric carries only the ``Environment``
dimension, so one series sums what all functions emit under that name. Each alarm's runbook
section is in docs/runbooks/operations.md.
"""

from __future__ import annotations

from components.observability.alarm_catalog import (
    SERVICE_NAMESPACE,
    AlarmSpec,
    Comparison,
    Metric,
    Missing,
    Severity,
)

FIVE_MINUTES = 300
HOUR = 3600
WEEK_S = 7 * 24 * 3600
AT_LEAST: Comparison = "GreaterThanOrEqualToThreshold"
ABOVE: Comparison = "GreaterThanThreshold"


def calibration_service_alarms(environment: str, release_interval_minutes: int) -> list[AlarmSpec]:
    """The alarms of docs/privacy.md section "Metrics", for one stack.

    The release job's alarms look at one release interval per period: a run lands in each, so
    "no run" is a period without data (missing data breaching) and the oldest pending event is
    measured once per period.
    """
    env = (("Environment", environment),)
    interval = release_interval_minutes * 60

    def count(name: str, period: int = FIVE_MINUTES, stat: str = "Sum") -> Metric:
        return Metric(SERVICE_NAMESPACE, name, env, stat, period, name)

    def spec(
        role: str,
        signal: Metric,
        comparison: Comparison,
        threshold: float,
        severity: Severity,
        description: str,
        runbook: str,
        periods: int = 1,
        missing: Missing = "notBreaching",
    ) -> AlarmSpec:
        return AlarmSpec(
            role, signal, comparison, threshold, periods, missing, severity, description, runbook
        )

    return [
        spec(
            "caller-refusals-warning",
            count("CallerRefusals"),
            AT_LEAST,
            1,
            "warning",
            "A caller without a valid identity or outside the allow-list was refused",
            "caller-refusals",
        ),
        spec(
            "admission-refusals-warning",
            count("AdmissionRefusals"),
            ABOVE,
            20,
            "warning",
            "Many requests from GitHub owners that are not admitted",
            "admission-refusals",
        ),
        spec(
            "impersonation-refusals-warning",
            count("ImpersonationRefusals"),
            AT_LEAST,
            1,
            "warning",
            "A caller submitted events naming another organisation",
            "impersonation-refusals",
        ),
        spec(
            "event-store-failures-critical",
            count("EventStoreFailures"),
            ABOVE,
            5,
            "critical",
            "Accepted events cannot be stored (503 store_unavailable)",
            "event-store-failures",
        ),
        spec(
            "salt-not-seeded-critical",
            count("SaltNotSeeded"),
            AT_LEAST,
            1,
            "critical",
            "The salt secret still has no value: its first rotation did not seed it",
            "salt-not-seeded",
            periods=3,
        ),
        spec(
            "consent-store-failures-critical",
            count("ConsentStoreFailures"),
            AT_LEAST,
            1,
            "critical",
            "A consent request failed (503): a revocation may not have purged pending events",
            "consent-store-failures",
        ),
        spec(
            "admin-refusals-warning",
            count("AdminRefusals"),
            AT_LEAST,
            1,
            "warning",
            "A principal outside adminPrincipalArns called the admission routes",
            "admin-refusals",
        ),
        spec(
            "admission-store-failures-warning",
            count("AdmissionStoreFailures"),
            AT_LEAST,
            1,
            "warning",
            "An admission or withdrawal failed (503)",
            "admission-store-failures",
        ),
        spec(
            "release-runs-missing",
            count("ReleaseRuns", interval),
            "LessThanThreshold",
            1,
            "warning",
            "The release job has not completed a run for three release intervals",
            "release-runs-missing",
            periods=3,
            missing="breaching",
        ),
        spec(
            "release-failures-critical",
            count("ReleaseFailures", interval),
            AT_LEAST,
            1,
            "critical",
            "The release job failed in two consecutive release intervals",
            "release-failures",
            periods=2,
        ),
        spec(
            "excess-events-dropped-warning",
            count("ExcessEventsDropped", HOUR),
            ABOVE,
            0,
            "warning",
            "An organisation sent more events per rule than one batch counts",
            "excess-events-dropped",
        ),
        spec(
            "pending-events-too-old-warning",
            count("OldestPendingEventAgeSeconds", interval, "Maximum"),
            ABOVE,
            WEEK_S,
            "warning",
            "An event has waited over a week for a k-anonymous batch",
            "pending-events-too-old",
        ),
        spec(
            "query-store-failures-warning",
            count("QueryStoreFailures"),
            AT_LEAST,
            1,
            "warning",
            "calibration-query cannot read the published numbers (503)",
            "query-store-failures",
        ),
        spec(
            "stale-pending-salt-critical",
            count("StalePendingSaltRefused"),
            AT_LEAST,
            1,
            "critical",
            "The salt rotator refused a stale pending salt: this rotation failed",
            "stale-pending-salt",
        ),
        spec(
            "rotation-step-refused-critical",
            count("RotationStepRefused"),
            AT_LEAST,
            1,
            "critical",
            "The salt rotator refused a step (out of order, foreign secret, rotation disabled)",
            "rotation-step-refused",
        ),
    ]
