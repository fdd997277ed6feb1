"""The pre-production checklist as data: each item's id, section, what it checks, how, and what
a miss is (a failure, or a warning where only the team can supply the value).

``how`` is a check of tools/checklist/checks.py, or, for what no program can prove, who or what
covers it (the item is then manual). ``scope="account"``: the item belongs to the account
baseline, proven by the stack that holds it (``accountBaseline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from policy import rules
from tools.checklist import checks as c

Severity = Literal["fail", "warn"]
Scope = Literal["stack", "account"]


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    section: str
    title: str
    how: c.Check | str
    severity: Severity = "fail"
    scope: Scope = "stack"


TRAIL_FLAGS = {
    "logging": c.trail_flag("enableLogging", "logging", default=True),
    "multi-region": c.trail_flag("isMultiRegionTrail", "multi-region"),
    "validation": c.trail_flag("enableLogFileValidation", "validation"),
    "kms": c.trail_flag("kmsKeyId", "KMS"),
}
TABLE, BUCKETS = c.DYNAMODB_TABLE, rules.BUCKET_COMPANIONS
Item = ChecklistItem

ITEMS: tuple[ChecklistItem, ...] = (
    Item("state-backend", "1.1", "State backend: bucket, locking, encryption, restricted access",
      "bootstrap/ creates it; confirm `pulumi login` points at it"),
    Item("tables", "1.2", "DynamoDB tables created (fp-events, consent, block-counter)",
      c.tables_created),
    Item("salt", "1.2", "Redaction nonce / HMAC salt stored encrypted", c.salt_secret),
    Item("buckets", "1.2", "S3 buckets created (baselines, cloudtrail)", c.buckets_created,
      scope="account"),
    Item("kms-rotation", "1.2", "KMS keys provisioned and rotation enabled",
      c.no_violations("kms-key-rotation", "KMS keys", c.KMS_KEY)),
    Item("ci-identity", "2.1",
      "OIDC provider, least-privilege preview and deploy roles, no long-lived keys",
      "bootstrap/ creates them; confirm in IAM that no access keys exist"),
    Item("mfa", "2.1", "MFA enforced for console access", "account setting, checked by a person"),
    Item("session", "2.1", "Session duration <= 1 hour", c.session_duration),
    Item("dynamodb-kms", "2.2", "DynamoDB encryption enabled (KMS)",
      c.no_violations("encryption-with-customer-managed-keys", "tables", TABLE)),
    Item("s3-kms", "2.2", "S3 encryption enabled (KMS)",
      c.bucket_control("KMS encryption", "encryption-with-customer-managed-keys",
                       *BUCKETS["KMS encryption configuration"])),
    Item("ssm", "2.2", "SSM parameters stored as SecureString", c.ssm_secure),
    Item("tls", "2.2", "TLS 1.2+ enforced for all connections", c.tls_everywhere),
    Item("s3-public", "2.3", "S3 public access blocked",
      c.bucket_control("public access block", "s3-public-access-block", c.PUBLIC_ACCESS_BLOCK)),
    Item("public", "2.3", "No publicly accessible resources", c.nothing_public),
    Item("endpoints", "2.3", "VPC endpoints configured",
      c.present("aws:ec2/vpcEndpoint:VpcEndpoint", "VPC endpoints", "serviceName")),
    Item("trail", "3.1", "CloudTrail enabled and logging", TRAIL_FLAGS["logging"], scope="account"),
    Item("trail-regions", "3.1", "Multi-region trail enabled", TRAIL_FLAGS["multi-region"],
      scope="account"),
    Item("trail-validation", "3.1", "Log file validation enabled", TRAIL_FLAGS["validation"],
      scope="account"),
    Item("trail-kms", "3.1", "CloudTrail logs encrypted", TRAIL_FLAGS["kms"], scope="account"),
    Item("trail-retention", "3.1", "CloudTrail logs retained >= 90 days", c.trail_retention,
      scope="account"),
    Item("dashboard", "3.2", "Dashboard created",
      c.present("aws:cloudwatch/dashboard:Dashboard", "dashboards", "dashboardName")),
    Item("security-alarms", "3.2",
      "Security alarms: unauthorized API calls, root usage, IAM policy and KMS key changes",
      c.security_alarms, scope="account"),
    Item("alert-topic", "3.2", "SNS topic for alerts", c.alert_topic),
    # A stack file in the repository cannot name the team's on-call address: a preview warns,
    # and `pulumi up` of production refuses at program start (components/config/operator_values).
    Item("alert-recipients", "3.2", "Alert recipients configured", c.alert_recipients,
      severity="warn"),
    Item("app-logs", "3.3", "Application logs to CloudWatch",
      c.no_violations("lambda-log-groups-managed", "functions", c.LAMBDA)),
    Item("log-retention", "3.3", "Log retention configured",
      c.no_violations("log-retention-set", "log groups", c.LOG_GROUP)),
    Item("redaction", "3.3", "Sensitive data redacted in logs",
      "the Lambda tests cover anonymisation; review a day of real logs"),
    Item("pitr", "4.1", "Point-in-time recovery enabled",
      c.no_violations("dynamodb-point-in-time-recovery", "tables", TABLE)),
    Item("backup-plan", "4.1", "Backup plan: daily 7 d, weekly 30 d, monthly 90 d", c.backup_plan),
    Item("versioning", "4.2", "S3 versioning enabled",
      c.bucket_control("versioning", "s3-versioning", *BUCKETS["versioning"])),
    Item("lifecycle", "4.2", "S3 lifecycle policies configured", c.lifecycle),
    Item("replication", "4.2", "Cross-region replication (optional)", "decide per bucket"),
    Item("restore-tested", "4.3", "PITR restore, backup restore tested; recovery time documented",
      "run the backup runbook against staging"),
    Item("tests", "5.1", "Unit, integration and E2E tests pass",
      "CI (`./scripts/check`) and the E2E run against staging"),
    Item("performance", "5.2",
      "Performance targets (redaction <5 ms, write <100 ms, workflow <500 ms), load test",
      "the benchmark (`python -m bench`) and a load test against staging"),
    Item("audit", "5.3", "Dependency audit, infrastructure security audit",
      "audit tools and a reviewer"),
    Item("docs", "6", "Runbooks, README, API docs, architecture diagrams current",
      "docs/ reviewed by the on-call team"),
    Item("workflows", "7.1", "Infrastructure workflows configured", c.workflows),
    Item("workflow-review", "7.1", "E2E and security-scan workflows; OIDC role permissions",
      "reviewed with bootstrap/"),
    Item("branch-protection", "7.2",
      "main protected: PR reviews and status checks required; production environment reviewers",
      "GitHub settings"),
    Item("ttl", "8.1", "Data retention enforced (TTL)", c.ttl),
    Item("deletion", "8.1", "PII redaction functioning; right-to-deletion process documented",
      "Lambda tests and docs/privacy.md (a revocation deletes unreleased events)"),
    Item("api-calls", "8.2", "All API calls logged (CloudTrail)", c.all_api_calls, scope="account"),
    Item("tamper", "8.2", "Logs tamper-protected (log file validation)", TRAIL_FLAGS["validation"],
      scope="account"),
    Item("attribution", "8.2", "User actions attributable",
      "SSO identities in CloudTrail, checked by a person"),
    Item("release", "9",
      "Change ticket, rollback plan, on-call, low-traffic window, smoke tests, 24 h watch, sign-off",
      "release manager"),
)  # fmt: skip
