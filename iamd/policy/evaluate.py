"""The decision: AWS's policy evaluation logic over a compiled :class:`PolicySet`.

``evaluate(request, policies, tracer=None) -> Decision``. Pure: no I/O, no clock, no
globals. One pass over the statements whose action matches collects, per policy type,
whether an Allow and a Deny applied; the rules of docs/evaluation-semantics.md §3 then
read those facts. Anything that cannot be evaluated denies.
"""

from __future__ import annotations

from .compile import CompiledStatement, PolicySet, PolicyType
from .decision import Blocking, Decision, Verdict
from .request import GRANT_ENTITY, GRANT_FINAL, Principal, PrincipalKind, Request
from .trace import StatementTrace, Tracer

__all__ = ["evaluate", "protected_reason"]

_T = PolicyType
_RANK = {GRANT_FINAL: 3, GRANT_ENTITY: 2, "account": 1}

_AWS_POLICY_CHANGES = frozenset(
    "iam:" + a
    for a in (
        "createpolicyversion",
        "deletepolicyversion",
        "setdefaultpolicyversion",
        "deletepolicy",
        "tagpolicy",
        "untagpolicy",
    )
)
_ROLE_CHANGES = frozenset(
    "iam:" + a
    for a in (
        "deleterole",
        "updaterole",
        "updateassumerolepolicy",
        "putrolepolicy",
        "deleterolepolicy",
        "attachrolepolicy",
        "detachrolepolicy",
        "putrolepermissionsboundary",
        "deleterolepermissionsboundary",
        "tagrole",
        "untagrole",
    )
)


def protected_reason(action_lower: str, resource: str) -> str | None:
    """Why AWS refuses this change whatever the policies say (None: it does not)."""
    if action_lower in _AWS_POLICY_CHANGES and ":iam::aws:policy/" in resource:
        return "AWS managed policies cannot be changed"
    if ":role/aws-service-role/" in resource and action_lower in _ROLE_CHANGES:
        return "service-linked roles change only through iam:DeleteServiceLinkedRole and iam:UpdateRoleDescription"
    if ":role/aws-reserved/" in resource and (
        action_lower in _ROLE_CHANGES or action_lower == "iam:updateroledescription"
    ):
        return "roles under /aws-reserved/ are managed by AWS"
    return None


def evaluate(request: Request, policies: PolicySet, tracer: Tracer | None = None) -> Decision:
    action = request.action.lower()
    if action == "sts:getcalleridentity":  # never denied (evaluation.md §2.3)
        return Decision(Verdict.ALLOWED, request)
    reason = protected_reason(action, request.resource)
    if reason is not None:
        return Decision(Verdict.EXPLICIT_DENY, request, (), (Blocking(_T.PROTECTED, True),), (), (reason,))

    principal = request.principal
    ctx = request.context
    values = ctx.values
    resource = request.resource
    has_boundary = policies.boundary is not None

    allowed_types: set[PolicyType] = set()
    deny_types: set[PolicyType] = set()
    scp_levels: set[int] = set()
    rcp_levels: set[int] = set()
    denies: list[CompiledStatement] = []
    allows: list[CompiledStatement] = []
    missing: set[str] = set()
    errors: list[str] = []
    grant: str | None = None
    # SCPs bind principals of a member account, RCPs its resources; neither binds a
    # service-linked role, and SCPs do not bind service principals or anonymous callers.
    skip: set[PolicyType] = set()
    if principal.service_linked:
        skip = {_T.SCP, _T.RCP}
    elif not principal.has_account_side:
        skip = {_T.SCP}

    statements = policies.statements if tracer is not None else policies.candidates(action)
    for cs in statements:
        trace: StatementTrace | None = None
        if tracer is not None:
            st = cs.statement
            trace = StatementTrace(cs.policy.id, cs.ptype.value, st.index, st.sid, st.effect, cs.matches_action(action))
            tracer.record(trace)
            if not trace.action_matched:
                continue
        if skip and cs.ptype in skip:
            if trace is not None:
                trace.principal_matched = False
            continue
        g: str | None = None
        if cs.ptype.names_principal:
            g = cs.grant(principal, has_boundary)
            if trace is not None:
                trace.principal_matched = g is not None
            if g is None:
                continue
        if cs.referenced_keys:
            missing.update(k for k in cs.referenced_keys if not values.get(k))
        if not cs.matches_resource(resource, values):
            if trace is not None:
                trace.resource_matched = False
            continue
        if trace is not None:
            trace.resource_matched = True
        applies = True
        for cond in cs.conditions:
            if trace is not None:
                trace.conditions.append(cond.explain(ctx))
            ok = cond.evaluate(ctx)
            if ok is None:  # ambiguous: fail closed
                ok = cs.deny
                errors.append(
                    f"{cs.policy.id} statement {cs.statement.index}: the request has several keys named "
                    f"{cond.key} differing only by case; the condition was treated as "
                    f"{'met (Deny)' if cs.deny else 'not met (Allow)'}"
                )
            if not ok:
                applies = False
                if trace is None:
                    break
        if not applies:
            continue
        if trace is not None:
            trace.applied = True
        ptype = cs.ptype
        if cs.deny:
            deny_types.add(ptype)
            denies.append(cs)
            continue
        allows.append(cs)
        if ptype is _T.SCP:
            scp_levels.add(cs.level)
        elif ptype is _T.RCP:
            rcp_levels.add(cs.level)
        else:
            allowed_types.add(ptype)
            if g is not None and (grant is None or _RANK[g] > _RANK[grant]):
                grant = g

    blocking = [Blocking(t, True) for t in _ordered(deny_types)]
    blocking.extend(_implicit_blocks(request, policies, principal, allowed_types, scp_levels, rcp_levels, grant))
    missing_keys = tuple(sorted(missing))
    if deny_types:
        return Decision(Verdict.EXPLICIT_DENY, request, tuple(denies), tuple(blocking), missing_keys, tuple(errors))
    if blocking:
        return Decision(Verdict.IMPLICIT_DENY, request, (), tuple(blocking), missing_keys, tuple(errors))
    return Decision(Verdict.ALLOWED, request, tuple(allows), (), missing_keys, tuple(errors))


_TYPE_ORDER = list(PolicyType)


def _ordered(types: set[PolicyType]) -> list[PolicyType]:
    return sorted(types, key=_TYPE_ORDER.index)


def _implicit_blocks(
    request: Request,
    policies: PolicySet,
    principal: Principal,
    allowed: set[PolicyType],
    scp_levels: set[int],
    rcp_levels: set[int],
    grant: str | None,
) -> list[Blocking]:
    out: list[Blocking] = []
    exempt = principal.service_linked
    if policies.rcp and not exempt and len(rcp_levels) < len(policies.rcp):
        out.append(Blocking(_T.RCP, False))
    if policies.scp and not exempt and principal.has_account_side and len(scp_levels) < len(policies.scp):
        out.append(Blocking(_T.SCP, False))

    rtype = policies.resource.type if policies.resource is not None else _T.RESOURCE
    must_allow = rtype in (_T.TRUST, _T.KEY)
    same_account = principal.account is not None and principal.account == request.owner_account

    if not principal.has_account_side:  # service, anonymous, web identity: only the resource side
        if grant is None:
            out.append(Blocking(rtype, False))
        return out
    if not same_account:
        if grant is None:
            out.append(Blocking(rtype, False))
        grant = None  # a grant in another account never replaces side P's own policies
    elif must_allow and grant is None:
        out.append(Blocking(rtype, False))
    if principal.kind is PrincipalKind.ROOT:
        return out

    need_identity = need_limits = True
    if grant == GRANT_FINAL:
        need_identity = need_limits = False
    elif grant == GRANT_ENTITY:
        need_identity = False
    if need_identity and _T.IDENTITY not in allowed:
        out.append(Blocking(_T.IDENTITY, False))
    if need_limits:
        if policies.boundary is not None and _T.BOUNDARY not in allowed:
            out.append(Blocking(_T.BOUNDARY, False))
        if principal.is_session or principal.kind is PrincipalKind.ROLE:
            if policies.session:
                if _T.SESSION not in allowed:
                    out.append(Blocking(_T.SESSION, False))
            elif principal.kind is PrincipalKind.FEDERATED_USER:
                out.append(Blocking(_T.SESSION, False))
    return out
