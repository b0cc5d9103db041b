"""The engine against the conformance corpus (tests/cases/): decisions and validation."""

from __future__ import annotations

from typing import Any

import pytest

from iamd.policy import DocumentKind, evaluate, validate_policy
from iamd.policy.offline import parse_offline_request
from tests.cases import load

EVALUATION = load("evaluation")
VALIDATION = load("validation")


def test_corpus_is_large_enough() -> None:
    assert len(EVALUATION) >= 400
    assert sum(1 for c in VALIDATION if not c["valid"]) >= 100
    names = [c["name"] for c in EVALUATION + VALIDATION]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in EVALUATION + VALIDATION:
        assert case.get("fact") and case.get("source"), f"{case['name']} must name the AWS fact it encodes"


def check_decision(case: dict[str, Any], out: dict[str, Any]) -> None:
    expect = case["expect"]
    assert out["decision"] == expect["decision"], out
    if "message" in expect:
        assert out["message"] == expect["message"]
    if "blockingPolicyTypes" in expect:
        assert {b["type"] for b in out["blockingPolicyTypes"]} == set(expect["blockingPolicyTypes"]), out
    if "matchedStatements" in expect:
        got = {(m["policyId"], m["statementIndex"]) for m in out["matchedStatements"]}
        assert got == {(m["policyId"], m["statementIndex"]) for m in expect["matchedStatements"]}, out
    if "missingContextKeys" in expect:
        assert set(out["missingContextKeys"]) == {k.lower() for k in expect["missingContextKeys"]}, out


@pytest.mark.parametrize("case", EVALUATION, ids=[c["name"] for c in EVALUATION])
def test_evaluation_case(case: dict[str, Any]) -> None:
    parsed = parse_offline_request(case["request"])
    decision = evaluate(parsed.request, parsed.policies)
    check_decision(case, decision.to_json())


@pytest.mark.parametrize("case", VALIDATION, ids=[c["name"] for c in VALIDATION])
def test_validation_case(case: dict[str, Any]) -> None:
    problems = validate_policy(case["document"], DocumentKind(case["type"]))
    if case["valid"]:
        assert problems == [], [p.describe() for p in problems]
        return
    assert problems, "the document must be rejected"
    assert problems[0].message == case["message"], [p.describe() for p in problems]
    if "position" in case:
        pos = problems[0].position
        assert (pos.line, pos.column) == (case["position"]["line"], case["position"]["column"])
