"""Authorizing IAM calls with the engine: the caller's policies, compiled and cached.

Policy data is read from the store once and kept compiled in memory, so a decision never
queries the database in steady state. Each compiled set remembers what it was built from;
:meth:`PolicyCache.invalidate_refs` drops the sets built from anything a write touched, and
:meth:`PolicyCache.invalidate` drops everything (see docs/architecture.md, caches).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from iamd import errors as aws
from iamd.policy import (
    Context,
    Decision,
    DocumentKind,
    Policy,
    PolicyDocument,
    PolicySet,
    PolicyType,
    Request,
    Verdict,
    build_context,
    evaluate,
)
from iamd.policy.document import PolicyValidationError, parse_policy
from iamd.refs import Ref, policy_ref, ref
from iamd.sessions import SessionClaims, SessionKind
from iamd.store import EntityKind, NotFound, ReadTx, Role, TagTarget, User

from .call import Call, Caller
from .password_grants import password_self_service_allows
from .sessions import session_context_items
from .targets import Target

__all__ = ["DecisionCounter", "PolicyCache", "authorize_iam", "protected_role_message", "request_context", "unreadable"]

_EMPTY = PolicySet()
log = logging.getLogger("iamd.authorize")


class PolicyCache:
    """Compiled policy sets per IAM user, per role, per session policy; parsed managed-policy versions.

    Each compiled set remembers what it was built from (the user or role, the user's groups,
    the managed policies attached to any of them, the boundary, managed session policies);
    :meth:`invalidate_refs` drops the sets built from anything a write touched, and
    :meth:`invalidate` drops everything (docs/architecture.md, caches).
    """

    def __init__(self, max_sets: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._sets: dict[object, PolicySet] = {}
        self._deps: dict[Ref, set[object]] = {}  # what a set was built from -> the sets' keys
        self._docs: dict[tuple[str, str], PolicyDocument | str] = {}  # a str: why it cannot be read
        self._max = max_sets
        self._era = 0  # bumped by every invalidation: a set built across one is not kept
        self.builds = 0  # sets compiled so far (tests check that unrelated writes cause none)

    def invalidate(self) -> None:
        with self._lock:
            self._era += 1
            self._sets.clear()
            self._deps.clear()
            self._docs.clear()

    def invalidate_refs(self, refs: Iterable[Ref]) -> None:
        """Drop the compiled sets built from any of ``refs`` (and parsed versions of touched policies)."""
        with self._lock:
            self._era += 1
            for r in refs:
                for key in self._deps.pop(r, ()):
                    self._sets.pop(key, None)
                if r[0] == "policy":
                    for doc_key in [k for k in self._docs if k[0].lower() == r[2]]:
                        del self._docs[doc_key]

    def for_user(self, tx: ReadTx, user: User) -> PolicySet:
        return self._cached(user.id, lambda deps: self._load_user(tx, user, deps))

    def for_role(self, tx: ReadTx, role: Role) -> PolicySet:
        """A role's identity policies (inline + attached) and its permissions boundary."""
        return self._cached(role.id, lambda deps: self._load_role(tx, role, deps))

    def for_caller(self, tx: ReadTx, caller: Caller) -> PolicySet:
        """Every identity-side policy of the caller: entity policies, boundary, session policies.

        A role session whose role was deleted (or recreated: another unique id) has none.
        """
        claims = caller.session
        if claims is None or claims.kind is SessionKind.USER:
            return self.for_user(tx, caller.user) if caller.user is not None else _EMPTY
        if claims.kind is SessionKind.ROOT:
            return _EMPTY
        load: Callable[[set[Ref]], PolicySet] | None = None
        if claims.kind is SessionKind.ASSUMED_ROLE and claims.role_arn:
            try:
                role = tx.get_role(claims.account, claims.role_arn.rsplit("/", 1)[1])
            except NotFound:
                return _EMPTY
            if role.id != claims.role_id:
                return _EMPTY
            if not claims.has_session_policy:
                return self.for_role(tx, role)
            load = functools.partial(self._load_role, tx, role)
        elif claims.kind is SessionKind.FEDERATED_USER and claims.user_name is not None:
            try:
                user = tx.get_user(claims.account, claims.user_name)
            except NotFound:
                return _EMPTY
            if user.id != claims.user_id:
                return _EMPTY
            if not claims.has_session_policy:
                return self.for_user(tx, user)
            load = functools.partial(self._load_user, tx, user)
        if load is None:
            return _EMPTY
        key = (claims.kind.value, claims.role_id or claims.user_id, claims.policy, claims.policy_arns)
        entity_load = load
        return self._cached(key, lambda deps: self._with_session(tx, entity_load(deps), claims, deps))

    def _cached(self, key: object, build: Callable[[set[Ref]], PolicySet]) -> PolicySet:
        cached = self._sets.get(key)
        if cached is not None:
            return cached
        era = self._era
        self.builds += 1
        deps: set[Ref] = set()
        built = build(deps)
        with self._lock:
            if era != self._era:  # a write committed while this was read: don't keep it
                return built
            if len(self._sets) >= self._max:
                self._sets.clear()
                self._deps.clear()
            self._sets[key] = built
            for r in deps:
                self._deps.setdefault(r, set()).add(key)
        return built

    def _with_session(self, tx: ReadTx, base: PolicySet, claims: SessionClaims, deps: set[Ref]) -> PolicySet:
        session: list[Policy] = []
        if claims.policy is not None:
            doc = _parse(claims.policy, DocumentKind.SESSION)
            session.append(Policy("SessionPolicy", PolicyType.SESSION, doc if doc is not None else _ALLOW_NOTHING))
        for arn in claims.policy_arns:
            pol = self.managed(tx, arn, PolicyType.SESSION, DocumentKind.SESSION, deps)
            # A managed session policy deleted since the session began grants nothing (fail closed).
            session.append(pol if pol is not None else Policy(arn, PolicyType.SESSION, _ALLOW_NOTHING))
        return PolicySet.of(identity=base.identity, boundary=base.boundary, session=session)

    def managed(
        self, tx: ReadTx, arn: str, policy_type: PolicyType, kind: DocumentKind, deps: set[Ref] | None = None
    ) -> Policy | None:
        if deps is not None:
            deps.add(policy_ref(arn))
        try:
            policy = tx.get_policy(arn)
            version = tx.get_policy_version(arn, policy.default_version_id)
        except NotFound:
            return None
        cache_key = (arn, version.version_id)
        doc = self._docs.get(cache_key)
        if doc is None:
            doc = _read(version.document, kind)
            self._docs[cache_key] = doc
        if isinstance(doc, str):
            what = f"managed policy {policy.arn} version {version.version_id}"
            return unreadable(what, doc, policy.name, policy_type, kind="managed", arn=arn)
        return Policy(policy.name, policy_type, doc, kind="managed", arn=arn)

    def identity(
        self, tx: ReadTx, kind: EntityKind, name: str, owner: str, deps: set[Ref] | None = None
    ) -> list[Policy]:
        if deps is not None:
            deps.add(ref(kind.value, owner, name))
        out: list[Policy] = []
        for inline in tx.list_inline_policies(kind, owner, name):
            doc = _read(inline.document, DocumentKind.IDENTITY)
            if isinstance(doc, str):
                what = f"inline policy {inline.name} of {kind.value} {name}"
                out.append(unreadable(what, doc, inline.name, PolicyType.IDENTITY, kind="inline", owner=kind.value))
            else:
                out.append(Policy(inline.name, PolicyType.IDENTITY, doc, kind="inline", owner=kind.value))
        marker = None
        while True:
            page = tx.list_attached_policies(kind, owner, name, marker=marker, max_items=1000)
            for attached in page.items:
                pol = self.managed(tx, attached.arn, PolicyType.IDENTITY, DocumentKind.IDENTITY, deps)
                if pol is not None:
                    out.append(pol)
            if page.marker is None:
                return out
            marker = page.marker

    def _load_user(self, tx: ReadTx, user: User, deps: set[Ref]) -> PolicySet:
        identity = self.identity(tx, EntityKind.USER, user.name, user.account_id, deps)
        for group in tx.list_groups_for_user(user.account_id, user.name, max_items=1000).items:
            identity += self.identity(tx, EntityKind.GROUP, group.name, user.account_id, deps)
        boundary = None
        if user.permissions_boundary:
            boundary = self.managed(tx, user.permissions_boundary, PolicyType.BOUNDARY, DocumentKind.BOUNDARY, deps)
            if boundary is None:  # a boundary that cannot be read allows nothing: fail closed
                boundary = Policy("unreadable-boundary", PolicyType.BOUNDARY, _DENY_ALL)
        return PolicySet.of(identity=identity, boundary=boundary)

    def _load_role(self, tx: ReadTx, role: Role, deps: set[Ref]) -> PolicySet:
        identity = self.identity(tx, EntityKind.ROLE, role.name, role.account_id, deps)
        boundary = None
        if role.permissions_boundary:
            boundary = self.managed(tx, role.permissions_boundary, PolicyType.BOUNDARY, DocumentKind.BOUNDARY, deps)
            if boundary is None:
                boundary = Policy("unreadable-boundary", PolicyType.BOUNDARY, _DENY_ALL)
        return PolicySet.of(identity=identity, boundary=boundary)


def _parse(text: str, kind: DocumentKind) -> PolicyDocument | None:
    doc = _read(text, kind)
    return None if isinstance(doc, str) else doc


def _read(text: str, kind: DocumentKind) -> PolicyDocument | str:
    """The stored document, or why it cannot be read (it was valid when written: a stricter
    validator after an upgrade, an imported document or a damaged row)."""
    try:
        return parse_policy(text, kind)
    except PolicyValidationError as e:
        return e.message
    except Exception as e:  # fail closed whatever went wrong
        return type(e).__name__


def unreadable(
    what: str,
    reason: str,
    name: str,
    policy_type: PolicyType,
    *,
    kind: str | None = None,
    owner: str | None = None,
    arn: str | None = None,
) -> Policy:
    """A stored policy that cannot be read denies everything it could have denied: it stands
    as a Deny of every action on every resource (docs/evaluation-semantics.md, unreadable
    policies), and every decision names it in its errors. Logged once per compilation."""
    error = f"{what} cannot be read ({reason}); it is evaluated as a Deny of everything"
    log.error("stored policy unreadable: %s", error)
    doc = _DENY_ALL_TRUST if policy_type is PolicyType.TRUST else _DENY_ALL
    return Policy(name, policy_type, doc, kind=kind, owner=owner, arn=arn, error=error)


_DENY_ALL = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}', DocumentKind.BOUNDARY
)
_DENY_ALL_TRUST = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*"}]}', DocumentKind.TRUST
)
# A session policy that exists but allows nothing: its presence still narrows the session.
_ALLOW_NOTHING = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iamd:NoAction","Resource":"*"}]}',
    DocumentKind.SESSION,
)


@functools.lru_cache(maxsize=8)
def _time_keys(epoch_second: int) -> tuple[str, str]:
    """``aws:CurrentTime`` and ``aws:EpochTime`` of one second: formatted once per second."""
    moment = datetime.fromtimestamp(epoch_second, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), str(epoch_second)


def request_context(call: Call) -> list[tuple[str, str | Sequence[str]]]:
    """The keys every request carries (AWS "AWS global condition context keys" (properties of the network and the
    request)), and the caller's credential keys
    (token issue time, MFA, source identity) when it signed with temporary credentials."""
    now = call.now.astimezone(UTC)
    current, epoch = _time_keys(int(now.timestamp()))
    return [
        ("aws:CurrentTime", current),
        ("aws:EpochTime", epoch),
        ("aws:SecureTransport", "true" if call.secure else "false"),
        ("aws:SourceIp", call.source_ip),
        ("aws:UserAgent", call.user_agent),
        ("aws:RequestedRegion", "us-east-1" if call.service == "iam" else call.region),
        *session_context_items(call.caller, now),
    ]


def _iam_context(call: Call, resource: Target, tags: list[tuple[str, str]]) -> Context:
    """The request context of an IAM call on one resource (AWS "AWS global condition context keys")."""
    items = request_context(call) + list(resource.context)
    items += [(f"iam:ResourceTag/{k}", v) for k, v in tags]
    return build_context(call.caller.principal, items, resource_account=call.account, resource_tags=tags)


def _resource_tags(call: Call, tx: ReadTx, target: Target) -> list[tuple[str, str]]:
    """Tags of the existing resource a request names, for ``aws:ResourceTag`` / ``iam:ResourceTag``."""
    if not target.name or target.kind not in _TAGGABLE:
        return []
    kind = TagTarget(target.kind)
    try:
        if kind is TagTarget.POLICY:
            policy = tx.get_policy(target.name)
            found = tx.list_tags(kind, policy.account_id, policy.arn)
        else:
            found = tx.list_tags(kind, call.account, target.name)
    except NotFound:
        return []
    return [(t.key, t.value) for t in found]


_TAGGABLE = frozenset(t.value for t in TagTarget)


class DecisionCounter:
    """How many decisions ended allowed, explicitDeny and implicitDeny (for /metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {v.value: 0 for v in Verdict}

    def add(self, verdict: Verdict) -> None:
        with self._lock:
            self.counts[verdict.value] += 1


def authorize_iam(
    call: Call, tx: ReadTx, target: Target, cache: PolicyCache, counter: DecisionCounter | None = None
) -> Decision | None:
    """Raise AWS's AccessDenied unless the engine allows the call (and every action it implies).

    Returns the decision on the call's own action (for the audit trail; ``None`` when the
    password self-service grant allowed it); a denial carries its decision on the error.
    """
    caller = call.caller
    allowed: Decision | None = None
    policies = cache.for_caller(tx, caller)
    for operation, resource in ((call.operation, target), *target.also):
        tags = _resource_tags(call, tx, resource)
        # Built only if a statement that matches the action reads it (Context.deferred).
        context = Context.deferred(functools.partial(_iam_context, call, resource, tags))
        request = Request(caller.principal, f"iam:{operation}", resource.arn, context, call.account, resource.display)
        decision = evaluate(request, policies)
        if counter is not None:
            counter.add(decision.verdict)
        if not decision.allowed and password_self_service_allows(call, tx, operation, resource.arn, decision):
            continue  # AllowUsersToChangePassword's implicit grant (iamd.service.password_grants)
        if resource is target:
            allowed = decision
        if not decision.allowed:
            block = decision.decisive_block
            if block is not None and block.type is PolicyType.PROTECTED and resource.kind == "role":
                # The engine refuses changes to service-linked and /aws-reserved/ roles whatever
                # the policies say; IAM reports that as UnmodifiableEntity (IAM API "CreateRole", "UpdateRole",
                # "DeleteRole").
                raise aws.UnmodifiableEntity(protected_role_message(resource.name or ""))
            raise aws.AccessDenied(_legacy_mfa_denial(decision.message or "Access denied", resource.arn), decision)
    return allowed


_EXPLICIT = " with an explicit deny"


def _legacy_mfa_denial(message: str, resource_arn: str) -> str:
    """Denials on virtual MFA device resources keep IAM's older text.

    AWS's published text for this case (IAM API "CreateVirtualMFADevice", "EnableMFADevice", the "created but never
    activated"
    device) ends with ``with an explicit deny`` and names no policy type; other IAM denials
    use the newer ``with an explicit deny in <type>`` form (AWS "Troubleshoot access denied error messages").
    docs/mfa.md.
    """
    if ":mfa/" in resource_arn and _EXPLICIT in message:
        return message[: message.index(_EXPLICIT) + len(_EXPLICIT)]
    return message


def protected_role_message(name: str) -> str:
    return f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
