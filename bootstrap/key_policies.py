"""Key policies of the state and secrets keys (and their replicas): who may use Pulumi's state.

The main program's model (``components/core/key_policy.py``, docs/keys.md): the account
administers each key without using it; ``kms:PutKeyPolicy`` stays with the account root user and
the administrators who run this program (``operatorRoleArnPattern``), whom KMS's policy lockout
check requires in the policy they write; every use is granted by name (``aws:PrincipalArn``,
because the CI roles are created after the keys) and needs the caller's own identity policy too.

- State key: S3 encrypts and decrypts the state objects for the caller, so every use goes
  through S3 in the key's own region (``kms:ViaService``) for the state bucket of that region
  (``kms:EncryptionContext:aws:s3:arn``: the bucket with an S3 Bucket Key, an object without).
  The deploy role and the administrators read and write, the preview role reads, the
  replication role decrypts the source and encrypts the replica ("Replicating encrypted
  objects", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
- Secrets key: the Pulumi CLI calls KMS itself for ``awskms://`` (no service in between):
  ``Encrypt`` once, when ``pulumi stack init`` creates a stack's data key (only administrators
  do, docs/bootstrap.md), and ``Decrypt`` of that data key in every later operation (both CI
  roles and the administrators).
- ``kms:ReplicateKey`` creates a replica with a policy of the caller's choosing and the same key
  material, so it is use in disguise: the root user and the administrators only ("ReplicateKey",
  required permissions: https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html).

tests/test_bootstrap_keys.py evaluates these policies for every caller that must get in and
every one that must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.core.key_policy import Deployers, Statement, by_name, key_policy, root, via
from components.core.secure_bucket import bucket_arn

STATE_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")
STATE_READ = ("kms:Decrypt",)
# With an S3 Bucket Key on the replica bucket, S3 checks the bucket key with Decrypt as the
# replication role ("S3 Bucket Keys and replication", the page above).
REPLICATION_SOURCE = ("kms:Decrypt",)
REPLICATION_DESTINATION = ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
SECRETS_CREATE = ("kms:Encrypt", "kms:Decrypt")
SECRETS_READ = ("kms:Decrypt",)


@dataclass(frozen=True, kw_only=True)
class KeyUsers:
    """Every caller of the two keys, by ARN (each is known before it exists).

    - account_id: the account of the keys and of every caller.
    - deploy_role_arn, preview_role_arn: the CI roles of ``CiIdentity``.
    - operator_role_arn_pattern: the administrators' ``ArnLike`` pattern; none only in a dry
      run (``pulumi up`` refuses without it), which leaves them out of every statement.
    - replication_role_arn: the S3 replication role; none without a replica region.
    """

    account_id: str
    deploy_role_arn: str
    preview_role_arn: str
    operator_role_arn_pattern: str | None = None
    replication_role_arn: str | None = None

    @property
    def administrators(self) -> Deployers:
        return Deployers(operator_role_arn_pattern=self.operator_role_arn_pattern)

    @property
    def readers_and_writers(self) -> list[str]:
        return [self.deploy_role_arn, *self.administrators.operators]


def _replication_allowed(users: KeyUsers) -> list[Statement]:
    """Only the root user and the administrators may replicate a primary key."""
    return by_name(
        "AdministratorsReplicateTheKey",
        users.account_id,
        [root(users.account_id), *users.administrators.operators],
        ["kms:ReplicateKey"],
    )


def state_key_policy(
    users: KeyUsers,
    *,
    region: str,
    bucket: str,
    primary: bool,
    replication: Sequence[str] = (),
) -> str:
    """The state key (or its replica) of ``bucket`` in ``region``; ``replication``: what the
    replication role does with this key (none, ``REPLICATION_SOURCE`` or ``..._DESTINATION``)."""
    arn = bucket_arn(bucket)
    through_s3 = via("s3", region)
    this_bucket = {"StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]}}
    account = users.account_id
    statements = [
        *by_name(
            "DeployerAndAdministratorsWriteStateThroughS3",
            account,
            users.readers_and_writers,
            STATE_WRITE,
            through_s3,
            this_bucket,
        ),
        *by_name(
            "PreviewReadsStateThroughS3",
            account,
            [users.preview_role_arn],
            STATE_READ,
            through_s3,
            this_bucket,
        ),
    ]
    if replication and users.replication_role_arn:
        statements += by_name(
            "S3ReplicatesState",
            account,
            [users.replication_role_arn],
            replication,
            through_s3,
            this_bucket,
        )
    if primary:
        statements += _replication_allowed(users)
    return key_policy(account, users.administrators, statements)


def secrets_key_policy(users: KeyUsers, *, primary: bool) -> str:
    """The key of ``awskms://`` for every stack (the main stacks' and this program's own)."""
    account = users.account_id
    statements = [
        *by_name(
            "AdministratorsCreateAndReadStackSecrets",
            account,
            users.administrators.operators,
            SECRETS_CREATE,
        ),
        *by_name(
            "CiReadsStackSecrets",
            account,
            [users.deploy_role_arn, users.preview_role_arn],
            SECRETS_READ,
        ),
    ]
    if primary:
        statements += _replication_allowed(users)
    return key_policy(account, users.administrators, statements)
