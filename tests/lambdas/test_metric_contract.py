"""Contract: every custom metric an alarm or a dashboard widget watches is one the code emits.

GIVEN the staging program (its alarms and dashboard, under mocks) and the ingestion handler run
on moto through each of its outcomes (salt not seeded, stored, rejected, no consent, refused
callers, org key down, salt malformed), WHEN the handler's EMF lines are parsed, THEN each
watched (namespace, metric name, dimension set) was really emitted, with the same Environment
value. A metric renamed on either side fails here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from components.observability.alarm_catalog import SERVICE_NAMESPACE
from testing.lambdas import github_event
from testing.service import Service
from tests.lambdas import emf
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
def emitted(service: Service, capsys: pytest.CaptureFixture[str]) -> list[emf.MetricPoint]:
    """The metric points of one run through every outcome of the ingestion handler."""
    owner = "4242"
    service.join(owner)
    service.ingest(owner)  # no salt yet: SaltNotSeeded
    service.rotate_salt()
    service.ingest(owner)  # stored: FPEventsIngested by rule, FPIngestLatency, SaltAgeDays
    service.ingest(owner, ruleId="not a rule")  # ValidationErrors
    service.consent(owner, "DELETE")
    service.ingest(owner)  # ConsentMissing
    service.ingest(owner, orgId="1")  # ImpersonationRefusals
    service.call("fp_ingestion", github_event(None, body="{}"))  # CallerRefusals
    service.ingest("77")  # AdmissionRefusals

    def kms_down(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "DisabledException"}}, "GenerateMac")

    orgs = service.deps["fp_ingestion"].orgs
    orgs._cache.clear()
    orgs._kms = type("Down", (), {"generate_mac": staticmethod(kms_down)})()
    service.ingest(owner)  # ConsentCheckFailures
    service.sm.put_secret_value(SecretId=service.salt_arn, SecretString="{}")
    service.ingest(owner)  # AnonymizationErrors
    return emf.metric_points(capsys.readouterr().out)


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
