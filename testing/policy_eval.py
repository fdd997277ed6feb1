"""An IAM policy evaluator for exactly the policy grammar this project writes.

No maintained local evaluator covers key policies with conditions on Python 3.11
(principalmapper 1.1.5 fails to import on 3.10+), so this one implements the documented rules
for the elements and operators the project uses, and refuses anything else loudly
(``Unsupported``) rather than guessing:

- Evaluation order, "Policy evaluation logic"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  an explicit Deny in any applicable policy wins; otherwise some Allow is needed; otherwise the
  request is implicitly denied.
- Key policies, "Key policies in AWS KMS" and "Default key policy"
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): no IAM policy
  grants access to a key unless the key policy allows it. A key-policy statement whose principal
  is the account (``arn:aws:iam::ACCOUNT:root``) lets the account's IAM policies decide, so a
  role then also needs an identity policy Allow; a statement naming the role itself is enough.
- Role trust policies for web identity ("AssumeRoleWithWebIdentity"): the trust policy alone
  decides for a federated caller.
- Conditions, "Condition operators"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
  and "Conditions with multiple context keys or values"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html):
  operators AND, keys of one operator AND, values of one key OR (NOR for negated operators); a
  key missing from the request makes a condition false, except negated operators (true),
  ``...IfExists`` (true) and ``Null``. Context key names are case-insensitive; values are
  case-sensitive except ``...IgnoreCase`` and ``Bool``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

ContextValue = str | bool | int | Sequence[str]


class Unsupported(ValueError):
    """A policy element or operator this evaluator does not implement: never guess."""


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@dataclass(frozen=True)
class Request:
    """One API call: who makes it, what, on which resource, with which context keys.

    ``principal`` is what a policy's ``Principal`` is matched against: a role ARN (an
    assumed-role session is matched as its role), a service principal
    (``logs.us-east-1.amazonaws.com``) or a web-identity provider ARN; ``kind`` says which.
    """

    principal: str
    action: str
    resource: str = "*"
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    kind: str = "AWS"  # "AWS", "Service" or "Federated"

    @property
    def account(self) -> str | None:
        match = re.fullmatch(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.*", self.principal)
        return match.group(1) if match else None

    def value(self, key: str) -> ContextValue | None:
        lowered = key.lower()
        for name, value in self.context.items():
            if name.lower() == lowered:
                return value
        return None


def role_request(
    role_arn: str, action: str, resource: str = "*", **context: ContextValue
) -> Request:
    """A call made by a role: the global keys AWS adds to every such request are filled in
    (``aws:PrincipalArn``, ``aws:PrincipalAccount``, and ``kms:CallerAccount`` for KMS)."""
    account = role_arn.split(":")[4]
    keys: dict[str, ContextValue] = {
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "AssumedRole",
    }
    if action.lower().startswith("kms:"):
        keys["kms:CallerAccount"] = account
    keys.update({_key_name(k): v for k, v in context.items()})
    return Request(principal=role_arn, action=action, resource=resource, context=keys)


def service_request(
    service: str, action: str, resource: str = "*", **context: ContextValue
) -> Request:
    """A call an AWS service principal makes on its own behalf (``logs.<region>...``)."""
    keys = {_key_name(k): v for k, v in context.items()}
    return Request(
        principal=service, action=action, resource=resource, context=keys, kind="Service"
    )


def _key_name(python_name: str) -> str:
    """``kms__ViaService`` → ``kms:ViaService`` (context keys passed as keyword arguments)."""
    return python_name.replace("__", ":")


# --- matching ---------------------------------------------------------------------------


def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    if "${" in pattern:
        raise Unsupported(f"policy variables are not implemented: {pattern!r}")
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case=ignore_case).fullmatch(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike compares the six colon-separated parts of the ARN one by one."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


_STRING_TESTS = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _like(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _arn_like,
    "Bool": lambda p, v: p.lower() == v.lower(),
    "NumericEquals": lambda p, v: _number(v) == _number(p),
    "NumericLessThan": lambda p, v: _number(v) < _number(p),
    "NumericLessThanEquals": lambda p, v: _number(v) <= _number(p),
    "NumericGreaterThan": lambda p, v: _number(v) > _number(p),
    "NumericGreaterThanEquals": lambda p, v: _number(v) >= _number(p),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _condition_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise Unsupported(f"condition qualifier {qualifier!r}")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    present = request.value(key)
    patterns = [_text(p) for p in _as_list(expected)]
    if any("${" in p for p in patterns):
        raise Unsupported(f"policy variables are not implemented: {expected!r}")

    if operator == "Null":
        if qualifier or if_exists:
            raise Unsupported(f"{qualifier}:Null / NullIfExists")
        wants_absent = {p.lower() for p in patterns}
        if len(wants_absent) != 1 or not wants_absent <= {"true", "false"}:
            raise Unsupported(f"Null takes true or false, not {expected!r}")
        return (present is None) == ("true" in wants_absent)

    negated = operator in _NEGATED
    base = _NEGATED.get(operator, operator)
    if base not in _STRING_TESTS:
        raise Unsupported(f"condition operator {operator!r}")
    test = _STRING_TESTS[base]

    if present is None:
        if qualifier == "ForAllValues":
            return True  # vacuously true over an empty set of request values
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated
    values = [_text(v) for v in _as_list(present)]

    def matches(value: str) -> bool:
        return any(test(p, value) for p in patterns)

    if qualifier == "ForAnyValue":
        hit = any(matches(v) for v in values)
    elif qualifier == "ForAllValues":
        hit = all(matches(v) for v in values)
    else:
        if len(values) != 1:
            raise Unsupported(f"a single-valued operator {operator!r} met several values for {key}")
        hit = matches(values[0])
    return not hit if negated else hit


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    return all(
        _condition_holds(operator, key, expected, request)
        for operator, keys in condition.items()
        for key, expected in keys.items()
    )


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_like(a, action, ignore_case=True) for a in _as_list(statement["NotAction"]))
    if "Action" not in statement:
        raise Unsupported("a statement without Action or NotAction")
    return any(_like(a, action, ignore_case=True) for a in _as_list(statement["Action"]))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_like(r, resource) for r in _as_list(statement["NotResource"]))
    if "Resource" not in statement:
        return True  # trust policies carry no Resource: the role itself
    return any(_like(r, resource) for r in _as_list(statement["Resource"]))


def _account_principal(value: str) -> str | None:
    """The account an ``AWS`` principal entry stands for as a whole (``ACCOUNT`` or its root)."""
    if re.fullmatch(r"\d{12}", value):
        return value
    match = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):root", value)
    return match.group(1) if match else None


@dataclass(frozen=True)
class PrincipalMatch:
    """How a statement's ``Principal`` covers the caller: by name, or as its whole account."""

    direct: bool = False
    account: bool = False


def _principal_match(statement: Mapping[str, Any], request: Request) -> PrincipalMatch:
    if "NotPrincipal" in statement:
        raise Unsupported("NotPrincipal")
    principal = statement.get("Principal")
    if principal is None:
        raise Unsupported("a resource policy statement without Principal")
    if principal == "*":
        return PrincipalMatch(direct=True)
    if not isinstance(principal, Mapping):
        raise Unsupported(f"Principal {principal!r}")
    unknown = set(principal) - {"AWS", "Service", "Federated"}
    if unknown:
        raise Unsupported(f"Principal types {sorted(unknown)}")
    entries = [str(p) for p in _as_list(principal.get(request.kind, []))]
    if request.kind != "AWS":
        return PrincipalMatch(direct=request.principal in entries)
    if "*" in entries or request.principal in entries:
        return PrincipalMatch(direct=True)
    accounts = {_account_principal(e) for e in entries}
    return PrincipalMatch(account=request.account is not None and request.account in accounts)


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise Unsupported(f"Effect {effect!r}")
    return (
        _action_matches(statement, request.action)
        and _resource_matches(statement, request.resource)
        and conditions_hold(statement.get("Condition", {}), request)
    )


# --- decisions --------------------------------------------------------------------------


def identity_decision(policies: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """Identity-based policies alone (statements carry no Principal)."""
    allowed = False
    for policy in policies:
        for statement in _statements(policy):
            if "Principal" in statement or "NotPrincipal" in statement:
                raise Unsupported("an identity policy statement with a Principal")
            if _applies(statement, request):
                if statement["Effect"] == "Deny":
                    return Decision.EXPLICIT_DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def resource_decision(
    resource_policy: Mapping[str, Any],
    request: Request,
    identity_policies: Iterable[Mapping[str, Any]] = (),
    *,
    key_policy: bool = False,
) -> Decision:
    """A resource policy (a key policy with ``key_policy=True``) with the caller's identity
    policies, for a caller in the resource's account.

    A statement naming the caller (or ``*``) allows by itself. A statement naming the whole
    account only delegates to the account's IAM policies, so an identity-policy Allow is then
    needed too. For a bucket or topic an identity-policy Allow is enough when the resource
    policy is silent; for a KMS key it never is: the key policy must allow.
    """
    identity = list(identity_policies)
    identity_result = identity_decision(identity, request) if request.kind == "AWS" else None
    if identity_result is Decision.EXPLICIT_DENY:
        return Decision.EXPLICIT_DENY
    direct = delegated = False
    for statement in _statements(resource_policy):
        match = _principal_match(statement, request)
        if not (match.direct or match.account) or not _applies(statement, request):
            continue
        if statement["Effect"] == "Deny":
            return Decision.EXPLICIT_DENY
        if match.direct:
            direct = True
        else:
            delegated = True
    if direct:
        return Decision.ALLOW
    identity_allows = identity_result is Decision.ALLOW
    if identity_allows and (delegated or not key_policy):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def key_decision(
    key_policy: Mapping[str, Any],
    request: Request,
    identity_policies: Iterable[Mapping[str, Any]] = (),
) -> Decision:
    """Whether a call on a KMS key is allowed (see ``resource_decision``)."""
    return resource_decision(key_policy, request, identity_policies, key_policy=True)


def trust_decision(trust_policy: Mapping[str, Any], request: Request) -> Decision:
    """Whether a role's trust policy lets the caller assume it (``sts:AssumeRole*``)."""
    return resource_decision(trust_policy, request, key_policy=True)
