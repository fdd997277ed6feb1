"""The mocks the program runs against offline: AWS-shaped outputs for each registered resource,
answers to the invokes the program makes (and a loud failure for any other), and a monitor that
records each registration with its parent, provider and options.

ARNs follow AWS's formats for account ``ACCOUNT_ID`` (moto's default account), so a policy the
program builds can be evaluated by moto unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings

ACCOUNT_ID = "123456789012"
# us-east-1's zone names as one real account maps them: names map to zone ids per account, and
# here us-east-1c is use1-az3, where EKS places no cluster subnet (EKS user guide, cluster
# subnet requirements). ``zone_map`` gives another account's mapping.
ZONE_MAP: dict[str, str] = {
    "us-east-1a": "use1-az1",
    "us-east-1b": "use1-az2",
    "us-east-1c": "use1-az3",
    "us-east-1d": "use1-az4",
    "us-east-1e": "use1-az5",
    "us-east-1f": "use1-az6",
}


class UnknownInvoke(Exception):
    """The program made an invoke the mocks do not answer: add it here on purpose."""


def _arn(type_: str, name: str, inputs: Mapping[str, Any], region: str) -> str | None:
    physical = inputs.get("name") or name
    acct = ACCOUNT_ID
    match type_:
        case "aws:dynamodb/table:Table":
            return f"arn:aws:dynamodb:{region}:{acct}:table/{physical}"
        case "aws:kms/key:Key":
            return f"arn:aws:kms:{region}:{acct}:key/{_uuid(name)}"
        case "aws:secretsmanager/secret:Secret":
            return f"arn:aws:secretsmanager:{region}:{acct}:secret:{physical}-AbCdEf"
        case "aws:iam/role:Role":
            return f"arn:aws:iam::{acct}:role/{physical}"
        case "aws:iam/policy:Policy":
            return f"arn:aws:iam::{acct}:policy/{physical}"
        case "aws:lambda/function:Function":
            return f"arn:aws:lambda:{region}:{acct}:function:{physical}"
        case "aws:sns/topic:Topic":
            return f"arn:aws:sns:{region}:{acct}:{physical}"
        case "aws:s3/bucket:Bucket" | "aws:s3/bucketV2:BucketV2":
            return f"arn:aws:s3:::{inputs.get('bucket') or physical}"
        case "aws:cloudwatch/logGroup:LogGroup":
            return f"arn:aws:logs:{region}:{acct}:log-group:{physical}"
        case "aws:rds/instance:Instance":
            return f"arn:aws:rds:{region}:{acct}:db:{inputs.get('identifier') or name}"
        case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(inputs.get("url", physical)).removeprefix("https://")
            return f"arn:aws:iam::{acct}:oidc-provider/{host}"
    if type_.startswith("aws:"):
        service = type_.split(":")[1].split("/")[0]
        return f"arn:aws:{service}:{region}:{acct}:{type_.rsplit(':', 1)[1].lower()}/{physical}"
    return None


def _uuid(seed: str) -> str:
    return str(uuid.UUID(hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()))


class PhaseMirrorMocks(pulumi_mocks.Mocks):
    """Answers resource registrations with AWS-shaped outputs and the invokes the program uses.

    An invoke it does not know raises ``UnknownInvoke`` so a new data source is noticed.
    """

    def __init__(
        self, region: str, *, unknowns: bool = False, zone_map: Mapping[str, str] | None = None
    ) -> None:
        self.region = region
        self.unknowns = unknowns
        self.zone_map = dict(zone_map) if zone_map is not None else zones_of(region)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.unknowns:
            # Like the engine previewing a create: inputs echo back, the id and every computed
            # output (arn, keyId, ...) stay unknown, so ``apply`` callbacks on them never run.
            return "", inputs
        outputs: dict[str, Any] = {**inputs}
        arn = _arn(args.typ, args.name, inputs, self.region)
        if arn:
            outputs.setdefault("arn", arn)
        if args.typ.startswith("aws:") and "name" not in outputs:
            outputs["name"] = args.name
        resource_id = f"{args.name}-id"
        match args.typ:
            case "aws:kms/key:Key":
                resource_id = _uuid(args.name)
                outputs["keyId"] = resource_id
            case "aws:secretsmanager/secret:Secret":
                resource_id = arn or resource_id
            case "aws:dynamodb/table:Table" | "aws:iam/role:Role":
                resource_id = outputs["name"]
            case "aws:apigatewayv2/api:Api":
                api_id = f"{args.name}-id"
                outputs["executionArn"] = f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{api_id}"
                outputs["apiEndpoint"] = f"https://{api_id}.execute-api.{self.region}.amazonaws.com"
            case "aws:rds/instance:Instance":
                host = f"{inputs.get('identifier')}.abcdefghijkl.{self.region}.rds.amazonaws.com"
                outputs["address"] = host
                outputs["endpoint"] = f"{host}:{int(inputs.get('port', 5432))}"
            case "aws:elasticache/replicationGroup:ReplicationGroup":
                group = inputs.get("replicationGroupId")
                outputs["primaryEndpointAddress"] = (
                    f"master.{group}.abc123.use1.cache.amazonaws.com"
                )
            case "eks:index:Cluster":
                # A remote component: its children never exist under mocks, so answer the
                # outputs the program reads (EKS's own cluster security group, the OIDC ARN).
                # Inputs are not echoed: resource references among them would be rehydrated.
                outputs = {"name": inputs.get("name")}
                outputs["clusterSecurityGroupId"] = "sg-0eks0cluster0mock"
                outputs["oidcProviderArn"] = (
                    f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.{self.region}"
                    ".amazonaws.com/id/MOCK"
                )
            case "eks:index:ManagedNodeGroup":
                outputs = {}
            case "aws:lambda/function:Function":
                outputs["invokeArn"] = (
                    f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
                    f"{arn}/invocations"
                )
            case "random:index/randomBytes:RandomBytes":
                outputs["base64"] = "bW9jay1zYWx0LW5vdC1yZWFsLW1vY2stc2FsdC0wMDA="
                outputs["hex"] = "00" * int(inputs.get("length", 32))
            case "random:index/randomPassword:RandomPassword":
                outputs["result"] = "mock-password-not-real"
        return resource_id, outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        # Answers must be camelCase, as the provider's are (pulumi/pulumi#4774).
        match args.token:
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "accountId": ACCOUNT_ID,
                    "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
                    "userId": "AIDAMOCK",
                    "id": ACCOUNT_ID,
                }
            case "aws:index/getRegion:getRegion":
                return {"name": self.region, "region": self.region, "id": self.region}
            case "aws:index/getPartition:getPartition":
                return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                # AWS's order kept; excluded ids (and names) dropped, as the API does.
                excluded = set(args.args.get("excludeZoneIds") or ())
                excluded_names = set(args.args.get("excludeNames") or ())
                zones = [
                    (name, zone_id)
                    for name, zone_id in self.zone_map.items()
                    if zone_id not in excluded and name not in excluded_names
                ]
                return {
                    "names": [name for name, _ in zones],
                    "zoneIds": [zone_id for _, zone_id in zones],
                    "id": self.region,
                }
        raise UnknownInvoke(f"the mocks do not answer invoke {args.token} ({args.args})")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, also keeping each request's parent, provider and options."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine's URN: the parent's whole type chain, and no root-stack prefix
        # (``Comp$aws:...`` nested as ``Outer$Comp$aws:...``). The stock mock keeps only the
        # parent's last type, which would hide a grandchild's URN change from the snapshot.
        parent_type = parent.split("::")[2] if parent else ""
        if parent_type and parent_type != "pulumi:pulumi:Stack":
            type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join(
            [settings.get_stack(), settings.get_project(), type_, name]
        )

    def RegisterResource(self, request: Any) -> Any:
        with _references_as_ids():
            response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.requests[response.urn] = request
        return response


def zones_of(region: str) -> dict[str, str]:
    if region == "us-east-1":
        return dict(ZONE_MAP)
    # AWS's zone-id scheme: eu-west-1 -> euw1, ap-southeast-2 -> apse2.
    geo, direction, number = region.split("-")[-3:]
    short = {"northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}
    code = f"{geo}{short.get(direction, direction[0])}{number}"
    return {f"{region}{z}": f"{code}-az{i + 1}" for i, z in enumerate("abcd")}


@contextlib.contextmanager
def _references_as_ids() -> Iterator[None]:
    """Read resource references among inputs (a role given to eks.Cluster) as their id or URN.

    The SDK would rebuild the referenced resource on the monitor's thread, in another event
    loop than the program's, and the run then fails with "attached to a different loop".
    """
    from pulumi.runtime import rpc

    original = rpc.get_resource_module
    rpc.get_resource_module = lambda *_args: None  # type: ignore[assignment]
    try:
        yield
    finally:
        rpc.get_resource_module = original
