"""Values as the engine hands them to a rule, and the small readers every rule uses.

``plain`` turns the analyzer's proxies, the mocks' secret wrappers and unknown sentinels into
plain dicts, lists and ``UNKNOWN``; ``get`` reads a dotted path and ``known`` refuses an
unknown value with ``Undecidable``. Standard library only, so the pack's venv needs nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# pulumi_policy.proxy's sentinels for unknown values (tests/test_policy.py keeps them in step).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
# The engine's signature of a secret value (pulumi.runtime.rpc); not a credential.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Undecidable(Exception):
    """The rule needs a value that stays unknown until the update runs."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is unknown during preview")
        self.path = path


@dataclass(frozen=True)
class Context:
    """What a resource rule knows besides the resource's own inputs.

    - environment: ``production``, ``staging``, ... (see ``environment_of``).
    - default_tags: the tags its AWS provider adds (``defaultTags``).
    - protect: the resource's Pulumi ``protect`` option.
    """

    environment: str = "production"
    default_tags: Any = field(default_factory=dict)
    protect: bool = False


@dataclass(frozen=True)
class Subject:
    """One resource of the stack, as a stack rule sees it (props: inputs or outputs)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    id: Any = None
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """Props from the engine, a CrossGuard proxy or the mocks -> plain dicts, lists, UNKNOWN.

    Secrets are unwrapped (the rules judge content; the preview masks secrets separately).
    """
    kind = type(value).__name__
    if kind in ("_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"):
        return plain(value["__target"])
    if kind == "Secret" and hasattr(value, "value"):
        return plain(value.value)
    if kind == "Unknown" and type(value).__module__.startswith("pulumi"):
        return UNKNOWN
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def get(props: Any, path: str) -> Any:
    """The value at a dotted path, ``None`` when absent, ``UNKNOWN`` when any step is."""
    node = props
    for part in path.split("."):
        if node is UNKNOWN:
            return UNKNOWN
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def known(props: Any, path: str) -> Any:
    """Like ``get`` but the rule needs the content: an unknown value is ``Undecidable``."""
    value = get(props, path)
    if value is UNKNOWN:
        raise Undecidable(path)
    return value


def known_list(props: Any, path: str) -> list[Any]:
    """A list whose every item the rule reads: any unknown item is ``Undecidable``."""
    value = known(props, path) or []
    items = value if isinstance(value, list) else [value]
    if UNKNOWN in items:
        raise Undecidable(path)
    return items


def is_set(value: Any) -> bool:
    """A reference is present: a non-empty value, or an unknown one (an output)."""
    return value is UNKNOWN or value not in (None, "", [], {})


def is_true(props: Any, path: str) -> bool:
    return known(props, path) in (True, "true")


def as_json(value: Any, path: str) -> Any:
    if value is UNKNOWN:
        raise Undecidable(path)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def effective_tags(props: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    provider = as_json(ctx.default_tags, "provider.defaultTags") or {}
    tags = dict(get(provider, "tags") or {}) if isinstance(provider, Mapping) else {}
    for key in ("tagsAll", "tags"):
        own = known(props, key)
        if isinstance(own, Mapping):
            tags.update(own)
    return tags


def environment_of(configured: Any, tags: Mapping[str, Any]) -> str:
    """Policy config ``environment`` first, else the ``Environment`` tag, else production.

    Unlabelled resources are judged as production: the stricter reading wins.
    """
    if isinstance(configured, str) and configured:
        return configured
    tag = tags.get("Environment")
    return tag if isinstance(tag, str) and tag else "production"
