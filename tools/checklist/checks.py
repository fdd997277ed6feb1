"""How each automated checklist item is judged: a small function over the mocked run and the
policy findings, returning (passed, reason). Most are built from three shapes: "no violation of a
policy rule", "a bucket control present on every bucket", "a flag on every trail"; the rest check
one thing each. The items themselves, and their order, are data: tools/checklist/items.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy import rules
from testing.program import ROOT, ProgramRun, Resource

DYNAMODB_TABLE = "aws:dynamodb/table:Table"
SECRETS_MANAGER = "aws:secretsmanager/secret:Secret"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
TRAIL = "aws:cloudtrail/trail:Trail"
KMS_KEY = "aws:kms/key:Key"
IAM_ROLE = "aws:iam/role:Role"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LAMBDA = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)

# The CIS CloudWatch.1-14 patterns of the four security alarms the checklist names.
SECURITY_ALARMS = {
    "Unauthorized API calls": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    "Root account usage": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
    "IAM policy changes": "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}",
    "KMS key changes": "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
}
# The checklist names the tables by role; our names are {prefix}-{role}-{stack}.
REQUIRED_TABLES = ("fp-events", "consent", "block-counter")
TTL_TABLES = ("consent", "block-counter")
BACKUP_RULES = {"daily": 7, "weekly": 30, "monthly": 90}
WORKFLOWS = ("test.yml", "preview.yml", "deploy.yml")

Verdict = tuple[bool, str]
Check = Callable[["Facts"], Verdict]


@dataclass
class Facts:
    """The run and the policy findings, with the small look-ups the items share."""

    run: ProgramRun
    violations: list[rules.Violation]
    root: Path = ROOT

    def of(self, *types: str) -> list[Resource]:
        return [r for r in self.run.resources if r.type in types]

    def violated(self, policy: str, *types: str) -> list[rules.Violation]:
        urns = {r.urn for r in self.of(*types)} if types else None
        return [
            v
            for v in self.violations
            if v.policy == policy and (urns is None or v.urn in urns or not v.urn)
        ]

    def subjects(self) -> list[rules.Subject]:
        return [subject(r) for r in self.run.resources]


def subject(r: Resource) -> rules.Subject:
    return rules.Subject(
        type=r.type,
        name=r.name,
        urn=r.urn,
        props=rules.plain({**r.outputs, **r.inputs}),
        id=r.id or None,
    )


def val(r: Resource, path: str) -> Any:
    return rules.get(rules.plain(r.inputs), path)


def names(resources: Iterable[Resource], prop: str = "name") -> list[str]:
    return [str(val(r, prop)) for r in resources]


def no_violations(policy: str, what: str, *types: str) -> Check:
    """Every resource of ``types`` passes the policy rule ``policy`` (and there is one)."""

    def check(f: Facts) -> Verdict:
        return _none_failing(f.violated(policy, *types), what, len(f.of(*types)))

    return check


def bucket_control(what: str, policy: str, *types: str) -> Check:
    """Every bucket has the control ``what`` (and its companion resources pass ``policy``)."""

    def check(f: Facts) -> Verdict:
        found = [v for v in f.violated("s3-bucket-controls-present") if what in v.message]
        found += f.violated(policy, *types)
        return _none_failing(found, "buckets", len(f.of(*rules.BUCKET_TYPES)))

    return check


def present(type_: str, what: str, prop: str = "name") -> Check:
    """At least one resource of ``type_``."""

    def check(f: Facts) -> Verdict:
        found = names(f.of(type_), prop)
        return (bool(found), f"{what}: {found}" if found else f"no {what}")

    return check


def _none_failing(found: list[rules.Violation], what: str, count: int) -> Verdict:
    if count == 0:
        return False, f"no {what} in the program"
    if found:
        return False, "; ".join(
            sorted({f"{v.urn.rsplit('::', 1)[-1]}: {v.message}" for v in found})[:3]
        )
    return True, f"{count} {what}, all compliant"


def tables_created(f: Facts) -> Verdict:
    tables = names(f.of(DYNAMODB_TABLE))
    missing = [role for role in REQUIRED_TABLES if not any(f"-{role}" in t for t in tables)]
    return (not missing, f"missing {missing}" if missing else "tables: " + ", ".join(tables))


def salt_secret(f: Facts) -> Verdict:
    found = [n for n in names(f.of(SECRETS_MANAGER)) if "salt" in n or "nonce" in n]
    found += [
        n
        for r in f.of(SSM_PARAMETER)
        if val(r, "type") == "SecureString"
        and ("nonce" in (n := str(val(r, "name"))) or "salt" in n)
    ]
    return (bool(found), f"the redaction salt: {found}" if found else "no salt/nonce secret")


def buckets_created(f: Facts) -> Verdict:
    buckets = names(f.of(*rules.BUCKET_TYPES), "bucket")
    trails = {str(val(t, "s3BucketName")) for t in f.of(TRAIL)}
    missing = [] if any("baselines" in b for b in buckets) else ["baselines"]
    missing += [] if trails & set(buckets) else ["cloudtrail (the trail's bucket)"]
    return (not missing, f"missing {missing}" if missing else "buckets: " + ", ".join(buckets))


def session_duration(f: Facts) -> Verdict:
    long = [r.name for r in f.of(IAM_ROLE) if float(val(r, "maxSessionDuration") or 3600) > 3600]
    return (not long, f"roles over 1 h: {long}" if long else "every role at most 3600 s")


def ssm_secure(f: Facts) -> Verdict:
    params = f.of(SSM_PARAMETER)
    plain_ones = [r.name for r in params if val(r, "type") != "SecureString"]
    if not params:
        return True, "no SSM parameters: secrets are in Secrets Manager with a CMK"
    return (not plain_ones, f"not SecureString: {plain_ones}" if plain_ones else "all SecureString")


def tls_everywhere(f: Facts) -> Verdict:
    problems = [v.message for v in f.violated("s3-tls-only")]
    problems += [v.message for v in f.violated("s3-bucket-controls-present") if "TLS" in v.message]
    problems += [
        f"{r.name}: transitEncryptionEnabled is off"
        for r in f.of(REPLICATION_GROUP)
        if val(r, "transitEncryptionEnabled") is not True
    ]
    rds = f.of("aws:rds/instance:Instance")
    forced = [
        r
        for r in f.of("aws:rds/parameterGroup:ParameterGroup")
        if any(
            p.get("name") == "rds.force_ssl" and str(p.get("value")) == "1"
            for p in val(r, "parameters") or []
        )
    ]
    if rds and not forced:
        problems.append("no RDS parameter group sets rds.force_ssl=1")
    return (
        not problems,
        "; ".join(problems[:3]) or "S3 TLS-only policies, Redis in transit, RDS force_ssl",
    )


def nothing_public(f: Facts) -> Verdict:
    found = f.violated("no-ingress-from-anywhere") + f.violated("web-ingress-only-on-load-balancer")
    found += [
        v for v in f.violated("rds-private-iam-auth-backups") if "publiclyAccessible" in v.message
    ]
    found += [
        v for v in f.violated("eks-private-logged-encrypted") if "endpointPublicAccess" in v.message
    ]
    if found:
        return False, "; ".join(v.message for v in found[:3])
    return (
        True,
        "no world ingress beyond 80/443 on the load balancer, RDS private, EKS endpoint private",
    )


def trail_flag(flag: str, label: str, default: bool = False) -> Check:
    """``flag`` on every trail (``default``: what an unset flag means)."""

    def check(f: Facts) -> Verdict:
        trails = f.of(TRAIL)
        if not trails:
            return False, "no CloudTrail trail in the program"
        off = [
            t.name
            for t in trails
            if val(t, flag) is False or (val(t, flag) is None and not default)
        ]
        return (not off, f"{label} off on {off}" if off else f"{label}: {names(trails)}")

    return check


def trail_retention(f: Facts) -> Verdict:
    trails = f.of(TRAIL)
    if not trails:
        return False, "no CloudTrail trail in the program"
    bucket_names = {str(val(t, "s3BucketName")) for t in trails}
    buckets = [b for b in f.of(*rules.BUCKET_TYPES) if val(b, "bucket") in bucket_names]
    ids = {b.id for b in buckets} | bucket_names
    lifecycles = [lc for lc in f.of(*LIFECYCLE_TYPES) if val(lc, "bucket") in ids]
    short = [
        int(float(days))
        for lc in lifecycles
        for rule in val(lc, "rules") or []
        if (days := rules.get(rule, "expiration.days")) is not None and float(days) < 90
    ]
    if not buckets:
        return False, "the trail's bucket is not in the program"
    if short:
        return False, f"trail logs expire after {short} days"
    return True, "trail logs kept at least 90 days"


def security_alarms(f: Facts) -> Verdict:
    filters = f.of("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    alarms = f.of(METRIC_ALARM)
    missing = []
    for label, pattern in SECURITY_ALARMS.items():
        metrics = [
            (val(m, "metricTransformation.name"), val(m, "metricTransformation.namespace"))
            for m in filters
            if val(m, "pattern") == pattern
        ]
        alarmed = any(
            (val(a, "metricName"), val(a, "namespace")) in metrics and val(a, "alarmActions")
            for a in alarms
        )
        if not alarmed:
            missing.append(label)
    return (not missing, f"missing {missing}" if missing else ", ".join(SECURITY_ALARMS))


def alert_topic(f: Facts) -> Verdict:
    topics = f.of("aws:sns/topic:Topic")
    silent = [a.name for a in f.of(METRIC_ALARM) if not val(a, "alarmActions")]
    if not topics:
        return False, "no SNS topic"
    return (not silent, f"alarms without actions: {silent}" if silent else f"{len(topics)} topics")


def alert_recipients(f: Facts) -> Verdict:
    subs = f.of("aws:sns/topicSubscription:TopicSubscription")
    if subs:
        return True, f"{len(subs)} subscriptions"
    return False, "no topic subscription: set the alert e-mail addresses in the stack config"


def backup_plan(f: Facts) -> Verdict:
    kept = {
        str(rules.get(rule, "ruleName")): rules.get(rule, "lifecycle.deleteAfter")
        for plan in f.of("aws:backup/plan:Plan")
        for rule in val(plan, "rules") or []
    }
    wrong = [n for n, days in BACKUP_RULES.items() if kept.get(n) is None or float(kept[n]) != days]
    selected = {
        str(a) for s in f.of("aws:backup/selection:Selection") for a in val(s, "resources") or []
    }
    unselected = [
        t.name
        for t in f.of(DYNAMODB_TABLE)
        if rules.get(rules.plain(t.outputs), "arn") not in selected
    ]
    if wrong or unselected:
        return False, f"rules wrong or missing: {wrong}; tables not selected: {unselected}"
    return True, "daily 7 d, weekly 30 d, monthly 90 d; every table selected"


def lifecycle(f: Facts) -> Verdict:
    subjects = f.subjects()
    buckets = [b for b in subjects if b.type in rules.BUCKET_TYPES]
    configs = [c for c in subjects if c.type in LIFECYCLE_TYPES]
    bare = [
        b.name
        for b in buckets
        if not any(rules.refers_to(c, "bucket", b, "bucket") is True for c in configs)
    ]
    if not buckets:
        return False, "no buckets in the program"
    return (
        not bare,
        f"no lifecycle on {bare}" if bare else f"{len(buckets)} buckets with lifecycle rules",
    )


def ttl(f: Facts) -> Verdict:
    tables = f.of(DYNAMODB_TABLE)
    missing = [
        role
        for role in TTL_TABLES
        if not any(
            f"-{role}" in str(val(t, "name")) and val(t, "ttl.enabled") is True for t in tables
        )
    ]
    return (not missing, f"no TTL on {missing}" if missing else "TTL on consent and block-counter")


def all_api_calls(f: Facts) -> Verdict:
    trails = f.of(TRAIL)
    good = [
        t.name
        for t in trails
        if val(t, "isMultiRegionTrail") is True
        and val(t, "includeGlobalServiceEvents") is not False
        and all(
            rules.get(s, "includeManagementEvents") is not False
            and rules.get(s, "readWriteType") in (None, "All")
            for s in val(t, "eventSelectors") or []
        )
    ]
    return (
        bool(good),
        f"management events, all regions: {good}" if good else "no trail logs every API call",
    )


def workflows(f: Facts) -> Verdict:
    missing = [w for w in WORKFLOWS if not (f.root / ".github" / "workflows" / w).is_file()]
    return (not missing, f"missing {missing}" if missing else "test, preview and deploy workflows")
