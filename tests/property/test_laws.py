"""The laws every correct IAM evaluator obeys, checked on generated requests.

Explicit deny beats any allow; no allow means deny; policy order and duplicates do not
matter; adding an Allow never takes access away; adding a Deny never grants it.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.policy import Decision, Tracer, evaluate
from iamd.policy.offline import parse_offline_request

from .strategies import document, requests, statements

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decide(req: dict[str, Any]) -> Decision:
    parsed = parse_offline_request(req)
    return evaluate(parsed.request, parsed.policies)


def _deny_all() -> dict[str, Any]:
    return {"Effect": "Deny", "Action": "*", "Resource": "*"}


@SETTINGS
@given(requests(), st.sampled_from(["identity", "boundary", "scp"]))
def test_explicit_deny_beats_any_allow(req: dict[str, Any], where: str) -> None:
    req = copy.deepcopy(req)
    pols = req["policies"]
    if where == "identity" and "identity" in pols:
        pols["identity"].append({"id": "deny", "document": document([_deny_all()])})
    elif where == "boundary" and "boundary" in pols:
        pols["boundary"]["document"]["Statement"].append(_deny_all())
    elif where == "scp" and req["principal"] not in ("ec2.amazonaws.com", "anonymous"):  # SCPs bind accounts
        pols.setdefault("scp", [[]])[0].append({"id": "deny", "document": document([_deny_all()])})
    else:
        return
    assert decide(req).verdict.value == "explicitDeny"


@SETTINGS
@given(requests())
def test_no_allow_means_deny(req: dict[str, Any]) -> None:
    req = copy.deepcopy(req)
    for pol in req["policies"].get("identity", []):
        for stmt in pol["document"]["Statement"]:
            stmt["Effect"] = "Deny"
    req["policies"].pop("resource", None)
    root_at_home = req["principal"] == "arn:aws:iam::111122223333:root" and not req["resource"].startswith(
        "arn:aws:iam::444455556666:"
    )
    if "scp" in req["policies"]:
        return  # a member account's root is bounded by SCPs, which this law does not touch
    assert decide(req).allowed == root_at_home  # root is allowed in its own account without any policy


@SETTINGS
@given(requests(), st.randoms())
def test_order_and_duplicates_do_not_matter(req: dict[str, Any], rnd: random.Random) -> None:
    before = decide(req)
    shuffled = copy.deepcopy(req)
    pols = shuffled["policies"]
    if pols.get("identity"):
        pols["identity"] = pols["identity"] + [copy.deepcopy(rnd.choice(pols["identity"]))]
        pols["identity"][-1]["id"] = "duplicate"
        rnd.shuffle(pols["identity"])
    for pol in pols.get("identity", []):
        rnd.shuffle(pol["document"]["Statement"])
    after = decide(shuffled)
    assert after.verdict == before.verdict
    assert {b.type for b in after.blocking} == {b.type for b in before.blocking}
    assert set(after.missing_context_keys) == set(before.missing_context_keys)


@SETTINGS
@given(requests(), statements(effect="Allow"), st.sampled_from(["identity", "boundary", "session", "scp"]))
def test_adding_an_allow_never_denies(req: dict[str, Any], allow: dict[str, Any], where: str) -> None:
    before = decide(req)
    grown = copy.deepcopy(req)
    pols = grown["policies"]
    if where == "identity" and "identity" in pols:
        pols["identity"].append({"id": "extra", "document": document([allow])})
    elif where in ("boundary", "session") and pols.get(where):
        target = pols[where] if where == "boundary" else pols[where][0]
        target["document"]["Statement"].append(allow)
    elif where == "scp" and pols.get("scp"):
        pols["scp"][0][0]["document"]["Statement"].append(allow)
    else:
        return
    if before.allowed:
        assert decide(grown).allowed


@SETTINGS
@given(requests(), statements(effect="Deny"), st.sampled_from(["identity", "boundary", "session", "scp", "resource"]))
def test_adding_a_deny_never_allows(req: dict[str, Any], deny: dict[str, Any], where: str) -> None:
    before = decide(req)
    grown = copy.deepcopy(req)
    pols = grown["policies"]
    if where == "identity" and "identity" in pols:
        pols["identity"].append({"id": "extra", "document": document([deny])})
    elif where in ("boundary", "session") and pols.get(where):
        target = pols[where] if where == "boundary" else pols[where][0]
        target["document"]["Statement"].append(deny)
    elif where == "scp" and pols.get("scp"):
        pols["scp"][0][0]["document"]["Statement"].append(deny)
    elif where == "resource" and pols.get("resource") and pols["resource"]["kind"] != "trust":
        stmt = dict(deny, Principal="*")
        pols["resource"]["document"]["Statement"].append(stmt)
    else:
        return
    if not before.allowed:
        assert not decide(grown).allowed


@SETTINGS
@given(requests())
def test_get_caller_identity_is_never_denied(req: dict[str, Any]) -> None:
    req = dict(req, action="sts:GetCallerIdentity")
    assert decide(req).allowed


@SETTINGS
@given(requests())
def test_the_traced_evaluation_decides_alike(req: dict[str, Any]) -> None:
    # evaluate has a fast path and a traced path that looks at every statement: they must agree on everything but
    # the order of the matched statements (the fast path records the SCPs' first, from their per-set memo).
    parsed = parse_offline_request(req)
    plain = evaluate(parsed.request, parsed.policies).to_json()
    traced = evaluate(parsed.request, parsed.policies, Tracer()).to_json()
    for d in (plain, traced):
        d["matchedStatements"] = sorted(d["matchedStatements"], key=lambda m: (m["policyId"], m["statementIndex"]))  # type: ignore[arg-type,call-overload]
    assert plain == traced
