"""Observability and AuditTrail: the alert topics and their policies, the trail, the CIS filters.

One module over 400 lines: the fourteen CIS controls are checked one by one on the trail's log
group, over the same mocked runs as the topics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from components.config import AlertSettings, ConfigError
from components.observability.cis_controls import CIS_CONTROLS
from components.observability.observability import SEVERITIES, recipients
from testing.program import ACCOUNT_ID, ProgramRun, Resource, run_program

P = "phase-mirror-infra:"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
CIS_FILE = Path(__file__).parent / "data" / "cis-metric-filters.md"


CLOUDTRAIL = "cloudtrail.amazonaws.com"


def policy(resource: Resource, field: str = "policy") -> dict:
    value = resource.inputs[field]
    return json.loads(value) if isinstance(value, str) else value


def statement(document: dict, sid: str) -> dict:
    found = [s for s in document["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid!r} in {document}"
    return found[0]


def topic(run: ProgramRun, severity: str) -> Resource:
    return run.one(TOPIC, f"observability-{severity}-topic")


def critical_arn(run: ProgramRun) -> str:
    return topic(run, "critical").outputs["arn"]


# --- alert topics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_topic_is_named_per_stack_and_encrypted_with_the_alert_key(program, severity):
    key = program.one("aws:kms/key:Key", "observability-alert-key")
    resource = topic(program, severity)
    assert resource.inputs["name"] == f"phase-mirror-{severity}-alerts-{program.stack}"
    assert resource.inputs["kmsMasterKeyId"] == key.outputs["arn"], resource.urn
    assert key.inputs["enableKeyRotation"] is True, key.urn


def test_alert_key_lets_cloudwatch_and_eventbridge_publish_encrypted(program):
    key = program.one("aws:kms/key:Key", "observability-alert-key")
    services = statement(policy(key), "AlarmsAndRulesPublishToEncryptedTopics")
    assert services["Effect"] == "Allow"
    assert sorted(services["Principal"]["Service"]) == [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
    ], key.urn
    assert services["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"], key.urn
    # Only for the stack's own two topics (SNS's encryption context names the topic).
    topics = sorted(topic(program, severity).outputs["arn"] for severity in SEVERITIES)
    context = services["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"]
    assert sorted(context) == topics, key.urn
    # Nobody else but the account's own administration (tests/test_key_policies.py).
    others = [s for s in policy(key)["Statement"] if s["Sid"] != services["Sid"]]
    assert {json.dumps(s["Principal"]) for s in others} == {
        json.dumps({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"})
    }, key.urn


@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_topic_policy_lets_only_this_accounts_alarms_and_rules_publish(program, severity):
    arn = topic(program, severity).outputs["arn"]
    resource = program.one(
        "aws:sns/topicPolicy:TopicPolicy", f"observability-{severity}-topic-policy"
    )
    assert resource.inputs["arn"] == arn
    document = policy(resource)
    region = program.config["aws:region"]
    for sid, service, source in (
        (
            "CloudWatchAlarmsPublish",
            "cloudwatch",
            f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:*",
        ),
        ("EventBridgeRulesPublish", "events", f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/*"),
    ):
        publish = statement(document, sid)
        assert publish["Principal"] == {"Service": f"{service}.amazonaws.com"}, resource.urn
        assert (publish["Action"], publish["Resource"]) == ("sns:Publish", arn), resource.urn
        assert publish["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": source},
        }, resource.urn
    deny = statement(document, "DenyInsecureTransport")
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    for s in document["Statement"]:
        if s["Effect"] == "Allow":
            assert s["Principal"] != "*" and s["Resource"] == arn, f"{resource.urn}: {s}"


def test_recipients_merge_the_shared_list_with_each_topics_own_without_duplicates():
    alerts = AlertSettings(
        alarm_emails=("team@example.com",),
        critical_emails=("pager@example.com", "team@example.com"),
        warning_emails=("chat@example.com",),
    )
    assert recipients(alerts, "critical") == ["team@example.com", "pager@example.com"]
    assert recipients(alerts, "warning") == ["team@example.com", "chat@example.com"]


def test_email_subscriptions_follow_the_config():
    # GIVEN a shared address and a pager address for critical alerts only
    run = run_program(
        "staging",
        overrides={
            f"{P}alarmEmails": ["team@example.com"],
            f"{P}criticalAlarmEmails": ["pager@example.com"],
        },
    )
    # THEN critical has both, warning only the shared one, each by email
    subscribed: dict[str, set[str]] = {}
    arns = {topic(run, s).outputs["arn"]: s for s in ("critical", "warning")}
    for sub in run.of_type("aws:sns/topicSubscription:TopicSubscription"):
        assert sub.inputs["protocol"] == "email", sub.urn
        subscribed.setdefault(arns[sub.inputs["topic"]], set()).add(sub.inputs["endpoint"])
    assert subscribed == {
        "critical": {"team@example.com", "pager@example.com"},
        "warning": {"team@example.com"},
    }


# --- the account baseline: once per account -----------------------------------------------------

BASELINE_TYPES = (
    "aws:cloudtrail/trail:Trail",
    "aws:s3/bucket:Bucket",
    "aws:cloudwatch/logGroup:LogGroup",
    FILTER,
    ALARM,
    "aws:kms/key:Key",
)


def baseline_resources(run: ProgramRun) -> list[Resource]:
    return [r for r in run if r.component_type == "phase-mirror:index:AuditTrail"]


@pytest.fixture(
    scope="module",
    params=["production", "production-preview", "staging-own-account"],
)
def baseline(request: pytest.FixtureRequest) -> ProgramRun:
    """The stacks that hold the account baseline: production (update and preview), and staging
    as it would run in an account of its own (no protection, shorter retention)."""
    from tests.conftest import preview_run

    if request.param == "production-preview":
        return preview_run("production")
    if request.param == "staging-own-account":
        return run_program("staging", overrides={f"{P}accountBaseline": True})
    return request.getfixturevalue("production")


def test_the_two_stack_files_create_the_account_baseline_exactly_once(staging, production):
    # GIVEN staging and production, which share an account
    assert staging.config[f"{P}accountBaseline"] == "false"
    assert production.config[f"{P}accountBaseline"] == "true"
    both = [*baseline_resources(staging), *baseline_resources(production)]
    # THEN one trail, one trail bucket, one log group, 14 CIS filters and alarms in all
    counts = {t: sum(r.type == t for r in both) for t in BASELINE_TYPES}
    assert counts == {
        "aws:cloudtrail/trail:Trail": 1,
        "aws:s3/bucket:Bucket": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        FILTER: 14,
        ALARM: 14,
        "aws:kms/key:Key": 1,
    }
    assert all(r.urn.startswith("urn:pulumi:production::") for r in both)
    trails = [r for run in (staging, production) for r in run.of_type("aws:cloudtrail/trail:Trail")]
    assert len(trails) == 1
    cis = [
        a
        for run in (staging, production)
        for a in run.of_type(ALARM)
        if "-cis-" in a.inputs["name"]
    ]
    assert len(cis) == 14


def test_a_stack_without_the_baseline_keeps_its_own_alarms_and_topics(staging):
    assert not baseline_resources(staging)
    assert len(staging.of_type(ALARM)) >= 20
    assert topic(staging, "critical").inputs["name"] == "phase-mirror-critical-alerts-staging"


@pytest.mark.parametrize("value", ["yes", "1", "on"])
def test_account_baseline_accepts_only_true_or_false(value):
    with pytest.raises(ConfigError, match=f"'accountBaseline' has invalid value '{value}'"):
        run_program("staging", overrides={f"{P}accountBaseline": value})


# --- the trail --------------------------------------------------------------------------------------


def trail(run: ProgramRun) -> Resource:
    return run.one("aws:cloudtrail/trail:Trail", "audit-trail-trail")


def test_trail_is_multi_region_validated_encrypted_and_streams_to_its_log_group(baseline):
    resource = trail(baseline)
    key = baseline.one("aws:kms/key:Key", "audit-trail-trail-key")
    group = baseline.one("aws:cloudwatch/logGroup:LogGroup", "audit-trail-trail-logs")
    role = baseline.one("aws:iam/role:Role", "audit-trail-trail-role")
    bucket = baseline.one("aws:s3/bucket:Bucket", "audit-trail-trail-bucket-bucket")
    inputs = resource.inputs
    assert inputs["name"] == f"phase-mirror-trail-{baseline.stack}"
    assert inputs["isMultiRegionTrail"] is True, resource.urn
    assert inputs["enableLogFileValidation"] is True, resource.urn
    assert inputs["includeGlobalServiceEvents"] is True, resource.urn
    assert inputs["enableLogging"] is True, resource.urn
    assert resource.protect is (baseline.stack == "production"), resource.urn
    assert inputs["kmsKeyId"] == key.outputs["arn"], resource.urn
    assert (
        inputs["s3BucketName"]
        == bucket.inputs["bucket"]
        == f"phase-mirror-cloudtrail-123456789012-us-east-1-{baseline.stack}"
    )
    assert inputs["cloudWatchLogsGroupArn"] == group.outputs["arn"] + ":*", resource.urn
    assert inputs["cloudWatchLogsRoleArn"] == role.outputs["arn"], resource.urn
    # Every management event, KMS's included (CloudWatch.7 fails when kms is excluded).
    (selector,) = inputs["eventSelectors"]
    assert selector["readWriteType"] == "All" and selector["includeManagementEvents"] is True
    assert not selector.get("excludeManagementEventSources"), resource.urn


def test_trail_log_group_is_encrypted_kept_and_protected_per_stack(baseline):
    group = baseline.one("aws:cloudwatch/logGroup:LogGroup", "audit-trail-trail-logs")
    log_key = baseline.one("aws:kms/key:Key", "observability-log-key")
    retention = int(baseline.config[f"{P}logRetentionDays"])
    assert group.inputs["kmsKeyId"] == log_key.outputs["arn"], group.urn
    assert (
        group.inputs["retentionInDays"]
        == retention
        == (365 if baseline.stack == "production" else 90)
    )
    protected = baseline.config[f"{P}deletionProtection"] == "true"
    assert group.protect is group.retain_on_delete is protected, group.urn
    assert group.inputs.get("deletionProtectionEnabled", False) is protected, group.urn


def test_trail_key_lets_only_this_trail_encrypt(baseline):
    key = baseline.one("aws:kms/key:Key", "audit-trail-trail-key")
    arn = trail(baseline).outputs["arn"]
    assert (
        arn
        == f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/phase-mirror-trail-{baseline.stack}"
    )
    document = policy(key)
    encrypt = statement(document, "CloudTrailEncryptsLogs")
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == ["kms:GenerateDataKey*"]
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": arn}, key.urn
    assert statement(document, "CloudTrailDescribesKey")["Condition"] == {
        "StringEquals": {"aws:SourceArn": arn}
    }
    # Log files are read by name (the operators, when configured), never by the whole account.
    assert not any(s.get("Principal") == {"AWS": "*"} for s in document["Statement"]), key.urn


def test_trail_bucket_has_no_bucket_key_so_cloudtrail_needs_no_decrypt(baseline):
    # "Configure AWS KMS key policies for CloudTrail": with an S3 Bucket Key, CreateTrail and
    # UpdateTrail need kms:Decrypt; the trail key gives CloudTrail none.
    encryption = baseline.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "audit-trail-trail-bucket-encryption",
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["bucketKeyEnabled"] is False, encryption.urn
    document = policy(baseline.one("aws:kms/key:Key", "audit-trail-trail-key"))
    cloudtrail = [s for s in document["Statement"] if s["Principal"] == {"Service": CLOUDTRAIL}]
    assert all("kms:Decrypt" not in s["Action"] for s in cloudtrail)


def test_trail_bucket_policy_lets_this_trail_write_only_its_accounts_prefix(baseline):
    arn = trail(baseline).outputs["arn"]
    bucket = f"phase-mirror-cloudtrail-123456789012-us-east-1-{baseline.stack}"
    document = policy(
        baseline.one("aws:s3/bucketPolicy:BucketPolicy", "audit-trail-trail-bucket-policy")
    )
    acl = statement(document, "CloudTrailAclCheck")
    assert (acl["Action"], acl["Resource"]) == ("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}")
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": arn}}
    write = statement(document, "CloudTrailWrite")
    assert write["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert (write["Action"], write["Resource"]) == (
        "s3:PutObject",
        f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT_ID}/*",
    )
    assert write["Condition"] == {
        "StringEquals": {"aws:SourceArn": arn, "s3:x-amz-acl": "bucket-owner-full-control"}
    }
    # The building block's TLS-only denies stay in front.
    assert statement(document, "DenyInsecureTransport")["Effect"] == "Deny"


def test_trail_files_are_kept_at_least_90_days_and_a_year_in_production(baseline):
    lifecycle = baseline.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "audit-trail-trail-bucket-lifecycle",
    )
    expiring = [r["expiration"]["days"] for r in lifecycle.inputs["rules"] if r.get("expiration")]
    assert expiring == [365 if baseline.stack == "production" else 90], lifecycle.urn
    logging = baseline.one("aws:s3/bucketLogging:BucketLogging", "audit-trail-trail-bucket-logging")
    assert (
        logging.inputs["targetBucket"]
        == f"phase-mirror-access-logs-123456789012-us-east-1-{baseline.stack}"
    )


def test_trail_role_may_only_write_streams_of_the_trail_log_group(baseline):
    arn = trail(baseline).outputs["arn"]
    role = baseline.one("aws:iam/role:Role", "audit-trail-trail-role")
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceArn": arn}}, role.urn
    group = baseline.one("aws:cloudwatch/logGroup:LogGroup", "audit-trail-trail-logs")
    (allow,) = policy(
        baseline.one("aws:iam/rolePolicy:RolePolicy", "audit-trail-trail-role-policy")
    )["Statement"]
    assert allow["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert allow["Resource"] == group.outputs["arn"] + ":log-stream:*"


# --- CIS metric filters ---------------------------------------------------------------------------


def cis_file_patterns() -> dict[str, str]:
    """control -> pattern, read from the CIS table (``\\|\\|`` is Markdown for ``||``)."""
    rows = re.findall(r"^\| (CloudWatch\.\d+) \| [^|]+ \| `(.+)` \|$", CIS_FILE.read_text(), re.M)
    return {control: pattern.replace("\\|", "|") for control, pattern in rows}


def test_the_cis_patterns_in_code_are_the_cis_foundations_table():
    expected = cis_file_patterns()
    assert len(expected) == 14
    assert {c.control: c.pattern for c in CIS_CONTROLS} == expected


@pytest.mark.parametrize("control", CIS_CONTROLS, ids=lambda c: c.control)
def test_cis_filter_has_exactly_the_prescribed_pattern_on_the_trail_log_group(baseline, control):
    group = baseline.one("aws:cloudwatch/logGroup:LogGroup", "audit-trail-trail-logs")
    resource = baseline.one(FILTER, f"audit-trail-{control.role}-filter")
    assert resource.inputs["pattern"] == cis_file_patterns()[control.control], resource.urn
    assert resource.inputs["logGroupName"] == group.inputs["name"], resource.urn
    transformation = resource.inputs["metricTransformation"]
    assert transformation == {
        "name": f"phase-mirror-{control.role}-{baseline.stack}",
        "namespace": "PhaseMirror/Security",
        "value": "1",
        "defaultValue": "0",
    }, resource.urn


@pytest.mark.parametrize("control", CIS_CONTROLS, ids=lambda c: c.control)
def test_cis_alarm_pages_critical_on_the_first_event(baseline, control):
    alarm = baseline.one(ALARM, f"audit-trail-{control.role}-alarm")
    metric = f"phase-mirror-{control.role}-{baseline.stack}"
    expected = {
        "name": metric,
        "namespace": "PhaseMirror/Security",
        "metricName": metric,
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "threshold": 1,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "treatMissingData": "notBreaching",
        "alarmActions": [critical_arn(baseline)],
    }
    assert {k: alarm.inputs.get(k) for k in expected} == expected, alarm.urn
    assert "docs/runbooks/operations.md#security-alarms" in alarm.inputs["alarmDescription"]


def test_every_cis_filter_has_one_alarm_and_nothing_else_is_on_the_trail(baseline):
    filters = [f for f in baseline.of_type(FILTER) if f.name.startswith("audit-trail-")]
    alarms = [a for a in baseline.of_type(ALARM) if a.name.startswith("audit-trail-")]
    assert len(filters) == len(alarms) == len(CIS_CONTROLS) == 14


def test_every_log_group_of_the_program_is_encrypted_with_the_log_key_and_kept_per_config(program):
    # Functions, the API, flow logs, the trail, the data tier: one key, one retention rule.
    log_key = program.one("aws:kms/key:Key", "observability-log-key").outputs["arn"]
    retention = int(program.config[f"{P}logRetentionDays"])
    groups = program.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) >= 6
    for group in groups:
        assert group.inputs.get("kmsKeyId") == log_key, (
            f"{group.urn} is not encrypted with the log key"
        )
        assert group.inputs.get("retentionInDays") == retention, group.urn


def test_cis_filters_are_valid_cloudwatch_logs_requests(production):
    # GIVEN the trail's log group and its filters as the API requests they become
    group = production.one("aws:cloudwatch/logGroup:LogGroup", "audit-trail-trail-logs")
    filters = [f for f in production.of_type(FILTER) if f.name.startswith("audit-trail-")]
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=group.inputs["name"])
        # WHEN each is put (botocore checks lengths and shapes)
        for f in filters:
            t = f.inputs["metricTransformation"]
            logs.put_metric_filter(
                logGroupName=f.inputs["logGroupName"],
                filterName=f.inputs["name"],
                filterPattern=f.inputs["pattern"],
                metricTransformations=[
                    {
                        "metricName": t["name"],
                        "metricNamespace": t["namespace"],
                        "metricValue": t["value"],
                        "defaultValue": float(t["defaultValue"]),
                    }
                ],
            )
        # THEN the log group carries all fourteen, patterns unchanged
        stored = logs.describe_metric_filters(logGroupName=group.inputs["name"])["metricFilters"]
        assert {m["filterName"]: m["filterPattern"] for m in stored} == {
            f.inputs["name"]: f.inputs["pattern"] for f in filters
        }
        assert len(stored) == 14


def test_trail_role_documents_are_valid_iam_policies(production):
    role = production.one("aws:iam/role:Role", "audit-trail-trail-role")
    inline = production.one("aws:iam/rolePolicy:RolePolicy", "audit-trail-trail-role-policy")
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        # moto checks the policy grammar (version, effects, actions, ARNs) as IAM does
        iam.create_role(RoleName="trail", AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
        iam.put_role_policy(
            RoleName="trail", PolicyName="trail-logs", PolicyDocument=inline.inputs["policy"]
        )
        stored = iam.get_role_policy(RoleName="trail", PolicyName="trail-logs")["PolicyDocument"]
        assert stored == json.loads(inline.inputs["policy"])
