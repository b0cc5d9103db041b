"""A root session with a session policy (STS AssumeRoot's task policy) is limited by it; root
without one needs no identity policy (docs/evaluation-semantics.md, step 10)."""

from __future__ import annotations

from iamd.policy import (
    DocumentKind,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    build_context,
    evaluate,
    parse_policy,
)

ROOT = Principal.from_arn("arn:aws:iam::111122223333:root")
TASK = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"*"}]}',
    DocumentKind.IDENTITY,
)


def _decide(action: str, policies: PolicySet) -> str:
    context = build_context(ROOT, [])
    request = Request(ROOT, action, "arn:aws:iam::111122223333:root", context, "111122223333")
    return evaluate(request, policies).verdict.value


def test_root_without_session_policies_is_allowed() -> None:
    assert _decide("iam:CreateUser", PolicySet.of()) == "allowed"


def test_a_root_session_is_limited_to_its_task_policy() -> None:
    scoped = PolicySet.of(session=[Policy("task", PolicyType.SESSION, TASK)])
    assert _decide("iam:ListAccessKeys", scoped) == "allowed"
    assert _decide("iam:CreateUser", scoped) == "implicitDeny"
