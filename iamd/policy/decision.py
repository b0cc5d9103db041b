"""Decisions are values: the verdict, the statements that decided, what blocked, why.

AWS's access-denied message and every explanation are rendered from a :class:`Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, final

from .compile import CompiledStatement, PolicyType
from .request import draft_class, slot_setters

if TYPE_CHECKING:
    from .request import Request

__all__ = ["Blocking", "Decision", "Verdict", "make_decision", "render_denial"]


class Verdict(StrEnum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


# _ALLOWED, _PROTECTED, _SCP: an enum member read through its class costs a call through
# EnumType.__getattr__'s hook on Python 3.11, about ten times a module constant's (bench/README.md,
# "Session 18: the single check's ids, time and enum members"): read for each decision and denial text.
_ALLOWED = Verdict.ALLOWED
_PROTECTED, _SCP = PolicyType.PROTECTED, PolicyType.SCP


@dataclass(frozen=True, slots=True)
class Blocking:
    type: PolicyType
    explicit: bool

    def to_json(self) -> dict[str, str]:
        return {"type": self.type.value, "effect": "explicit" if self.explicit else "implicit"}


# The order in which the message names one blocking type (evaluation-semantics.md §3).
_EXPLICIT_ORDER = (
    PolicyType.PROTECTED, PolicyType.SCP, PolicyType.RCP, PolicyType.TRUST, PolicyType.KEY, PolicyType.RESOURCE,
    PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION,
)  # fmt: skip
_IMPLICIT_ORDER = (
    PolicyType.RCP, PolicyType.SCP, PolicyType.TRUST, PolicyType.KEY, PolicyType.RESOURCE,
    PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION,
)  # fmt: skip
_EXPLICIT_NAMED = frozenset(_EXPLICIT_ORDER)
_IMPLICIT_NAMED = frozenset(_IMPLICIT_ORDER)
_EXPLICIT_PHRASE = {
    PolicyType.IDENTITY: "an identity-based policy",
    PolicyType.RESOURCE: "a resource-based policy",
    PolicyType.KEY: "a resource-based policy",
    PolicyType.TRUST: "the role trust policy",
    PolicyType.BOUNDARY: "a permissions boundary",
    PolicyType.SESSION: "a session policy",
    PolicyType.SCP: "a service control policy",
    PolicyType.RCP: "a resource control policy",
}
_IMPLICIT_PHRASE = {
    PolicyType.IDENTITY: "identity-based policy",
    PolicyType.RESOURCE: "resource-based policy",
    PolicyType.KEY: "resource-based policy",
    PolicyType.TRUST: "role trust policy",
    PolicyType.BOUNDARY: "permissions boundary",
    PolicyType.SESSION: "session policy",
    PolicyType.RCP: "resource control policy",
}


@final
@dataclass(frozen=True, slots=True, init=False)
class Decision:
    verdict: Verdict
    request: Request
    matched: tuple[CompiledStatement, ...] = ()
    blocking: tuple[Blocking, ...] = ()
    missing_context_keys: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    def __init__(
        self,
        verdict: Verdict,
        request: Request,
        matched: tuple[CompiledStatement, ...] = (),
        blocking: tuple[Blocking, ...] = (),
        missing_context_keys: tuple[str, ...] = (),
        errors: tuple[str, ...] = (),
    ) -> None:
        # the dataclass's own __init__, assigning through the slots' descriptors (request.slot_setters)
        _set_verdict(self, verdict)
        _set_request(self, request)
        _set_matched(self, matched)
        _set_blocking(self, blocking)
        _set_missing(self, missing_context_keys)
        _set_errors(self, errors)

    @property
    def allowed(self) -> bool:
        return self.verdict is _ALLOWED

    @property
    def decisive_block(self) -> Blocking | None:
        """The one blocking type AWS's message names."""
        blocking = self.blocking
        if len(blocking) < 2:  # most denials: one block, which names itself if its type is named
            if not blocking:
                return None
            only = blocking[0]
            return only if only.type in (_EXPLICIT_NAMED if only.explicit else _IMPLICIT_NAMED) else None
        explicit = {b.type for b in blocking if b.explicit}
        for t in _EXPLICIT_ORDER:
            if t in explicit:
                return Blocking(t, True)
        implicit = {b.type for b in blocking if not b.explicit}
        for t in _IMPLICIT_ORDER:
            if t in implicit:
                return Blocking(t, False)
        return None

    @property
    def message(self) -> str | None:
        return None if self.allowed else render_denial(self)

    def to_json(self, *, message: bool = True) -> dict[str, object]:
        """The decision as JSON; ``message=False`` leaves the denial text out (not rendered)."""
        out: dict[str, object] = {"decision": self.verdict.value}
        if message:
            out["message"] = self.message
        out |= {
            "matchedStatements": [_matched_json(cs) for cs in self.matched],
            "blockingPolicyTypes": [b.to_json() for b in self.blocking],
            "missingContextKeys": list(self.missing_context_keys),
            "errors": list(self.errors),
        }
        return out


_set_verdict, _set_request, _set_matched, _set_blocking, _set_missing, _set_errors = slot_setters(
    Decision, "verdict", "request", "matched", "blocking", "missing_context_keys", "errors"
)

# Decision's slots without the frozen ``__setattr__`` (request.draft_class): ``make_decision`` (and
# evaluate._conclude, inline) fills one in with plain slot stores, then makes it a Decision. Half the
# cost of ``Decision(...)``, whose ``__init__`` is a Python frame entered from C and six descriptor calls.
_DecisionDraft = draft_class(Decision)
_new = object.__new__


def make_decision(
    verdict: Verdict,
    request: Request,
    matched: tuple[CompiledStatement, ...],
    blocking: tuple[Blocking, ...],
    missing_context_keys: tuple[str, ...],
    errors: tuple[str, ...],
) -> Decision:
    """``Decision(verdict, request, matched, blocking, missing_context_keys, errors)``, made faster
    (the evaluator makes one per decision)."""
    d: Any = _new(_DecisionDraft)
    d.verdict = verdict
    d.request = request
    d.matched = matched
    d.blocking = blocking
    d.missing_context_keys = missing_context_keys
    d.errors = errors
    d.__class__ = Decision
    made: Decision = d
    return made


def _matched_json(cs: CompiledStatement) -> dict[str, object]:
    st = cs.statement
    return {
        "policyId": cs.policy.id,
        "policyType": cs.ptype.value,
        "statementIndex": st.index,
        "sid": st.sid,
        "effect": st.effect,
        "start": st.start.to_json(),
        "end": st.end.to_json(),
    }


def render_denial(decision: Decision) -> str:
    """AWS's access-denied text (AWS "Troubleshoot access denied error messages")."""
    req = decision.request
    resource = req.resource_display or req.resource
    head = f"User: {req.principal.arn} is not authorized to perform: {req.action} on resource: {resource}"
    block = decision.decisive_block
    if block is None:  # fail-closed denial with nothing to name
        return head
    if block.type is _PROTECTED:
        return f"{head} because the resource is managed by AWS and cannot be changed"
    if block.explicit or block.type is _SCP:
        text = f"{head} with an explicit deny in {_EXPLICIT_PHRASE[block.type]}"
        arn = _denying_arn(decision, block.type) if block.explicit else None
        return f"{text}: {arn}" if arn else text
    return f"{head} because no {_IMPLICIT_PHRASE[block.type]} allows the {req.action} action"


def _denying_arn(decision: Decision, block: PolicyType) -> str | None:
    """The ARN AWS appends to an explicit deny in an SCP or RCP (AWS "Troubleshoot access denied
    error messages"): the denying policy nearest the organization root (docs/organizations.md,
    "Denials"). An SCP's principal is always in the policy's organization; an RCP's ARN is shown
    only to a principal of the resource's own organization. None for other policy types.
    """
    if block is PolicyType.RCP:
        values = decision.request.context.values
        mine, theirs = values.get("aws:principalorgid"), values.get("aws:resourceorgid")
        if not mine or mine != theirs:
            return None
    elif block is not PolicyType.SCP:
        return None
    denying = [cs for cs in decision.matched if cs.ptype is block and cs.deny and cs.policy.arn]
    if not denying:
        return None
    return min(denying, key=lambda cs: cs.level).policy.arn
