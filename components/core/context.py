"""What every component of one stack shares: where it lives, how its names are made, whether
its data is protected, who deploys it, and where its logs go.

``__main__.py`` builds one ``StackContext`` from the stack config and hands it to each
component instead of repeating these fields in every args class. The log key is the one thing
made by a component (``Observability``, created first): ``with_log_key`` gives the context the
others receive.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pulumi

from components.config import Naming
from components.core.key_policy import Deployers


@dataclass(frozen=True, kw_only=True)
class StackContext:
    """- naming: the physical-name rule (``{prefix}-{role}-{stack}``).
    - account_id, region: where the stack lives (ARNs in policies are built before creation).
    - environment: the metrics' ``Environment`` dimension (``staging`` or ``production``).
    - protect: AWS deletion protection, Pulumi ``protect`` and retain-on-delete on stateful
      resources (stack config ``deletionProtection``).
    - deployers: the identities that run ``pulumi up`` (key policies let exactly these deploy).
    - log_retention_days: retention of every log group.
    - log_key_arn: the key every log group is encrypted with (set by ``with_log_key``).
    """

    naming: Naming
    account_id: str
    region: str
    environment: str
    protect: bool
    deployers: Deployers = field(default_factory=Deployers)
    log_retention_days: int
    log_key_arn: pulumi.Input[str] | None = None

    @property
    def log_key(self) -> pulumi.Input[str]:
        if self.log_key_arn is None:
            raise RuntimeError("Observability creates the log key: use its context")
        return self.log_key_arn

    def with_log_key(self, arn: pulumi.Input[str]) -> StackContext:
        return dataclasses.replace(self, log_key_arn=arn)
