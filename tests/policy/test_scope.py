"""Questions over a resource pattern (iamd/policy/scope.py, docs/offline-evaluation.md, "Resource
patterns"): allowed for all, some or none of the resources a pattern names.

The glob relations are checked against brute force over a small alphabet, and the scope against
every concrete resource of the pattern up to a length: "all" and "none" must never be wrong."""

from __future__ import annotations

import itertools
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, Principal, Request, build_context, parse_policy
from iamd.policy.scope import Scope, covers, evaluate_scope, intersects

ALICE = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
ALPHABET = "ab"


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z")


def _strings(max_len: int) -> list[str]:
    return ["".join(t) for n in range(max_len + 1) for t in itertools.product(ALPHABET, repeat=n)]


STRINGS = _strings(10)  # two patterns of at most 5 tokens that meet share a string of at most 10 characters
PATTERNS = st.text(alphabet="ab*?", max_size=5)


@settings(max_examples=400, deadline=None)
@given(PATTERNS, PATTERNS)
def test_intersects_is_exact_and_covers_is_sound(a: str, b: str) -> None:
    ra, rb = _regex(a), _regex(b)
    both = [s for s in STRINGS if ra.match(s) and rb.match(s)]
    # exact: patterns of at most 5 tokens that meet share a string of at most 10 characters
    assert intersects(a, b) == bool(both)
    if covers(a, b):  # sound: every string b matches, a matches too
        assert all(ra.match(s) for s in STRINGS if rb.match(s))


def test_covers_decides_the_common_shapes() -> None:
    assert covers("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/logs/*")
    assert covers("*", "arn:aws:s3:::bucket/logs/?")
    assert covers("arn:aws:s3:::bucket/*/x", "arn:aws:s3:::bucket/a*/x")
    assert not covers("arn:aws:s3:::bucket/logs/*", "arn:aws:s3:::bucket/*")
    assert not covers("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/*")
    assert intersects("arn:aws:s3:::bucket/logs/*", "arn:aws:s3:::bucket/*.gz")
    assert not intersects("arn:aws:s3:::bucket/logs/*", "arn:aws:s3:::other/*")


def _policies(*statements: dict[str, object], boundary: list[dict[str, object]] | None = None) -> PolicySet:
    def doc(sts: list[dict[str, object]]) -> Policy:
        text = json.dumps({"Version": "2012-10-17", "Statement": sts})
        return Policy("p", PolicyType.IDENTITY, parse_policy(text, DocumentKind.IDENTITY))

    bound = None
    if boundary is not None:
        text = json.dumps({"Version": "2012-10-17", "Statement": boundary})
        bound = Policy("b", PolicyType.BOUNDARY, parse_policy(text, DocumentKind.IDENTITY))
    return PolicySet.of([doc(list(statements))], bound)


def _scope(policies: PolicySet, pattern: str, action: str = "s3:GetObject") -> Scope:
    request = Request(ALICE, action, pattern, build_context(ALICE, []), "111122223333")
    return evaluate_scope(request, policies).scope


def test_all_some_and_none_over_a_bucket_prefix() -> None:
    logs = "arn:aws:s3:::bucket/logs/*"
    everything = _policies({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"})
    assert _scope(everything, logs) is Scope.ALL
    narrower = _policies({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/logs/2024/*"})
    assert _scope(narrower, logs) is Scope.SOME
    fenced = _policies(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/logs/secret*"},
    )
    assert _scope(fenced, logs) is Scope.SOME
    assert _scope(fenced, "arn:aws:s3:::bucket/logs/secret/*") is Scope.NONE
    elsewhere = _policies({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"})
    assert _scope(elsewhere, logs) is Scope.NONE
    # NotResource: an Allow on everything but one prefix
    but_private = _policies(
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::bucket/private/*"}
    )
    assert _scope(but_private, logs) is Scope.ALL
    assert _scope(but_private, "arn:aws:s3:::bucket/*") is Scope.SOME
    assert _scope(but_private, "arn:aws:s3:::bucket/private/*") is Scope.NONE
    # a boundary narrows it like any request
    only_a = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/logs/a*"}
    bounded = _policies({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, boundary=[only_a])
    assert _scope(bounded, logs) is Scope.SOME


def test_an_answer_of_some_carries_one_allowed_and_one_denied_resource() -> None:
    policies = _policies({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/logs/2024/*"})
    request = Request(ALICE, "s3:GetObject", "arn:aws:s3:::bucket/logs/*", build_context(ALICE, []), "111122223333")
    answer = evaluate_scope(request, policies)
    assert answer.scope is Scope.SOME and answer.allowed_example and answer.denied_example
    assert answer.allowed_example.startswith("arn:aws:s3:::bucket/logs/2024/")
    assert answer.to_json()["scope"] == "some" and answer.to_json()["allowedExample"] == answer.allowed_example


RESOURCE_PATTERNS = st.text(alphabet="ab*?", min_size=0, max_size=4).map(lambda s: "arn:aws:s3:::b/" + s)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), RESOURCE_PATTERNS), min_size=1, max_size=3), RESOURCE_PATTERNS)
def test_all_and_none_are_never_wrong(statements: list[tuple[bool, bool, str]], pattern: str) -> None:
    """Against every concrete resource of the pattern (alphabet "ab", up to 5 characters after the prefix)."""
    sts = [{"Effect": "Deny" if deny else "Allow", "Action": "s3:GetObject",
            ("NotResource" if negated else "Resource"): resource}
           for deny, negated, resource in statements]  # fmt: skip
    policies = _policies(*sts)
    request = Request(ALICE, "s3:GetObject", pattern, build_context(ALICE, []), "111122223333")
    answer = evaluate_scope(request, policies)
    regex = _regex(pattern)
    from iamd.policy import evaluate

    outcomes = {
        evaluate(Request(ALICE, "s3:GetObject", r, request.context, "111122223333"), policies).allowed
        for r in ("arn:aws:s3:::b/" + s for s in _strings(5))
        if regex.match(r)
    }
    if answer.scope is Scope.ALL:
        assert outcomes <= {True}
    elif answer.scope is Scope.NONE:
        assert outcomes <= {False}
    elif answer.scope is Scope.SOME:
        assert {evaluate(Request(ALICE, "s3:GetObject", r, request.context, "111122223333"), policies).allowed
                for r in (answer.allowed_example, answer.denied_example) if r} == {True, False}  # fmt: skip
        assert all(regex.match(r) for r in (answer.allowed_example, answer.denied_example) if r)


def test_policy_eval_resource_pattern(tmp_path: object) -> None:
    """``iamd policy eval --resource-pattern``: the answer as JSON; exit 0 only for "all"."""
    from click.testing import CliRunner

    from iamd.cli import main

    request = {
        "principal": "arn:aws:iam::111122223333:user/alice",
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::reports/2026/*",
        "policies": {"identity": [{"id": "ReadReports", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*/draft-*"}]}}]},
    }  # fmt: skip
    result = CliRunner().invoke(main, ["policy", "eval", "--resource-pattern", "-"], input=json.dumps(request))
    answer = json.loads(result.output)
    assert result.exit_code == 1 and answer["scope"] == "some"
    assert "/draft-" in answer["deniedExample"] and "/draft-" not in answer["allowedExample"]
    request["resource"] = "arn:aws:s3:::reports/2026/q?.csv"
    result = CliRunner().invoke(main, ["policy", "eval", "--resource-pattern", "-"], input=json.dumps(request))
    assert result.exit_code == 0 and json.loads(result.output)["scope"] == "all"
    request["resource"] = "arn:aws:s3:::reports/2026/draft-*"
    result = CliRunner().invoke(main, ["policy", "eval", "--resource-pattern", "-"], input=json.dumps(request))
    assert result.exit_code == 1 and json.loads(result.output)["scope"] == "none"
