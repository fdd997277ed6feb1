"""Properties over random histories (hypothesis): whatever organisations submit, retry, revoke,
and however releases and salt switches interleave,

- two published answers for a rule differ only by whole batches, each of at least k distinct
  organisations (counted within one salt) and at most ``cap`` events of any one of them;
- every event is counted at most once, and exactly the released ones are counted;
- a revoked organisation's unreleased events are never published.

The ground truth is the test's own record of what each organisation sent: pending items carry
only keyed hashes, which the test recomputes from the salts and the org key it can read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from testing.orgs import admit, grant, org_key, org_secret
from testing.service import Service, utc

K, CAP = 3, 2
MAX_AGE = timedelta(days=30)
ORGS = tuple(str(100 + n) for n in range(6))
RULES = ("MD-001", "MD-002")

send = st.tuples(st.just("send"), st.sampled_from(ORGS), st.sampled_from(RULES), st.booleans())
retry = st.tuples(st.just("retry"), st.integers(0, 50))
step = st.one_of(
    send,
    send,
    send,
    retry,
    st.just(("release",)),
    st.just(("release",)),
    st.just(("month",)),
    st.tuples(st.just("revoke"), st.sampled_from(ORGS)),
)


@dataclass
class Sent:
    owner: str
    rule: str
    fp: bool
    body: dict


@dataclass
class Truth:
    """What the test knows: every accepted event by its eventKey, and what was released."""

    accepted: dict[str, Sent] = field(default_factory=dict)
    released: Counter[str] = field(default_factory=Counter)  # eventKey -> times counted
    revoked: set[str] = field(default_factory=set)


_SECRETS: dict[tuple[str, str], bytes] = {}


def event_key(service: Service, owner: str, event_id: str) -> str:
    cache_key = (service.org_key_arn, owner)
    if cache_key not in _SECRETS:
        _SECRETS[cache_key] = org_secret(service.kms, service.org_key_arn, owner)
    secret = _SECRETS[cache_key]
    return hmac.new(secret, f"phase-mirror/event/{event_id}".encode(), hashlib.sha256).hexdigest()


def answers(service: Service) -> dict[str, tuple[int, int]]:
    result = {}
    for rule in RULES:
        status, body = service.query(rule)
        assert status == 200
        result[rule] = (body.get("eventCount", 0), body.get("fpCount", 0))
    return result


def check_release(service: Service, truth: Truth) -> None:
    """Run a release; every change it publishes must be k-anonymous and capped."""
    before_items = {i["eventKey"]["S"]: i for i in service.items("pending")}
    before = answers(service)
    live = {
        v
        for v, s in service.sm.describe_secret(SecretId=service.salt_arn)[
            "VersionIdsToStages"
        ].items()
        if {"AWSCURRENT", "AWSPREVIOUS"} & set(s)
    }
    service.release()
    remaining = service.items("pending")
    # events under a salt that has left the secret are deleted by the release, never published
    assert not [i for i in remaining if i["saltVersion"]["S"] not in live]
    after_keys = {i["eventKey"]["S"] for i in remaining}
    after = answers(service)
    gone = [k for k in before_items if k not in after_keys]
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in gone:
        item = before_items[key]
        if item["saltVersion"]["S"] in live:  # the rest expired, never released
            groups[(item["ruleId"]["S"], item["saltVersion"]["S"])].append(key)
    delta: Counter[str] = Counter()
    fp_delta: Counter[str] = Counter()
    for (rule, _), keys in groups.items():
        owners = Counter(truth.accepted[k].owner for k in keys)
        # THE property: a batch holds at least k distinct organisations, within one salt
        assert len(owners) >= K, (rule, owners)
        assert not (set(owners) & truth.revoked)
        per_owner: dict[str, list[str]] = defaultdict(list)
        for key in sorted(keys, key=lambda k: (before_items[k]["receivedAt"]["N"], k)):
            per_owner[truth.accepted[key].owner].append(key)
        for owned in per_owner.values():
            for key in owned[:CAP]:  # the excess is dropped, not counted
                truth.released[key] += 1
                delta[rule] += 1
                fp_delta[rule] += truth.accepted[key].fp
    for rule in RULES:
        assert after[rule][0] - before[rule][0] == delta[rule]
        assert after[rule][1] - before[rule][1] == fp_delta[rule]


# Each example builds a whole moto account: a fifth of the profile keeps it to a few seconds.
@settings(max_examples=max(5, settings().max_examples // 5))
@given(st.lists(step, min_size=1, max_size=20))
def test_published_answers_move_only_by_k_anonymous_capped_batches(steps: list) -> None:
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        service = Service(now=utc(2026, 3, 10, 12), k=K, cap=CAP).install(patch.setattr)
        service.rotate_salt()
        for owner in ORGS:  # as fp-admission and fp-consent write them (tested there)
            key = org_key(service.kms, service.org_key_arn, owner)
            admit(service.ddb, service.tables["admission"], key)
            grant(service.ddb, service.tables["consent"], key)
        truth = Truth()
        sent: list[Sent] = []
        for action, *args in steps:
            service.now += timedelta(minutes=7)
            if action == "send":
                owner, rule, fp = args
                body = service.event(ruleId=rule, isFalsePositive=fp)
                status, answer = service.ingest(owner, body)
                if owner in truth.revoked:
                    assert (status, answer["status"]) == (200, "dropped")
                    continue
                assert (status, answer) == (202, {"status": "pending"})
                item = Sent(owner, rule, fp, body)
                sent.append(item)
                truth.accepted[event_key(service, owner, body["eventId"])] = item
            elif action == "retry" and sent:
                again = sent[args[0] % len(sent)]
                status, answer = service.ingest(again.owner, again.body)
                if service.now - datetime.fromisoformat(again.body["timestamp"]) > MAX_AGE:
                    # too old to be told from a new event once its record is gone: refused
                    assert (status, answer["field"]) == (400, "timestamp")
                else:
                    assert status == 200 and answer["status"] in ("duplicate", "dropped")
            elif action == "release":
                check_release(service, truth)
            elif action == "month":
                service.now += timedelta(days=31)
                service.rotate_salt()
            elif action == "revoke":
                (owner,) = args
                service.consent(owner, "DELETE")
                truth.revoked.add(owner)
                # nothing of the organisation is left pending under a live salt; events under
                # a salt that has left the secret cannot be found by its hash any more, are
                # never released, and the next release deletes them (check_release)
                stages = service.sm.describe_secret(SecretId=service.salt_arn)
                live = {
                    version
                    for version, labels in stages.get("VersionIdsToStages", {}).items()
                    if {"AWSCURRENT", "AWSPREVIOUS"} & set(labels)
                }
                left = [
                    i
                    for i in service.items("pending")
                    if i["saltVersion"]["S"] in live
                    and truth.accepted[i["eventKey"]["S"]].owner == owner
                ]
                assert not left
        check_release(service, truth)
        # each event counted at most once, and the published totals are exactly the released
        assert set(truth.released.values()) <= {1}
        totals = answers(service)
        for rule in RULES:
            counted = [k for k in truth.released if truth.accepted[k].rule == rule]
            assert totals[rule][0] == len(counted)
        assert not any(f'"{o}"' in service.stored_text() for o in ORGS)


def test_the_recomputed_hashes_match_what_ingestion_stores(seeded: Service) -> None:
    """The ground truth above is only as good as its hashes: check them once against an item."""
    seeded.join("100")
    body = seeded.event()
    seeded.ingest("100", body)
    [item] = seeded.items("pending")
    assert item["eventKey"]["S"] == event_key(seeded, "100", body["eventId"])
    document = json.loads(seeded.sm.get_secret_value(SecretId=seeded.salt_arn)["SecretString"])
    salt = base64.b64decode(document["salt"])
    assert item["orgHash"]["S"] == hmac.new(salt, b"100", hashlib.sha256).hexdigest()
