"""Who is calling, from an HTTP API (payload 2.0) event, and the JSON answers of every API function.

A GitHub Actions caller comes through the JWT authorizer: its organisation is the token's
``repository_owner_id`` claim. An internal caller comes through an ``AWS_IAM`` route, and since
HTTP APIs have no resource policies (any principal of the account holding ``execute-api:Invoke``
passes), the function checks it against an allow-list of role and user ARNs itself. A request
with neither (a direct invoke) has no caller. Nothing here echoes a value it refuses.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# Canonical decimal, ASCII only: one owner has one spelling, so one key. (A str pattern's [0-9]
# never matches other Unicode digits, unlike str.isdigit, which accepts "²".)
OWNER_ID = re.compile(r"[1-9][0-9]{0,19}")
# IAM names are ASCII letters, digits and +=,.@_- (re.ASCII keeps \w to those).
ALLOWED_ARN = re.compile(
    r"arn:(aws[a-z-]*):iam::([0-9]{12}):(role|user)/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,128})",
    re.ASCII,
)
ASSUMED_ROLE = re.compile(
    r"arn:(aws[a-z-]*):sts::([0-9]{12}):assumed-role/([\w+=,.@-]{1,128})/[\w+=,.@-]{2,64}",
    re.ASCII,
)
MAX_ALLOWED = 20
# API Gateway's request ids: what an audit key may carry.
REQUEST_ID = re.compile(r"[A-Za-z0-9=+/_-]{1,64}")


class InvalidField(ValueError):
    """A 400: ``field`` names what is wrong, ``reason`` says what is allowed (never the value)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Refused(Exception):
    """A 403: the caller may not do this; ``field`` is ``caller`` or the body field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class GitHubCaller:
    owner_id: str = field(repr=False)


@dataclass(frozen=True)
class IamCaller:
    arn: str
    account: str


Caller = GitHubCaller | IamCaller


def _mapping(value: object) -> Mapping[str, Any]:
    # Lambda hands events over as parsed JSON: dicts (a dict check is far cheaper than the ABC).
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def caller_of(event: object) -> Caller:
    """The authenticated caller of an HTTP API request; ``Refused("caller")`` without one."""
    authorizer = _mapping(_mapping(_mapping(event).get("requestContext")).get("authorizer"))
    if "jwt" in authorizer:
        claims = _mapping(_mapping(authorizer["jwt"]).get("claims"))
        if claims.get("iss") != GITHUB_ISSUER:
            raise Refused("caller", "the token is not a GitHub Actions token")
        owner = claims.get("repository_owner_id")
        if not isinstance(owner, str) or not OWNER_ID.fullmatch(owner):
            raise Refused("caller", "the token carries no repository_owner_id")
        return GitHubCaller(owner)
    if "iam" in authorizer:
        iam = _mapping(authorizer["iam"])
        arn, account = iam.get("userArn"), iam.get("accountId")
        if isinstance(arn, str) and isinstance(account, str):
            return IamCaller(arn, account)
    raise Refused("caller", "the request carries no authenticated caller")


def github_or_internal(event: object, internal: AllowList) -> Caller:
    """A GitHub Actions caller, or an IAM principal on ``internal``; ``Refused("caller")`` else."""
    caller = caller_of(event)
    if not isinstance(caller, GitHubCaller) and not internal.allows(caller):
        raise Refused("caller", "this principal may not call the internal route")
    return caller


@dataclass(frozen=True)
class AllowList:
    """IAM principals allowed on an ``AWS_IAM`` route: (account, "role" | "user", name or ARN)."""

    entries: frozenset[tuple[str, str, str]]

    @classmethod
    def parse(cls, raw: str, variable: str) -> AllowList:
        """From a JSON array of role or user ARNs; ``ValueError`` naming ``variable`` otherwise."""
        try:
            arns = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{variable}: must be a JSON array of IAM role or user ARNs") from exc
        if not isinstance(arns, list) or len(arns) > MAX_ALLOWED:
            raise ValueError(f"{variable}: must be a JSON array of at most {MAX_ALLOWED} ARNs")
        entries = set()
        for arn in cast(list[object], arns):
            match = ALLOWED_ARN.fullmatch(arn) if isinstance(arn, str) else None
            if match is None:
                raise ValueError(f"{variable}: every entry must be an IAM role or user ARN")
            _, account, kind, _, name = match.groups()
            # An assumed-role ARN names the role without its path; a user ARN is compared whole.
            entries.add((account, kind, name if kind == "role" else arn))
        return cls(frozenset(entries))

    def allows(self, caller: IamCaller) -> bool:
        role = ASSUMED_ROLE.fullmatch(caller.arn)
        if role is not None:
            _, account, name = role.groups()
            return account == caller.account and (account, "role", name) in self.entries
        user = ALLOWED_ARN.fullmatch(caller.arn)
        if user is None or user.group(3) != "user" or user.group(2) != caller.account:
            return False
        return (caller.account, "user", caller.arn) in self.entries


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def json_body(event: object, max_bytes: int = 16_384) -> object | None:
    """The request's JSON body, or None when it has none; ``InvalidField("body")`` otherwise."""
    body = _mapping(event).get("body")
    if body is None or body == "":
        return None
    if not isinstance(body, str):
        raise InvalidField("body", "must be a JSON document")
    if _mapping(event).get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode()
        except (ValueError, binascii.Error) as exc:
            raise InvalidField("body", "is not valid base64 UTF-8") from exc
    if len(body.encode(errors="replace")) > max_bytes:
        raise InvalidField("body", f"must be at most {max_bytes} bytes")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidField("body", "is not valid JSON") from exc


def object_body(event: object, allowed: frozenset[str], max_bytes: int = 16_384) -> dict[str, Any]:
    """A JSON object body whose keys are all in ``allowed`` ({} when there is no body)."""
    payload = json_body(event, max_bytes)
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise InvalidField("body", "must be a JSON object")
    unknown = sorted(set(cast(dict[str, Any], payload)) - allowed)
    if unknown:
        raise InvalidField(unknown[0][:64], "is not a known field")
    return cast(dict[str, Any], payload)


def no_body(event: object, *, empty_object: bool = False) -> None:
    """Refuse any body (``empty_object``: except ``{}``)."""
    payload = json_body(event)
    if payload is not None and not (empty_object and payload == {}):
        raise InvalidField("body", "must be empty" + (" or {}" if empty_object else ""))


def method_of(event: object) -> str:
    method = _mapping(_mapping(_mapping(event).get("requestContext")).get("http")).get("method")
    return method if isinstance(method, str) else ""


def path_parameter(event: object, name: str) -> object:
    return _mapping(_mapping(event).get("pathParameters")).get(name)


def request_id(event: object) -> str:
    """API Gateway's id of the request, or a random one when it carries none of that shape."""
    value = _mapping(_mapping(event).get("requestContext")).get("requestId")
    if isinstance(value, str) and REQUEST_ID.fullmatch(value):
        return value
    return os.urandom(8).hex()


def respond(status: int, body: Mapping[str, object]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def error(status: int, code: str, field_name: str, message: str) -> dict[str, Any]:
    return respond(status, {"error": code, "field": field_name, "message": message})


def unavailable(code: str, message: str) -> dict[str, Any]:
    return respond(503, {"error": code, "message": message})
