"""A dependency that failed, as the 503's error code and the reason logged beside it: an AWS
error code or an exception's name, never an id, a salt or a message that could hold one."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from org_identity import OrgKeyUnavailable
from salt_cache import SaltUnavailable

# What the org key (KMS), the salt (Secrets Manager) and the tables (DynamoDB) raise when they
# cannot answer: each fails the request closed, with a 503 and a counted failure.
DEPENDENCY_ERRORS = (OrgKeyUnavailable, SaltUnavailable, ClientError, BotoCoreError)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call ("" when the answer carries none)."""
    return exc.response.get("Error", {}).get("Code") or ""


def dependency_failure(exc: Exception) -> tuple[str, str]:
    """(the answer's error code, the reason to log) of one of ``DEPENDENCY_ERRORS``."""
    if isinstance(exc, OrgKeyUnavailable):
        return "org_key_unavailable", str(exc)
    if isinstance(exc, SaltUnavailable):
        return "anonymization_unavailable", str(exc)
    if isinstance(exc, ClientError):
        return "store_unavailable", error_code(exc)
    return "store_unavailable", type(exc).__name__
