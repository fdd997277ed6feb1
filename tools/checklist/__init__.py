"""The pre-production checklist, judged from what the program registers.

The items are data (``items.py``: id, section, what, how, severity, scope); the checks are
small functions (``checks.py``). ``evaluate`` runs them over a mocked run and its policy
findings; ``ordered`` puts what needs attention first: failures, then warnings, then what a
person must confirm, then what passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from policy import rules
from testing.program import PROJECT, ROOT, ProgramRun
from tools.checklist.checks import SECURITY_ALARMS, Facts, subject
from tools.checklist.items import ITEMS, ChecklistItem

Status = Literal["pass", "fail", "warn", "manual"]
ORDER: tuple[Status, ...] = ("fail", "warn", "manual", "pass")
ELSEWHERE = "the account baseline is the accountBaseline: true stack's: see that stack's report"

__all__ = ["ELSEWHERE", "ITEMS", "SECURITY_ALARMS", "Item", "evaluate", "ordered", "subject"]


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    title: str
    status: Status
    reason: str


def judge(item: ChecklistItem, facts: Facts, holds_baseline: bool) -> Item:
    def result(status: Status, reason: str) -> Item:
        return Item(item.id, item.section, item.title, status, reason)

    if isinstance(item.how, str):
        return result("manual", item.how)
    if item.scope == "account" and not holds_baseline:
        return result("manual", ELSEWHERE)
    ok, reason = item.how(facts)
    return result("pass" if ok else item.severity, reason)


def evaluate(run: ProgramRun, violations: list[rules.Violation], root: Path = ROOT) -> list[Item]:
    """Every item, in the checklist's own order."""
    facts = Facts(run, violations, root)
    holds_baseline = run.config.get(f"{PROJECT}:accountBaseline", "true") != "false"
    return [judge(item, facts, holds_baseline) for item in ITEMS]


def ordered(items: list[Item]) -> list[Item]:
    """Failures first, then warnings, manual items and passes; the checklist's order within."""
    return sorted(items, key=lambda i: ORDER.index(i.status))
