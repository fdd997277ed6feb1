"""The settings and the wiring the functions keyed by organisation (ingestion, consent,
admission) have in common: each turns an owner id into keyed hashes with the salt and the org
key, and checks admission and pending events. Tests build the dependencies with moto-backed
clients and a fixed clock; ``production`` builds them with AWS clients, once per container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeAlias, TypeVar

import boto3
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from environment import env_environment
from org_identity import OrgIdentity
from salt_cache import SaltSource

# boto3 ships no type stubs and the project adds no stub dependency.
DynamoDBClient: TypeAlias = Any


@dataclass(frozen=True, kw_only=True)
class PseudonymSettings:
    """A subclass adds its own fields and reads them in its ``from_env`` through ``read``."""

    environment: str
    admission_table: str
    pending_table: str
    salt_secret_id: str
    org_key_id: str

    @classmethod
    def read(cls, env: Mapping[str, str], **own: Any) -> Self:
        """The common fields from ``env``, the subclass's own from ``own``."""
        return cls(
            environment=env_environment(env),
            admission_table=env["ADMISSION_TABLE_NAME"],
            pending_table=env["PENDING_TABLE_NAME"],
            salt_secret_id=env["SALT_SECRET_ID"],
            org_key_id=env["ORG_KEY_ID"],
            **own,
        )


SettingsT = TypeVar("SettingsT", bound=PseudonymSettings)


@dataclass(frozen=True, kw_only=True)
class PseudonymDependencies(Generic[SettingsT]):
    settings: SettingsT
    dynamodb: DynamoDBClient
    salts: SaltSource
    orgs: OrgIdentity
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @classmethod
    def production(cls, settings: SettingsT, salt_max_age: int) -> Self:
        """AWS clients for ``settings``; the salt document is cached ``salt_max_age`` seconds."""
        provider = SecretsProvider(boto3_client=boto3.client("secretsmanager"))
        return cls(
            settings=settings,
            dynamodb=boto3.client("dynamodb"),
            salts=SaltSource(provider, settings.salt_secret_id, salt_max_age),
            orgs=OrgIdentity(boto3.client("kms"), settings.org_key_id),
        )
