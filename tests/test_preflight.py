"""tools.preflight against an account that passes and one that fails each check.

botocore's Stubber answers with responses shaped as each API reference documents them: moto
answers Lambda GetAccountSettings with 404 and enforces no reservation limit, and cannot play a
bucket name held by another account. The Stubber also refuses any call not listed, which proves
the preflight makes read-only calls only.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber

from components.config import aws_limits
from tools import preflight

ACCOUNT = "111122223333"
OURS = [{"Key": "Project", "Value": "PhaseMirror"}]


class StubbedAccount:
    """A boto3 session stand-in: one stubbed client per service, every reply queued."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubs: dict[str, Stubber] = {}
        for service in ("sts", "lambda", "ec2", "secretsmanager", "s3"):
            client = boto3.client(
                service,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            self.clients[service], self.stubs[service] = client, Stubber(client)
            self.stubs[service].activate()
        self.stubs["sts"].add_response(
            "get_caller_identity",
            {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:role/deploy", "UserId": "AROA"},
        )

    def client(self, service: str) -> Any:
        return self.clients[service]

    def lambda_(self, total: int, unreserved: int, own: dict[str, int] | None = None) -> None:
        stub = self.stubs["lambda"]
        stub.add_response(
            "get_account_settings",
            {
                "AccountLimit": {
                    "ConcurrentExecutions": total,
                    "UnreservedConcurrentExecutions": unreserved,
                },
                "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
            },
        )
        for role in aws_limits.function_reservations(preflight.load("staging")):
            name = f"phase-mirror-{role}-staging"
            if own and role in own:
                stub.add_response(
                    "get_function_concurrency",
                    {"ReservedConcurrentExecutions": own[role]},
                    {"FunctionName": name},
                )
            else:
                stub.add_client_error(
                    "get_function_concurrency", "ResourceNotFoundException", http_status_code=404
                )

    def ec2(self, quota: int, addresses: list[dict[str, Any]], zone_ids: list[str]) -> None:
        stub = self.stubs["ec2"]
        stub.add_response(
            "describe_account_attributes",
            {
                "AccountAttributes": [
                    {
                        "AttributeName": "vpc-max-elastic-ips",
                        "AttributeValues": [{"AttributeValue": str(quota)}],
                    }
                ]
            },
        )
        stub.add_response("describe_addresses", {"Addresses": addresses})
        zones = [
            {"ZoneName": f"us-east-1{'abcdef'[i]}", "ZoneId": z, "State": "available"}
            for i, z in enumerate(zone_ids)
        ]
        stub.add_response("describe_availability_zones", {"AvailabilityZones": zones})

    def secrets(self, replies: list[dict[str, Any] | None]) -> None:
        for reply in replies:
            if reply is None:
                self.stubs["secretsmanager"].add_client_error(
                    "describe_secret", "ResourceNotFoundException", http_status_code=400
                )
            else:
                self.stubs["secretsmanager"].add_response("describe_secret", reply)

    def buckets(self, statuses: list[int]) -> None:
        for status in statuses:
            if status == 200:
                self.stubs["s3"].add_response("head_bucket", {})
            else:
                self.stubs["s3"].add_client_error(
                    "head_bucket", str(status), http_status_code=status
                )


def healthy() -> StubbedAccount:
    account = StubbedAccount()
    account.lambda_(total=1000, unreserved=1000)
    account.ec2(quota=5, addresses=[], zone_ids=["use1-az1", "use1-az2", "use1-az4"])
    account.secrets([None])
    account.buckets([404, 404])
    return account


def test_an_account_that_meets_the_stacks_needs_passes(capsys):
    account = healthy()
    assert preflight.main(["staging"], session=account) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith("ok") for line in lines), lines
    for stub in account.stubs.values():
        stub.assert_no_pending_responses()


def test_a_new_account_with_ten_concurrent_executions_fails_the_lambda_check(capsys):
    account = StubbedAccount()
    account.lambda_(total=10, unreserved=10)
    account.ec2(quota=5, addresses=[], zone_ids=["use1-az1", "use1-az2", "use1-az4"])
    account.secrets([None])
    account.buckets([404, 404])
    assert preflight.main(["staging"], session=account) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "Lambda" in x)
    need = sum(aws_limits.reserved_concurrency(preflight.load("staging")).values())
    # 10 - 100 can be reserved: the account is short by the whole need plus 90
    assert line.startswith("FAIL") and f"reserves {need}" in line
    assert f"short by {need + 90}" in line
    assert "Service Quotas" in line


def test_a_redeploy_counts_its_own_reservations_as_available():
    config = preflight.load("staging")
    account = StubbedAccount()
    own = {role: n for role, (_, n) in aws_limits.function_reservations(config).items()}
    # 900 reserved elsewhere would leave nothing, but some of them are this stack's own
    account.lambda_(total=1000, unreserved=100 + sum(own.values()), own=own)
    check = preflight.lambda_concurrency(config, account.client("lambda"))
    assert check.ok, check.line()


def test_elastic_ips_in_use_fail_the_nat_check_and_own_ones_count_as_free():
    config = preflight.load("production")  # three NAT gateways
    someone_else = [
        {"AllocationId": f"eipalloc-{i}", "PublicIp": f"198.51.100.{i}"} for i in range(3)
    ]
    account = StubbedAccount()
    account.ec2(quota=5, addresses=someone_else, zone_ids=["use1-az1"])
    check = preflight.elastic_ips(config, account.client("ec2"))
    assert not check.ok and "need 3; 2 available" in check.detail and "short by 1" in check.detail
    ours = [
        {"AllocationId": "eipalloc-9", "Tags": [*OURS, {"Key": "Environment", "Value": "production"},
                                               {"Key": "Component", "Value": "Network"}]},
    ]  # fmt: skip
    account = StubbedAccount()
    account.ec2(quota=5, addresses=someone_else[:2] + ours, zone_ids=["use1-az1"])
    assert preflight.elastic_ips(config, account.client("ec2")).ok


def test_too_few_zones_outside_the_eks_unsupported_ids_fail():
    config = preflight.load("production")
    account = StubbedAccount()
    account.ec2(quota=5, addresses=[], zone_ids=["use1-az3", "use1-az1", "use1-az2"])
    preflight.elastic_ips(config, account.client("ec2"))
    check = preflight.availability_zones(config, account.client("ec2"))
    assert not check.ok and "set availabilityZones to 2" in check.detail


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        ({"Name": "x", "DeletedDate": "2026-01-01T00:00:00Z", "Tags": OURS}, "restore-secret"),
        ({"Name": "x"}, "not this project's"),
    ],
)
def test_a_secret_name_still_taken_fails(reply, fragment):
    account = StubbedAccount()
    account.secrets([reply])
    check = preflight.secret_names(
        preflight.load("staging"), ACCOUNT, account.client("secretsmanager")
    )
    assert not check.ok and fragment in check.detail


def test_a_bucket_name_held_by_another_account_fails_and_our_own_passes():
    config = preflight.load("staging")
    account = StubbedAccount()
    account.buckets([200, 403])
    check = preflight.bucket_names(config, ACCOUNT, account.client("s3"))
    assert not check.ok and "baselines" in check.detail and "another account" in check.detail


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit) as exited:
        preflight.main(["--help"])
    assert exited.value.code == 0 and "python -m tools.preflight staging" in capsys.readouterr().out


def test_an_unknown_stack_is_one_line_and_exit_2(capsys):
    assert preflight.main(["prod"], session=object()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Pulumi.prod.yaml" in err


def test_a_call_the_identity_may_not_make_fails_that_check_as_one_line(capsys):
    # GIVEN an identity without lambda:GetAccountSettings, the rest of the account healthy
    account = StubbedAccount()
    account.stubs["lambda"].add_client_error(
        "get_account_settings", "AccessDeniedException", http_status_code=403
    )
    account.ec2(quota=5, addresses=[], zone_ids=["use1-az1", "use1-az2", "use1-az4"])
    account.secrets([None])
    account.buckets([404, 404])
    # WHEN the preflight runs
    code = preflight.main(["staging"], session=account)
    # THEN that check fails on one line naming the call, the others still run, exit 1
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == (
        "FAIL Lambda reserved concurrency: GetAccountSettings failed with"
        " AccessDeniedException: run as the deploying identity"
    )
    assert [line.split(":")[0] for line in lines[1:]] == [
        "ok   Elastic IP addresses",
        "ok   Availability zones",
        "ok   Secret names",
        "ok   Bucket names",
    ]


def test_a_throttled_call_fails_its_check_with_advice_to_retry(capsys):
    account = StubbedAccount()
    account.lambda_(total=1000, unreserved=1000)
    account.stubs["ec2"].add_client_error(
        "describe_account_attributes", "RequestLimitExceeded", http_status_code=503
    )
    account.stubs["ec2"].add_response(
        "describe_availability_zones",
        {"AvailabilityZones": [
            {"ZoneName": f"us-east-1{c}", "ZoneId": z, "State": "available"}
            for c, z in zip("abc", ("use1-az1", "use1-az2", "use1-az4"), strict=True)
        ]},
    )  # fmt: skip
    account.secrets([None])
    account.buckets([404, 404])
    assert preflight.main(["staging"], session=account) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "FAIL Elastic IP addresses: DescribeAccountAttributes failed with RequestLimitExceeded:"
        " retry in a minute"
    )


def test_no_credentials_is_one_line_and_exit_2(capsys):
    class NoCredentials:
        """What boto3 does on a machine with no profile, role or environment keys."""

        def client(self, service: str) -> Any:
            class Client:
                def get_caller_identity(self) -> dict[str, str]:
                    raise NoCredentialsError()

            return Client()

    code = preflight.main(["staging"], session=NoCredentials())
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (
        "tools.preflight: no AWS identity to read the account with: Unable to locate credentials\n"
    )
    assert captured.out == ""
