"""Contract: the alarms watch what the code emits, and what the code emits on failure is watched.

GIVEN the staging program (its alarms and dashboard, under mocks) and every function run as
deployed through each of its paths (tests/lambdas/scenarios.py: the declared environment,
namespace included, a fresh moto account, a cold module), WHEN each path's EMF output is parsed,
THEN:
- every custom metric an alarm or a widget reads (namespace, name, dimension set and the values
  it fixes) is emitted by some path;
- every metric only failure paths emit has an alarm;
- every failure path is seen by an alarm: a metric it emits, the function's ``Errors`` (it
  raised) or the API's 5xx rate (it answered 5xx behind the API).
A metric or namespace renamed on one side alone fails here; so does a function without paths.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import replace

import pytest

from components.alarm_catalog import SERVICE_NAMESPACE
from tests.lambdas import emf, harness
from tests.lambdas.scenarios import (
    SCENARIOS,
    Outcome,
    Scenario,
    code_of,
    deployed,
    function_for,
    play,
    play_all,
)
from tools.mock_program import ProgramRun

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# A watched metric: namespace, name, dimension names, and the dimension values it fixes (a
# SEARCH leaves some free, e.g. RuleId).
Watched = tuple[str, str, frozenset[str], frozenset[tuple[str, str]]]
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"((?: \w+=\"[^\"]*\")*)'")


def custom(namespace: str, run: ProgramRun) -> bool:
    """Metrics our code emits: not AWS's, not the CloudTrail metric filters' (tested apart)."""
    filtered = {
        f.inputs["metricTransformation"]["namespace"]
        for f in run.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    return not namespace.startswith("AWS/") and namespace not in filtered


def _watched(namespace: str, name: str, dims: dict[str, str]) -> Watched:
    return (namespace, name, frozenset(dims), frozenset(dims.items()))


def alarmed_metrics(run: ProgramRun) -> dict[Watched, str]:
    """Every custom metric an alarm reads (alone or in metric math) -> the alarm's URN."""
    found: dict[Watched, str] = {}
    for alarm in run.of_type(ALARM):
        metrics = [alarm.inputs] if "metricName" in alarm.inputs else []
        metrics += [q["metric"] for q in alarm.inputs.get("metricQueries", []) if "metric" in q]
        for m in metrics:
            if custom(m["namespace"], run):
                key = _watched(m["namespace"], m["metricName"], m.get("dimensions") or {})
                found[key] = alarm.urn
    return found


def drawn_metrics(run: ProgramRun) -> dict[Watched, str]:
    """Every custom metric a dashboard widget draws -> the widget's title."""
    found: dict[Watched, str] = {}
    (dashboard,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    for widget in json.loads(dashboard.inputs["dashboardBody"])["widgets"]:
        title = widget["properties"]["title"]
        for entry in widget["properties"].get("metrics", []):
            if isinstance(entry[0], str) and custom(entry[0], run):
                flat = [x for x in entry[2:] if isinstance(x, str)]
                found[
                    _watched(entry[0], entry[1], dict(zip(flat[::2], flat[1::2], strict=True)))
                ] = title
            elif isinstance(entry[0], dict):
                for schema, name, terms in SEARCH.findall(entry[0]["expression"]):
                    namespace, *keys = schema.split(",")
                    fixed = frozenset(re.findall(r'(\w+)="([^"]*)"', terms))
                    found[(namespace, name, frozenset(keys), fixed)] = title
    return found


def emits(points: Iterable[emf.MetricPoint], watched: Watched) -> bool:
    namespace, name, keys, fixed = watched
    return any(
        p.namespace == namespace
        and p.name == name
        and set(p.dimensions) == keys
        and fixed <= set(p.dimensions.items())
        for p in points
    )


def unmatched(watched: dict[Watched, str], points: list[emf.MetricPoint]) -> list[str]:
    return sorted(
        f"{where}: {w[0]} {w[1]} by {sorted(w[2])}"
        for w, where in watched.items()
        if not emits(points, w)
    )


def failure_only_metrics(outcomes: dict[Scenario, Outcome]) -> set[tuple[str, str, frozenset[str]]]:
    def keys(kinds: set[str]) -> set[tuple[str, str, frozenset[str]]]:
        return {
            (p.namespace, p.name, frozenset(p.dimensions))
            for s, o in outcomes.items()
            if s.kind in kinds
            for p in o.points
        }

    return keys({"failure"}) - keys({"success", "refused"})


def unalarmed_failure_metrics(outcomes: dict[Scenario, Outcome], run: ProgramRun) -> list[str]:
    alarmed = {(ns, name, keys) for ns, name, keys, _ in alarmed_metrics(run)}
    return sorted(
        f"{ns} {name} by {sorted(keys)}"
        for ns, name, keys in failure_only_metrics(outcomes) - alarmed
    )


def all_points(outcomes: dict[Scenario, Outcome]) -> list[emf.MetricPoint]:
    return [p for o in outcomes.values() for p in o.points]


@pytest.fixture(scope="module")
def outcomes(staging: ProgramRun) -> dict[Scenario, Outcome]:
    return play_all(staging, SCENARIOS)


# --- every function has its paths --------------------------------------------------------------


def test_every_function_of_the_program_has_success_and_failure_paths(staging):
    folders = {p.name for p in harness.LAMBDAS.iterdir() if (p / "handler.py").exists()}
    deployed_codes = {code_of(f) for f in staging.of_type("aws:lambda/function:Function")}
    assert deployed_codes == folders, (
        "a function folder the program does not deploy, or the reverse"
    )
    for code in folders:
        kinds = {s.kind for s in SCENARIOS if s.code == code}
        assert {"success", "failure"} <= kinds, (
            f"lambdas/{code} needs success and failure scenarios"
        )


def test_each_path_ends_as_its_kind_says(outcomes):
    for scenario, outcome in outcomes.items():
        if scenario.kind == "success":
            assert outcome.raised is None and all(s < 400 for s in outcome.statuses), scenario
        elif scenario.kind == "refused":
            assert (
                outcome.raised is None and outcome.statuses and 400 <= outcome.statuses[-1] < 500
            ), scenario
        else:
            failed = outcome.raised is not None or (
                outcome.statuses and outcome.statuses[-1] >= 500
            )
            assert failed, f"{scenario} did not fail: {outcome}"


# --- alarms -> code ------------------------------------------------------------------------------


def test_every_watched_custom_metric_is_emitted_by_some_path(staging, outcomes):
    watched = {**drawn_metrics(staging), **alarmed_metrics(staging)}
    assert len({w[1] for w in watched}) >= 6, watched
    points = all_points(outcomes)
    emitted = sorted({(p.namespace, p.name, tuple(sorted(p.dimensions))) for p in points})
    assert unmatched(watched, points) == [], f"never emitted; the code emits {emitted}"


def test_the_functions_emit_under_the_one_namespace_the_program_declares(staging, outcomes):
    for scenario, outcome in outcomes.items():
        declared = function_for(staging, scenario.code).inputs["environment"]["variables"]
        for point in outcome.points:
            assert point.namespace == declared["POWERTOOLS_METRICS_NAMESPACE"] == SERVICE_NAMESPACE
    # and the Lambda tests run under that same definition, never a copy of it
    assert os.environ["POWERTOOLS_METRICS_NAMESPACE"] == SERVICE_NAMESPACE


# --- code -> alarms -------------------------------------------------------------------------------


def test_every_metric_only_failures_emit_has_an_alarm(staging, outcomes):
    assert failure_only_metrics(outcomes), "no failure path emitted a metric"
    assert unalarmed_failure_metrics(outcomes, staging) == []


def test_every_failure_path_is_seen_by_an_alarm(staging, outcomes):
    alarms = staging.of_type(ALARM)
    watched = alarmed_metrics(staging)
    errors_alarmed = {
        a.inputs["dimensions"]["FunctionName"]
        for a in alarms
        if a.inputs.get("namespace") == "AWS/Lambda" and a.inputs["metricName"] == "Errors"
    }
    integrations = " ".join(
        i.inputs["integrationUri"]
        for i in staging.of_type("aws:apigatewayv2/integration:Integration")
    )
    api_5xx = any(
        q.get("metric", {}).get("metricName") == "5xx"
        for a in alarms
        for q in a.inputs.get("metricQueries", [])
    )
    unseen = []
    for scenario, outcome in outcomes.items():
        if scenario.kind != "failure":
            continue
        function = function_for(staging, scenario.code)
        by_metric = any(emits(outcome.points, w) for w in watched)
        by_errors = outcome.raised is not None and function.inputs["name"] in errors_alarmed
        by_api = (
            any(s >= 500 for s in outcome.statuses)
            and api_5xx
            and function.outputs["arn"] in integrations
        )
        if not (by_metric or by_errors or by_api):
            unseen.append(str(scenario))
    assert unseen == [], "failure paths no alarm would see"


# --- a one-sided rename fails ---------------------------------------------------------------------


def salt_age_scenario() -> Scenario:
    return next(s for s in SCENARIOS if s.code == "salt_age" and s.kind == "success")


def test_a_namespace_renamed_where_the_function_is_deployed_alone_is_reported(staging):
    # GIVEN the checker deployed with another namespace than the alarms watch
    scenario = salt_age_scenario()
    env = dict(function_for(staging, "salt_age").inputs["environment"]["variables"])
    env["POWERTOOLS_METRICS_NAMESPACE"] = "PhaseMirror/Renamed"
    outcome = play(staging, scenario, env)
    # THEN the salt-age alarm's metric is reported as never emitted
    assert outcome.points and {p.namespace for p in outcome.points} == {"PhaseMirror/Renamed"}
    missing = unmatched(alarmed_metrics(staging), list(outcome.points))
    assert any("SaltAgeDays" in m for m in missing), missing


def test_a_metric_renamed_in_the_code_alone_is_reported(staging):
    # GIVEN the checker's code publishing under another metric name
    with deployed(staging, "salt_age") as d:
        d.module.SALT_AGE_DAYS = "SaltAge"
        outcome = salt_age_scenario().run(d)
    assert [p.name for p in outcome.points] == ["SaltAge"]
    missing = unmatched(alarmed_metrics(staging), list(outcome.points))
    assert any("SaltAgeDays" in m for m in missing), missing


def test_a_metric_renamed_in_an_alarm_alone_is_reported(staging, outcomes):
    watched = alarmed_metrics(staging)
    (namespace, name, keys, fixed), where = next(iter(watched.items()))
    broken = {
        (namespace, name + "Renamed", keys, fixed): where,
        (namespace, name, keys | {"Service"}, fixed): where,
        ("PhaseMirror/Other", name, keys, fixed): where,
    }
    assert len(unmatched({**watched, **broken}, all_points(outcomes))) == 3


def test_a_failure_metric_nobody_watches_is_reported(staging, outcomes):
    # GIVEN a failure path that also emits a metric no alarm reads
    failure = next(s for s in outcomes if s.kind == "failure")
    stray = emf.MetricPoint(
        SERVICE_NAMESPACE, "StoreWriteFailures", "Count", 1.0, {"Environment": "staging"}
    )
    changed = {
        **outcomes,
        failure: replace(outcomes[failure], points=(*outcomes[failure].points, stray)),
    }
    # THEN the reverse check names it
    assert unalarmed_failure_metrics(changed, staging) == [
        f"{SERVICE_NAMESPACE} StoreWriteFailures by ['Environment']"
    ]
