"""The decision: AWS's policy evaluation logic over a compiled :class:`PolicySet`.

``evaluate(request, policies, tracer=None) -> Decision``. Pure: no I/O, no clock, no
globals. One pass over the statements whose action matches collects, per policy type,
whether an Allow and a Deny applied; the rules of docs/evaluation-semantics.md §3 then
read those facts. Anything that cannot be evaluated denies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from .compile import TYPE_BITS, CompiledStatement, PolicySet, PolicyType, ScpOutcome
from .decision import Blocking, Decision, Verdict, _DecisionDraft
from .request import GRANT_ENTITY, GRANT_FINAL, Context, Principal, PrincipalKind, Request
from .trace import StatementTrace, Tracer
from .wildcard import always

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


# AWS KMS Developer Guide, "Create aliases": "The alias/aws/ prefix is reserved for AWS managed key",
# and aliases of AWS managed keys cannot be managed.
_KMS_ALIAS_CHANGES = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})


def protected_reason(action_lower: str, resource: str) -> str | None:
    """Why AWS refuses this change whatever the policies say (None: it does not)."""
    if action_lower in _KMS_ALIAS_CHANGES:
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[2] == "kms" and parts[5].startswith("alias/aws/"):
            return "the alias/aws/ prefix is reserved for AWS managed keys"
        return None
    if action_lower in _AWS_POLICY_CHANGES and ":iam::aws:policy/" in resource:
        return "AWS managed policies cannot be changed"
    if ":role/aws-service-role/" in resource and action_lower in _ROLE_CHANGES:
        return "service-linked roles change only through iam:DeleteServiceLinkedRole and iam:UpdateRoleDescription"
    if ":role/aws-reserved/" in resource and (
        action_lower in _ROLE_CHANGES or action_lower == "iam:updateroledescription"
    ):
        return "roles under /aws-reserved/ are managed by AWS"
    return None


_BLOCK = {(t, e): Blocking(t, e) for t in PolicyType for e in (True, False)}
# Module constants for the hot paths: a global read instead of an enum class attribute (and a dict lookup).
_SCP, _RCP, _IDENTITY, _BOUNDARY, _SESSION = _T.SCP, _T.RCP, _T.IDENTITY, _T.BOUNDARY, _T.SESSION
_NO_RCP, _NO_SCP = _BLOCK[_RCP, False], _BLOCK[_SCP, False]
_NO_IDENTITY, _NO_BOUNDARY, _NO_SESSION = _BLOCK[_IDENTITY, False], _BLOCK[_BOUNDARY, False], _BLOCK[_SESSION, False]
_NO_IDENTITY_ONLY, _NO_BOUNDARY_ONLY, _NO_SESSION_ONLY = (_NO_IDENTITY,), (_NO_BOUNDARY,), (_NO_SESSION,)
_PROTECTABLE = _AWS_POLICY_CHANGES | _ROLE_CHANGES | _KMS_ALIAS_CHANGES | {"iam:updateroledescription"}


def evaluate(request: Request, policies: PolicySet, tracer: Tracer | None = None) -> Decision:
    action, others, scps, scp_keys = policies._plans.get(request.action) or policies.plan(request.action)
    # never denied (AWS "Actions, resources, and condition keys for AWS Identity and Access Management")
    if action == "sts:getcalleridentity":
        return Decision(Verdict.ALLOWED, request)
    if action in _PROTECTABLE:
        reason = protected_reason(action, request.resource)
        if reason is not None:
            return Decision(Verdict.EXPLICIT_DENY, request, (), (_BLOCK[_T.PROTECTED, True],), (), (reason,))
    if tracer is not None:
        return _evaluate_traced(request, policies, action, tracer)

    principal = request.principal
    ctx = request.context
    # A context built beforehand is read now; a deferred one (Context.deferred) only where a
    # statement needs it (values is None until then). The slots, not the properties: no call.
    values: Mapping[str, tuple[str, ...]] | None = None
    ambiguous: frozenset[str] = _NO_KEYS
    if ctx._pending is None:
        values, ambiguous = ctx._values, ctx._ambiguous
    resource = request.resource
    has_boundary = policies.boundary is not None
    skip = _NONE if principal.usual_caller else _skipped_types(principal)
    # What the pass finds (the fields of _Facts, as locals: no object, no method call per statement).
    # The sets and lists that most decisions leave empty are made when first needed.
    allowed = 0  # the policy types an Allow applied from, as their CompiledStatement.type_bit
    denied: set[PolicyType] | None = None
    allows: list[CompiledStatement]
    denies: list[CompiledStatement] | None = None
    missing: set[str] | None = None
    errors: list[str] | None = None
    scp_levels: AbstractSet[int] = _NO_LEVELS
    rcp_levels: set[int] | None = None
    grant: str | None = None

    if scps and _SCP not in skip:
        if scp_keys:
            if values is None:
                values, ambiguous = ctx.values, ctx._ambiguous
            # the SCP statements' outcome for the same action, resource and values of the keys they read (a
            # value tuple or None per key; then, if any key is ambiguous, a bool per key: a longer key)
            key: tuple[object, ...] = (
                (action, resource, *map(values.get, scp_keys), *[k in ambiguous for k in scp_keys])
                if ambiguous
                else (action, resource, *map(values.get, scp_keys))
            )
        else:
            key = (action, resource)
        outcome = policies._scp_outcomes.get(key) or _scp_outcome(policies, key, resource, ctx, scps)
        # what recording each applied statement would do, in the same order
        allows = list(outcome.allows)
        if allows:
            scp_levels = outcome.levels
        if outcome.denies:
            denied = {_SCP}
            denies = list(outcome.denies)
        if outcome.missing:
            missing = set(outcome.missing)
        if outcome.errors:
            errors = list(outcome.errors)
    else:
        allows = []
    for cs in others:  # never an SCP statement (PolicySet.split)
        if skip and cs.ptype in skip:
            continue
        if cs.plain:  # an Allow that applies as it stands (CompiledStatement.plain): applied, inline
            allows.append(cs)
            allowed |= cs.type_bit
            continue
        g: str | None = None
        if cs.names_principal:
            g = cs.grant(principal, has_boundary)
            if g is None:
                continue
        refs = cs.referenced_keys
        if refs:
            if values is None:
                values, ambiguous = ctx.values, ctx._ambiguous
            for k in refs:
                if not values.get(k):
                    if missing is None:
                        missing = set()
                    missing.add(k)
        fast = cs.fast_resource
        if fast is not None:
            if fast is not always and not fast(resource):  # Resource "*" needs no call
                continue
        else:
            if values is None:
                values, ambiguous = ctx.values, ctx._ambiguous
            template = cs.resource_template
            if template is not None:
                if not template.matches(resource, values):
                    continue
            elif not cs.matches_resource(resource, values):
                continue
        conditions = cs.conditions
        if conditions:  # _conditions_hold, inline
            if values is None:
                values, ambiguous = ctx.values, ctx._ambiguous
            held: bool | None = True
            for cond in conditions:
                held = cond.check(values, ambiguous)
                if held is None:  # ambiguous: fail closed
                    held = cs.deny
                    if errors is None:
                        errors = []
                    errors.append(_ambiguity(cs, cond.key))
                if not held:
                    break
            if not held:
                continue
        # applied: _Facts.applied, inline
        if cs.deny:
            if denied is None or denies is None:
                denied, denies = set(), []
            denied.add(cs.ptype)
            denies.append(cs)
            continue
        allows.append(cs)
        ptype = cs.ptype
        if ptype is _RCP:
            if rcp_levels is None:
                rcp_levels = set()
            rcp_levels.add(cs.level)
        else:
            allowed |= cs.type_bit
            if g is not None and (grant is None or _RANK[g] > _RANK[grant]):
                grant = g
    # _conclude, inline (the traced path calls it; tests/property/test_laws.py compares the two paths)
    blocking: tuple[Blocking, ...]
    if (
        grant is None
        and principal.usual_caller  # an IAM user or role session, not service-linked
        and len(scp_levels) == policies.inline_scp_levels  # no RCPs, no resource policy that must allow
        and (request.resource_account is None or request.resource_account == principal.account)
    ):
        blocking = () if allowed & _IDENTITY_BIT else _NO_IDENTITY_ONLY
        if has_boundary and not allowed & _BOUNDARY_BIT:
            blocking += _NO_BOUNDARY_ONLY
        if principal.kind is _ASSUMED_ROLE and policies.session and not allowed & _SESSION_BIT:
            blocking += _NO_SESSION_ONLY
    else:
        blocking = tuple(_implicit_blocks(request, policies, principal, _types(allowed), scp_levels,
                                          rcp_levels or _NO_LEVELS, grant))  # fmt: skip
    d: Any = _new_object(_DecisionDraft)  # make_decision, inline
    explicit: tuple[Blocking, ...]
    if denied and denies is not None:
        if len(denied) == 1:
            (only,) = denied
            explicit = _EXPLICIT_BLOCK[only]
        else:
            explicit = tuple([_BLOCK[t, True] for t in _TYPE_ORDER if t in denied])
        d.verdict, d.matched, d.blocking = _EXPLICIT_DENY, tuple(denies), explicit + blocking if blocking else explicit
    elif blocking:
        d.verdict, d.matched, d.blocking = _IMPLICIT_DENY, (), blocking
    else:
        d.verdict, d.matched, d.blocking = _ALLOWED, tuple(allows), ()
    d.request = request
    d.missing_context_keys = tuple(sorted(missing)) if missing else ()
    if errors:
        d.errors = (*errors, *policies.errors) if policies.errors else tuple(errors)
    else:
        d.errors = policies.errors  # a tuple, () for most
    d.__class__ = Decision
    made: Decision = d
    return made


_NO_KEYS: frozenset[str] = frozenset()
_IDENTITY_BIT, _BOUNDARY_BIT, _SESSION_BIT = TYPE_BITS[_IDENTITY], TYPE_BITS[_BOUNDARY], TYPE_BITS[_SESSION]


def _types(bits: int) -> set[PolicyType]:
    """The policy types whose ``TYPE_BITS`` are set in ``bits``."""
    return {t for t, bit in TYPE_BITS.items() if bits & bit}


_NO_LEVELS: frozenset[int] = frozenset()


def _scp_outcome(
    policies: PolicySet, key: tuple[object, ...], resource: str, ctx: Context, scps: tuple[CompiledStatement, ...]
) -> ScpOutcome:
    """What the SCP statements do, evaluated once per ``key``: the action, the resource and the values
    of the keys they read (``PolicySet.split``); the same statements on the same facts apply alike."""
    applied: list[CompiledStatement] = []
    missing: set[str] = set()
    errors: list[str] = []
    for cs in scps:
        if cs.referenced_keys:
            missing.update(k for k in cs.referenced_keys if not ctx.values.get(k))
        fast = cs.fast_resource
        if fast is not None:
            if not fast(resource):
                continue
        elif not cs.matches_resource(resource, ctx.values):
            continue
        if cs.conditions and not _conditions_hold(cs, ctx.values, ctx.ambiguous, errors):
            continue
        applied.append(cs)
    outcome = ScpOutcome(tuple(applied), frozenset(missing), tuple(errors))
    policies.keep_scp_outcome(key, outcome)
    return outcome


class _Facts:
    """What one pass over the statements found, per policy type; ``_conclude`` reads it."""

    __slots__ = ("allowed", "allows", "denied", "denies", "errors", "grant", "missing", "rcp_levels", "scp_levels")

    def __init__(self) -> None:
        self.allowed: set[PolicyType] = set()
        self.denied: set[PolicyType] = set()
        self.scp_levels: set[int] = set()
        self.rcp_levels: set[int] = set()
        self.denies: list[CompiledStatement] = []
        self.allows: list[CompiledStatement] = []
        self.missing: set[str] = set()
        self.errors: list[str] = []
        self.grant: str | None = None  # the strongest way a resource policy named the caller

    def applied(self, cs: CompiledStatement, g: str | None) -> None:
        """Record a statement whose action, principal, resource and conditions all matched."""
        ptype = cs.ptype
        if cs.deny:
            self.denied.add(ptype)
            self.denies.append(cs)
            return
        self.allows.append(cs)
        if ptype is _SCP:
            self.scp_levels.add(cs.level)
        elif ptype is _RCP:
            self.rcp_levels.add(cs.level)
        else:
            self.allowed.add(ptype)
            if g is not None and (self.grant is None or _RANK[g] > _RANK[self.grant]):
                self.grant = g


def _skipped_types(principal: Principal) -> frozenset[PolicyType]:
    """SCPs bind principals of a member account, RCPs its resources; neither binds a
    service-linked role, and SCPs do not bind service principals or anonymous callers."""
    if principal.service_linked:
        return _SCP_RCP
    if not principal.has_account_side:
        return _SCP_ONLY
    return _NONE


_SCP_RCP = frozenset({_T.SCP, _T.RCP})
_SCP_ONLY = frozenset({_T.SCP})
_NONE: frozenset[PolicyType] = frozenset()


def _conditions_hold(
    cs: CompiledStatement, values: Mapping[str, tuple[str, ...]], ambiguous: frozenset[str], errors: list[str]
) -> bool:
    for cond in cs.conditions:
        ok = cond.check(values, ambiguous)
        if ok is None:  # ambiguous: fail closed
            ok = cs.deny
            errors.append(_ambiguity(cs, cond.key))
        if not ok:
            return False
    return True


def _ambiguity(cs: CompiledStatement, key: str) -> str:
    return (
        f"{cs.policy.id} statement {cs.statement.index}: the request has several keys named {key} differing "
        f"only by case; the condition was treated as {'met (Deny)' if cs.deny else 'not met (Allow)'}"
    )


def _evaluate_traced(request: Request, policies: PolicySet, action: str, tracer: Tracer) -> Decision:
    """The same decision, looking at every statement and recording what happened to each."""
    principal = request.principal
    ctx = request.context
    values = ctx.values
    has_boundary = policies.boundary is not None
    skip = _skipped_types(principal)
    facts = _Facts()
    for cs in policies.statements:
        st = cs.statement
        trace = StatementTrace(cs.policy.id, cs.ptype.value, st.index, st.sid, st.effect, cs.matches_action(action))
        tracer.record(trace)
        if not trace.action_matched:
            continue
        if cs.ptype in skip:
            trace.principal_matched = False
            continue
        g: str | None = None
        if cs.names_principal:
            g = cs.grant(principal, has_boundary)
            trace.principal_matched = g is not None
            if g is None:
                continue
        facts.missing.update(k for k in cs.referenced_keys if not values.get(k))
        trace.resource_matched = cs.matches_resource(request.resource, values)
        if not trace.resource_matched:
            continue
        trace.conditions = [cond.explain(ctx) for cond in cs.conditions]
        if cs.conditions and not _conditions_hold(cs, values, ctx.ambiguous, facts.errors):
            continue
        trace.applied = True
        facts.applied(cs, g)
    return _conclude(request, policies, facts.allowed, facts.denied, facts.allows, facts.denies, facts.missing,
                     facts.errors, facts.scp_levels, facts.rcp_levels, facts.grant)  # fmt: skip


def _conclude(
    request: Request,
    policies: PolicySet,
    allowed: set[PolicyType],
    denied: set[PolicyType] | None,
    allows: list[CompiledStatement],
    denies: list[CompiledStatement] | None,
    missing: set[str] | None,
    errors: Sequence[str],
    scp_levels: AbstractSet[int],
    rcp_levels: AbstractSet[int],
    grant: str | None,
) -> Decision:
    principal = request.principal
    if (
        grant is None
        and principal.usual_caller  # an IAM user or role session, not service-linked
        and len(scp_levels) == policies.inline_scp_levels  # no RCPs, no resource policy that must allow
        and (request.resource_account is None or request.resource_account == principal.account)
    ):
        # _implicit_blocks for the usual caller, inline: an IAM user or role session of the resource's
        # account, its SCP levels all allowing, no RCPs, no resource-side policy naming it
        blocking = [] if _IDENTITY in allowed else [_NO_IDENTITY]
        if policies.boundary is not None and _BOUNDARY not in allowed:
            blocking.append(_NO_BOUNDARY)
        if principal.kind is _ASSUMED_ROLE and policies.session and _SESSION not in allowed:
            blocking.append(_NO_SESSION)
    else:
        blocking = _implicit_blocks(request, policies, principal, allowed, scp_levels, rcp_levels, grant)
    explicit: tuple[Blocking, ...]
    if denied and denies is not None:
        if len(denied) == 1:
            (only,) = denied
            explicit = _EXPLICIT_BLOCK[only]
        else:
            explicit = tuple([_BLOCK[t, True] for t in _TYPE_ORDER if t in denied])
        verdict, matched, blocks = _EXPLICIT_DENY, tuple(denies), (explicit + tuple(blocking) if blocking else explicit)
    elif blocking:
        verdict, matched, blocks = _IMPLICIT_DENY, (), tuple(blocking)
    else:
        verdict, matched, blocks = _ALLOWED, tuple(allows), ()
    policy_errors = policies.errors
    # make_decision, inline (one call fewer per decision)
    d: Any = _new_object(_DecisionDraft)
    d.verdict = verdict
    d.request = request
    d.matched = matched
    d.blocking = blocks
    d.missing_context_keys = tuple(sorted(missing)) if missing else ()
    d.errors = ((*errors, *policy_errors) if policy_errors else tuple(errors)) if errors or policy_errors else ()
    d.__class__ = Decision
    made: Decision = d
    return made


_new_object = object.__new__


_ALLOWED, _EXPLICIT_DENY, _IMPLICIT_DENY = Verdict.ALLOWED, Verdict.EXPLICIT_DENY, Verdict.IMPLICIT_DENY
_TYPE_ORDER = list(PolicyType)
_EXPLICIT_BLOCK = {t: (_BLOCK[t, True],) for t in PolicyType}
_ROOT, _ROLE, _FEDERATED_USER = PrincipalKind.ROOT, PrincipalKind.ROLE, PrincipalKind.FEDERATED_USER
_USER, _ASSUMED_ROLE = PrincipalKind.USER, PrincipalKind.ASSUMED_ROLE


def _implicit_blocks(
    request: Request,
    policies: PolicySet,
    principal: Principal,
    allowed: set[PolicyType],
    scp_levels: AbstractSet[int],
    rcp_levels: AbstractSet[int],
    grant: str | None,
) -> list[Blocking]:
    out: list[Blocking] = []
    if not principal.service_linked:
        if policies.rcp and len(rcp_levels) < len(policies.rcp):
            out.append(_NO_RCP)
        if policies.scp and principal.has_account_side and len(scp_levels) < len(policies.scp):
            out.append(_NO_SCP)
    if not principal.has_account_side:  # service, anonymous, web identity: only the resource side
        if grant is None:
            out.append(_BLOCK[policies.resource_type, False])
        return out
    account = principal.account
    if account is None or account != (request.resource_account or account):  # not Request.owner_account
        if grant is None:
            out.append(_BLOCK[policies.resource_type, False])
        grant = None  # a grant in another account never replaces side P's own policies
    elif grant is None and policies.resource_must_allow:
        out.append(_BLOCK[policies.resource_type, False])  # trust and key policies must always allow
    kind = principal.kind
    if kind is _ROOT:
        # A privileged root session (STS AssumeRoot) is scoped by its task policy, a session policy.
        if policies.session and _SESSION not in allowed:
            out.append(_NO_SESSION)
        return out

    if grant == GRANT_FINAL:  # neither the identity side nor its limits are needed
        return out
    if grant != GRANT_ENTITY and _IDENTITY not in allowed:  # GRANT_ENTITY: the identity side is not needed
        out.append(_NO_IDENTITY)
    if policies.boundary is not None and _BOUNDARY not in allowed:
        out.append(_NO_BOUNDARY)
    if principal.is_session or kind is _ROLE:
        if policies.session:
            if _SESSION not in allowed:
                out.append(_NO_SESSION)
        elif kind is _FEDERATED_USER:
            out.append(_NO_SESSION)
    return out
