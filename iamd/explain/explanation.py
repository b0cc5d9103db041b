"""The answer of the troubleshooter: the explanation's shape, its one-line verdict, and the
findings that compare the request's outcomes (as recorded, as it was, as it is now)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from iamd.policy import Decision
from iamd.store import PolicyChange

from .checklist import TYPE_NAMES, Finding
from .replay import PROPAGATION_WINDOW
from .subject import Subject

__all__ = ["Explanation", "changed_outcome", "recorded_verdict", "replay_differs", "verdict_of"]


@dataclass(slots=True)
class Explanation:
    subject: Subject
    verdict: str  # a short answer in plain words
    decision: Decision | None = None  # the re-evaluation, now
    recorded: str | None = None  # allowed | explicitDeny | implicitDeny, as recorded or as the message said
    findings: list[Finding] = field(default_factory=list)
    fix: dict[str, Any] | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    then: Decision | None = None  # replayed from the policy history at the event's time

    @property
    def differs(self) -> bool | None:
        if self.recorded is None or self.decision is None:
            return None
        return self.recorded != self.decision.verdict.value

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject.to_json(),
            "verdict": self.verdict,
            "now": self.decision.to_json() if self.decision is not None else None,
            "recorded": self.recorded_json(),
            "asItWas": self.then.to_json() if self.then is not None else None,
            "differsNow": self.differs,
            "findings": [f.to_json() for f in self.findings],
            "fix": self.fix,
            "notes": self.notes,
            "trace": self.trace,
        }

    def recorded_json(self) -> dict[str, Any] | None:
        if self.subject.recorded is not None:
            return dict(self.subject.recorded)
        if self.recorded is not None:
            out: dict[str, Any] = {"decision": self.recorded}
            if self.subject.denial is not None:
                out["blockingPolicyType"] = self.subject.denial.blocking_type
            return out
        return None


def recorded_verdict(subject: Subject) -> str | None:
    if subject.recorded is not None and isinstance(subject.recorded.get("decision"), str):
        return str(subject.recorded["decision"])
    if subject.denial is not None:
        return "explicitDeny" if subject.denial.explicit else "implicitDeny"
    if subject.error_code in ("AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation"):
        return "implicitDeny" if subject.denial is None else None
    if subject.source in ("event", "request-id") and subject.error_code is None and subject.authentication is None:
        return "allowed"
    return None


def replay_differs(replayed: str, recorded: str, recent: Sequence[PolicyChange]) -> Finding:
    """The replay disagrees with the record: a change around the request (propagation), or
    something the history does not keep."""
    if recent:
        changes = [
            {"changedAt": c.changed_at.isoformat(), "event": c.event, "owner": c.owner_kind, "subject": c.subject}
            for c in recent
        ]
        return Finding(
            "propagation-window",
            "A policy change was made around the time of the request",
            f"{len(changes)} change(s) to the policies involved were made within {PROPAGATION_WINDOW.seconds} s of "
            f"the request: with them the request is {replayed}, yet it was {recorded}. A change applies at once on "
            "the process that made it and within the cache poll interval on the others (docs/architecture.md, "
            "several processes), as AWS's own changes take time to propagate (\"Changes that I make are not always "
            'immediately visible"): retry, or wait for the change to reach every server.',
            {"replayed": replayed, "recorded": recorded, "changes": changes},
        )
    return Finding(
        "replay-differs",
        f"Replayed from the policy history: {replayed}; recorded: {recorded}",
        "The policies as they were at the event's time give another outcome than the one recorded: something the "
        "history does not keep differed (the principal's or the resource's tags, or a context key the event does "
        "not record).",
        {"replayed": replayed, "recorded": recorded},
    )


def changed_outcome(subject: Subject, recorded: str, decision: Decision) -> Finding:
    when = subject.event_time.strftime("%Y-%m-%dT%H:%M:%SZ") if subject.event_time else "the time of the message"
    return Finding(
        "outcome-changed",
        f"The outcome differs now: {recorded} then, {decision.verdict.value} now",
        f"At {when} the request was {recorded}; evaluated with the policies in force now it is "
        f"{decision.verdict.value}. The policies (or the principal) changed since: see changed-since.",
        {
            "recorded": recorded,
            "now": decision.verdict.value,
            "recordedBlocking": (subject.recorded or {}).get("blockingPolicyType")
            if subject.recorded
            else (subject.denial.blocking_type if subject.denial else None),
            "nowBlocking": decision.decisive_block.type.value if decision.decisive_block else None,
        },
    )


def verdict_of(e: Explanation) -> str:
    d = e.decision
    if d is None:
        return e.findings[0].detail if e.findings else "Nothing to evaluate."
    head = f"{d.request.principal.arn} {d.request.action} on {d.request.resource}: "
    if d.allowed:
        if e.recorded is not None and e.recorded != "allowed":
            return head + f"allowed now, {e.recorded} when it was made: the policies changed since."
        return head + "allowed."
    block = d.decisive_block
    reason = "denied"
    if block is not None:
        name = TYPE_NAMES.get(block.type.value, block.type.value)
        reason = f"denied by an explicit Deny in {_a(name)}" if block.explicit else f"denied: no {name} allows it"
    first = min(
        (f for f in e.findings if _RANK.get(f.code, 50) < 50 and _relevant(f)),
        key=lambda f: _RANK.get(f.code, 50),
        default=None,
    )
    out = head + reason + "."
    if first is not None:
        out += f" {first.title}."
    if e.fix is not None:
        if e.fix["kind"] == "add-allow":
            out += " Fix: add the statement shown" + (
                " (checked: it turns the decision to allowed)."
                if e.fix["verified"]
                else " (not enough alone: see the findings)."
            )
        elif e.fix["kind"] == "meet-condition":
            out += " Fix: meet the statement's condition(s)."
        else:
            out += " Fix: review the Deny statement; adding an Allow cannot lift it."
    if e.differs:
        out += f" (When it was made it was {e.recorded}.)"
    return out


# Which finding the one-line verdict names: the most specific cause first.
_RANK = {
    code: i
    for i, code in enumerate(
        (
            "principal-missing",
            "deciding-statement",
            "trust-policy",
            "narrowed-by",
            "wrong-account",
            "wrong-partition",
            "mfa-absent",
            "value-case",
            "key-case",
            "variables-without-version",
            "unknown-action",
            "unknown-condition-key",
            "condition-failed",
            "missing-context-key",
            "evaluation-error",
        )
    )
}


def _relevant(f: Finding) -> bool:
    """A misspelled action far from the requested one is worth listing, not naming in the verdict."""
    return f.code != "unknown-action" or f.evidence.get("where") == "request" or bool(f.evidence.get("matchesRequest"))


def _a(name: str) -> str:
    return ("an " if name[:1] in "aeiou" else "a ") + name
