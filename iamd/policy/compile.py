"""Compile validated policies into a :class:`PolicySet` that evaluates fast.

Each statement gets matchers built once (action and resource globs, principal names,
conditions). Statements are indexed by service prefix, and the candidates for an action
are memoised per set, so a decision costs the same however many statements cannot apply
to its action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .conditions import Condition
from .model import PolicyDocument, Statement
from .request import GRANT_ACCOUNT, GRANT_ENTITY, GRANT_FINAL, Principal, PrincipalKind
from .variables import Template, Var, parse_template
from .wildcard import Matcher, always, compile_globs, has_wildcard

__all__ = ["CompiledStatement", "Policy", "PolicySet", "PolicyType"]

_MEMO_LIMIT = 4096


class PolicyType(StrEnum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    KEY = "key"
    BOUNDARY = "boundary"
    SESSION = "session"
    SCP = "scp"
    RCP = "rcp"
    PROTECTED = "protected"

    @property
    def names_principal(self) -> bool:
        return self in (PolicyType.RESOURCE, PolicyType.TRUST, PolicyType.KEY, PolicyType.RCP)


# One bit per policy type: the evaluator keeps the types an Allow applied from as an int (CompiledStatement.type_bit)
TYPE_BITS: dict[PolicyType, int] = {t: 1 << i for i, t in enumerate(PolicyType)}


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated document and what the caller knows about it."""

    id: str
    type: PolicyType
    document: PolicyDocument
    level: int = 0  # SCP/RCP level, 0 = organization root
    kind: str | None = None  # inline | managed
    owner: str | None = None  # user | group | role
    arn: str | None = None
    # Set when the stored policy could not be read and ``document`` stands in for it (a Deny
    # of everything, docs/evaluation-semantics.md): every decision names it in its errors.
    error: str | None = None
    # The statements compiled once, when the policy is made: every set that includes this
    # policy object shares them (the policy loader reuses one object per stored document).
    compiled: tuple[CompiledStatement, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", tuple(CompiledStatement(self, st) for st in self.document.statements))


_RANK = {GRANT_FINAL: 3, GRANT_ENTITY: 2, GRANT_ACCOUNT: 1}


class CompiledStatement:
    __slots__ = (
        "action_any",
        "action_negated",
        "action_test",
        "conditions",
        "context_keys",
        "deny",
        "fast_resource",
        "level",
        "names_principal",
        "not_principal",
        "plain",
        "policy",
        "principal_any",
        "principal_names",
        "principal_providers",
        "principal_services",
        "ptype",
        "referenced_keys",
        "resource_negated",
        "resource_template",
        "resource_templates",
        "resource_test",
        "statement",
        "type_bit",
    )  # fmt: skip

    def __init__(self, policy: Policy, st: Statement) -> None:
        doc = policy.document
        variables = doc.variables_enabled
        self.policy = policy
        self.statement = st
        self.deny = st.is_deny
        self.ptype = policy.type
        self.type_bit = TYPE_BITS[policy.type]
        self.names_principal = policy.type.names_principal
        self.level = policy.level
        actions = st.actions if st.actions is not None else st.not_actions or ()
        self.action_negated = st.actions is None
        low = [a.lower() for a in actions]
        self.action_any = "*" in low and not self.action_negated
        self.action_test: Matcher = compile_globs(low)

        resources = st.resources if st.resources is not None else st.not_resources
        self.resource_negated = st.resources is None and st.not_resources is not None
        self.resource_templates: tuple[Template, ...] = ()
        refs: set[str] = set()
        if resources is None:  # resource-based policy without Resource: this resource
            self.resource_test: Matcher | None = compile_globs(["*"])
        else:
            templates = [parse_template(r, variables) for r in resources]
            if any(t.has_vars for t in templates):
                self.resource_test = None
                # an entry with a variable outside the resource part matches nothing
                self.resource_templates = tuple(t for t in templates if variables_in_resource_part(t))
                for t in templates:
                    refs |= t.required_keys
            else:
                self.resource_test = compile_globs(resources)

        # The common case, tested inline by the evaluator: a static Resource list.
        self.fast_resource = self.resource_test if not self.resource_negated else None
        # The next: one Resource with a variable (not NotResource), whose Template.matches the
        # evaluator calls itself. Otherwise matches_resource decides.
        self.resource_template: Template | None = None
        if self.resource_test is None and not self.resource_negated and len(self.resource_templates) == 1:
            self.resource_template = self.resource_templates[0]
        p = st.principal or st.not_principal
        self.not_principal = st.not_principal is not None
        self.principal_any = p is not None and p.wildcard
        self.principal_names: frozenset[str] = frozenset(p.aws if p else ())
        self.principal_services: frozenset[str] = frozenset(p.service if p else ())
        self.principal_providers: frozenset[str] = frozenset(p.federated if p else ())
        self.conditions = tuple(Condition(c, variables) for c in st.conditions)
        for c in self.conditions:
            refs |= c.referenced_keys
        self.referenced_keys = frozenset(refs)
        # Every key whose value can change what the statement does (variables with a default too).
        reads = {c.key for c in self.conditions}
        for t in (*self.resource_templates, *(t for c in self.conditions for t in c.templates)):
            reads |= t.keys
        self.context_keys = frozenset(reads | refs)
        # Applies to any request whose action it matches, and what it adds is an Allow of its type:
        # an Allow of an identity, boundary or session policy with Resource "*", no Principal, no
        # condition and no key to read. The evaluator records it without its other tests.
        self.plain = (
            not self.deny
            and not self.names_principal
            and self.ptype in (PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION)
            and self.fast_resource is always
            and not self.conditions
            and not self.referenced_keys
        )

    # -- matching ------------------------------------------------------------------------
    def matches_action(self, action_lower: str) -> bool:
        return bool(self.action_test(action_lower)) != self.action_negated

    def matches_resource(self, resource: str, values: dict[str, tuple[str, ...]] | object) -> bool:
        test = self.resource_test
        if test is not None:
            return bool(test(resource)) != self.resource_negated
        hit = False
        for t in self.resource_templates:
            if t.matches(resource, values):  # type: ignore[arg-type]
                hit = True
                break
        return hit != self.resource_negated

    def grant(self, principal: Principal, has_boundary: bool) -> str | None:
        """How this statement's Principal binds the caller (None: it does not apply)."""
        if self.not_principal:
            if has_boundary:  # AWS's documented quirk: NotPrincipal+Deny hits any boundary
                return GRANT_FINAL
            listed = self.principal_names | self.principal_services | self.principal_providers
            if self.principal_any:
                return None
            listed = frozenset(_normalise_account(n, principal.partition) for n in listed)
            return None if principal.identities <= listed else GRANT_FINAL
        if self.principal_any:
            return GRANT_FINAL
        if principal.kind is PrincipalKind.SERVICE:
            return GRANT_FINAL if principal.service in self.principal_services else None
        if principal.kind is PrincipalKind.WEB_IDENTITY:
            return GRANT_FINAL if principal.provider in self.principal_providers else None
        best: str | None = None
        grant = principal.grant
        for n in self.principal_names:
            g = grant(n)
            if g is not None and (best is None or _RANK[g] > _RANK[best]):
                best = g
        return best


def _normalise_account(name: str, partition: str) -> str:
    return f"arn:{partition}:iam::{name}:root" if name.isdigit() and len(name) == 12 else name


def variables_in_resource_part(t: Template) -> bool:
    """Variables are honoured only in the resource part of an ARN (after the fifth colon)."""
    colons = 0
    for part in t.parts:
        if isinstance(part, str):
            colons += part.count(":")
            if colons >= 5:
                return True
        elif colons < 5 and isinstance(part, Var):
            return False
    return True


@dataclass(frozen=True, slots=True)
class ScpOutcome:
    """What a set's SCP statements did for one action, resource and context (``PolicySet.split``):
    the statements that applied, in order, the keys they missed, the ambiguity errors."""

    applied: tuple[CompiledStatement, ...]
    missing: frozenset[str]
    errors: tuple[str, ...]
    # ``applied`` as the evaluator records it: the Allow and the Deny statements (each in order)
    # and the SCP levels an Allow applied at
    allows: tuple[CompiledStatement, ...] = field(init=False, repr=False, compare=False)
    denies: tuple[CompiledStatement, ...] = field(init=False, repr=False, compare=False)
    levels: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allows", tuple(cs for cs in self.applied if not cs.deny))
        object.__setattr__(self, "denies", tuple(cs for cs in self.applied if cs.deny))
        object.__setattr__(self, "levels", frozenset(cs.level for cs in self.applied if not cs.deny))


@dataclass(slots=True)
class PolicySet:
    """The policies that apply to one principal and resource, compiled once."""

    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    session: tuple[Policy, ...] = ()
    resource: Policy | None = None
    scp: tuple[tuple[Policy, ...], ...] = ()
    rcp: tuple[tuple[Policy, ...], ...] = ()
    statements: tuple[CompiledStatement, ...] = field(init=False, default=())
    _by_service: dict[str, tuple[CompiledStatement, ...]] = field(init=False, default_factory=dict)
    _global: tuple[CompiledStatement, ...] = field(init=False, default=())
    _memo: dict[str, tuple[CompiledStatement, ...]] = field(init=False, default_factory=dict)
    # split's answer per action as the request spells it, with the action lower-cased: (action, *split),
    # kept for the evaluator (plan)
    _plans: dict[str, tuple[str, tuple[CompiledStatement, ...], tuple[CompiledStatement, ...], tuple[str, ...]]] = (
        field(init=False, default_factory=dict)
    )
    # what the SCP statements did for one request's facts (ScpOutcome), see evaluate
    _scp_outcomes: dict[tuple[object, ...], ScpOutcome] = field(init=False, default_factory=dict)
    errors: tuple[str, ...] = field(init=False, default=())  # the unreadable policies (Policy.error)
    # the type of the resource-side policy (RESOURCE when there is none), and whether it must allow
    resource_type: PolicyType = field(init=False, default=PolicyType.RESOURCE)
    resource_must_allow: bool = field(init=False, default=False)  # trust and key policies
    # The number of SCP levels when the evaluator's inline implicit-deny rules can apply (no RCPs, no
    # resource policy that must allow); -1 otherwise (evaluate._conclude)
    inline_scp_levels: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        if self.resource is not None:
            self.resource_type = self.resource.type
            self.resource_must_allow = self.resource.type in (PolicyType.TRUST, PolicyType.KEY)
        self.inline_scp_levels = len(self.scp) if not self.rcp and not self.resource_must_allow else -1
        compiled: list[CompiledStatement] = []
        errors: list[str] = []
        for pol in self.all_policies():
            compiled.extend(pol.compiled)
            if pol.error is not None:
                errors.append(pol.error)
        self.statements = tuple(compiled)
        self.errors = tuple(errors)
        by_service: dict[str, list[CompiledStatement]] = {}
        global_: list[CompiledStatement] = []
        for cs in compiled:
            acts = cs.statement.actions
            if acts is None or any(":" not in a or has_wildcard(a.split(":", 1)[0]) for a in acts):
                global_.append(cs)  # NotAction, "*", "*:Get*": may match any service
            else:
                for service in {a.split(":", 1)[0].lower() for a in acts}:
                    by_service.setdefault(service, []).append(cs)
        self._by_service = {k: tuple(v) for k, v in by_service.items()}
        self._global = tuple(global_)

    @classmethod
    def of(
        cls,
        identity: Iterable[Policy] = (),
        boundary: Policy | None = None,
        session: Iterable[Policy] = (),
        resource: Policy | None = None,
        scp: Sequence[Iterable[Policy]] = (),
        rcp: Sequence[Iterable[Policy]] = (),
    ) -> PolicySet:
        return cls(tuple(identity), boundary, tuple(session), resource,
                   tuple(tuple(level) for level in scp), tuple(tuple(level) for level in rcp))  # fmt: skip

    def all_policies(self) -> list[Policy]:
        out = list(self.identity)
        if self.boundary is not None:
            out.append(self.boundary)
        out.extend(self.session)
        if self.resource is not None:
            out.append(self.resource)
        for level in self.scp:
            out.extend(level)
        for level in self.rcp:
            out.extend(level)
        return out

    def split(
        self, action_lower: str
    ) -> tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...], tuple[str, ...]]:
        """:meth:`candidates` with the SCP statements apart, and every context key those read.

        An SCP names no principal, so what its statements do for a request depends only on the
        action, the resource and the values of these keys: the evaluator keeps that outcome
        (:meth:`scp_outcome`), and a principal's many requests with the same facts evaluate its
        organization's SCPs once. Not kept here: :meth:`plan` keeps it, per action as spelled.
        """
        found = self.candidates(action_lower)
        scps = tuple(cs for cs in found if cs.ptype is PolicyType.SCP)
        others = tuple(cs for cs in found if cs.ptype is not PolicyType.SCP) if scps else found
        keys: set[str] = set()
        for cs in scps:
            keys |= cs.context_keys
        return others, scps, tuple(sorted(keys))

    def plan(
        self, action: str
    ) -> tuple[str, tuple[CompiledStatement, ...], tuple[CompiledStatement, ...], tuple[str, ...]]:
        """``(action.lower(), *split(action.lower()))``, kept per action as the request spells it: the
        evaluator neither lower-cases nor hashes a new string for an action it has seen."""
        hit = self._plans.get(action)
        if hit is None:
            lowered = action.lower()
            hit = (lowered, *self.split(lowered))
            if len(self._plans) >= _MEMO_LIMIT:
                self._plans.clear()
            self._plans[action] = hit
        return hit

    def scp_outcome(self, key: tuple[object, ...]) -> ScpOutcome | None:
        return self._scp_outcomes.get(key)

    def keep_scp_outcome(self, key: tuple[object, ...], outcome: ScpOutcome) -> None:
        if len(self._scp_outcomes) >= _MEMO_LIMIT:
            self._scp_outcomes.clear()
        self._scp_outcomes[key] = outcome

    def candidates(self, action_lower: str) -> tuple[CompiledStatement, ...]:
        """Statements whose Action/NotAction matches ``action_lower``."""
        hit = self._memo.get(action_lower)
        if hit is not None:
            return hit
        service = action_lower.split(":", 1)[0]
        pool = self._by_service.get(service, ()) + self._global
        found = tuple(cs for cs in pool if cs.matches_action(action_lower))
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[action_lower] = found
        return found
