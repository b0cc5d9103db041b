"""AWS's access-denied checklist, walked on evidence (docs/troubleshooting.md).

Given one evaluation — the request, the policies in force, the engine's decision and its
trace of every statement — each check below reports a :class:`Finding` when it applies,
with the evidence that makes it apply: the policy, the statement (Sid and line:column in
the stored document), the values a condition compared. Nothing here does I/O; the caller
(:mod:`iamd.explain.service`) gathers the policies and evaluates.

The checks follow AWS's "Troubleshoot access denied error messages" and "Troubleshoot IAM"
(policy types that can deny, the deciding statement, failed conditions and missing context
keys, case, policy variables without a Version, misspelled actions and keys, the wrong
account or partition in an ARN, MFA, boundaries, session policies, SCPs and RCPs narrowing
an allow, a trust policy refusing AssumeRole).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from iamd.policy import CompiledStatement, Decision, PolicySet, PolicyType, Request, StatementTrace
from iamd.policy.conditions import ConditionResult
from iamd.policy.model import VERSION_2012
from iamd.policy.wildcard import compile_globs, has_wildcard

from .catalog import Catalog

__all__ = ["Finding", "Traced", "statement_evidence", "walk"]

Traced = tuple[CompiledStatement, StatementTrace]

TYPE_NAMES = {
    "identity": "identity-based policy",
    "resource": "resource-based policy",
    "key": "key policy",
    "trust": "role trust policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "scp": "service control policy",
    "rcp": "resource control policy",
    "protected": "AWS protection of its own resources",
    "vpc-endpoint": "VPC endpoint policy",
}
_NARROWING = (PolicyType.BOUNDARY, PolicyType.SESSION, PolicyType.SCP, PolicyType.RCP)
_MFA_KEYS = frozenset({"aws:multifactorauthpresent", "aws:multifactorauthage"})
# Keys whose conditions on a Deny look like a deliberate guard rail, not an accident.
_GUARD_KEYS = _MFA_KEYS | {
    "aws:sourceip",
    "aws:requestedregion",
    "aws:securetransport",
    "aws:principalorgid",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalarn",
}
_MAX_UNRELATED = 5  # misspellings far from the request: reported up to this many


@dataclass(frozen=True, slots=True)
class Finding:
    """One item of the checklist that applies, and why."""

    code: str
    title: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "detail": self.detail, "evidence": self.evidence}


def statement_evidence(cs: CompiledStatement) -> dict[str, Any]:
    """Where a statement is: its policy (name, ARN, type, inline/managed, owner kind), Sid,
    index, effect and line:column in the stored document."""
    st = cs.statement
    out: dict[str, Any] = {
        "policyName": cs.policy.id,
        "policyType": cs.ptype.value,
        "sid": st.sid,
        "statementIndex": st.index,
        "effect": st.effect,
        "line": st.start.line,
        "column": st.start.column,
    }
    if cs.policy.arn:
        out["policyArn"] = cs.policy.arn
    if cs.policy.kind:
        out["policyKind"] = cs.policy.kind
    if cs.policy.owner:
        out["policyOwner"] = cs.policy.owner
    if cs.ptype in (PolicyType.SCP, PolicyType.RCP):
        out["level"] = cs.policy.level  # 0: the organization root; then each OU down to the account
    return out


def level_name(levels: int, level: int) -> str:
    """``root``, ``ou`` or ``account``: where in the organization an SCP/RCP level is attached (the levels are the
    root, each OU down to the account, and the account)."""
    if level == 0:
        return "root"
    return "account" if level == levels - 1 else "ou"


def org_levels(policies: PolicySet, traced: list[Traced], ptype: PolicyType) -> list[dict[str, Any]]:
    """Each SCP (or RCP) level with no applied Allow for the request: where the organization's guard rail
    stops it (AWS Organizations User Guide, "SCP evaluation": every level must allow)."""
    levels = policies.scp if ptype is PolicyType.SCP else policies.rcp
    allowed = {cs.policy.level for cs, t in traced if cs.ptype is ptype and t.applied and not cs.deny}
    out: list[dict[str, Any]] = []
    for i, level in enumerate(levels):
        if i in allowed:
            continue
        out.append(
            {
                "level": i,
                "levelName": level_name(len(levels), i),
                "policies": [{"policyName": p.id, **({"policyArn": p.arn} if p.arn else {})} for p in level],
            }
        )
    return out


def where(cs: CompiledStatement) -> str:
    """``policy "Name" (arn) statement 2 "Sid" at 7:5``."""
    st = cs.statement
    name = f'{TYPE_NAMES.get(cs.ptype.value, cs.ptype.value)} "{cs.policy.id}"'
    if cs.policy.arn:
        name += f" ({cs.policy.arn})"
    sid = f' "{st.sid}"' if st.sid else ""
    return f"{name} statement {st.index}{sid} at line {st.start.line}, column {st.start.column}"


def _condition_json(result: ConditionResult, cs: CompiledStatement, i: int) -> dict[str, Any]:
    position = cs.conditions[i].entry.position if i < len(cs.conditions) else None
    out: dict[str, Any] = {
        "operator": result.operator,
        "key": result.key,
        "requestValues": list(result.request_values) if result.request_values is not None else None,
        "policyValues": list(result.policy_values),
        "result": result.result,
    }
    if position is not None:
        out["line"], out["column"] = position.line, position.column
    return out


def _compared(result: ConditionResult) -> str:
    got = "absent" if result.request_values is None else ", ".join(repr(v) for v in result.request_values)
    want = ", ".join("<unresolved variable>" if v is None else repr(v) for v in result.policy_values)
    return f"{result.operator} {result.key}: the request has {got}, the policy wants {want}"


# -- the walk ----------------------------------------------------------------------------------
def walk(
    request: Request,
    policies: PolicySet,
    decision: Decision,
    traced: list[Traced],
    catalog: Catalog,
) -> list[Finding]:
    """Every finding of the checklist that applies to this evaluation, most decisive first."""
    findings: list[Finding] = []
    if not decision.allowed:
        findings += _blocking(request, decision)
        findings += _explicit_denies(decision)
        findings += _narrowing(request, decision)
        findings += _trust(request, decision, traced)
    findings += _conditions(request, decision, traced)
    findings += _missing_keys(decision, traced)
    findings += _case(request, traced)
    findings += _versionless_variables(traced)
    findings += _misspelled_actions(request, policies, catalog)
    findings += _unknown_keys(traced, catalog)
    if not decision.allowed:
        findings += _wrong_account(request, traced)
    findings = [_located(f, policies, traced) for f in findings]
    if decision.errors:
        findings.append(
            Finding(
                "evaluation-error",
                "The evaluation met an error and failed closed",
                "; ".join(decision.errors),
                {"errors": list(decision.errors)},
            )
        )
    return findings


def _located(f: Finding, policies: PolicySet, traced: list[Traced]) -> Finding:
    """Says where in the organization an SCP/RCP finding sits (root, OU or account level)."""
    evidence = f.evidence
    if evidence.get("policyType") not in ("scp", "rcp"):
        return f
    detail = f.detail
    ptype = PolicyType(evidence["policyType"])
    if isinstance(evidence.get("level"), int):
        levels = policies.scp if ptype is PolicyType.SCP else policies.rcp
        evidence["levelName"] = level_name(len(levels), evidence["level"])
        if f.code == "deciding-statement":
            detail += (
                f" It is attached at the organization's {evidence['levelName']} level: the fix is at the "
                f"{ptype.value.upper()} level, by the organization's administrator."
            )
    if f.code == "narrowed-by" and not evidence["explicit"]:
        evidence["levelsWithoutAllow"] = org_levels(policies, traced, ptype)
        for lv in evidence["levelsWithoutAllow"][:1]:
            names = ", ".join(p["policyName"] for p in lv["policies"]) or "no policy"
            detail += f" The {lv['levelName']} level (level {lv['level']}: {names}) allows none of it."
    return Finding(f.code, f.title, detail, evidence)


def _blocking(request: Request, decision: Decision) -> list[Finding]:
    block = decision.decisive_block
    if block is None:
        return [Finding("blocked-by", "Denied, with no policy type to name", "The evaluation failed closed.", {})]
    kind = "explicit deny" if block.explicit else "no allow"
    name = TYPE_NAMES.get(block.type.value, block.type.value)
    detail = (
        f"A Deny statement in {_a(name)} applies to {request.action} on {request.resource}."
        if block.explicit
        else f"No {name} allows {request.action} on {request.resource}."
    )
    return [
        Finding(
            "blocked-by",
            f"Blocked by the {name} ({kind})",
            detail,
            {
                "policyType": block.type.value,
                "explicit": block.explicit,
                "allBlocking": [b.to_json() for b in decision.blocking],
            },
        )
    ]


def guard_rail(cs: CompiledStatement) -> bool:
    """Whether a Deny looks deliberate: its conditions test MFA, the source network, the Region, TLS or the
    organization, or it sits in an SCP, RCP or permissions boundary."""
    keys = {c.key for c in cs.conditions}
    return bool(keys & _GUARD_KEYS) or cs.ptype in (PolicyType.SCP, PolicyType.RCP, PolicyType.BOUNDARY)


def protects_mfa(cs: CompiledStatement) -> bool:
    """Whether a Deny's conditions test MFA (AWS's MFA self-service policies)."""
    return bool({c.key for c in cs.conditions} & _MFA_KEYS)


def _explicit_denies(decision: Decision) -> list[Finding]:
    out: list[Finding] = []
    for cs in decision.matched:
        if not cs.deny:
            continue
        keys = {c.key for c in cs.conditions}
        guard = guard_rail(cs)
        detail = f"{where(cs)} denies it."
        if guard:
            detail += (
                " It looks like a deliberate guard rail"
                + (f" (its conditions test {', '.join(sorted(keys & _GUARD_KEYS))})" if keys & _GUARD_KEYS else "")
                + ": meet it rather than lift it, or ask whoever owns it."
            )
        out.append(
            Finding(
                "deciding-statement",
                f"Explicit deny: {cs.policy.id}{' / ' + cs.statement.sid if cs.statement.sid else ''}",
                detail,
                {**statement_evidence(cs), "guardRail": guard},
            )
        )
    return out


def _narrowing(request: Request, decision: Decision) -> list[Finding]:
    """A boundary, session policy, SCP or RCP that denies what the identity side allows."""
    blocked = {b.type for b in decision.blocking}
    if PolicyType.IDENTITY in blocked:
        return []
    out: list[Finding] = []
    for b in decision.blocking:
        if b.type not in _NARROWING:
            continue
        name = TYPE_NAMES[b.type.value]
        how = "denies" if b.explicit else "does not allow"
        out.append(
            Finding(
                "narrowed-by",
                f"The {name} narrows what the identity-based policies allow",
                f"The identity-based policies allow {request.action} on {request.resource}, but the {name} {how} it: "
                f"the effective permissions are the intersection.",
                {"policyType": b.type.value, "explicit": b.explicit},
            )
        )
    return out


def _trust(request: Request, decision: Decision, traced: list[Traced]) -> list[Finding]:
    if not request.action.lower().startswith("sts:assumerole"):
        return []
    if not any(b.type is PolicyType.TRUST for b in decision.blocking):
        return []
    statements = [statement_evidence(cs) for cs, t in traced if cs.ptype is PolicyType.TRUST and t.action_matched]
    refused = [
        statement_evidence(cs) for cs, t in traced if cs.ptype is PolicyType.TRUST and t.principal_matched is False
    ]
    return [
        Finding(
            "trust-policy",
            f"The trust policy of {request.resource} does not let {request.principal.arn} assume it",
            "A role's trust policy must name the caller (its ARN, its role, or its account) in an Allow for "
            f"{request.action}; an identity-based policy alone never suffices.",
            {
                "role": request.resource,
                "caller": request.principal.arn,
                "statementsForAction": statements,
                "principalNotMatched": refused,
            },
        )
    ]


def _near_misses(traced: list[Traced]) -> Iterable[Traced]:
    """Statements whose action (and principal, where there is one) matched but that did not apply."""
    for cs, t in traced:
        if t.action_matched and t.principal_matched is not False and not t.applied:
            yield cs, t


def _conditions(request: Request, decision: Decision, traced: list[Traced]) -> list[Finding]:
    out: list[Finding] = []
    for cs, t in _near_misses(traced):
        if cs.deny or not t.resource_matched:
            continue
        failed = [(i, c) for i, c in enumerate(t.conditions) if c.result is not True]
        for i, c in failed:
            mfa = c.key.lower() in _MFA_KEYS
            code = (
                "mfa-absent"
                if mfa and (c.request_values is None or c.request_values == ("false",))
                else ("condition-failed")
            )
            title = (
                f"MFA: {where(cs)} allows it only with MFA"
                if code == "mfa-absent"
                else f"Condition not met: {c.operator} {c.key}"
            )
            detail = f"{where(cs)} would allow it, but {_compared(c)}."
            if code == "mfa-absent":
                detail += (
                    " Sign in with MFA, or call sts:GetSessionToken with --serial-number and --token-code and use "
                    'the temporary credentials (AWS "Configuring MFA-protected API access").'
                )
            out.append(Finding(code, title, detail, {**statement_evidence(cs), "condition": _condition_json(c, cs, i)}))
    for cs in decision.matched:  # an applied Deny on MFA: the guard rail of AWS's MFA examples
        if cs.deny and any(c.key in _MFA_KEYS for c in cs.conditions):
            out.append(
                Finding(
                    "mfa-absent",
                    f"MFA: {where(cs)} denies requests made without MFA",
                    "The request was made without MFA (aws:MultiFactorAuthPresent absent or false).",
                    statement_evidence(cs),
                )
            )
    return out


def _missing_keys(decision: Decision, traced: list[Traced]) -> list[Finding]:
    """Context keys a statement that could have applied reads, and the request lacks."""
    wanted: dict[str, list[dict[str, Any]]] = {}
    for cs, t in _near_misses(traced):
        for c in t.conditions:
            if c.request_values is None and c.result is not True and not c.operator.startswith("Null"):
                wanted.setdefault(c.key, []).append(statement_evidence(cs))
        for key in cs.referenced_keys:
            if key in decision.missing_context_keys and not any(k.lower() == key for k in wanted):
                wanted.setdefault(key, []).append(statement_evidence(cs))
    return [
        Finding(
            "missing-context-key",
            f"The request has no {key}",
            f"{len(refs)} statement(s) that could have applied read {key}, which this request does not carry: a "
            "condition on an absent key is false (unless …IfExists or Null), and a policy variable on it matches "
            "nothing.",
            {"key": key, "statements": refs},
        )
        for key, refs in sorted(wanted.items())
    ]


def _case(request: Request, traced: list[Traced]) -> list[Finding]:
    out: list[Finding] = []
    ambiguous = request.context.ambiguous
    for key in sorted(ambiguous):
        out.append(
            Finding(
                "key-case",
                f"The request carries {key} twice, spelled in different case",
                "Condition keys are case-insensitive, so two keys differing only by case are one key with two "
                "different values: iamd treats the condition as ambiguous and fails closed.",
                {"key": key, "values": list(request.context.values.get(key, ()))},
            )
        )
    for cs, t in _near_misses(traced):
        if not t.resource_matched:
            continue
        for i, c in enumerate(t.conditions):
            if c.result is not False or c.request_values is None:
                continue
            folded = {v.lower(): v for v in c.policy_values if v is not None}
            close = [(r, folded[r.lower()]) for r in c.request_values if r.lower() in folded and folded[r.lower()] != r]
            if close:
                out.append(
                    Finding(
                        "value-case",
                        f"{c.key}: values differ only by case",
                        _case_detail(cs, c.key, c.operator, close[0]),
                        {**statement_evidence(cs), "condition": _condition_json(c, cs, i)},
                    )
                )
    return out


def _case_detail(cs: CompiledStatement, key: str, operator: str, pair: tuple[str, str]) -> str:
    detail = (
        f"{where(cs)} compares {key} with {operator}, which is case-sensitive: the request has {pair[0]!r}, "
        f"the policy {pair[1]!r}."
    )
    if "Equals" in operator and "IgnoreCase" not in operator and operator.startswith("String"):
        detail += f" Use {operator.replace('Equals', 'EqualsIgnoreCase')} or the exact spelling."
    return detail


def _versionless_variables(traced: list[Traced]) -> list[Finding]:
    out: list[Finding] = []
    for cs, t in traced:
        if not t.action_matched or cs.policy.document.variables_enabled:
            continue
        st = cs.statement
        texts = [*(st.resources or ()), *(st.not_resources or ())]
        for entry in st.conditions:
            texts += list(entry.values)
        literal = [x for x in texts if "${" in x]
        if literal:
            version = cs.policy.document.version
            out.append(
                Finding(
                    "variables-without-version",
                    f"Policy variables compared literally in {cs.policy.id}",
                    f'{where(cs)} uses {literal[0]} but its policy says "Version": '
                    f"{f'{version!r}' if version else 'nothing'}: policy variables are substituted only under "
                    f'"Version": "{VERSION_2012}"; otherwise the text is compared as written.',
                    {**statement_evidence(cs), "version": version, "literal": literal},
                )
            )
    return out


def _misspelled_actions(request: Request, policies: PolicySet, catalog: Catalog) -> list[Finding]:
    out: list[Finding] = []
    wanted = request.action.lower()
    if not catalog.knows_action(request.action):
        near = catalog.nearest_action(request.action)
        out.append(
            Finding(
                "unknown-action",
                f"{request.action} is not an action AWS knows",
                f"No service defines {request.action}" + (f"; did you mean {near}?" if near else "."),
                {"action": request.action, "nearest": near, "where": "request"},
            )
        )
    unrelated = 0
    for cs in policies.statements:
        st = cs.statement
        for written in (*(st.actions or ()), *(st.not_actions or ())):
            if has_wildcard(written) or ":" not in written or catalog.knows_action(written):
                continue
            near = catalog.nearest_action(written)
            related = near is not None and near.lower() == wanted
            if not related:
                if unrelated >= _MAX_UNRELATED or near is None:
                    continue
                unrelated += 1
            detail = f"{where(cs)} names {written}, which no service defines" + (
                f"; did you mean {near}?" if near else "."
            )
            if related:
                detail += f" Spelled right, it would match {request.action}."
            out.append(
                Finding(
                    "unknown-action",
                    f"Misspelled action {written} in {cs.policy.id}",
                    detail,
                    {**statement_evidence(cs), "action": written, "nearest": near, "matchesRequest": related},
                )
            )
    return out


def _unknown_keys(traced: list[Traced], catalog: Catalog) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for cs, t in traced:
        if not t.action_matched:
            continue
        for entry in cs.statement.conditions:
            if (cs.policy.id, entry.key.lower()) in seen or catalog.knows_key(entry.key):
                continue
            seen.add((cs.policy.id, entry.key.lower()))
            near = catalog.nearest_key(entry.key)
            out.append(
                Finding(
                    "unknown-condition-key",
                    f"Unknown condition key {entry.key} in {cs.policy.id}",
                    f"{where(cs)} tests {entry.key}, which no service defines"
                    + (f"; did you mean {near}?" if near else "")
                    + ". A key the request never carries makes the condition false (or true under …IfExists).",
                    {
                        **statement_evidence(cs),
                        "key": entry.key,
                        "nearest": near,
                        "line": entry.position.line,
                        "column": entry.position.column,
                    },
                )
            )
    return out


def _wrong_account(request: Request, traced: list[Traced]) -> list[Finding]:
    """An Allow whose Resource would match but for the account or partition of the ARN."""
    wanted = request.resource.split(":", 5)
    if len(wanted) != 6:
        return []
    out: list[Finding] = []
    for cs, t in _near_misses(traced):
        if cs.deny or t.resource_matched is not False or cs.statement.resources is None:
            continue
        for pattern in cs.statement.resources:
            parts = pattern.split(":", 5)
            if len(parts) != 6:
                continue
            for segment, what in ((4, "account"), (1, "partition")):
                if parts[segment] == wanted[segment] or has_wildcard(parts[segment]):
                    continue
                fixed = ":".join([*parts[:segment], wanted[segment], *parts[segment + 1 :]])
                if compile_globs([fixed])(request.resource):
                    out.append(
                        Finding(
                            f"wrong-{what}",
                            f"The {what} in a Resource ARN of {cs.policy.id} is not the resource's",
                            f"{where(cs)} allows {pattern}, whose {what} is {parts[segment]!r}; the resource "
                            f"{request.resource} is in {what} {wanted[segment]!r}.",
                            {
                                **statement_evidence(cs),
                                "pattern": pattern,
                                "expected": wanted[segment],
                                "found": parts[segment],
                            },
                        )
                    )
    return out


def _a(name: str) -> str:
    return ("an " if name[:1] in "aeiou" else "a ") + name
