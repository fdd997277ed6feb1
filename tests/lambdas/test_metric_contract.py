"""Contract: every custom metric an alarm or a dashboard widget watches is one the code emits.

GIVEN the staging program (its alarms and dashboard, under mocks) and the ingestion handler run
on moto through each of its outcomes (stored, rejected, no consent, consent store down, salt
missing), WHEN the handler's EMF lines are parsed, THEN each watched (namespace, metric name,
dimension set) was really emitted, with the same Environment value. A metric renamed on either
side fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import ModuleType

import pytest

from components.alarm_catalog import SERVICE_NAMESPACE
from tests.lambdas import emf
from tests.lambdas.conftest import Aws
from tests.lambdas.harness import LambdaContext, salt_document
from tests.lambdas.test_lambda_fp_ingestion import FEBRUARY, MARCH, Ingest, event, wire
from tools.mock_program import ProgramRun

# A watched metric: name, dimension names, and the dimension values it fixes (a SEARCH leaves
# some free, e.g. RuleId).
Watched = tuple[str, frozenset[str], frozenset[tuple[str, str]]]
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"((?: \w+=\"[^\"]*\")*)'")


def watched_metrics(run: ProgramRun) -> dict[Watched, str]:
    """Every custom metric the program's alarms and dashboard read -> where it is read."""
    found: dict[Watched, str] = {}
    for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        if alarm.inputs.get("namespace") == SERVICE_NAMESPACE:
            dims = alarm.inputs.get("dimensions") or {}
            key = (alarm.inputs["metricName"], frozenset(dims), frozenset(dims.items()))
            found[key] = alarm.urn
    (dashboard,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    for widget in json.loads(dashboard.inputs["dashboardBody"])["widgets"]:
        title = widget["properties"]["title"]
        for entry in widget["properties"].get("metrics", []):
            if isinstance(entry[0], str) and entry[0] == SERVICE_NAMESPACE:
                flat = [x for x in entry[2:] if isinstance(x, str)]
                dims = dict(zip(flat[::2], flat[1::2], strict=True))
                found[(entry[1], frozenset(dims), frozenset(dims.items()))] = title
            elif isinstance(entry[0], dict):
                for schema, name, terms in SEARCH.findall(entry[0]["expression"]):
                    namespace, *keys = schema.split(",")
                    if namespace == SERVICE_NAMESPACE:
                        fixed = frozenset(re.findall(r'(\w+)="([^"]*)"', terms))
                        found[(name, frozenset(keys), fixed)] = title
    return found


@pytest.fixture
def emitted(
    ingestion: ModuleType,
    aws: Aws,
    context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[emf.MetricPoint]]:
    """The metric points of one run through every outcome of the ingestion handler."""
    ingestion.metrics.clear_metrics()
    points: list[emf.MetricPoint] = []
    # Salt missing (no secret yet): AnonymizationErrors.
    broken = wire(ingestion, monkeypatch, Ingest(ingestion, aws, context, capsys, None))
    broken.consent()
    assert broken.send(event())[0] == 503
    points += broken.points()
    # A stored event: FPEventsIngested by rule, FPIngestLatency, SaltAgeDays.
    document = salt_document(MARCH, "2026-03", previous=(FEBRUARY, "2026-02"))
    ingest = wire(ingestion, monkeypatch, Ingest(ingestion, aws, context, capsys, document))
    ingest.consent()
    assert ingest.send(event())[0] == 200
    # A rejected event (ValidationErrors) and one without consent (ConsentMissing).
    assert ingest.send(event(ruleId="not a rule"))[0] == 400
    assert ingest.send(event(orgId="no-consent-org", eventId="e-2"))[0] == 200
    # The consent store is down: ConsentCheckFailures.
    aws.ddb.delete_table(TableName=aws.consent_table)
    assert ingest.send(event(eventId="e-3"))[0] == 503
    points += ingest.points()
    yield points
    ingestion.metrics.clear_metrics()


def unmatched(watched: dict[Watched, str], emitted: list[emf.MetricPoint]) -> list[str]:
    """The watched metrics no emitted point matches, each with where it is read."""
    missing = []
    for (name, keys, fixed), where in watched.items():
        if not any(
            p.namespace == SERVICE_NAMESPACE
            and p.name == name
            and set(p.dimensions) == keys
            and fixed <= set(p.dimensions.items())
            for p in emitted
        ):
            missing.append(f"{where}: {name} by {sorted(keys)} {sorted(fixed)}")
    return missing


def test_every_watched_metric_is_emitted_by_the_ingestion_code(staging, emitted):
    assert staging.config["phase-mirror-infra:environment"] == "staging"  # as Ingest runs it
    watched = watched_metrics(staging)
    assert len({name for name, _, _ in watched}) >= 6, watched
    emitted_sets = sorted({(p.name, tuple(sorted(p.dimensions.items()))) for p in emitted})
    assert unmatched(watched, emitted) == [], f"never emitted; the code emits {emitted_sets}"


def test_a_renamed_or_redimensioned_metric_is_reported(staging, emitted):
    # GIVEN the real watched metrics, one renamed and one with an extra dimension
    watched = watched_metrics(staging)
    (name, keys, fixed), where = next(iter(watched.items()))
    broken = {
        (name + "Renamed", keys, fixed): where,
        (name, keys | {"Service"}, fixed): where,
    }
    # THEN the contract reports exactly those two
    assert len(unmatched({**watched, **broken}, emitted)) == 2
