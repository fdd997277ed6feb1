"""SecureBucket: every bucket of both stacks gets the whole secure baseline, plus its own rules."""

from __future__ import annotations

import copy
import json

import pytest

from components.core.secure_bucket import (
    DOCUMENTS,
    LOGS,
    Lifecycle,
    lifecycle_rules,
    tls_only_statements,
)
from testing.program import ProgramRun, Resource

BUCKET = "aws:s3/bucket:Bucket"
BUCKETS = ("data-tier-access-logs", "data-tier-baselines")


def part(run: ProgramRun, type_: str, bucket: str, role: str) -> Resource:
    return run.one(f"aws:s3/{type_}", f"{bucket}-{role}")


def data_key_arn(run: ProgramRun) -> str:
    return run.one("aws:kms/key:Key", "data-tier-key").outputs["arn"]


def log_targets(program) -> set[str]:
    return {
        str(lg.inputs["targetBucket"])
        for lg in program.of_type("aws:s3/bucketLogging:BucketLogging")
    }


def test_every_access_log_target_uses_sse_s3_and_every_other_bucket_sse_kms(program):
    # "Enabling Amazon S3 server access logging" (S3 user guide): the target bucket may use
    # default encryption only with SSE-S3; "SSE-KMS is not supported". Every bucket logs.
    buckets = {b.inputs["bucket"]: b for b in program.of_type(BUCKET)}
    targets = log_targets(program)
    assert targets and targets <= set(buckets), targets
    for config in program.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        bucket = next(b for b in buckets.values() if f"{b.name}-id" == config.inputs["bucket"])
        algorithms = {
            r["applyServerSideEncryptionByDefault"]["sseAlgorithm"] for r in config.inputs["rules"]
        }
        expected = {"AES256"} if bucket.inputs["bucket"] in targets else {"aws:kms"}
        assert algorithms == expected, config.urn


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_is_versioned_kms_encrypted_private_and_owner_enforced(program, bucket):
    s3 = program.one(BUCKET, f"{bucket}-bucket")
    bucket_id = f"{bucket}-bucket-id"
    versioning = part(program, "bucketVersioning:BucketVersioning", bucket, "versioning")
    assert versioning.inputs["bucket"] == bucket_id
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled", versioning.urn
    sse = part(
        program,
        "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
        "encryption",
    )
    (rule,) = sse.inputs["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    if s3.inputs["bucket"] in log_targets(program):
        # S3 server access logging accepts only SSE-S3 on its target bucket.
        assert default == {"sseAlgorithm": "AES256"}, sse.urn
    else:
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": data_key_arn(program)}
        assert rule["bucketKeyEnabled"] is True, sse.urn
    block = part(
        program, "bucketPublicAccessBlock:BucketPublicAccessBlock", bucket, "public-access-block"
    )
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, f"{block.urn} {flag}"
    ownership = part(
        program, "bucketOwnershipControls:BucketOwnershipControls", bucket, "ownership"
    )
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced", ownership.urn
    assert s3.inputs["bucket"].startswith("phase-mirror-") and program.stack in s3.inputs["bucket"]


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_policy_denies_plain_http_and_tls_below_1_2(program, bucket):
    name = program.one(BUCKET, f"{bucket}-bucket").inputs["bucket"]
    policy = json.loads(
        part(program, "bucketPolicy:BucketPolicy", bucket, "policy").inputs["policy"]
    )
    denies = {s["Sid"]: s for s in policy["Statement"] if s["Effect"] == "Deny"}
    resources = [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
    assert denies["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert denies["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    for statement in denies.values():
        assert statement["Principal"] == "*" and statement["Action"] == "s3:*"
        assert statement["Resource"] == resources, statement
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Deny" or statement["Principal"] != "*", statement


def test_baselines_log_to_the_access_log_bucket_which_logs_nowhere(program):
    logging = program.one("aws:s3/bucketLogging:BucketLogging", "data-tier-baselines-logging")
    assert (
        logging.inputs["targetBucket"]
        == f"phase-mirror-access-logs-123456789012-us-east-1-{program.stack}"
    )
    assert (
        logging.inputs["targetPrefix"]
        == f"phase-mirror-baselines-123456789012-us-east-1-{program.stack}/"
    )
    logged = [r.inputs["bucket"] for r in program.of_type("aws:s3/bucketLogging:BucketLogging")]
    assert "data-tier-access-logs-bucket-id" not in logged, "the log bucket logs into itself"


def test_access_log_bucket_lets_only_s3_log_delivery_of_this_account_write(program):
    policy = json.loads(
        program.one("aws:s3/bucketPolicy:BucketPolicy", "data-tier-access-logs-policy").inputs[
            "policy"
        ]
    )
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert (
        allow["Resource"]
        == f"arn:aws:s3:::phase-mirror-access-logs-123456789012-us-east-1-{program.stack}/*"
    )
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # Access-log targets use SSE-S3 ("Enabling Amazon S3 server access logging": SSE-KMS is not
    # supported), so log delivery never uses the data tier's key.
    key_policy = json.loads(program.one("aws:kms/key:Key", "data-tier-key").inputs["policy"])
    principals = [json.dumps(s["Principal"]) for s in key_policy["Statement"]]
    assert not any("logging.s3.amazonaws.com" in p for p in principals)


def rules_by_id(run: ProgramRun, bucket: str) -> dict[str, dict]:
    config = part(
        run, "bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket, "lifecycle"
    )
    return {rule["id"]: rule for rule in config.inputs["rules"]}


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_aborts_multipart_after_7_days_and_expires_noncurrent_versions(
    program, bucket
):
    rules = rules_by_id(program, bucket)
    for rule in rules.values():
        assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}, rule
    abort = rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"]
    assert abort == {"daysAfterInitiation": 7}
    expire = rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]
    assert expire == {"noncurrentDays": 90}


def test_log_bucket_goes_to_glacier_after_30_days_and_is_deleted_after_90(program):
    aging = rules_by_id(program, "data-tier-access-logs")["age-current-versions"]
    assert aging["transitions"] == [{"days": 30, "storageClass": "GLACIER"}]
    assert aging["expiration"] == {"days": 90}


def test_baselines_go_to_glacier_after_a_year_and_deep_archive_after_seven(program):
    aging = rules_by_id(program, "data-tier-baselines")["age-current-versions"]
    assert aging["transitions"] == [
        {"days": 365, "storageClass": "GLACIER"},
        {"days": 2555, "storageClass": "DEEP_ARCHIVE"},
    ]
    assert "expiration" not in aging, "documents are never deleted by age"


def test_buckets_are_protected_and_kept_in_production_only(staging, production):
    for run, protected in ((staging, False), (production, True)):
        for bucket in BUCKETS:
            s3 = run.one(BUCKET, f"{bucket}-bucket")
            assert (s3.protect, s3.retain_on_delete) == (protected, protected), s3.urn
            assert s3.inputs["forceDestroy"] is (not protected), s3.urn


def test_lifecycle_profiles_are_the_issue_s_rules():
    assert LOGS == Lifecycle(transitions=((30, "GLACIER"),), expire_days=90)
    assert DOCUMENTS.transitions == ((365, "GLACIER"), (2555, "DEEP_ARCHIVE"))
    assert [r.id for r in lifecycle_rules(Lifecycle())] == [
        "abort-incomplete-multipart-uploads",
        "expire-noncurrent-versions",
    ]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"transitions": ((90, "GLACIER"), (30, "DEEP_ARCHIVE"))}, "days must increase"),
        ({"transitions": ((0, "GLACIER"),)}, "days must increase"),
        ({"transitions": ((30, "COLD"),)}, "storage class 'COLD'"),
        ({"transitions": ((30, "GLACIER"),), "expire_days": 30}, "after the last transition"),
        ({"noncurrent_expire_days": 0}, "at least 1"),
    ],
)
def test_impossible_lifecycle_is_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Lifecycle(**kwargs)


def test_tls_statements_name_the_bucket_and_its_objects():
    statements = tls_only_statements("b")
    assert {tuple(s["Resource"]) for s in statements} == {("arn:aws:s3:::b", "arn:aws:s3:::b/*")}


def test_the_policy_pack_flags_sse_kms_on_a_log_target_and_sse_s3_elsewhere(staging):
    from policy import rules
    from tools.checklist import subject

    def findings(run):
        found, _ = rules.check_stack([subject(r) for r in run.resources])
        return [v for v in found if v.policy == "sse-s3-only-on-access-log-targets"]

    assert findings(staging) == []
    swapped = copy.deepcopy(staging)
    for config in swapped.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        default = config.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        default["sseAlgorithm"] = "aws:kms" if default["sseAlgorithm"] == "AES256" else "AES256"
    messages = [v.message for v in findings(swapped)]
    assert any("receives server access logs" in m for m in messages), messages
    assert any("only a server access log target may" in m for m in messages), messages
