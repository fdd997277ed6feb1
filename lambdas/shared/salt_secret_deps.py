"""What the functions that look after the salt secret itself (the rotator, the age check) talk
to: the secret's ARN, a Secrets Manager client, the environment and a clock. Tests build one
with a moto-backed client and a fixed clock; ``production`` reads the environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self, TypeAlias

import boto3
from environment import env_environment

# boto3 ships no type stubs and the project adds no stub dependency.
SecretsManagerClient: TypeAlias = Any


@dataclass(frozen=True, kw_only=True)
class SaltSecretDependencies:
    secret_id: str
    client: SecretsManagerClient
    environment: str = "staging"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @classmethod
    def production(cls, env: Mapping[str, str]) -> Self:
        """From ``ENVIRONMENT`` and ``SALT_SECRET_ID``, with an AWS client."""
        environment = env_environment(env)
        return cls(
            secret_id=env["SALT_SECRET_ID"],
            client=boto3.client("secretsmanager"),
            environment=environment,
        )
