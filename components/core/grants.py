"""What one function's role may do, collected from the components that own the resources.

Like the CDK's ``table.grant_read_data(fn)``: each component offers ``grant_*`` methods that add
exactly the statements a job needs on its own resources (exact ARNs, the KMS key through its
service) to a ``Grants`` of one role. Pulumi fixes a resource's inputs when it is registered,
so the grants are collected first and read once, when ``lambda_function`` registers the role's
one inline policy; a grant after that is an error, never a silent second policy. A component
whose key policy must name the role (the salt key, the tables' and org keys) is told its users
in its args, and its ``grant_*`` refuses a role it was not told about, so the key policy and
the role's policy cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

Statement = Mapping[str, Any]


class Grants:
    """The statements of one role (``role``: the naming role, e.g. ``fp-ingestion``)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self._statements: list[Statement] = []
        self._closed = False

    def add(self, *statements: Statement) -> Grants:
        if self._closed:
            raise RuntimeError(
                f"the policy of {self.role} is already registered: grant before lambda_function"
            )
        self._statements += statements
        return self

    def require(self, users: Collection[str], what: str) -> None:
        """Refuse a role the resource's key policy does not name."""
        if self.role not in users:
            raise ValueError(
                f"{self.role} is not among the roles {what}'s key policy names ({sorted(users)}): "
                "declare it there first"
            )

    def close(self) -> list[Statement]:
        """The statements, once: the role's policy is built from them."""
        self._closed = True
        return list(self._statements)
