"""Resource identity: the URNs a registered resource answers to, its own and its aliases'.

The engine matches a resource with its state by URN, or by any URN its ``aliases`` name; an
alias given as a spec (``pulumi.Alias(name=..., parent=...)``) is resolved the way the engine
does it: missing parts default to the resource's current ones, and a child also answers to its
name under each URN its parent answers to (so renaming or moving a component carries its
children along). ``tools.against`` and tests/test_urn_snapshot.py use this to tell a rename
with an alias (same resource) from a delete-and-create.
"""

from __future__ import annotations

from collections.abc import Iterable

from testing.program import ProgramRun, Resource

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def make_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """The engine's URN for ``type_``/``name`` under ``parent`` (a URN, or '' for none)."""
    parent_type = parent.split("::")[2] if parent else ""
    qualified = (
        f"{parent_type}${type_}" if parent_type and parent_type != ROOT_STACK_TYPE else type_
    )
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _stack_project(urn: str) -> tuple[str, str]:
    head = urn.split("::")
    return head[0].removeprefix("urn:pulumi:"), head[1]


class Identities:
    """For each resource of a run, every URN it answers to."""

    def __init__(self, run: ProgramRun) -> None:
        self._run = run
        self._by_urn = {r.urn: r for r in run.resources}
        self._memo: dict[str, frozenset[str]] = {}

    def urns(self, resource: Resource) -> frozenset[str]:
        """The resource's URN plus every URN its aliases (and its parents' aliases) resolve to."""
        if resource.urn not in self._memo:
            self._memo[resource.urn] = frozenset({resource.urn, *self._aliases(resource)})
        return self._memo[resource.urn]

    def index(self) -> dict[str, Resource]:
        """URN -> the resource answering to it (own URNs win over aliases)."""
        found: dict[str, Resource] = {}
        for resource in self._run.resources:
            for urn in self.urns(resource):
                found.setdefault(urn, resource)
        found.update({r.urn: r for r in self._run.resources})
        return found

    def _parent_urns(self, resource: Resource) -> Iterable[str]:
        parent = self._by_urn.get(resource.parent)
        if parent is None:  # the root stack, or no parent
            return [resource.parent]
        return sorted(self.urns(parent))

    def _aliases(self, resource: Resource) -> set[str]:
        stack, project = _stack_project(resource.urn)
        found: set[str] = set()
        parents = list(self._parent_urns(resource))
        # A child answers to its name under every URN of its parent (engine: inherited aliases).
        for parent in parents:
            found.add(make_urn(stack, project, parent, resource.type, resource.name))
        for alias in resource.aliases:
            if alias.WhichOneof("alias") == "urn":
                found.add(alias.urn)
                continue
            spec = alias.spec
            name = spec.name or resource.name
            type_ = spec.type or resource.type
            alias_stack = spec.stack or stack
            alias_project = spec.project or project
            if spec.WhichOneof("parent") == "noParent" and spec.noParent:
                candidates = [""]
            elif spec.WhichOneof("parent") == "parentUrn" and spec.parentUrn:
                candidates = [spec.parentUrn]
            else:
                candidates = parents
            for parent in candidates:
                found.add(make_urn(alias_stack, alias_project, parent, type_, name))
        return found
