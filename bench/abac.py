"""W2: attribute-based access control with every layer of AWS's evaluation.

Principals are IAM users (tags ``team``/``project``) and sessions of the role ``Engineer``
(role tags overlaid with session tags). Both carry two identity policies and the
permissions boundary ``DevBoundary``; sessions also carry the session policy
``SessionScope``. Requests to the bucket ``shared-reports`` also see its bucket policy
(same account). Two SCP levels apply to every request. Conditions use
``aws:PrincipalTag``, ``aws:ResourceTag``, ``aws:RequestTag``, ``aws:TagKeys``
(``ForAllValues``/``ForAnyValue``), ``IfExists`` operators and ``Null``; resources use
``${aws:PrincipalTag/team}`` and ``${aws:username}``.

What the policies mean (the tests check requests against this):

* team data ``s3:::team-data/<team>/*``: read/write/delete your own team's prefix (identity);
  nobody deletes under ``*/archive/*`` (boundary Deny); sessions cannot delete at all (session
  policy does not allow ``s3:DeleteObject``).
* home ``s3:::home-bucket/home/<username>/*``: users only (sessions have no ``aws:username``).
* EC2 start/stop/reboot/terminate: instances tagged with your team; SCP level 2 denies
  stop/terminate of ``env=prod`` instances.
* ``ec2:CreateTags``: only setting ``team`` = your team, with tag keys within team/project/env
  (ForAllValues), on instances untagged or of your team (IfExists).
* ``ec2:DeleteTags``: denied when it touches the ``team`` or ``project`` key (ForAnyValue).
* ``ec2:RunInstances``: request tag team = your team; SCP denies it without a team tag (Null).
* DynamoDB items in tables ``<team>-*``; the boundary does not allow ``dynamodb:DeleteItem``.
* Secrets whose ``project`` tag is your project.
* ``iam:CreateAccessKey`` on your own user; the boundary denies it without MFA (BoolIfExists).
* ``shared-reports``: the bucket policy lets ``bob`` and role ``Engineer`` sessions read, and
  denies reads under ``restricted/`` to anyone whose team is not ``red`` (StringNotEqualsIfExists).
* SCP level 1 denies everything but IAM/STS/S3 outside us-east-1 and eu-west-1 (NotAction).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from iamd.policy import (
    Decision,
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

from .workloads import ACCOUNT

__all__ = ["USERS", "W2", "SESSIONS", "W2Input", "W2Request", "build_w2", "decide_with_context", "decision_digest"]

_A = ACCOUNT
_DOC_KIND = {PolicyType.IDENTITY: DocumentKind.IDENTITY, PolicyType.BOUNDARY: DocumentKind.BOUNDARY,
             PolicyType.SESSION: DocumentKind.SESSION, PolicyType.RESOURCE: DocumentKind.RESOURCE,
             PolicyType.SCP: DocumentKind.SCP}  # fmt: skip

TEAM = "${aws:PrincipalTag/team}"
PROJECT = "${aws:PrincipalTag/project}"
INSTANCES = f"arn:aws:ec2:*:{_A}:instance/*"

ABAC_TEAM_ACCESS: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
    {"Sid": "TeamData", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": f"arn:aws:s3:::team-data/{TEAM}/*"},
    {"Sid": "OwnInstances", "Effect": "Allow",
     "Action": ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances", "ec2:TerminateInstances"],
     "Resource": INSTANCES, "Condition": {"StringEquals": {"aws:ResourceTag/team": TEAM}}},
    {"Sid": "TagOwnInstances", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": INSTANCES,
     "Condition": {"StringEquals": {"aws:RequestTag/team": TEAM},
                   "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "project", "env"]},
                   "StringEqualsIfExists": {"aws:ResourceTag/team": TEAM}}},
    {"Sid": "KeepAbacTags", "Effect": "Deny", "Action": "ec2:DeleteTags", "Resource": "*",
     "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "project"]}}},
    {"Sid": "UntagOwn", "Effect": "Allow", "Action": "ec2:DeleteTags", "Resource": INSTANCES,
     "Condition": {"StringEquals": {"aws:ResourceTag/team": TEAM}}},
    {"Sid": "Launch", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/team": TEAM}}},
    {"Sid": "TeamTables", "Effect": "Allow", "Action": ["dynamodb:*Item", "dynamodb:Query"],
     "Resource": f"arn:aws:dynamodb:*:{_A}:table/{TEAM}-*"},
    {"Sid": "ProjectSecrets", "Effect": "Allow",
     "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
     "Resource": f"arn:aws:secretsmanager:*:{_A}:secret:*",
     "Condition": {"StringEquals": {"aws:ResourceTag/project": PROJECT}}},
    {"Sid": "Describe", "Effect": "Allow", "Action": ["ec2:Describe*", "dynamodb:Describe*", "dynamodb:List*"],
     "Resource": "*"},
]}  # fmt: skip

ABAC_SELF_SERVICE: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Home", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": "arn:aws:s3:::home-bucket/home/${aws:username}/*"},
    {"Sid": "ListHome", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::home-bucket",
     "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}},
    {"Sid": "OwnKeys", "Effect": "Allow", "Action": ["iam:CreateAccessKey", "iam:ListAccessKeys"],
     "Resource": f"arn:aws:iam::{_A}:user/${{aws:username}}"},
]}  # fmt: skip

DEV_BOUNDARY: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Ceiling", "Effect": "Allow", "Resource": "*",
     "Action": ["s3:*", "ec2:*", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
                "dynamodb:Describe*", "dynamodb:List*", "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret", "iam:CreateAccessKey", "iam:ListAccessKeys"]},
    {"Sid": "NoArchiveDeletes", "Effect": "Deny", "Action": "s3:DeleteObject",
     "Resource": "arn:aws:s3:::team-data/*/archive/*"},
    {"Sid": "KeysNeedMfa", "Effect": "Deny", "Action": "iam:CreateAccessKey", "Resource": "*",
     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
]}  # fmt: skip

SESSION_SCOPE: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Resource": "*",
     "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "ec2:*", "dynamodb:*",
                "secretsmanager:GetSecretValue"]},
]}  # fmt: skip

SHARED_REPORTS_POLICY: dict[str, Any] = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Readers", "Effect": "Allow", "Action": "s3:GetObject",
     "Principal": {"AWS": [f"arn:aws:iam::{_A}:user/bob", f"arn:aws:iam::{_A}:role/Engineer"]},
     "Resource": "arn:aws:s3:::shared-reports/*"},
    {"Sid": "RestrictedToRed", "Effect": "Deny", "Action": "s3:GetObject", "Principal": "*",
     "Resource": "arn:aws:s3:::shared-reports/restricted/*",
     "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "red"}}},
]}  # fmt: skip

SCP_ROOT: list[dict[str, Any]] = [
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [
        {"Sid": "RegionGuard", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "s3:*"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]},
]  # fmt: skip

SCP_WORKLOADS: list[dict[str, Any]] = [
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "ec2:*", "dynamodb:*", "secretsmanager:*", "iam:*"], "Resource": "*"}]},
    {"Version": "2012-10-17", "Statement": [
        {"Sid": "ProtectProd", "Effect": "Deny", "Action": ["ec2:StopInstances", "ec2:TerminateInstances"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}},
        {"Sid": "LaunchNeedsTeam", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"Null": {"aws:RequestTag/team": "true"}}}]},
]  # fmt: skip

# name -> (team, project)
USERS: dict[str, tuple[str, str]] = {
    "alice": ("red", "apollo"), "bob": ("blue", "gemini"), "carol": ("red", "gemini"), "dave": ("green", "apollo"),
}  # fmt: skip
SESSIONS: dict[str, tuple[str, str]] = {
    "ci-red": ("red", "apollo"), "ci-blue": ("blue", "gemini"),
    "erin": ("green", "gemini"), "frank": ("blue", "apollo"),
}  # fmt: skip
TEAMS = ("red", "blue", "green")
PROJECTS = ("apollo", "gemini")
REGIONS = ("us-east-1", "us-east-1", "us-east-1", "eu-west-1", "eu-west-1", "ap-south-1")


def _policy(pid: str, ptype: PolicyType, doc: dict[str, Any], level: int = 0) -> Policy:
    return Policy(pid, ptype, parse_policy(json.dumps(doc, indent=2), _DOC_KIND[ptype]), level)


def principal_for(name: str) -> Principal:
    """A W2 principal by name: a user in :data:`USERS` or a session in :data:`SESSIONS`."""
    if name in USERS:
        team, project = USERS[name]
        return Principal.from_arn(f"arn:aws:iam::{_A}:user/{name}", unique_id=f"AIDA{name.upper():0<16}",
                                  tags={"team": team, "project": project})  # fmt: skip
    team, project = SESSIONS[name]
    return Principal.from_arn(f"arn:aws:sts::{_A}:assumed-role/Engineer/{name}", unique_id="AROAENGINEER00000001",
                              tags={"team": team, "project": project, "costcenter": "cc-42"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class W2Request:
    """What a W2 request asks, before it becomes an iamd Request."""

    principal: str
    action: str
    resource: str
    region: str = "us-east-1"
    resource_tags: tuple[tuple[str, str], ...] = ()
    request_tags: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, str | tuple[str, ...]], ...] = ()  # further context keys


@dataclass(frozen=True, slots=True)
class W2Input:
    """One W2 request as a server has it before deciding: the principal (kept with its
    credential), the context keys the request itself supplies, the resource's tags, and the
    policy set. :func:`decide_with_context` builds the context and decides, as a server does
    for every request."""

    principal: Principal
    action: str
    resource: str
    given: tuple[tuple[str, str | Sequence[str]], ...]
    resource_tags: tuple[tuple[str, str], ...]
    policy_set: PolicySet


def decide_with_context(item: W2Input) -> Decision:
    """``build_context`` + ``Request`` + ``evaluate``: the per-request work of a server."""
    ctx = build_context(item.principal, item.given, resource_account=_A, resource_tags=item.resource_tags)
    return evaluate(Request(item.principal, item.action, item.resource, ctx), item.policy_set)


@dataclass(frozen=True, slots=True)
class W2:
    sets: dict[tuple[bool, bool], PolicySet]  # (is_session, has_bucket_policy) -> set
    specs: tuple[W2Request, ...]
    items: tuple[tuple[Request, PolicySet], ...]  # context built beforehand
    inputs: tuple[W2Input, ...]  # the same requests, context to be built per decision

    def to_iamd(self, spec: W2Request) -> tuple[Request, PolicySet]:
        return _to_iamd(spec, self.sets, {})


def _policy_sets() -> dict[tuple[bool, bool], PolicySet]:
    identity = [_policy("AbacTeamAccess", PolicyType.IDENTITY, ABAC_TEAM_ACCESS),
                _policy("AbacSelfService", PolicyType.IDENTITY, ABAC_SELF_SERVICE)]  # fmt: skip
    boundary = _policy("DevBoundary", PolicyType.BOUNDARY, DEV_BOUNDARY)
    session = [_policy("SessionScope", PolicyType.SESSION, SESSION_SCOPE)]
    bucket = _policy("shared-reports", PolicyType.RESOURCE, SHARED_REPORTS_POLICY)
    scp = [[_policy(f"scp.1.{i + 1}", PolicyType.SCP, d, 0) for i, d in enumerate(SCP_ROOT)],
           [_policy(f"scp.2.{i + 1}", PolicyType.SCP, d, 1) for i, d in enumerate(SCP_WORKLOADS)]]  # fmt: skip
    return {
        (is_session, has_rp): PolicySet.of(
            identity, boundary, session if is_session else (), bucket if has_rp else None, scp
        )
        for is_session in (False, True)
        for has_rp in (False, True)
    }


def _to_input(spec: W2Request, sets: dict[tuple[bool, bool], PolicySet], principals: dict[str, Principal]) -> W2Input:
    principal = principals.get(spec.principal) or principal_for(spec.principal)
    principals[spec.principal] = principal
    given: list[tuple[str, str | Sequence[str]]] = [("aws:RequestedRegion", spec.region)]
    given += [(f"aws:RequestTag/{k}", v) for k, v in spec.request_tags]
    if spec.request_tags:
        given.append(("aws:TagKeys", [k for k, _ in spec.request_tags]))
    given += [(k, list(v) if isinstance(v, tuple) else v) for k, v in spec.extra]
    has_rp = spec.resource.startswith("arn:aws:s3:::shared-reports/")
    return W2Input(principal, spec.action, spec.resource, tuple(given), spec.resource_tags,
                   sets[(principal.is_session, has_rp)])  # fmt: skip


def _to_iamd(
    spec: W2Request, sets: dict[tuple[bool, bool], PolicySet], principals: dict[str, Principal]
) -> tuple[Request, PolicySet]:
    i = _to_input(spec, sets, principals)
    ctx = build_context(i.principal, i.given, resource_account=_A, resource_tags=i.resource_tags)
    return Request(i.principal, i.action, i.resource, ctx), i.policy_set


def _random_request(rng: random.Random, k: int) -> W2Request:
    name = rng.choice([*USERS, *SESSIONS])
    team, project = USERS.get(name) or SESSIONS[name]
    other_team = rng.choice(TEAMS)
    region = rng.choice(REGIONS)
    mine_or_other = team if rng.random() < 0.6 else other_team
    kind = rng.randrange(12)
    if kind == 0:
        action = rng.choice(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        sub = rng.choice(["docs", "docs", "data", "archive"])
        return W2Request(name, action, f"arn:aws:s3:::team-data/{mine_or_other}/{sub}/f{k}.json", region)
    if kind == 1:
        action = rng.choice(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        owner = name if rng.random() < 0.6 else rng.choice(list(USERS))
        return W2Request(name, action, f"arn:aws:s3:::home-bucket/home/{owner}/n{k}.txt", region)
    if kind == 2:
        owner = name if rng.random() < 0.6 else rng.choice(list(USERS))
        return W2Request(name, "s3:ListBucket", "arn:aws:s3:::home-bucket", region,
                         extra=(("s3:prefix", f"home/{owner}/d{k}/"),))  # fmt: skip
    if kind in (3, 4):
        action = rng.choice(
            ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances", "ec2:TerminateInstances"]
        )
        env = rng.choice(["dev", "dev", "prod"])
        tags = (("team", mine_or_other), ("env", env)) if rng.random() < 0.9 else (("env", env),)
        return W2Request(name, action, f"arn:aws:ec2:{region}:{_A}:instance/i-{k:08x}", region, resource_tags=tags)
    if kind == 5:
        keys = rng.choice(
            [("team",), ("team", "env"), ("team", "project"), ("team", "owner"), ("team", "env", "project")]
        )
        request_tags = tuple((key, mine_or_other if key == "team" else f"v{k}") for key in keys)
        res_tags = () if rng.random() < 0.5 else (("team", mine_or_other),)
        return W2Request(name, "ec2:CreateTags", f"arn:aws:ec2:{region}:{_A}:instance/i-{k:08x}", region,
                         resource_tags=res_tags, request_tags=request_tags)  # fmt: skip
    if kind == 6:
        keys = rng.choice([("owner",), ("env",), ("team",), ("owner", "project")])
        resource = f"arn:aws:ec2:{region}:{_A}:instance/i-{k:08x}"
        request_tags = tuple((key, "") for key in keys)
        return W2Request(name, "ec2:DeleteTags", resource, region, (("team", mine_or_other),), request_tags)
    if kind == 7:
        tags = (("team", mine_or_other), ("env", "dev")) if rng.random() < 0.8 else (("env", "dev"),)
        return W2Request(
            name, "ec2:RunInstances", f"arn:aws:ec2:{region}:{_A}:instance/i-{k:08x}", region, request_tags=tags
        )
    if kind == 8:
        action = rng.choice(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query",
                             "dynamodb:DescribeTable", "dynamodb:DeleteTable"])  # fmt: skip
        return W2Request(name, action, f"arn:aws:dynamodb:{region}:{_A}:table/{mine_or_other}-t{k}", region)
    if kind == 9:
        proj = project if rng.random() < 0.6 else rng.choice(PROJECTS)
        action = rng.choice(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"])
        secret_tags: tuple[tuple[str, str], ...] = (("project", proj),) if rng.random() < 0.9 else ()
        return W2Request(
            name, action, f"arn:aws:secretsmanager:{region}:{_A}:secret:db-{k}", region, resource_tags=secret_tags
        )
    if kind == 10:
        prefix = rng.choice(["q", "q", "restricted/q"])
        return W2Request(name, "s3:GetObject", f"arn:aws:s3:::shared-reports/{prefix}{k}.csv", region)
    owner = name if rng.random() < 0.7 else rng.choice(list(USERS))
    mfa = rng.choice(["true", "true", "false"])
    action = rng.choice(["iam:CreateAccessKey", "iam:ListAccessKeys"])
    return W2Request(name, action, f"arn:aws:iam::{_A}:user/{owner}", region,
                     extra=(("aws:MultiFactorAuthPresent", mfa),) if rng.random() < 0.8 else ())  # fmt: skip


def build_w2(n_requests: int = 1000, seed: int = 2) -> W2:
    sets = _policy_sets()
    rng = random.Random(seed)
    seen: dict[W2Request, None] = {}
    k = 0
    while len(seen) < n_requests:
        seen.setdefault(_random_request(rng, k))
        k += 1
    specs = tuple(seen)
    principals: dict[str, Principal] = {}
    items = tuple(_to_iamd(s, sets, principals) for s in specs)
    inputs = tuple(_to_input(s, sets, principals) for s in specs)
    return W2(sets, specs, items, inputs)


def decision_digest(decisions: Iterable[Decision]) -> str:
    """A SHA-256 over everything a decision says (verdict, deciding statements, blocking types,
    missing keys, errors), in order: equal digests, identical decisions."""
    h = hashlib.sha256()
    for d in decisions:
        body = [d.verdict.value, d.message, [(cs.policy.id, cs.statement.index) for cs in d.matched],
                [b.to_json() for b in d.blocking], d.missing_context_keys, d.errors]  # fmt: skip
        h.update(json.dumps(body).encode())
        h.update(b"\n")
    return h.hexdigest()
