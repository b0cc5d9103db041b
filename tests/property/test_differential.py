"""The engine against the naive reference evaluator (tests/reference/naive.py).

The reference is written straight from the rules, recomputes everything per call and
shares no code with the engine; any disagreement on a generated request is a bug in one
of them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from iamd.policy import evaluate
from iamd.policy.offline import parse_offline_request
from tests.reference import naive

from .strategies import requests


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_engine_agrees_with_the_reference(req: dict[str, Any]) -> None:
    parsed = parse_offline_request(req)
    got = evaluate(parsed.request, parsed.policies).to_json()
    want = naive.decide(req)
    assert got["decision"] == want["decision"]
    assert sorted({b["type"] for b in got["blockingPolicyTypes"]}) == sorted(want["blockingPolicyTypes"])
    assert sorted([m["policyId"], m["statementIndex"]] for m in got["matchedStatements"]) == sorted(
        [list(m) for m in want["matchedStatements"]]
    )
    assert sorted(got["missingContextKeys"]) == sorted(want["missingContextKeys"])
    assert got["message"] == naive.message(req, want)
