"""Contract: the alarms watch what the code emits, and what the code emits on failure is watched.

GIVEN the staging program (its alarms and dashboard, under mocks) and every function run as
deployed through each of its paths (tests/lambdas/scenarios.py: the declared environment,
namespace included, a fresh moto account, a cold module), WHEN each path's EMF output is parsed,
THEN:
- every custom metric an alarm or a widget reads (namespace, name, dimension set and the values
  it fixes) is emitted by some path;
- every metric only failure paths emit has an alarm;
- every failure path is seen by an alarm: a metric it emits, the function's ``Errors`` (it
  raised) or the API's 5xx rate (it answered 5xx behind the API);
- every alarm that treats missing data as breaching is fed by a function a schedule invokes:
  traffic, which stops on a quiet stack, cannot be what such an alarm relies on.
A metric or namespace renamed on one side alone fails here; so does a function without paths.

Staging is run as a team deploys it once it names its operators and internal callers
(``adminPrincipalArns``, ``internalPrincipalArns``): with the shipped empty lists no request of
the admin or internal routes could succeed. Nothing else differs from the shipped stack file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import replace

import pytest

from components.observability.alarm_catalog import SERVICE_NAMESPACE
from testing.deployed import deployed_codes, function_for
from testing.lambdas import LAMBDAS
from testing.program import ProgramRun, run_program
from testing.service import ADMIN_ARN, INTERNAL_ARN
from tests.lambdas import emf
from tests.lambdas.as_deployed import Outcome, Scenario, deployed, play, play_all
from tests.lambdas.scenarios import SCENARIOS

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ALLOW_LISTS = {
    "phase-mirror-infra:adminPrincipalArns": json.dumps([ADMIN_ARN]),
    "phase-mirror-infra:internalPrincipalArns": json.dumps([INTERNAL_ARN]),
}
# A watched metric: namespace, name, dimension names, and the dimension values it fixes (a
# SEARCH leaves some free, e.g. RuleId).
Watched = tuple[str, str, frozenset[str], frozenset[tuple[str, str]]]
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"((?: \w+=\"[^\"]*\")*)'")


@pytest.fixture(scope="module")
def staging_with_operators() -> ProgramRun:
    return run_program("staging", overrides=ALLOW_LISTS)


@pytest.fixture(scope="module")
def outcomes(staging_with_operators: ProgramRun) -> dict[Scenario, Outcome]:
    return play_all(staging_with_operators, SCENARIOS)


def custom(namespace: str, run: ProgramRun) -> bool:
    """Metrics our code emits: not AWS's, not the CloudTrail metric filters' (tested apart)."""
    filtered = {
        f.inputs["metricTransformation"]["namespace"]
        for f in run.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    return not namespace.startswith("AWS/") and namespace not in filtered


def _watched(namespace: str, name: str, dims: dict[str, str]) -> Watched:
    return (namespace, name, frozenset(dims), frozenset(dims.items()))


def alarmed_metrics(run: ProgramRun, missing: str | None = None) -> dict[Watched, str]:
    """Every custom metric an alarm reads (alone or in metric math) -> the alarm's URN; with
    ``missing``, only the alarms that treat missing data so."""
    found: dict[Watched, str] = {}
    for alarm in run.of_type(ALARM):
        if missing is not None and alarm.inputs.get("treatMissingData") != missing:
            continue
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
                dims = dict(zip(flat[::2], flat[1::2], strict=True))
                found[_watched(entry[0], entry[1], dims)] = title
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


def unseen_failures(outcomes: dict[Scenario, Outcome], run: ProgramRun) -> list[str]:
    """Failure paths no alarm would see: no alarmed metric, no Errors alarm on a raise, no 5xx
    alarm on a 5xx answer of a function behind the API."""
    alarms = run.of_type(ALARM)
    watched = alarmed_metrics(run)
    errors_alarmed = {
        a.inputs["dimensions"]["FunctionName"]
        for a in alarms
        if a.inputs.get("namespace") == "AWS/Lambda" and a.inputs.get("metricName") == "Errors"
    }
    integrations = " ".join(
        i.inputs["integrationUri"] for i in run.of_type("aws:apigatewayv2/integration:Integration")
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
        function = function_for(run, scenario.code)
        by_metric = any(emits(outcome.points, w) for w in watched)
        by_errors = outcome.raised is not None and function.inputs["name"] in errors_alarmed
        by_api = (
            any(s >= 500 for s in outcome.statuses)
            and api_5xx
            and f"{function.outputs['arn']}/invocations" in integrations
        )
        if not (by_metric or by_errors or by_api):
            unseen.append(str(scenario))
    return unseen


def all_points(outcomes: dict[Scenario, Outcome]) -> list[emf.MetricPoint]:
    return [p for o in outcomes.values() for p in o.points]


# --- the paths are the program's functions, run as deployed ------------------------------------


def test_every_function_folder_is_deployed_and_has_success_and_failure_paths(staging):
    folders = {p.name for p in LAMBDAS.iterdir() if p.is_dir() and p.name != "shared"}
    assert deployed_codes(staging) == folders, (
        "a folder the program does not deploy, or the reverse"
    )
    for code in folders:
        kinds = {s.kind for s in SCENARIOS if s.code == code}
        assert {"success", "failure"} <= kinds, f"lambdas/{code} needs success and failure paths"


def test_the_run_with_operators_deploys_what_staging_deploys_but_the_allow_lists(
    staging, staging_with_operators
):
    allow_lists = {"ADMIN_PRINCIPAL_ARNS", "INTERNAL_PRINCIPAL_ARNS"}
    for code in deployed_codes(staging):
        shipped = function_for(staging, code).inputs["environment"]["variables"]
        run = function_for(staging_with_operators, code).inputs["environment"]["variables"]
        assert set(shipped) == set(run), code
        assert {k for k in run if run[k] != shipped[k]} <= allow_lists, code
    assert alarmed_metrics(staging) == alarmed_metrics(staging_with_operators)
    assert drawn_metrics(staging) == drawn_metrics(staging_with_operators)


def test_each_path_ends_as_its_kind_says(outcomes):
    for scenario, outcome in outcomes.items():
        if scenario.kind == "success":
            assert outcome.raised is None and all(s < 400 for s in outcome.statuses), scenario
        elif scenario.kind == "refused":
            assert outcome.raised is None, scenario
            assert outcome.statuses and 400 <= outcome.statuses[-1] < 500, scenario
        else:
            failed = outcome.raised is not None or (
                outcome.statuses and outcome.statuses[-1] >= 500
            )
            assert failed, f"{scenario} did not fail: {outcome}"


# --- alarms -> code ------------------------------------------------------------------------------


def test_every_watched_custom_metric_is_emitted_by_some_path(staging_with_operators, outcomes):
    run = staging_with_operators
    watched = {**drawn_metrics(run), **alarmed_metrics(run)}
    assert len({w[1] for w in watched}) >= 20, watched
    points = all_points(outcomes)
    emitted = sorted({(p.namespace, p.name, tuple(sorted(p.dimensions))) for p in points})
    assert unmatched(watched, points) == [], f"never emitted; the code emits {emitted}"


def test_the_functions_emit_under_the_one_namespace_the_program_declares(
    staging_with_operators, outcomes
):
    for scenario, outcome in outcomes.items():
        declared = function_for(staging_with_operators, scenario.code).inputs["environment"]
        for point in outcome.points:
            assert point.namespace == declared["variables"]["POWERTOOLS_METRICS_NAMESPACE"]
            assert point.namespace == SERVICE_NAMESPACE, scenario
    # and the other Lambda tests run under that same definition, never a copy of it
    assert os.environ["POWERTOOLS_METRICS_NAMESPACE"] == SERVICE_NAMESPACE


# --- code -> alarms ------------------------------------------------------------------------------


def test_every_metric_only_failures_emit_has_an_alarm(staging_with_operators, outcomes):
    assert len(failure_only_metrics(outcomes)) >= 8, "failure paths emit too few metrics"
    assert unalarmed_failure_metrics(outcomes, staging_with_operators) == []


def test_every_failure_path_is_seen_by_an_alarm(staging_with_operators, outcomes):
    assert unseen_failures(outcomes, staging_with_operators) == []


def scheduled_codes(run: ProgramRun) -> set[str]:
    """The functions an EventBridge rule or a Scheduler schedule invokes: they run whether or
    not anyone calls the API."""
    targets = {t.inputs["arn"] for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    targets |= {s.inputs["target"]["arn"] for s in run.of_type("aws:scheduler/schedule:Schedule")}
    return {
        code for code in deployed_codes(run) if function_for(run, code).outputs["arn"] in targets
    }


def test_alarms_breaching_on_missing_data_are_fed_without_traffic(staging_with_operators, outcomes):
    # GIVEN the alarms that fire when their metric stops (salt age, release runs), and the
    # success paths of the functions a schedule runs
    run = staging_with_operators
    scheduled = scheduled_codes(run)
    assert {"salt_age", "release"} <= scheduled, scheduled
    breaching = alarmed_metrics(run, missing="breaching")
    assert len(breaching) >= 2, breaching
    quiet = [
        p
        for s, o in outcomes.items()
        if s.code in scheduled and s.kind == "success"
        for p in o.points
    ]
    # THEN each such metric is emitted there, not only by a function that traffic drives
    assert unmatched(breaching, quiet) == []


# --- a one-sided rename fails ---------------------------------------------------------------------


def scenario(code: str, name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.code == code and s.name == name)


def test_a_namespace_renamed_where_a_function_is_deployed_alone_is_reported(
    staging_with_operators,
):
    # GIVEN the salt-age check deployed with another namespace than the alarms watch
    run = staging_with_operators
    measured = scenario("salt_age", "age measured")
    outcome = play(run, measured, {"POWERTOOLS_METRICS_NAMESPACE": "PhaseMirror/Renamed"})
    # THEN it still measures, under the new name, and the salt-age alarm is reported as unfed
    assert outcome.points and {p.namespace for p in outcome.points} == {"PhaseMirror/Renamed"}
    missing = unmatched(alarmed_metrics(run), list(outcome.points))
    assert any("SaltAgeDays" in m for m in missing), missing


def test_a_failure_metric_renamed_in_the_code_alone_is_reported(staging_with_operators, outcomes):
    # GIVEN fp-ingestion counting a failed store under another name
    run = staging_with_operators
    changed = dict(outcomes)
    for name in ("pending table gone", "DynamoDB unreachable"):  # every path that counts it
        store_down = scenario("fp_ingestion", name)
        with deployed(run, "fp_ingestion") as d:
            d.module.__dict__["EVENT_STORE_FAILURES"] = "StoreWriteFailures"
            changed[store_down] = store_down.run(d)
        assert "StoreWriteFailures" in emf.names(list(changed[store_down].points))
    # THEN the alarm's metric is never emitted, and the renamed one has no alarm
    assert any(
        "EventStoreFailures" in m for m in unmatched(alarmed_metrics(run), all_points(changed))
    )
    assert unalarmed_failure_metrics(changed, run) == [
        f"{SERVICE_NAMESPACE} StoreWriteFailures by ['Environment']"
    ]


def test_a_metric_or_namespace_renamed_in_an_alarm_alone_is_reported(
    staging_with_operators, outcomes
):
    # GIVEN an alarm's metric the paths emit, and the same alarm renamed three ways
    points = all_points(outcomes)
    (namespace, name, keys, fixed), where = next(
        iter(alarmed_metrics(staging_with_operators).items())
    )
    assert unmatched({(namespace, name, keys, fixed): where}, points) == []
    broken = {
        (namespace, name + "Renamed", keys, fixed): where,
        (namespace, name, keys | {"Service"}, fixed): where,
        ("PhaseMirror/Other", name, keys, fixed): where,
    }
    # THEN each rename is reported
    assert len(unmatched(broken, points)) == 3


def test_a_failure_path_no_alarm_sees_is_reported(staging_with_operators, outcomes):
    # GIVEN a failure path that emitted nothing and answered 503 outside the API's functions
    run = staging_with_operators
    failure = scenario("salt_age", "salt never seeded")
    silent = replace(outcomes[failure], points=(), raised=None, statuses=(503,))
    # THEN the path is reported (the checker is invoked by a schedule, not through the API)
    assert unseen_failures({**outcomes, failure: silent}, run) == [str(failure)]


# --- a dependency out of reach fails closed --------------------------------------------------------


def test_an_unreachable_dependency_is_a_counted_503_never_an_exception(
    staging_with_operators, outcomes
):
    # A VPC endpoint that times out raises botocore's EndpointConnectionError, not a ClientError:
    # behind the API it must still end as a 503 counted in a metric an alarm watches.
    watched = alarmed_metrics(staging_with_operators)
    unreachable = {s: o for s, o in outcomes.items() if "unreachable" in s.name}
    api = {s: o for s, o in unreachable.items() if s.code != "release"}
    assert {s.code for s in api} == {"fp_ingestion", "consent", "admission", "calibration_query"}
    for scenario, outcome in api.items():
        assert outcome.raised is None, f"{scenario}: raised {outcome.raised}"
        assert outcome.statuses == (503,), f"{scenario}: {outcome.statuses}"
        assert any(emits(outcome.points, w) for w in watched), f"{scenario}: nothing alarmed"
    (release,) = [o for s, o in unreachable.items() if s.code == "release"]
    assert any(emits(release.points, w) for w in watched) or release.raised, release
