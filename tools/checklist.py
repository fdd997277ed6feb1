"""The pre-production checklist, judged from what the program registers.

Each automated item is a function over the mocked run (and the policy violations already found)
that returns pass or fail with the reason; the items a program cannot prove (MFA, restore
tests, sign-off, ...) are listed as manual with who or what covers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from policy import rules
from tools.mock_program import PROJECT, ROOT, ProgramRun, Resource

Status = Literal["pass", "fail", "warn", "manual"]

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

# CIS patterns (shared/spec/cis-metric-filters.md) of the four alarms 001 section 3.2 names.
SECURITY_ALARMS = {
    "Unauthorized API calls": '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
    "Root account usage": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
    "IAM policy changes": "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}",
    "KMS key changes": "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
}
# 001 section 1.2 names the tables by role; our names are {prefix}-{role}-{stack}.
REQUIRED_TABLES = ("fp-events", "consent", "block-counter")
TTL_TABLES = ("consent", "block-counter")
BACKUP_RULES = {"daily": 7, "weekly": 30, "monthly": 90}
WORKFLOWS = ("test.yml", "preview.yml", "deploy.yml")

MANUAL: tuple[tuple[str, str, str], ...] = (
    (
        "1.1",
        "State backend: bucket, locking, encryption, restricted access",
        "bootstrap/ creates it; confirm `pulumi login` points at it",
    ),
    (
        "2.1",
        "OIDC provider, least-privilege preview and deploy roles, no long-lived keys",
        "bootstrap/ creates them; confirm in IAM that no access keys exist",
    ),
    ("2.1", "MFA enforced for console access", "account setting, checked by a person"),
    (
        "3.3",
        "Sensitive data redacted in logs",
        "the Lambda tests cover anonymisation; review a day of real logs",
    ),
    ("4.2", "Cross-region replication (optional)", "decide per bucket"),
    (
        "4.3",
        "PITR restore, backup restore tested; recovery time documented",
        "run the backup runbook against staging",
    ),
    (
        "5.1",
        "Unit, integration and E2E tests pass",
        "CI (`./scripts/check`) and the E2E run against staging",
    ),
    (
        "5.2",
        "Performance targets (redaction <5 ms, write <100 ms, workflow <500 ms), load test",
        "the ingestion benchmark",
    ),
    ("5.3", "Dependency audit, infrastructure security audit", "audit tools and a reviewer"),
    (
        "6",
        "Runbooks, README, API docs, architecture diagrams current",
        "docs/ reviewed by the on-call team",
    ),
    ("7.1", "E2E and security-scan workflows; OIDC role permissions", "reviewed with bootstrap/"),
    (
        "7.2",
        "main protected: PR reviews and status checks required; production environment reviewers",
        "GitHub settings",
    ),
    (
        "8.1",
        "PII redaction functioning; right-to-deletion process documented",
        "Lambda tests and docs",
    ),
    ("8.2", "User actions attributable", "SSO identities in CloudTrail, checked by a person"),
    (
        "9",
        "Change ticket, rollback plan, on-call, low-traffic window, smoke tests, 24 h watch, sign-off",
        "release manager",
    ),
)


@dataclass(frozen=True)
class Item:
    section: str
    title: str
    status: Status
    reason: str


Verdict = tuple[bool, str]


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


def kms_rotation(f: Facts) -> Verdict:
    keys = f.of(KMS_KEY)
    return _none_failing(f.violated("kms-key-rotation"), "KMS keys", len(keys))


def session_duration(f: Facts) -> Verdict:
    long = [r.name for r in f.of(IAM_ROLE) if float(val(r, "maxSessionDuration") or 3600) > 3600]
    return (not long, f"roles over 1 h: {long}" if long else "every role at most 3600 s")


def dynamodb_kms(f: Facts) -> Verdict:
    found = f.violated("encryption-with-customer-managed-keys", DYNAMODB_TABLE)
    return _none_failing(found, "tables", len(f.of(DYNAMODB_TABLE)))


def _bucket_controls(f: Facts, what: str, policy: str, *types: str) -> Verdict:
    buckets = f.of(*rules.BUCKET_TYPES)
    found = [v for v in f.violated("s3-bucket-controls-present") if what in v.message]
    found += f.violated(policy, *types) if policy else []
    return _none_failing(found, "buckets", len(buckets))


def s3_kms(f: Facts) -> Verdict:
    types = rules.BUCKET_COMPANIONS["KMS encryption configuration"]
    return _bucket_controls(f, "KMS encryption", "encryption-with-customer-managed-keys", *types)


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


def public_access_blocked(f: Facts) -> Verdict:
    return _bucket_controls(f, "public access block", "s3-public-access-block", PUBLIC_ACCESS_BLOCK)


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


def vpc_endpoints(f: Facts) -> Verdict:
    if not f.of("aws:ec2/vpc:Vpc"):
        return True, "no VPC in the program"
    endpoints = f.of("aws:ec2/vpcEndpoint:VpcEndpoint")
    return (
        bool(endpoints),
        f"{len(endpoints)} VPC endpoints" if endpoints else "a VPC without endpoints",
    )


def _trail(flag: str, label: str, default: bool = False) -> Callable[[Facts], Verdict]:
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


def dashboard(f: Facts) -> Verdict:
    boards = names(f.of("aws:cloudwatch/dashboard:Dashboard"), "dashboardName")
    return (bool(boards), f"dashboards: {boards}" if boards else "no dashboard")


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


def app_logs(f: Facts) -> Verdict:
    functions = f.of(LAMBDA)
    return _none_failing(f.violated("lambda-log-groups-managed"), "functions", len(functions))


def retention(f: Facts) -> Verdict:
    groups = f.of(LOG_GROUP)
    return _none_failing(f.violated("log-retention-set"), "log groups", len(groups))


def pitr(f: Facts) -> Verdict:
    tables = f.of(DYNAMODB_TABLE)
    return _none_failing(f.violated("dynamodb-point-in-time-recovery"), "tables", len(tables))


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


def versioning(f: Facts) -> Verdict:
    return _bucket_controls(
        f, "versioning", "s3-versioning", *rules.BUCKET_COMPANIONS["versioning"]
    )


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


AUTOMATED: tuple[tuple[str, str, Callable[[Facts], Verdict]], ...] = (
    ("1.2", "DynamoDB tables created (fp-events, consent, block-counter)", tables_created),
    ("1.2", "Redaction nonce / HMAC salt stored encrypted", salt_secret),
    ("1.2", "S3 buckets created (baselines, cloudtrail)", buckets_created),
    ("1.2", "KMS keys provisioned and rotation enabled", kms_rotation),
    ("2.1", "Session duration <= 1 hour", session_duration),
    ("2.2", "DynamoDB encryption enabled (KMS)", dynamodb_kms),
    ("2.2", "S3 encryption enabled (KMS)", s3_kms),
    ("2.2", "SSM parameters stored as SecureString", ssm_secure),
    ("2.2", "TLS 1.2+ enforced for all connections", tls_everywhere),
    ("2.3", "S3 public access blocked", public_access_blocked),
    ("2.3", "No publicly accessible resources", nothing_public),
    ("2.3", "VPC endpoints configured", vpc_endpoints),
    ("3.1", "CloudTrail enabled and logging", _trail("enableLogging", "logging", default=True)),
    ("3.1", "Multi-region trail enabled", _trail("isMultiRegionTrail", "multi-region")),
    ("3.1", "Log file validation enabled", _trail("enableLogFileValidation", "validation")),
    ("3.1", "CloudTrail logs encrypted", _trail("kmsKeyId", "KMS")),
    ("3.1", "CloudTrail logs retained >= 90 days", trail_retention),
    ("3.2", "Dashboard created", dashboard),
    (
        "3.2",
        "Security alarms: unauthorized API calls, root usage, IAM policy and KMS key changes",
        security_alarms,
    ),
    ("3.2", "SNS topic for alerts", alert_topic),
    ("3.2", "Alert recipients configured", alert_recipients),
    ("3.3", "Application logs to CloudWatch", app_logs),
    ("3.3", "Log retention configured", retention),
    ("4.1", "Point-in-time recovery enabled", pitr),
    ("4.1", "Backup plan: daily 7 d, weekly 30 d, monthly 90 d", backup_plan),
    ("4.2", "S3 versioning enabled", versioning),
    ("4.2", "S3 lifecycle policies configured", lifecycle),
    ("7.1", "Infrastructure workflows configured", workflows),
    ("8.1", "Data retention enforced (TTL)", ttl),
    ("8.2", "All API calls logged (CloudTrail)", all_api_calls),
    (
        "8.2",
        "Logs tamper-protected (log file validation)",
        _trail("enableLogFileValidation", "validation"),
    ),
)


# Items that hang on an operator value (components/operator_values.py): a stack file in the
# repository cannot name the team's on-call address, so a preview warns and `pulumi up` of
# production refuses at program start instead.
OPERATOR_VALUE_ITEMS = frozenset({"Alert recipients configured"})


# What the account baseline answers (the trail, its bucket, the CIS alarms). It exists once per
# account, in the stack whose config sets accountBaseline true; another stack of the account
# points there instead of failing.
BASELINE_ITEMS = frozenset(
    {
        "S3 buckets created (baselines, cloudtrail)",
        "CloudTrail enabled and logging",
        "Multi-region trail enabled",
        "Log file validation enabled",
        "CloudTrail logs encrypted",
        "CloudTrail logs retained >= 90 days",
        "Security alarms: unauthorized API calls, root usage, IAM policy and KMS key changes",
        "All API calls logged (CloudTrail)",
        "Logs tamper-protected (log file validation)",
    }
)
ELSEWHERE = "the account baseline is the accountBaseline: true stack's: see that stack's report"


def evaluate(run: ProgramRun, violations: list[rules.Violation], root: Path = ROOT) -> list[Item]:
    facts = Facts(run, violations, root)
    holds_baseline = run.config.get(f"{PROJECT}:accountBaseline", "true") != "false"
    items = []
    for section, title, check in AUTOMATED:
        if title in BASELINE_ITEMS and not holds_baseline:
            items.append(Item(section, title, "manual", ELSEWHERE))
            continue
        ok, reason = check(facts)
        missed: Status = "warn" if title in OPERATOR_VALUE_ITEMS else "fail"
        items.append(Item(section, title, "pass" if ok else missed, reason))
    items += [Item(section, title, "manual", who) for section, title, who in MANUAL]
    return items
