"""Check the naive reference evaluator against the evaluation corpus.

Every case of tests/cases/evaluation/*.json ({"cases": [...]}, docs/offline-evaluation.md
"Corpus cases") is run through tests/reference/naive.py.  `decision` is always checked;
`message` (exact), `blockingPolicyTypes` (set of type names), `matchedStatements` (set of
(policyId, statementIndex)) and `missingContextKeys` (set) when present in `expect`.
"""

import glob
import json
import os

import pytest

try:
    from . import naive
except ImportError:  # imported outside its package
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import naive

CASES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cases", "evaluation")


def _load_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(CASES_DIR, "*.json"))):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        for i, case in enumerate(data.get("cases", [])):
            name = case.get("name") or "%s#%d" % (os.path.basename(path), i)
            cases.append(pytest.param(case, id="%s::%s" % (os.path.basename(path), name)))
    return cases


_CASES = _load_cases()


def _blocking_names(items):
    names = set()
    for item in items:
        names.add(item["type"] if isinstance(item, dict) else item)
    return names


def _statement_pairs(items):
    pairs = set()
    for item in items:
        if isinstance(item, dict):
            pairs.add((item["policyId"], item["statementIndex"]))
        else:
            pairs.add((item[0], item[1]))
    return pairs


@pytest.mark.skipif(not _CASES, reason="no corpus cases yet")
@pytest.mark.parametrize("case", _CASES or [None])
def test_case(case):
    request = case["request"]
    expect = case["expect"]
    result = naive.decide(request)
    assert result["decision"] == expect["decision"], result
    if "message" in expect:
        assert naive.message(request, result) == expect["message"]
    if "blockingPolicyTypes" in expect:
        assert set(result["blockingPolicyTypes"]) == _blocking_names(expect["blockingPolicyTypes"])
    if "matchedStatements" in expect:
        assert _statement_pairs(result["matchedStatements"]) == _statement_pairs(expect["matchedStatements"])
    if "missingContextKeys" in expect:
        assert set(result["missingContextKeys"]) == set(expect["missingContextKeys"])
