"""The benchmark's workloads mean what they claim. No timing is asserted here."""

from __future__ import annotations

import json

import pytest

from bench.abac import W2, W2Request, build_w2, decide_with_context, decision_digest
from bench.costs import MANAGED_POLICY_LIMIT, big_policy, memory_per_policy
from bench.peers import CedarW1, MotoW1, compare_w1
from bench.timing import Stats, Task, harness_overhead_ns, interleaved, time_each
from bench.workloads import W1, W1_POLICIES, build_w1, extra_policies, moto_safe
from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, evaluate, parse_policy, policy_size

ALLOWED, EXPLICIT, IMPLICIT = "allowed", "explicitDeny", "implicitDeny"


@pytest.fixture(scope="module")
def w1() -> W1:
    return build_w1(300, seed=7)


@pytest.fixture(scope="module")
def w2() -> W2:
    return build_w2(300, seed=7)


# -- W1 ------------------------------------------------------------------------------------
def test_w1_shape(w1: W1) -> None:
    assert len(w1.documents) == 10
    assert all(len(sts) == 5 for sts in W1_POLICIES.values())
    assert len(w1.policy_set.statements) == 50
    assert len(set(w1.pairs)) == len(w1.pairs) == 300
    assert not any(cs.conditions for cs in w1.policy_set.statements)


def test_w1_patterns_are_unambiguous_for_every_engine() -> None:
    patterns = [p for sts in W1_POLICIES.values() for st in sts for p in (*st.actions, *st.resources)]
    assert all(moto_safe(p) for p in patterns)
    assert not moto_safe("arn:aws:s3:::my.bucket/*") and not moto_safe("s3:Get?bject")


def test_iamd_moto_and_cedar_agree_on_every_w1_decision(w1: W1) -> None:
    decisions, mismatches = compare_w1(
        w1, lambda i: evaluate(w1.requests[i], w1.policy_set).allowed, MotoW1(w1), CedarW1(w1)
    )
    assert mismatches == []
    assert len(decisions) == len(w1.requests)


def test_w1_is_about_half_allowed(w1: W1) -> None:
    verdicts = [evaluate(r, w1.policy_set).verdict.value for r in w1.requests]
    assert 0.35 <= verdicts.count(ALLOWED) / len(verdicts) <= 0.65
    assert verdicts.count(EXPLICIT) > 0  # the Deny statements matter


def test_w1_full_size_is_about_half_allowed() -> None:
    w = build_w1()
    allowed = sum(evaluate(r, w.policy_set).allowed for r in w.requests)
    assert len(w.requests) == 1000
    assert 350 <= allowed <= 650


def test_cedar_encoding_maps_statements_one_to_one(w1: W1) -> None:
    text = CedarW1(w1).text
    denies = sum(st.effect == "Deny" for sts in W1_POLICIES.values() for st in sts)
    assert text.count("forbid(") == denies
    assert text.count("permit(") == 50 - denies


def test_unusable_extra_policies_change_no_decision(w1: W1) -> None:
    bigger = w1.with_extra(extra_policies(30))
    assert len(bigger.statements) == 50 + 150
    for r in w1.requests:
        assert evaluate(r, bigger).verdict == evaluate(r, w1.policy_set).verdict


# -- W2 ------------------------------------------------------------------------------------
def test_w2_has_a_realistic_mix(w2: W2) -> None:
    verdicts = [evaluate(r, ps).verdict.value for r, ps in w2.items]
    assert len(set(w2.specs)) == len(w2.specs) == 300
    for v in (ALLOWED, EXPLICIT, IMPLICIT):
        assert verdicts.count(v) >= 0.1 * len(verdicts), v
    blocking = {b.type.value for r, ps in w2.items for b in evaluate(r, ps).blocking}
    assert {"identity", "boundary", "session", "scp", "resource"} <= blocking


def test_w2_uses_every_layer(w2: W2) -> None:
    for (is_session, has_bucket), ps in w2.sets.items():
        assert ps.boundary is not None and len(ps.scp) == 2
        assert bool(ps.session) == is_session
        assert (ps.resource is not None) == has_bucket
    kinds = {(r.principal.is_session, ps.resource is not None) for r, ps in w2.items}
    assert kinds == set(w2.sets)


def _tags(**kv: str) -> tuple[tuple[str, str], ...]:
    return tuple(kv.items())


R = "us-east-1"
INSTANCE = "arn:aws:ec2:us-east-1:111122223333:instance/i-0123"

# (request, expected verdict, why): alice red/apollo, bob blue/gemini, carol red/gemini, dave green/apollo (users);
# ci-red red/apollo, ci-blue blue/gemini (sessions of role Engineer).
HAND_CHECKED: list[tuple[W2Request, str, str]] = [
    (W2Request("alice", "s3:GetObject", "arn:aws:s3:::team-data/red/docs/a.json"), ALLOWED, "own team prefix"),
    (W2Request("alice", "s3:GetObject", "arn:aws:s3:::team-data/blue/docs/a.json"), IMPLICIT, "other team's prefix"),
    (W2Request("alice", "s3:DeleteObject", "arn:aws:s3:::team-data/red/archive/a"), EXPLICIT, "boundary Deny"),
    (W2Request("ci-red", "s3:PutObject", "arn:aws:s3:::team-data/red/docs/a"), ALLOWED, "session, own team"),
    (W2Request("ci-red", "s3:DeleteObject", "arn:aws:s3:::team-data/red/docs/a"), IMPLICIT, "session policy"),
    (W2Request("alice", "s3:PutObject", "arn:aws:s3:::home-bucket/home/alice/n.txt"), ALLOWED, "${aws:username}"),
    (W2Request("alice", "s3:GetObject", "arn:aws:s3:::home-bucket/home/bob/n.txt"), IMPLICIT, "someone else's home"),
    (W2Request("ci-red", "s3:GetObject", "arn:aws:s3:::home-bucket/home/ci-red/n"), IMPLICIT, "no aws:username"),
    (W2Request("alice", "s3:ListBucket", "arn:aws:s3:::home-bucket", extra=(("s3:prefix", "home/alice/d/"),)),
     ALLOWED, "StringLike with a variable"),
    (W2Request("alice", "s3:ListBucket", "arn:aws:s3:::home-bucket", extra=(("s3:prefix", "home/bob/"),)),
     IMPLICIT, "prefix of another user"),
    (W2Request("bob", "ec2:StopInstances", INSTANCE, resource_tags=_tags(team="blue", env="dev")), ALLOWED,
     "ResourceTag matches PrincipalTag"),
    (W2Request("bob", "ec2:StopInstances", INSTANCE, resource_tags=_tags(team="blue", env="prod")), EXPLICIT,
     "SCP level 2 protects prod"),
    (W2Request("bob", "ec2:StopInstances", INSTANCE, resource_tags=_tags(team="red", env="dev")), IMPLICIT,
     "another team's instance"),
    (W2Request("bob", "ec2:StartInstances", INSTANCE.replace(R, "ap-south-1"), "ap-south-1",
               resource_tags=_tags(team="blue")), EXPLICIT, "SCP level 1 region guard"),
    (W2Request("dave", "ec2:CreateTags", INSTANCE, request_tags=_tags(team="green", env="dev")), ALLOWED,
     "ForAllValues within the allowed keys; untagged resource (IfExists)"),
    (W2Request("dave", "ec2:CreateTags", INSTANCE, request_tags=_tags(team="green", owner="x")), IMPLICIT,
     "ForAllValues: owner is not an allowed key"),
    (W2Request("dave", "ec2:CreateTags", INSTANCE, request_tags=_tags(team="red")), IMPLICIT, "RequestTag/team"),
    (W2Request("dave", "ec2:CreateTags", INSTANCE, resource_tags=_tags(team="red"), request_tags=_tags(team="green")),
     IMPLICIT, "StringEqualsIfExists on a resource tagged for another team"),
    (W2Request("dave", "ec2:DeleteTags", INSTANCE, resource_tags=_tags(team="green"), request_tags=_tags(owner="")),
     ALLOWED, "own instance, harmless key"),
    (W2Request("dave", "ec2:DeleteTags", INSTANCE, resource_tags=_tags(team="green"),
               request_tags=_tags(owner="", project="")), EXPLICIT, "ForAnyValue Deny on ABAC tag keys"),
    (W2Request("ci-blue", "ec2:RunInstances", INSTANCE, request_tags=_tags(team="blue")), ALLOWED, "launch tagged"),
    (W2Request("ci-blue", "ec2:RunInstances", INSTANCE, request_tags=_tags(env="dev")), EXPLICIT, "SCP Null check"),
    (W2Request("alice", "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:111122223333:table/red-orders"), ALLOWED,
     "variable in the table name"),
    (W2Request("alice", "dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:111122223333:table/red-orders"), IMPLICIT,
     "the boundary does not allow it"),
    (W2Request("alice", "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/blue-orders"), IMPLICIT,
     "another team's table"),
    (W2Request("carol", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111122223333:secret:db",
               resource_tags=_tags(project="gemini")), ALLOWED, "ResourceTag/project = PrincipalTag/project"),
    (W2Request("carol", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111122223333:secret:db",
               resource_tags=_tags(project="apollo")), IMPLICIT, "another project's secret"),
    (W2Request("ci-red", "secretsmanager:DescribeSecret", "arn:aws:secretsmanager:us-east-1:111122223333:secret:d",
               resource_tags=_tags(project="apollo")), IMPLICIT, "the session policy does not allow it"),
    (W2Request("bob", "s3:GetObject", "arn:aws:s3:::shared-reports/q1.csv"), ALLOWED,
     "the bucket policy names bob (same account)"),
    (W2Request("alice", "s3:GetObject", "arn:aws:s3:::shared-reports/q1.csv"), IMPLICIT, "alice is not named"),
    (W2Request("ci-blue", "s3:GetObject", "arn:aws:s3:::shared-reports/q1.csv"), ALLOWED,
     "the bucket policy names the role; boundary and session policy allow"),
    (W2Request("bob", "s3:GetObject", "arn:aws:s3:::shared-reports/restricted/q.csv"), EXPLICIT,
     "bucket policy Deny: bob's team is not red"),
    (W2Request("ci-red", "s3:GetObject", "arn:aws:s3:::shared-reports/restricted/q.csv"), ALLOWED,
     "red team session may read restricted reports"),
    (W2Request("alice", "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/alice",
               extra=(("aws:MultiFactorAuthPresent", "true"),)), ALLOWED, "own user with MFA"),
    (W2Request("alice", "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/alice",
               extra=(("aws:MultiFactorAuthPresent", "false"),)), EXPLICIT, "boundary Deny without MFA"),
    (W2Request("alice", "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/alice"), EXPLICIT,
     "BoolIfExists: MFA key absent"),
    (W2Request("alice", "iam:ListAccessKeys", "arn:aws:iam::111122223333:user/bob"), IMPLICIT, "someone else's keys"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected", "why"), HAND_CHECKED, ids=[f"{c[0].principal}:{c[2]}" for c in HAND_CHECKED]
)
def test_w2_hand_checked_decisions(w2: W2, spec: W2Request, expected: str, why: str) -> None:
    request, ps = w2.to_iamd(spec)
    decision = evaluate(request, ps)
    assert decision.verdict.value == expected, (why, decision.to_json())
    assert not decision.errors


# Every decision of the default W2 (verdict, deciding statements, blocking types, missing keys, errors), as the
# engine decided them before the session-10 speed work (computed on 86be7e9): a faster engine decides the same.
W2_DECISIONS_SHA256 = "c5d2dba190d11dabf40fac06206821a7b606cdd9a4f045d325cadef49d70287d"


def test_w2_decisions_are_unchanged() -> None:
    w = build_w2()
    assert decision_digest(evaluate(r, ps) for r, ps in w.items) == W2_DECISIONS_SHA256
    assert decision_digest(decide_with_context(i) for i in w.inputs) == W2_DECISIONS_SHA256


def test_context_built_per_decision_decides_as_prebuilt(w2: W2) -> None:
    assert len(w2.inputs) == len(w2.items)
    for item, (request, ps) in zip(w2.inputs, w2.items, strict=True):
        once, per_call = evaluate(request, ps), decide_with_context(item)
        assert per_call.to_json() == once.to_json()
        assert dict(per_call.request.context.values) == dict(request.context.values)
    assert decision_digest([evaluate(*w2.items[0])]) != decision_digest([evaluate(*w2.items[1])])


# -- costs and timing helpers ----------------------------------------------------------------
def test_big_policy_is_exactly_the_managed_policy_limit() -> None:
    for variant in (0, 1, 99):
        text = big_policy(variant)
        assert policy_size(text) == MANAGED_POLICY_LIMIT
        doc = parse_policy(text, DocumentKind.IDENTITY)
        assert len(doc.statements) > 10
        assert any(cs.conditions for cs in PolicySet.of(identity=[Policy("Big", PolicyType.IDENTITY, doc)]).statements)
    assert json.loads(big_policy(1)) != json.loads(big_policy(2))


def test_memory_per_policy_is_positive() -> None:
    mem = memory_per_policy(10)
    assert mem.document_bytes > 0 and mem.compiled_bytes > 0


def test_stats_percentiles() -> None:
    s = Stats.of(list(range(1, 101)))
    assert (s.samples, s.p50, s.p90, s.p99, s.mean) == (100, 50, 90, 99, 50.5)
    assert Stats.of([7.0]).p99 == 7.0


def test_timing_helpers_run() -> None:
    items = list(range(20))
    overhead = harness_overhead_ns(items, rounds=1)
    assert overhead >= 0
    assert time_each(lambda x: x * 2, items, 2, overhead).samples == 40
    out = interleaved({"each": Task(lambda x: x * 2, items, 2), "batch": Task(sum, items, 2, batch=5)}, 3, overhead)
    assert out["each"].stats.samples == 3 * 2 * 20 and len(out["each"].chunk_p50) == 3
    assert out["batch"].stats.samples == 3 * 2 * 4
    assert set(out["batch"].to_json()) == {"samples", "p50_us", "p90_us", "p99_us", "mean_us", "chunk_p50_us"}
