"""The runbooks name what the program really creates: a rename in the code fails here.

Every ``phase-mirror-...`` name, ``/phase-mirror/...`` path and ``/aws/...`` log group in
``docs/runbooks/*.md`` (with ``<stack>`` / ``$STACK`` read as staging and as production, and
``<account-id>`` / ``$ACCOUNT_ID`` as the mocks' account) must be a name the main program or the
bootstrap registers under mocks, a restore target the runbooks create on purpose, or listed in
``PENDING`` below. The operations runbook has one section per alarm, titled with its name, and
the anchor every alarm's description links to (``Runbook: docs/runbooks/operations.md#...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from components.service.salt_rotation import ROTATION_SCHEDULE
from testing.program import (
    ACCOUNT_ID,
    ROOT,
    ProgramRun,
    Resource,
    run_bootstrap,
    stack_config,
)

RUNBOOKS = ROOT / "docs" / "runbooks"
EXPECTED_RUNBOOKS = {"deployment.md", "operations.md", "salt-rotation.md", "backup-recovery.md"}
STACKS = ("staging", "production")
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"

# Names the program does not create yet, because their component is still being written.
# Each must disappear from here once it exists (test_pending_names_are_still_missing).
PENDING_NAMES: set[str] = set()
PENDING_MODULES: set[str] = set()

# Names the runbooks create on purpose (restore targets), and the two Pulumi project names.
RESTORE_TARGETS = {
    "phase-mirror-consent-store-production-restored",
    "phase-mirror-db-production-restored",
    "phase-mirror-db-production-old",
}
PROJECTS = {"phase-mirror-infra", "phase-mirror-bootstrap"}

PLACEHOLDERS = {
    "Stack": ("<Stack>",),
    "stack": ("<stack>", "${STACK}", "$STACK"),
    "account": ("<account-id>", "${ACCOUNT_ID}", "$ACCOUNT_ID"),
}
# docs/bootstrap.md writes the bootstrap stack's regions as placeholders.
_BOOTSTRAP = stack_config("bootstrap", ROOT / "bootstrap")
REGIONS = {
    "<region>": _BOOTSTRAP["aws:region"],
    "<replicaRegion>": _BOOTSTRAP["phase-mirror-bootstrap:replicaRegion"],
}
# Names are read with their placeholders, then expanded per stack (one stack may suffice:
# the third Redis node's alarms are production's only).
_PH = r"(?:<stack>|<Stack>|<account-id>|<region>|<replicaRegion>|\$\{?STACK\}?|\$\{?ACCOUNT_ID\}?)"
LOG_GROUP = re.compile(
    rf"/aws/(?:[a-z0-9_/-]|{_PH})*phase-mirror-(?:[a-z0-9_/-]|{_PH})*(?:[a-z0-9]|{_PH})"
)
PATH = re.compile(rf"(?<![\w/-])/phase-mirror/(?:[a-z0-9_/-]|{_PH})*(?:[a-z0-9]|{_PH})")
NAME = re.compile(rf"(?<![\w-])phase-mirror-(?:[a-z0-9-]|{_PH})*(?:[a-z0-9]|{_PH})")
DASHBOARD_NAME = re.compile(r"PhaseMirror-[A-Za-z-]*[A-Za-z]")
HEADING = re.compile(r"^#{2,4} +(phase-mirror-\S+)\s*$", re.MULTILINE)
ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')
RUNBOOK_LINK = re.compile(r"Runbook: docs/runbooks/operations\.md#([a-z0-9-]+)")
STACK_FLAG = re.compile(r"--stack[ =]+([\w$<>{}-]+)")
MODULE = re.compile(r"python -m (tools\.[a-z_]+)")
STACK_OUTPUT = re.compile(r"pulumi stack output ([A-Za-z]+)")


@pytest.fixture(scope="module")
def bootstrap_run() -> ProgramRun:
    return run_bootstrap()


@pytest.fixture(scope="module")
def runs(staging, production, bootstrap_run) -> tuple[ProgramRun, ...]:
    return (staging, production, bootstrap_run)


@pytest.fixture(scope="module")
def known_names(runs) -> set[str]:
    """Every string a resource was registered with (names, buckets, identifiers, paths)."""
    names: set[str] = set()
    for run in runs:
        for resource in run:
            for value in resource.inputs.values():
                if isinstance(value, str):
                    names.add(value.removeprefix("alias/"))
                    # Saved queries live in a folder: ``phase-mirror-fp-calibration-<stack>/...``.
                    names.add(value.split("/", 1)[0])
    return names


def runbook_texts() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(RUNBOOKS.glob("*.md"))}


def named_docs() -> dict[str, str]:
    """The runbooks, and the bootstrap guide (its names are checked the same way)."""
    return {**runbook_texts(), "bootstrap.md": (ROOT / "docs" / "bootstrap.md").read_text()}


def expand(text: str) -> list[str]:
    """The text once per stack (staging, production), placeholders replaced."""
    for placeholder in PLACEHOLDERS["account"]:
        text = text.replace(placeholder, ACCOUNT_ID)
    for placeholder, region in REGIONS.items():
        text = text.replace(placeholder, region)
    out = []
    for stack in STACKS:
        expanded = text
        for placeholder in PLACEHOLDERS["Stack"]:
            expanded = expanded.replace(placeholder, stack.capitalize())
        for placeholder in PLACEHOLDERS["stack"]:
            expanded = expanded.replace(placeholder, stack)
        out.append(expanded)
    return out


def names_in(text: str) -> set[str]:
    """Log groups and paths whole, then the ``phase-mirror-...`` names left outside them."""
    found = set(LOG_GROUP.findall(text)) | set(PATH.findall(text))
    rest = PATH.sub(" ", LOG_GROUP.sub(" ", text))
    return found | set(NAME.findall(rest))


def all_names() -> Iterable[tuple[str, str, list[str]]]:
    """(runbook, name as written, the name expanded for each stack)."""
    for runbook, text in named_docs().items():
        for name in sorted(names_in(text)):
            yield runbook, name, expand(name)


def test_the_four_runbooks_exist():
    assert set(runbook_texts()) == EXPECTED_RUNBOOKS


def test_name_extraction_reads_placeholders_paths_and_log_groups():
    text = (
        "aws logs tail /aws/lambda/phase-mirror-fp-ingestion-$STACK and "
        "--secret-id /phase-mirror/<stack>/fp-calibration/hmac-salt, key alias/phase-mirror-salt-<stack>, "
        "s3://phase-mirror-state-<account-id>-us-east-1-bootstrap; prefix phase-mirror- only"
    )
    found = names_in(text)
    assert found == {
        "/aws/lambda/phase-mirror-fp-ingestion-$STACK",
        "/phase-mirror/<stack>/fp-calibration/hmac-salt",
        "phase-mirror-salt-<stack>",
        "phase-mirror-state-<account-id>-us-east-1-bootstrap",
    }
    assert expand("phase-mirror-salt-<stack>") == [
        "phase-mirror-salt-staging",
        "phase-mirror-salt-production",
    ]
    assert expand("phase-mirror-state-<account-id>-x") == [f"phase-mirror-state-{ACCOUNT_ID}-x"] * 2


def test_every_name_in_the_runbooks_is_one_the_program_creates(known_names):
    allowed = known_names | RESTORE_TARGETS | PROJECTS | PENDING_NAMES
    unknown = sorted(
        {f"{runbook}: {name}" for runbook, name, forms in all_names() if not set(forms) & allowed}
    )
    assert not unknown, "runbook names the program does not create:\n" + "\n".join(unknown)


def test_runbooks_name_the_resources_on_call_needs(known_names):
    named = {form for _, _, forms in all_names() for form in forms}
    for stack in STACKS:
        for required in (
            f"phase-mirror-consent-store-{stack}",
            f"phase-mirror-org-admission-{stack}",
            f"phase-mirror-pending-events-{stack}",
            f"phase-mirror-event-dedup-{stack}",
            f"phase-mirror-calibration-published-{stack}",
            f"phase-mirror-fp-events-{stack}",
            f"phase-mirror-block-counter-{stack}",
            f"phase-mirror-fp-ingestion-{stack}",
            f"phase-mirror-fp-consent-{stack}",
            f"phase-mirror-fp-admission-{stack}",
            f"phase-mirror-fp-release-{stack}",
            f"phase-mirror-calibration-query-{stack}",
            f"phase-mirror-salt-rotator-{stack}",
            f"/phase-mirror/{stack}/fp-calibration/hmac-salt",
            f"phase-mirror-backup-{stack}",
        ):
            assert required in named, f"no runbook names {required}"
            assert required in known_names, f"the program no longer creates {required}"


def paging_rules(run: ProgramRun) -> list[Resource]:
    """EventBridge rules whose target is an alert topic (a schedule invoking a function is not)."""
    topics = {t.outputs["arn"] for t in run.of_type("aws:sns/topic:Topic")}
    paging = {
        t.inputs["rule"]
        for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["arn"] in topics
    }
    return [r for r in run.of_type(EVENT_RULE) if r.outputs["name"] in paging]


def alarm_names(run: ProgramRun) -> set[str]:
    """Metric alarms, and the EventBridge rules that page (a failed rotation of the salt)."""
    return {r.inputs["name"] for r in [*run.of_type(ALARM), *paging_rules(run)]}


def headings_per_stack() -> dict[str, set[str]]:
    text = runbook_texts()["operations.md"]
    return {
        stack: set(HEADING.findall(expanded))
        for stack, expanded in zip(STACKS, expand(text), strict=True)
    }


def test_every_alarm_has_a_section_titled_with_its_name(staging, production):
    headings = headings_per_stack()
    missing = sorted(
        name
        for stack, run in (("staging", staging), ("production", production))
        for name in alarm_names(run) - headings[stack]
    )
    assert not missing, "alarms without a section in operations.md:\n" + "\n".join(missing)


def test_every_alarm_section_is_an_alarm_the_program_creates(staging, production):
    # A heading may name an alarm of one stack only (the third Redis node is production's).
    raw = HEADING.findall(runbook_texts()["operations.md"])
    existing = alarm_names(staging) | alarm_names(production) | PENDING_NAMES
    unknown = sorted(h for h in raw if not any(e in existing for e in expand(h)))
    assert not unknown, "operations.md sections for alarms that do not exist:\n" + "\n".join(
        unknown
    )


def description(resource: Resource) -> str:
    return resource.inputs.get("alarmDescription") or resource.inputs.get("description") or ""


def pages(run: ProgramRun) -> list[Resource]:
    """What can page: every metric alarm and every rule targeting an alert topic."""
    return [*run.of_type(ALARM), *paging_rules(run)]


def test_every_alarm_links_to_an_anchor_of_the_operations_runbook(staging, production):
    anchors = set(ANCHOR.findall(runbook_texts()["operations.md"]))
    links = {
        (page.inputs["name"], link)
        for run in (staging, production)
        for page in pages(run)
        for link in RUNBOOK_LINK.findall(description(page))
    }
    assert links, "no alarm links to a runbook section"
    broken = sorted(f"{name} -> #{link}" for name, link in links if link not in anchors)
    assert not broken, "alarm runbook links with no anchor in operations.md:\n" + "\n".join(broken)
    unlinked = sorted(
        page.inputs["name"]
        for run in (staging, production)
        for page in pages(run)
        if not RUNBOOK_LINK.search(description(page))
    )
    assert not unlinked, f"alarms whose description names no runbook section: {unlinked}"


# Sections with no alarm today, and why: each must say so in its own text.
SECTIONS_WITHOUT_ALARMS = {
    "cluster": "Container Insights",  # EKS node alarms need it; not installed yet
}


def test_every_section_of_the_operations_runbook_answers_an_alarm(staging, production):
    # GIVEN the anchors of operations.md and the sections every alarm links to
    text = runbook_texts()["operations.md"]
    anchors = set(ANCHOR.findall(text))
    linked = {
        link
        for run in (staging, production)
        for page in pages(run)
        for link in RUNBOOK_LINK.findall(description(page))
    }
    # THEN no section answers nothing (a renamed or removed alarm leaves one behind)
    orphans = sorted(anchors - linked - set(SECTIONS_WITHOUT_ALARMS))
    assert not orphans, f"sections no alarm links to: {orphans}"
    for anchor, reason in SECTIONS_WITHOUT_ALARMS.items():
        assert anchor in anchors and anchor not in linked, anchor
        section = text.split(f'<a id="{anchor}"></a>', 1)[1].split("<a id=", 1)[0]
        assert reason in section, f"section {anchor} does not say why it has no alarm"


def test_paging_rules_are_told_apart_from_schedules(staging):
    rules = {r.inputs["name"] for r in paging_rules(staging)}
    assert rules == {
        "phase-mirror-rotation-failed-staging",
        "phase-mirror-salt-key-access-staging",
    }
    schedules = {r.inputs["name"] for r in staging.of_type(EVENT_RULE)} - rules
    assert schedules == {"phase-mirror-salt-age-check-staging"}


def test_dashboard_named_in_the_runbooks_exists(staging, production):
    dashboards = {
        d.inputs["dashboardName"] for run in (staging, production) for d in run.of_type(DASHBOARD)
    }
    named = {
        name
        for text in runbook_texts().values()
        for expanded in expand(text)
        for name in DASHBOARD_NAME.findall(expanded)
    }
    assert named, "no runbook names the dashboard"
    assert named <= dashboards, (
        f"dashboards the program does not create: {sorted(named - dashboards)}"
    )


def test_pending_names_are_still_missing(known_names):
    landed = sorted(PENDING_NAMES & known_names)
    assert not landed, f"these exist now: remove them from PENDING_NAMES: {landed}"
    modules = sorted(m for m in PENDING_MODULES if (ROOT / f"{m.replace('.', '/')}.py").exists())
    assert not modules, f"these exist now: remove them from PENDING_MODULES: {modules}"


def test_commands_name_real_stacks_modules_and_outputs(production, bootstrap_run):
    files = (*ROOT.glob("Pulumi.*.yaml"), *ROOT.glob("bootstrap/Pulumi.*.yaml"))
    stacks = {p.name.split(".")[1] for p in files}
    outputs = set(production.outputs) | set(bootstrap_run.outputs)
    assert (ROOT / "scripts" / "check").stat().st_mode & 0o111, "./scripts/check is not executable"
    for runbook, text in runbook_texts().items():
        for expanded in expand(text):
            for stack in STACK_FLAG.findall(expanded):
                assert stack in stacks, f"{runbook}: --stack {stack} has no stack file"
        for module in MODULE.findall(text):
            path = ROOT / f"{module.replace('.', '/')}.py"
            assert path.exists() or module in PENDING_MODULES, f"{runbook}: no module {module}"
        for output in STACK_OUTPUT.findall(text):
            assert output in outputs, f"{runbook}: `pulumi stack output {output}` is no output"


def test_salt_runbook_states_the_schedule_the_program_sets():
    text = runbook_texts()["salt-rotation.md"]
    assert f"`{ROTATION_SCHEDULE}`" in text
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        assert f"`{step}`" in text, step
    for command in ("describe-secret", "list-secret-version-ids", "rotate-secret"):
        assert f"aws secretsmanager {command}" in text, command


def test_backup_runbook_states_the_plan_the_program_sets():
    from components.data_tier.backup import RULES

    text = " ".join(runbook_texts()["backup-recovery.md"].split())
    for rule in RULES:
        assert f"{rule.name} kept {rule.keep_days} days" in text, rule
    assert "05:00 UTC" in text and all(r.schedule.startswith("cron(0 5 ") for r in RULES)


@pytest.mark.parametrize("runbook", sorted(EXPECTED_RUNBOOKS))
def test_local_links_between_runbooks_resolve(runbook):
    for target in re.findall(r"`([a-z-]+\.md)`", runbook_texts()[runbook]):
        assert (RUNBOOKS / target).exists(), f"{runbook} refers to missing {target}"


def test_every_runbook_path_is_a_file_of_the_repository():
    for runbook, text in runbook_texts().items():
        for path in re.findall(r"`((?:tests|components|bootstrap|tools)/[\w/.-]+\.py)`", text):
            assert Path(ROOT, path).exists(), f"{runbook} names missing {path}"
