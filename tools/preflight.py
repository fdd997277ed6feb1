"""Preflight: what the account must have before ``pulumi up`` of a stack, read-only.

    python -m tools.preflight STACK

Some create-time failures depend on the account, not the program: Lambda's unreserved
concurrency, the Elastic IP quota the NAT gateways draw on, the zones EKS can use, a secret name
still reserved by a deletion, a bucket name another account holds. This reads them as the
deploying identity (Lambda GetAccountSettings and GetFunctionConcurrency, EC2
DescribeAccountAttributes, DescribeAddresses and DescribeAvailabilityZones, Secrets Manager
DescribeSecret, S3 HeadBucket; nothing is written) and compares them with what the stack's
config needs. On a re-deploy the stack's own reservations and addresses count as available to
it. One line per check; exit 1 when a check fails, 2 when the stack cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.config import ConfigError, StackConfig, aws_limits, parse
from components.core.base import PROJECT_TAG
from components.network.network import EKS_UNSUPPORTED_ZONE_IDS
from testing.program import PROJECT, ROOT, stack_config

EXAMPLE = "example, as the identity that runs pulumi up:\n  python -m tools.preflight staging"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


LAMBDA_CONCURRENCY = "Lambda reserved concurrency"
ELASTIC_IPS = "Elastic IP addresses"
ZONES = "Availability zones"
SECRET_NAMES = "Secret names"  # noqa: S105 - a check's title, not a password
BUCKET_NAMES = "Bucket names"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def lambda_concurrency(cfg: StackConfig, client: Any) -> Check:
    limit = client.get_account_settings()["AccountLimit"]
    total, unreserved = limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]
    own = 0
    for role in aws_limits.function_reservations(cfg):
        try:
            reply = client.get_function_concurrency(FunctionName=cfg.naming.physical(role))
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            continue
        own += int(reply.get("ReservedConcurrentExecutions") or 0)
    need = sum(aws_limits.reserved_concurrency(cfg).values())
    reservable = unreserved - aws_limits.UNRESERVED_MINIMUM + own
    detail = (
        f"the stack reserves {need}; {reservable} can be reserved ({total} in the account, "
        f"{unreserved} unreserved, {own} already this stack's, "
        f"{aws_limits.UNRESERVED_MINIMUM} must stay unreserved)"
    )
    return _fits(
        LAMBDA_CONCURRENCY,
        need,
        reservable,
        detail,
        "request a higher 'Concurrent executions' quota in Service Quotas, or lower "
        "ingestionConcurrency / queryConcurrency",
    )


def elastic_ips(cfg: StackConfig, client: Any) -> Check:
    reply = client.describe_account_attributes(AttributeNames=["vpc-max-elastic-ips"])
    (attribute,) = reply["AccountAttributes"]
    quota = int(attribute["AttributeValues"][0]["AttributeValue"])
    addresses = client.describe_addresses()["Addresses"]
    own = [a for a in addresses if _tags(a) >= {("Project", PROJECT_TAG), *_stack_tags(cfg)}]
    s = cfg.network
    need = s.availability_zones if s.nat_gateways == "one_per_az" else 1
    free = quota - len(addresses) + len(own)
    detail = (
        f"the NAT gateways need {need}; {free} available (quota {quota}, {len(addresses)} in use, "
        f"{len(own)} this stack's)"
    )
    return _fits(
        ELASTIC_IPS,
        need,
        free,
        detail,
        "release unused addresses or request a higher 'EC2-VPC Elastic IPs' quota in Service "
        "Quotas",
    )


def _fits(name: str, need: int, available: int, detail: str, fix: str) -> Check:
    """What the stack needs against what the account has: ok, or short by how much and how to
    fix it."""
    if need <= available:
        return Check(name, True, detail)
    return Check(name, False, f"{detail}: short by {need - available}; {fix}")


def availability_zones(cfg: StackConfig, client: Any) -> Check:
    reply = client.describe_availability_zones(
        Filters=[
            {"Name": "opt-in-status", "Values": ["opt-in-not-required"]},
            {"Name": "state", "Values": ["available"]},
        ]
    )
    usable = [
        z["ZoneName"]
        for z in reply["AvailabilityZones"]
        if z["ZoneId"] not in EKS_UNSUPPORTED_ZONE_IDS
    ]
    need = cfg.network.availability_zones
    detail = f"the stack uses {need}; usable for EKS here: {', '.join(usable) or 'none'}"
    if need <= len(usable):
        return Check(ZONES, True, detail)
    return Check(ZONES, False, f"{detail}: set availabilityZones to {len(usable)}")


def secret_names(cfg: StackConfig, account_id: str, client: Any) -> Check:
    names = [n.name for n in aws_limits.planned_names(cfg, account_id) if n.rule == "secret"]
    problems = []
    for name in names:
        try:
            secret = client.describe_secret(SecretId=name)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                continue
            raise
        if secret.get("DeletedDate"):
            problems.append(
                f"{name} is scheduled for deletion and keeps its name until then: "
                f"aws secretsmanager restore-secret --secret-id {name} (then pulumi import), "
                "or wait for the deletion"
            )
        elif ("Project", PROJECT_TAG) not in _tags(secret):
            problems.append(f"{name} exists and is not this project's: delete or rename it")
    if problems:
        return Check(SECRET_NAMES, False, "; ".join(problems))
    return Check(SECRET_NAMES, True, f"{len(names)} names free or this stack's")


def bucket_names(cfg: StackConfig, account_id: str, client: Any) -> Check:
    names = [n.name for n in aws_limits.planned_names(cfg, account_id) if n.rule == "s3-bucket"]
    taken = []
    for name in names:
        try:
            client.head_bucket(Bucket=name, ExpectedBucketOwner=account_id)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchBucket"):
                continue
            if _code(error) == "403":
                taken.append(name)
                continue
            raise
    if taken:
        return Check(
            BUCKET_NAMES,
            False,
            f"{', '.join(taken)} belong to another account: S3 names are global; choose "
            "another namePrefix",
        )
    return Check(BUCKET_NAMES, True, f"{len(names)} names free or this account's")


def _tags(item: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["Key"], t["Value"]) for t in item.get("Tags") or ()}


def _stack_tags(cfg: StackConfig) -> set[tuple[str, str]]:
    return {("Environment", cfg.environment), ("Component", "Network")}


def run_checks(cfg: StackConfig, account_id: str, client: Callable[[str], Any]) -> list[Check]:
    checks: tuple[tuple[str, Callable[[], Check]], ...] = (
        (LAMBDA_CONCURRENCY, lambda: lambda_concurrency(cfg, client("lambda"))),
        (ELASTIC_IPS, lambda: elastic_ips(cfg, client("ec2"))),
        (ZONES, lambda: availability_zones(cfg, client("ec2"))),
        (SECRET_NAMES, lambda: secret_names(cfg, account_id, client("secretsmanager"))),
        (BUCKET_NAMES, lambda: bucket_names(cfg, account_id, client("s3"))),
    )
    return [_guarded(name, check) for name, check in checks]


# The throttling codes of the APIs the checks call (Lambda, EC2, Secrets Manager, S3).
THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
     "SlowDown"}
)  # fmt: skip


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """A check AWS would not answer (a missing permission, a throttle) fails as one line: the
    account was not read, so nothing can be said to fit."""
    try:
        return check()
    except ClientError as error:
        code = _code(error)
        advice = "retry in a minute" if code in THROTTLED else "run as the deploying identity"
        return Check(name, False, f"{error.operation_name} failed with {code}: {advice}")
    except BotoCoreError as error:
        return Check(name, False, f"{type(error).__name__}: {error}")


def load(stack: str) -> StackConfig:
    if not (ROOT / f"Pulumi.{stack}.yaml").is_file():
        raise ConfigError(f"no stack file Pulumi.{stack}.yaml")
    config = stack_config(stack)
    raw = {k.removeprefix(f"{PROJECT}:"): v for k, v in config.items() if k.startswith(PROJECT)}
    return parse(raw, project=PROJECT, stack=stack, region=config.get("aws:region"))


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.preflight",
        description="Read-only account checks before the first pulumi up of a stack.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("stack", help="stack name: Pulumi.<stack>.yaml is read")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.stack)
    except ConfigError as error:
        print(f"tools.preflight: {error}", file=sys.stderr)
        return 2
    if session is None:
        import boto3

        session = boto3.Session(region_name=cfg.region)
    try:
        account_id = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        print(
            f"tools.preflight: no AWS identity to read the account with: {error}", file=sys.stderr
        )
        return 2
    checks = run_checks(cfg, account_id, session.client)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
