"""A deferred request context (Context.deferred) is built only when a statement reads it.

The service builds IAM request contexts this way: a request decided by statements without
conditions, condition keys or policy variables skips building the context. The decision
must be the same as with the context built up front, whichever way it goes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, Principal, Request, build_context, evaluate
from iamd.policy.document import parse_policy
from iamd.policy.request import Context

ALICE = Principal.from_arn("arn:aws:iam::111122223333:user/alice", unique_id="AIDAEXAMPLEALICE00001")


def _policies(*statements: dict[str, Any]) -> PolicySet:
    doc = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), DocumentKind.IDENTITY)
    return PolicySet.of(identity=[Policy("p", PolicyType.IDENTITY, doc)])


def _items() -> list[tuple[str, str]]:
    return [("aws:SourceIp", "10.0.0.1"), ("aws:SecureTransport", "false")]


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Context:
        self.calls += 1
        return build_context(ALICE, _items())


PLAIN = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}
CONDITIONED = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
               "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}  # fmt: skip
INSECURE_DENY = {"Effect": "Deny", "Action": "iam:*", "Resource": "*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
OWN_USER = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::111122223333:user/${aws:username}"}
OTHER_SERVICE = {
    "Effect": "Deny",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


@pytest.mark.parametrize(
    ("statements", "built", "verdict"),
    [
        ((PLAIN,), 0, "allowed"),  # nothing reads the context
        ((PLAIN, OTHER_SERVICE), 0, "allowed"),  # a conditioned statement of another action is not read
        ((CONDITIONED,), 1, "allowed"),
        ((PLAIN, INSECURE_DENY), 1, "explicitDeny"),
        ((OWN_USER,), 1, "allowed"),  # a policy variable in the resource
        ((), 0, "implicitDeny"),
    ],
)
def test_built_only_when_read_and_same_decision(
    statements: tuple[dict[str, Any], ...], built: int, verdict: str
) -> None:
    policies = _policies(*statements) if statements else PolicySet.of(identity=[])
    resource = "arn:aws:iam::111122223333:user/alice"
    build = _Counting()
    lazy = evaluate(Request(ALICE, "iam:GetUser", resource, Context.deferred(build)), policies)
    eager = evaluate(Request(ALICE, "iam:GetUser", resource, build_context(ALICE, _items())), policies)
    assert build.calls == built
    assert lazy.verdict.value == eager.verdict.value == verdict
    assert lazy.missing_context_keys == eager.missing_context_keys


def test_reading_builds_once_and_keeps_the_values() -> None:
    build = _Counting()
    context = Context.deferred(build)
    assert context.values["aws:sourceip"] == ("10.0.0.1",)
    assert "aws:securetransport" in context and not context.ambiguous
    assert build.calls == 1


def test_a_build_that_fails_leaves_the_context_unbuilt_not_empty() -> None:
    """The service's builder reads the resource's tags from the database: were a failed read to
    leave an empty context behind, a later read of it would see no tags (a condition on them
    would then decide as if the resource had none)."""
    calls = [0]

    def flaky() -> Context:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("the database went away")
        return build_context(ALICE, _items())

    context = Context.deferred(flaky)
    with pytest.raises(RuntimeError):
        context.values  # noqa: B018
    assert context.unread
    assert context.values["aws:sourceip"] == ("10.0.0.1",)
