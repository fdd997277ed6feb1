"""What the functions that turn an owner id into keyed hashes (ingestion, consent, admission)
talk to: DynamoDB, the salt, the org key and a clock. Tests build one with moto-backed clients
and a fixed clock; ``production`` builds it with AWS clients, once per container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, Self, TypeAlias, TypeVar

import boto3
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from org_identity import OrgIdentity
from salt_cache import SaltSource

# boto3 ships no type stubs and the project adds no stub dependency.
DynamoDBClient: TypeAlias = Any


class PseudonymSettings(Protocol):
    @property
    def salt_secret_id(self) -> str: ...

    @property
    def org_key_id(self) -> str: ...


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
