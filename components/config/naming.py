"""The one rule for physical names, and what the prefix and stack name may be."""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.config.validators import pattern

# No trailing or doubled "-": the prefix is followed by "-", and RDS and ElastiCache refuse "--"
# in an identifier. At most 12 characters: every S3 bucket name carries the account id and the
# region ({prefix}-{role}-{account}-{region}-{stack}) and must fit S3's 63 characters for a stack
# name of up to 10 characters in any region (components/config/aws_limits.py checks each name).
NAME_PREFIX = pattern(
    r"(?=.{2,12}$)[a-z](-?[a-z0-9])*",
    "2-12 characters of a-z, 0-9 and single '-', starting with a letter and not ending in '-' "
    "(every physical name adds '-' after it; RDS and ElastiCache refuse '--')",
)
# The stack name ends every physical name, S3 bucket names included (lower case only).
STACK_NAME = re.compile(r"[a-z0-9](-?[a-z0-9])*")


@dataclass(frozen=True)
class Naming:
    """``{prefix}-{role}-{stack}``: staging and production share an account without collisions
    because the stack is part of every name. Paths (Secrets Manager) use
    ``/{prefix}/{stack}/{role}``; buckets add the account and region (names are global)."""

    prefix: str
    stack: str

    def physical(self, role: str) -> str:
        return f"{self.prefix}-{role}-{self.stack}"

    def path(self, *parts: str) -> str:
        return "/" + "/".join((self.prefix, self.stack, *parts))

    def alias(self, role: str) -> str:
        return f"alias/{self.physical(role)}"

    def bucket(self, role: str, account_id: str, region: str) -> str:
        """Bucket names are global: the account and region keep two teams' names apart
        (``{prefix}-{role}-{account}-{region}-{stack}``, as bootstrap's state bucket)."""
        return self.physical(f"{role}-{account_id}-{region}")
