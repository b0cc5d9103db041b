"""The tracer: what happened to every statement during one evaluation.

Off by default. When a :class:`Tracer` is passed to ``evaluate``, the engine looks at
every statement (not only the indexed candidates) and records, for each, whether its
action, resource, principal and each condition matched, with the values it compared.
The troubleshooter and the console render this; ``iamd policy eval --explain`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .conditions import ConditionResult

__all__ = ["StatementTrace", "Tracer"]


@dataclass(slots=True)
class StatementTrace:
    policy_id: str
    policy_type: str
    statement_index: int
    sid: str | None
    effect: str
    action_matched: bool
    resource_matched: bool | None = None  # None: not looked at
    principal_matched: bool | None = None  # None: no Principal element in this policy type
    conditions: list[ConditionResult] = field(default_factory=list)
    applied: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "policyId": self.policy_id,
            "policyType": self.policy_type,
            "statementIndex": self.statement_index,
            "sid": self.sid,
            "effect": self.effect,
            "actionMatched": self.action_matched,
            "resourceMatched": self.resource_matched,
            "principalMatched": self.principal_matched,
            "conditions": [
                {
                    "operator": c.operator,
                    "key": c.key,
                    "requestValues": list(c.request_values) if c.request_values is not None else None,
                    "policyValues": list(c.policy_values),
                    "result": c.result,
                }
                for c in self.conditions
            ],
            "applied": self.applied,
        }

    def describe(self) -> str:
        """One line a person can read."""
        name = f"{self.policy_type} {self.policy_id} statement {self.statement_index}"
        if self.sid:
            name += f" ({self.sid})"
        verdict = f"{self.effect} APPLIES" if self.applied else "does not apply"
        if not self.action_matched:
            return f"{name}: {verdict}: action not matched"
        reasons = []
        if self.principal_matched is False:
            reasons.append("principal not matched")
        if self.resource_matched is False:
            reasons.append("resource not matched")
        for c in self.conditions:
            got = "absent" if c.request_values is None else list(c.request_values)
            want = [v if v is not None else "<unresolved variable>" for v in c.policy_values]
            outcome = {True: "true", False: "FALSE", None: "AMBIGUOUS"}[c.result]
            reasons.append(f"{c.operator} {c.key}: request {got} vs policy {want} -> {outcome}")
        return f"{name}: {verdict}" + ("".join(f"\n    - {r}" for r in reasons) if reasons else "")


class Tracer:
    """Collects a :class:`StatementTrace` per statement."""

    def __init__(self) -> None:
        self.statements: list[StatementTrace] = []

    def record(self, trace: StatementTrace) -> None:
        self.statements.append(trace)

    def to_json(self) -> list[dict[str, object]]:
        return [s.to_json() for s in self.statements]

    def render(self) -> str:
        return "\n".join(s.describe() for s in self.statements)
