"""Stack rules: ``resources -> (urn, message)`` over the whole stack (companions, references)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from policy.resource_rules import WORLD
from policy.values import UNKNOWN, Subject, Undecidable, get

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_COMPANIONS = {
    "public access block": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",),
    "versioning": (
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    ),
    "KMS encryption configuration": (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ),
    "TLS-only bucket policy": ("aws:s3/bucketPolicy:BucketPolicy",),
}
LB_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
# The ALB may come from the in-cluster load balancer controller, not this program: then its group
# is known by the naming rule's role (``{prefix}-lb-{stack}``, ``...-alb-...``).
LB_GROUP_NAME = re.compile(r"(^|-)a?lb(-|$)")


def refers_to(source: Subject, prop: str, target: Subject, *identities: str) -> bool | None:
    """``source.props[prop]`` points at ``target``: by the engine's property dependencies, or
    by value (the target's id or one of its ``identities`` props). ``None`` when that cannot be
    told: the value is unknown and no property dependencies were given."""
    if target.urn in source.property_dependencies.get(prop, ()):
        return True
    values = get(source.props, prop)
    values = values if isinstance(values, list) else [values]
    ids = {target.id, *(get(target.props, i) for i in identities)} - {None, "", UNKNOWN}
    if any(v in ids for v in values if v is not UNKNOWN and isinstance(v, str)):
        return True
    if UNKNOWN in values and prop not in source.property_dependencies:
        return None
    return False


def _found(matches: Iterable[bool | None], what: str) -> bool:
    """Any match; else, if some candidate could not be told, the rule cannot decide."""
    seen = list(matches)
    if True in seen:
        return True
    if None in seen:
        raise Undecidable(what)
    return False


def buckets_complete(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """Every bucket has its public access block, versioning, KMS encryption and TLS policy."""
    out = []
    for bucket in (r for r in resources if r.type in BUCKET_TYPES):
        for what, types in BUCKET_COMPANIONS.items():
            candidates = (r for r in resources if r.type in types)
            matches = (refers_to(r, "bucket", bucket, "bucket", "name") for r in candidates)
            if not _found(matches, f"the {what} of bucket {bucket.name}"):
                out.append((bucket.urn, f"bucket {bucket.name} has no {what}"))
    return out


def web_ingress_only_on_lb(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """80/443 from anywhere only into the load balancer's group: one a load balancer here uses,
    or one whose physical name has the role ``lb`` / ``alb``."""
    lbs = [r for r in resources if r.type in LB_TYPES]
    groups = [r for r in resources if r.type == "aws:ec2/securityGroup:SecurityGroup"]
    lb_groups = {
        g.urn
        for g in groups
        if any(refers_to(lb, "securityGroups", g, "arn") is True for lb in lbs)
        or LB_GROUP_NAME.search(str(get(g.props, "name") or ""))
    }
    out = []
    for r in resources:
        open_inline = r.type == "aws:ec2/securityGroup:SecurityGroup" and any(
            set(WORLD) & {*(get(e, "cidrBlocks") or []), *(get(e, "ipv6CidrBlocks") or [])}
            for e in get(r.props, "ingress") or []
            if isinstance(e, Mapping)
        )
        if open_inline and r.urn not in lb_groups:
            out.append(
                (r.urn, f"{r.name} allows ingress from anywhere but no load balancer uses it")
            )
        if r.type in (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:ec2/securityGroupRule:SecurityGroupRule",
        ):
            if r.type.endswith("SecurityGroupRule") and get(r.props, "type") != "ingress":
                continue
            world = {
                get(r.props, "cidrIpv4"),
                get(r.props, "cidrIpv6"),
                *(get(r.props, "cidrBlocks") or []),
                *(get(r.props, "ipv6CidrBlocks") or []),
            }
            if not set(WORLD) & world:
                continue
            into_lb = (
                refers_to(r, "securityGroupId", g, "arn") for g in groups if g.urn in lb_groups
            )
            if not _found(into_lb, f"{r.name}.securityGroupId"):
                out.append(
                    (
                        r.urn,
                        f"{r.name} opens a security group to anywhere that no load balancer uses",
                    )
                )
    return out


def functions_have_log_groups(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """Every Lambda logs to a log group this program manages (so retention and KMS are set)."""
    groups = [r for r in resources if r.type == "aws:cloudwatch/logGroup:LogGroup"]
    names = {get(g.props, "name") for g in groups} - {None, UNKNOWN}
    out = []
    for fn in (r for r in resources if r.type == "aws:lambda/function:Function"):
        if any(refers_to(fn, "loggingConfig", g, "name", "arn") is True for g in groups):
            continue
        target = get(fn.props, "loggingConfig.logGroup")
        if target is None:
            name = get(fn.props, "name")
            target = UNKNOWN if name is UNKNOWN else f"/aws/lambda/{name}"
        if target is UNKNOWN:
            raise Undecidable(f"{fn.name}.loggingConfig.logGroup")
        if target not in names:
            out.append(
                (fn.urn, f"function {fn.name} logs to {target}, which no LogGroup here manages")
            )
    return out


LOGGING_TYPES = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")


def sse_s3_only_on_log_targets(resources: Sequence[Subject]) -> list[tuple[str, str]]:
    """A server access log target uses SSE-S3 ("Default server-side encryption with AWS KMS
    keys (SSE-KMS) is not supported", S3 user guide, "Enabling Amazon S3 server access
    logging"); every other bucket keeps SSE-KMS."""
    buckets = [r for r in resources if r.type in BUCKET_TYPES]
    configs = [r for r in resources if r.type in BUCKET_COMPANIONS["KMS encryption configuration"]]
    loggings = [r for r in resources if r.type in LOGGING_TYPES]
    out = []
    for bucket in buckets:
        target = any(refers_to(lg, "targetBucket", bucket, "bucket") is True for lg in loggings)
        for config in (c for c in configs if refers_to(c, "bucket", bucket, "bucket") is True):
            rules = get(config.props, "rules") or []
            algorithms = {
                get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm") for rule in rules
            }
            if target and algorithms != {"AES256"}:
                out.append(
                    (
                        bucket.urn,
                        f"bucket {bucket.name} receives server access logs: "
                        "its default encryption must be SSE-S3 (AES256), S3 refuses SSE-KMS there",
                    )
                )
            if not target and "AES256" in algorithms:
                out.append(
                    (
                        bucket.urn,
                        f"bucket {bucket.name} uses SSE-S3: only a server access log "
                        "target may, every other bucket uses a customer-managed key",
                    )
                )
    return out
