"""The peers iamd is compared with on W1: moto's IAM evaluator and Cedar (cedarpy).

Both are prepared once (policies parsed, entities built) so that only the per-request
decision is timed, as for iamd.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import cedarpy
from moto.iam.access_control import IAMPolicy, PermissionResult

from .workloads import W1, StatementSpec

__all__ = ["CedarW1", "Mismatch", "MotoW1", "cedar_policy_text", "compare_w1"]


# -- moto ------------------------------------------------------------------------------
class MotoW1:
    """W1 through ``moto.iam.access_control``, combined as ``IAMRequestBase`` does.

    ``IAMRequestBase.check_action_permitted`` builds ``IAMPolicy(policy)`` (a ``json.loads``)
    for every collected policy on every request; here they are built once, so only
    ``IAMPolicy.is_action_permitted`` and the combination are timed. The combination is
    moto's: ``sts:GetCallerIdentity`` is always allowed, the first policy that answers
    ``DENIED`` denies, any ``PERMITTED`` allows, otherwise the request is denied. (moto's
    extra trust-policy check applies only to AssumeRole-style actions on roles it stores;
    no W1 request is one.)
    """

    def __init__(self, w1: W1) -> None:
        self.policies: tuple[IAMPolicy, ...] = tuple(IAMPolicy(text) for text in w1.documents.values())

    def allowed(self, action: str, resource: str) -> bool:
        if action == "sts:GetCallerIdentity":
            return True
        permitted = False
        for policy in self.policies:
            result = policy.is_action_permitted(action, resource)
            if result is PermissionResult.DENIED:
                return False
            if result is PermissionResult.PERMITTED:
                permitted = True
        return permitted

    def decide(self, pair: tuple[str, str]) -> bool:
        return self.allowed(pair[0], pair[1])


# -- Cedar -----------------------------------------------------------------------------
def _cedar_str(s: str) -> str:
    return json.dumps(s)  # Cedar string literals use JSON's escapes; no policy here needs one


def _like(pattern: str) -> str:
    # In a Cedar ``like`` pattern ``*`` is the wildcard, as in IAM; W1 has no literal '*'.
    return json.dumps(pattern)


def cedar_policy_text(specs: dict[str, tuple[StatementSpec, ...]], principal_uid: str) -> str:
    """One Cedar policy per IAM statement: ``permit``/``forbid`` for Allow/Deny.

    An IAM action pattern is an action group ``Action::"s3:Get*"`` (the request's concrete
    action is a member of every group whose glob it matches; see :meth:`CedarW1.entities`).
    The resource patterns become ``resource.arn like "…"`` alternatives; ``"*"`` needs no
    condition. Cedar then decides exactly as IAM does for identity policies without
    conditions: any applicable forbid denies, otherwise any applicable permit allows.
    """
    out: list[str] = []
    for name, statements in specs.items():
        for i, st in enumerate(statements):
            effect = "permit" if st.effect == "Allow" else "forbid"
            actions = ", ".join(f"Action::{_cedar_str(a)}" for a in st.actions)
            head = f'@id("{name}.{i}")\n{effect}(principal == {principal_uid}, action in [{actions}], resource)'
            if "*" in st.resources:
                out.append(head + ";")
            else:
                cond = " || ".join(f"resource.arn like {_like(r)}" for r in st.resources)
                out.append(f"{head}\nwhen {{ {cond} }};")
    return "\n\n".join(out)


class CedarW1:
    """W1 as Cedar: a pre-parsed ``cedarpy.PolicySet`` and ``cedarpy.Entities``."""

    principal_uid = 'User::"alice"'

    def __init__(self, w1: W1) -> None:
        self.text = cedar_policy_text(w1.specs, self.principal_uid)
        self.policy_set = cedarpy.PolicySet.from_str(self.text)
        self.entities = cedarpy.Entities.from_json_str(json.dumps(self.entities_json(w1)))
        # Entity uids as dicts, not Cedar text ('User::"alice"'): cedarpy then parses no Cedar syntax per
        # request, which measured about 20% faster.
        user = {"type": "User", "id": "alice"}
        self.requests: tuple[dict[str, Any], ...] = tuple(
            {"principal": user, "action": {"type": "Action", "id": a}, "resource": {"type": "Arn", "id": r}}
            for a, r in w1.pairs
        )

    def entities_json(self, w1: W1) -> list[dict[str, Any]]:
        """The user, one entity per resource ARN (attribute ``arn``), and the actions.

        An action's parents are the action groups (IAM action patterns) it matches. The
        membership is computed here with :func:`fnmatch.fnmatchcase` on lower-cased names
        (IAM action names are case-insensitive), independently of iamd's matcher.
        """
        patterns = sorted({a for sts in w1.specs.values() for st in sts for a in st.actions})
        actions = sorted({a for a, _ in w1.pairs})
        resources = sorted({r for _, r in w1.pairs})
        # A pattern without wildcard ("sns:Publish") is the concrete action itself: `in` is reflexive.
        groups: dict[str, list[str]] = {p: [] for p in patterns}
        for a in actions:
            groups[a] = [p for p in patterns if p != a and fnmatchcase(a.lower(), p.lower())]
        ents: list[dict[str, Any]] = [{"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": []}]
        ents += [
            {"uid": {"type": "Action", "id": a}, "attrs": {}, "parents": [{"type": "Action", "id": p} for p in ps]}
            for a, ps in groups.items()
        ]
        ents += [{"uid": {"type": "Arn", "id": r}, "attrs": {"arn": r}, "parents": []} for r in resources]
        return ents

    def is_authorized(self, request: dict[str, Any]) -> cedarpy.AuthzResult:
        return cedarpy.is_authorized(request, self.policy_set, self.entities)

    def decide(self, request: dict[str, Any]) -> bool:
        result = self.is_authorized(request)
        if result.diagnostics.errors:
            raise RuntimeError(f"Cedar evaluation errors for {request}: {result.diagnostics.errors}")
        return result.allowed

    def decide_batch(self, requests: Sequence[dict[str, Any]]) -> list[bool]:
        return [r.allowed for r in cedarpy.is_authorized_batch(list(requests), self.policy_set, self.entities)]


@dataclass(frozen=True, slots=True)
class Mismatch:
    index: int
    action: str
    resource: str
    iamd: bool
    moto: bool
    cedar: bool


def compare_w1(
    w1: W1, iamd_decide: Callable[[int], bool], moto: MotoW1, cedar: CedarW1
) -> tuple[list[bool], list[Mismatch]]:
    """Every W1 request through all three engines; the iamd decisions and any mismatch."""
    cedar_batch = cedar.decide_batch(cedar.requests)
    decisions: list[bool] = []
    mismatches: list[Mismatch] = []
    for i, (action, resource) in enumerate(w1.pairs):
        a = iamd_decide(i)
        m = moto.allowed(action, resource)
        c = cedar.decide(cedar.requests[i])
        if c != cedar_batch[i]:
            raise AssertionError(f"cedarpy is_authorized and is_authorized_batch disagree on request {i}")
        decisions.append(a)
        if not a == m == c:
            mismatches.append(Mismatch(i, action, resource, a, m, c))
    return decisions, mismatches
