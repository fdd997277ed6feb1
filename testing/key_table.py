"""What the key tables share (tests/test_key_policies.py for both stacks' keys,
tests/test_bootstrap_keys.py for the bootstrap's): a row of the table, the identity policies of
callers outside the programs, and a role's policies as a mocked run registers them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from testing.program import ProgramRun

# Identity policies of callers outside both programs. AWS managed policies as published
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/PowerUserAccess.html,
# .../ReadOnlyAccess.html: its KMS actions), and the worst case for everyone else.
ANY_ACTION = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
MANAGED = {
    "arn:aws:iam::aws:policy/PowerUserAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            }
        ],
    },
    "arn:aws:iam::aws:policy/ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            }
        ],
    },
}


@dataclass(frozen=True)
class Row:
    key: str
    caller: str
    action: str
    allowed: bool
    source: str
    context: dict[str, Any] = field(default_factory=dict)
    why: str = ""

    def __str__(self) -> str:
        verdict = "allow" if self.allowed else "deny"
        return f"{self.key}: {self.caller} {self.action} -> {verdict} ({self.why})"


def role_policies(run: ProgramRun, role_name: str) -> list[dict[str, Any]]:
    """A role's inline and managed policies as the run registers them."""
    inline = [
        json.loads(p.inputs["policy"])
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role_name
    ]
    managed = []
    for attachment in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if attachment.inputs["role"] == role_name:
            arn = attachment.inputs["policyArn"]
            if arn not in MANAGED:
                raise LookupError(f"model the managed policy {arn} in MANAGED first")
            managed.append(MANAGED[arn])
    if not inline and not managed:
        raise LookupError(f"the run attaches no policy to {role_name}")
    return inline + managed
