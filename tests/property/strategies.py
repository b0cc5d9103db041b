"""Hypothesis strategies producing whole requests in the offline format.

The universe is small on purpose (a few actions, resources, tags and principals) so that
generated policies often match, collide and disagree: that is where bugs are.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

ACCT, OTHER = "111122223333", "444455556666"
ACTIONS = ["s3:GetObject", "s3:PutObject", "iam:GetUser", "ec2:RunInstances", "sts:AssumeRole"]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "*", "s3:Get*", "iam:Get?ser", "ec2:*Instances", "S3:getobject", "sts:*"]
RESOURCES = [
    "arn:aws:s3:::reports/q3.csv",
    "arn:aws:s3:::reports/red/x",
    "arn:aws:iam::111122223333:user/alice",
    f"arn:aws:iam::{OTHER}:role/Deploy",
    "*",
]
RESOURCE_PATTERNS = [
    "*", "arn:aws:s3:::reports/*", "arn:aws:s3:::reports/${aws:PrincipalTag/team}/*", "arn:aws:iam::*:user/*",
    "arn:aws:iam::111122223333:user/alice", "arn:aws:s3:::reports/q?.csv", "arn:aws:iam::*:role/*",
]  # fmt: skip
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/Dev"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Dev/s1"
FED = f"arn:aws:sts::{ACCT}:federated-user/fed"
PRINCIPALS: list[Any] = [
    {"arn": USER, "tags": {"team": "red"}},
    {"arn": SESSION, "tags": {"team": "blue"}},
    {"arn": FED, "parentUserArn": USER},
    f"arn:aws:iam::{ACCT}:root",
    f"arn:aws:iam::{OTHER}:user/bob",
    "ec2.amazonaws.com",
    "anonymous",
]
PRINCIPAL_NAMES = ["*", ACCT, f"arn:aws:iam::{ACCT}:root", USER, ROLE, SESSION, FED, OTHER]

conditions = st.one_of(
    st.just({}),
    st.builds(lambda v: {"StringEquals": {"aws:PrincipalTag/team": v}}, st.sampled_from(["red", "blue", ["red", "x"]])),
    st.builds(lambda v: {"StringNotEquals": {"aws:PrincipalTag/team": v}}, st.sampled_from(["red", "blue"])),
    st.builds(lambda v: {"IpAddress": {"aws:SourceIp": v}}, st.sampled_from(["10.0.0.0/8", "192.0.2.1"])),
    st.builds(lambda v: {"NotIpAddressIfExists": {"aws:SourceIp": v}}, st.sampled_from(["10.0.0.0/8"])),
    st.builds(lambda v: {"Null": {"aws:SourceIp": v}}, st.sampled_from(["true", "false"])),
    st.just({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}),
    st.just({"ForAnyValue:StringLike": {"aws:TagKeys": "a*"}}),
    st.just({"Bool": {"aws:SecureTransport": "true"}}),
    st.just({"StringLike": {"aws:username": "al*"}}),
)


def _one_or_list(items: list[str]) -> Any:
    return items[0] if len(items) == 1 else items


@st.composite
def statements(draw: st.DrawFn, *, principal: bool = False, effect: str | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2, unique=True))
    stmt["NotAction" if draw(st.integers(0, 5)) == 0 else "Action"] = _one_or_list(actions)
    if not principal or draw(st.booleans()):
        resources = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2, unique=True))
        stmt["NotResource" if draw(st.integers(0, 6)) == 0 else "Resource"] = _one_or_list(resources)
    if principal:
        names = draw(st.lists(st.sampled_from(PRINCIPAL_NAMES), min_size=1, max_size=2, unique=True))
        if stmt["Effect"] == "Deny" and draw(st.integers(0, 4)) == 0:
            stmt["NotPrincipal"] = {"AWS": _one_or_list([n for n in names if n != "*"] or [ACCT])}
        elif draw(st.integers(0, 5)) == 0:
            stmt["Principal"] = {"Service": "ec2.amazonaws.com"}
        else:
            stmt["Principal"] = "*" if names == ["*"] else {"AWS": _one_or_list(names)}
    cond = draw(conditions)
    if cond:
        stmt["Condition"] = cond
    return stmt


def document(stmts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": stmts}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    principal = draw(st.sampled_from(PRINCIPALS))
    arn = principal["arn"] if isinstance(principal, dict) else principal
    has_identity = arn.startswith("arn:") and not arn.endswith(":root")
    is_session = ":assumed-role/" in arn or ":federated-user/" in arn
    policies: dict[str, Any] = {}
    if has_identity:
        policies["identity"] = [
            {"id": f"id{i}", "document": document(draw(st.lists(statements(), min_size=1, max_size=3)))}
            for i in range(draw(st.integers(0, 3)))
        ]
        if draw(st.booleans()):
            policies["boundary"] = {
                "id": "pb",
                "document": document(draw(st.lists(statements(), min_size=1, max_size=2))),
            }
        if is_session and draw(st.booleans()):
            policies["session"] = [
                {"id": "sp", "document": document(draw(st.lists(statements(), min_size=1, max_size=2)))}
            ]
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["resource", "trust", "key"]))
        stmts = draw(st.lists(statements(principal=True), min_size=1, max_size=3))
        if kind == "trust":
            for s in stmts:
                s.pop("Resource", None)
                s.pop("NotResource", None)
                s["Action"] = "sts:AssumeRole"
                s.pop("NotAction", None)
                if "NotPrincipal" in s:
                    s["Principal"] = s.pop("NotPrincipal")
        policies["resource"] = {"id": "rp", "kind": kind, "document": document(stmts)}
    if draw(st.integers(0, 3)) == 0:
        policies["scp"] = [
            [{"id": f"scp{level}", "document": document(draw(st.lists(statements(), min_size=1, max_size=2)))}]
            for level in range(draw(st.integers(1, 2)))
        ]
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["aws:SourceIp"] = draw(st.sampled_from(["10.1.2.3", "192.0.2.1", "2001:db8::1"]))
    if draw(st.booleans()):
        context["aws:TagKeys"] = draw(st.sampled_from([[], ["a"], ["a", "b"], ["c"]]))
    if draw(st.booleans()):
        context["aws:SecureTransport"] = draw(st.booleans())
    return {
        "principal": copy.deepcopy(principal),
        "action": draw(st.sampled_from(ACTIONS)),
        "resource": draw(st.sampled_from(RESOURCES)),
        "context": context,
        "policies": policies,
    }
