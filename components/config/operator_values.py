"""The values only a real team can supply, declared in one list.

A stack file in the repository cannot know who gets paged, which roles administer the cluster
or which identities run ``pulumi up``: ``OPERATOR_VALUES`` names them. A dry run
(``pulumi preview``, ``python -m tools.preview``) of a stack missing any of them succeeds and
warns once per value; ``pulumi up`` refuses at program start, naming every missing key, in
production for all of them and in every stack for the identities that deploy: a key policy
without them would lock the deploying identity out of its own keys (KMS refuses a key policy
that does not let the caller manage the key, ``BypassPolicyLockoutSafetyCheck`` in the KMS
CreateKey API reference, and a later ``pulumi up`` could not update the policy).
docs/first-deploy.md says where each value comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

MAIN_PROJECT = "phase-mirror-infra"
BOOTSTRAP_PROJECT = "phase-mirror-bootstrap"
PRODUCTION_STACK = "production"

Scope = Literal["production", "every stack"]


@dataclass(frozen=True)
class OperatorValue:
    """One value; set when any of ``keys`` is set (alarm recipients come in two keys)."""

    project: str
    keys: tuple[str, ...]
    what: str
    up_requires: Scope

    @property
    def label(self) -> str:
        return " or ".join(f"'{key}'" for key in self.keys)

    def missing_from(self, raw: Mapping[str, str]) -> bool:
        return not any(raw.get(key, "").strip() not in ("", "[]") for key in self.keys)


OPERATOR_VALUES: tuple[OperatorValue, ...] = (
    OperatorValue(
        MAIN_PROJECT,
        ("alarmEmails", "criticalAlarmEmails"),
        "who is told when a critical alarm fires",
        "production",
    ),
    OperatorValue(MAIN_PROJECT, ("devopsRoleArn",), "the role that administers EKS", "production"),
    OperatorValue(
        MAIN_PROJECT, ("developerRoleArn",), "the role with read-only EKS access", "production"
    ),
    OperatorValue(
        MAIN_PROJECT,
        ("deployRoleArn",),
        "the CI deploy role from bootstrap/ (output deployRoleArn), which manages the keys",
        "every stack",
    ),
    OperatorValue(
        MAIN_PROJECT,
        ("operatorRoleArnPattern",),
        "the operators' administrator role that runs the first pulumi up, which manages the keys",
        "every stack",
    ),
    OperatorValue(
        BOOTSTRAP_PROJECT,
        ("githubRepository",),
        "OWNER/REPO whose workflows may assume the CI roles",
        "every stack",
    ),
    OperatorValue(
        BOOTSTRAP_PROJECT,
        ("operatorRoleArnPattern",),
        "the administrators' role that runs this program, which manages the state and secrets keys",
        "every stack",
    ),
)


def missing(
    project: str, raw: Mapping[str, str], values: Sequence[OperatorValue] = OPERATOR_VALUES
) -> list[OperatorValue]:
    """The operator values of ``project`` that ``raw`` (key -> engine string) lacks."""
    return [v for v in values if v.project == project and v.missing_from(raw)]


def refused(stack: str, absent: Sequence[OperatorValue]) -> list[OperatorValue]:
    """Those of ``absent`` without which ``pulumi up`` of ``stack`` must not start."""
    return [v for v in absent if v.up_requires == "every stack" or stack == PRODUCTION_STACK]


def warning(value: OperatorValue) -> str:
    return (
        f"operator value {value.label} is not set ({value.what}): pulumi up of "
        + ("any stack" if value.up_requires == "every stack" else "production")
        + " refuses without it (docs/first-deploy.md)"
    )


def refusal(stack: str, values: Sequence[OperatorValue]) -> str:
    listed = "; ".join(f"{v.label} ({v.what})" for v in values)
    return (
        f"pulumi up of stack '{stack}' needs the operator values only your team can supply: "
        f"{listed}; set them with `pulumi config set` (docs/first-deploy.md)"
    )


def enforce(
    project: str,
    stack: str,
    raw: Mapping[str, str],
    *,
    dry_run: bool,
    warn: Callable[[str], None],
    error: Callable[[str], Exception],
) -> list[OperatorValue]:
    """Warn about each missing value; on ``pulumi up`` raise ``error`` naming the refused ones."""
    absent = missing(project, raw)
    blocking = [] if dry_run else refused(stack, absent)
    if blocking:
        raise error(refusal(stack, blocking))
    for value in absent:
        warn(warning(value))
    return absent
