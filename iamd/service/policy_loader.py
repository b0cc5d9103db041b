"""The policy loader: the one place the policies of a request are gathered and built into a ``PolicySet``.

Every caller that evaluates stored policies — IAM authorization, STS (AssumeRole and its
federated forms, GetFederationToken and the other STS checks), the policy simulator — gets its
policies from here (docs/architecture.md, the policy loader):

* **identity**: the principal's inline and attached managed policies, and for an IAM user
  its groups' inline and attached managed policies;
* the **permissions boundary**;
* **session policies**: the inline session policy sealed in the token and the managed
  session policy ARNs;
* the **resource policy** of the request (for STS, the role's trust policy);
* **Organizations** levels (SCPs, RCPs) through :meth:`PolicyLoader.organizations`: the
  policies attached to the root, each OU down to the account, and the account, read from
  the Organizations store (docs/organizations.md, enforcement).

Each stored document is parsed once, cached by content: the key is the document kind and the
SHA-256 of the text, so the same managed policy attached to a thousand users is parsed once,
and a changed document is simply another key (the parse cache needs no invalidation; it is a
bounded LRU). A document that cannot be read fails closed, whatever its type: it stands as a
Deny of everything, named in the decision's errors (``Policy.error``) and logged
(docs/evaluation-semantics.md, unreadable policies).

:class:`PolicyCache` keeps the compiled set of each user, role and session on top of the loader,
and the loader the compiled default version of each managed policy by ARN, both in the
process's one :class:`iamd.cache.Cache`, indexed by the refs they were built from
(docs/architecture.md, "Caches").
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

from iamd.cache import Cache, CacheLimits, Section
from iamd.policy import DocumentKind, OrgMembership, Policy, PolicyDocument, PolicySet, PolicyType
from iamd.policy.document import PolicyValidationError, parse_policy
from iamd.refs import Ref, policy_ref, ref
from iamd.sessions import SessionClaims, SessionKind
from iamd.store import EntityKind, NotFound, PolicySources, ReadTx, Role, User

from .call import Caller
from .organizations.model import MANAGED, RCP, SCP, membership, policy_arn

__all__ = ["EMPTY", "DocumentCache", "Levels", "PolicyCache", "PolicyLoader", "unreadable"]

log = logging.getLogger("iamd.authorize")

# _SETS: an enum member read through its class costs a call through EnumType.__getattr__'s hook
# on Python 3.11, about ten times a module constant's (bench/README.md, "Session 18: the single
# check's ids, time and enum members"): read four times on every authorization.
_SETS = Section.SETS

EMPTY = PolicySet()
K = TypeVar("K")
V = TypeVar("V")
Levels = tuple[tuple[Policy, ...], ...]  # SCP or RCP levels, the organization root first

_DOC_KIND = {
    PolicyType.IDENTITY: DocumentKind.IDENTITY,
    PolicyType.BOUNDARY: DocumentKind.BOUNDARY,
    PolicyType.SESSION: DocumentKind.SESSION,
    PolicyType.RESOURCE: DocumentKind.RESOURCE,
    PolicyType.TRUST: DocumentKind.TRUST,
    PolicyType.SCP: DocumentKind.SCP,
    PolicyType.RCP: DocumentKind.RCP,
}


class _LRU(Generic[K, V]):
    """A bounded mapping, least recently used dropped first; safe to share between threads."""

    def __init__(self, max_entries: int) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._max:
                self._items.popitem(last=False)


def digest(text: str) -> bytes:
    """What a stored document is cached by: the SHA-256 of its text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class DocumentCache:
    """Parsed documents by (document kind, SHA-256 of the text), least recently used dropped first.

    A value is the parsed document or, for a document that cannot be read, why (a ``str``).
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._docs: _LRU[tuple[DocumentKind, bytes], PolicyDocument | str] = _LRU(max_entries)
        self.parses = 0  # documents parsed so far (tests count them)

    def __len__(self) -> int:
        return len(self._docs)

    def get(self, text: str, kind: DocumentKind, sha256: bytes | None = None) -> PolicyDocument | str:
        key = (kind, sha256 if sha256 is not None else digest(text))
        found = self._docs.get(key)
        if found is None:
            self.parses += 1  # two threads may both parse a new document: harmless, both agree
            found = _read(text, kind)
            self._docs.put(key, found)
        return found


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


class PolicyLoader:
    """Gathers the stored policies of a request and builds its ``PolicySet`` (module doc)."""

    def __init__(self, max_documents: int = 4096, cache: Cache | None = None) -> None:
        self.documents = DocumentCache(max_documents)
        # The compiled default version of a managed policy by ARN and type, dropped when the
        # policy changes: a new principal's set reads only its own attachments.
        self.cache = cache
        # Compiled policies (Policy.compiled) by document and what the policy is: the same
        # managed policy in a thousand sets is one object, compiled once.
        self._policies: _LRU[tuple[object, ...], Policy] = _LRU(max_documents)
        # Principals' sets by the policy objects they are made of: the thousand users who attach
        # the same managed policies (and the same inline ones) share one set, its statements
        # indexed and its per-action memos filled once (docs/architecture.md, "Caches"). A key
        # holds ids, never reused while the set in the value keeps those objects alive.
        self._sets: _LRU[tuple[object, ...], PolicySet] = _LRU(max_documents)

    # -- one document ------------------------------------------------------------------------
    def stored(
        self,
        text: str,
        policy_type: PolicyType,
        name: str,
        what: str,
        *,
        kind: str | None = None,
        owner: str | None = None,
        arn: str | None = None,
        level: int = 0,
    ) -> Policy:
        """A stored document as a compiled policy of ``policy_type``; one that cannot be read
        is a Deny of everything naming ``what`` (logged each time a set is built with it).
        ``level``: an SCP's or RCP's level, 0 for the organization root."""
        sha256 = digest(text)
        doc = self.documents.get(text, _DOC_KIND[policy_type], sha256)
        if isinstance(doc, str):
            bad = unreadable(what, doc, name, policy_type, kind=kind, owner=owner, arn=arn)
            return dataclasses.replace(bad, level=level) if level else bad
        key = (policy_type, sha256, name, kind, owner, arn, level)
        found = self._policies.get(key)
        if found is None:
            found = Policy(name, policy_type, doc, level=level, kind=kind, owner=owner, arn=arn)
            self._policies.put(key, found)
        return found

    def managed(self, tx: ReadTx, arn: str, policy_type: PolicyType, deps: set[Ref] | None = None) -> Policy | None:
        """The default version of a managed policy (None: there is no such policy)."""
        if deps is not None:
            deps.add(policy_ref(arn))
        cache = self.cache
        key = (arn, policy_type)  # as spelled: the store decides which spellings name it
        if cache is not None:
            found = cache.get(Section.MANAGED, key)
            if found is not None:
                return None if found is _NO_POLICY else found
            started = cache.version
        try:
            policy = tx.get_policy(arn)
            version = tx.get_policy_version(arn, policy.default_version_id)
        except NotFound:
            if cache is not None:
                cache.put(Section.MANAGED, key, _NO_POLICY, (policy_ref(arn),), started, size=200)
            return None
        what = f"managed policy {policy.arn} version {version.version_id}"
        built = self.stored(version.document, policy_type, policy.name, what, kind="managed", arn=arn)
        if cache is not None:
            cache.put(Section.MANAGED, key, built, (policy_ref(arn),), started, size=4_000 + 30 * len(version.document))
        return built

    # -- the parts of a set ------------------------------------------------------------------
    def identity(
        self, tx: ReadTx, kind: EntityKind, name: str, owner: str, deps: set[Ref] | None = None
    ) -> list[Policy]:
        """The inline and attached managed policies of one user, group or role."""
        if deps is not None:
            deps.add(ref(kind.value, owner, name))
        return self._identity(tx, tx.policy_sources(kind, owner, name), name, deps)

    def user_identity(self, tx: ReadTx, user: User, deps: set[Ref] | None = None) -> list[Policy]:
        """A user's identity policies: its own and those of every group it is in (one read:
        ``ReadTx.policy_sources``)."""
        if deps is not None:
            deps.add(ref(EntityKind.USER.value, user.account_id, user.name))
        sources = tx.policy_sources(EntityKind.USER, user.account_id, user.name)
        identity = self._identity(tx, sources, user.name, deps)
        for group in sources.groups:
            if deps is not None:
                deps.add(ref(EntityKind.GROUP.value, user.account_id, group.name))
            identity += self._identity(tx, group, group.name, deps)
        return identity

    def _identity(self, tx: ReadTx, sources: PolicySources, name: str, deps: set[Ref] | None) -> list[Policy]:
        """The inline and attached managed policies of one entity, from what the store read
        (``name``: the entity as the caller named it, in the messages of unreadable policies)."""
        kind = sources.kind
        out: list[Policy] = []
        for inline in sources.inline:
            what = f"inline policy {inline.name} of {kind.value} {name}"
            out.append(self.stored(inline.document, PolicyType.IDENTITY, inline.name, what, kind="inline",
                                   owner=kind.value))  # fmt: skip
        for attached in sources.attached:
            # An attached policy cannot be deleted; one gone between the two reads is skipped.
            pol = self.managed(tx, attached.arn, PolicyType.IDENTITY, deps)
            if pol is not None:
                out.append(pol)
        return out

    def boundary(self, tx: ReadTx, arn: str | None, whose: str, deps: set[Ref] | None = None) -> Policy | None:
        """The permissions boundary ``arn`` (None: no boundary). A boundary that cannot be read —
        its document, or the policy itself (IAM refuses to delete a policy in use as a
        boundary) — allows nothing: fail closed."""
        if not arn:
            return None
        found = self.managed(tx, arn, PolicyType.BOUNDARY, deps)
        if found is not None:
            return found
        return unreadable(f"permissions boundary {arn} of {whose}", "no such policy", "unreadable-boundary",
                          PolicyType.BOUNDARY, kind="managed", arn=arn)  # fmt: skip

    def session(self, tx: ReadTx, claims: SessionClaims, deps: set[Ref] | None = None) -> list[Policy]:
        """The session policies of a session: the inline one sealed in its token, then the managed ones."""
        out: list[Policy] = []
        if claims.policy is not None:
            out.append(self.stored(claims.policy, PolicyType.SESSION, "SessionPolicy",
                                   f"session policy of {claims.arn}"))  # fmt: skip
        for arn in claims.policy_arns:
            pol = self.managed(tx, arn, PolicyType.SESSION, deps)
            # A managed session policy deleted since the session began grants nothing (fail closed).
            out.append(pol if pol is not None else Policy(arn, PolicyType.SESSION, _ALLOW_NOTHING))
        return out

    def trust(self, role: Role | None) -> Policy:
        """A role's trust policy; a role that does not exist trusts nobody."""
        if role is None:
            return Policy("TrustPolicy", PolicyType.TRUST, _TRUSTS_NOBODY)
        return self.stored(role.assume_role_policy, PolicyType.TRUST, "TrustPolicy", f"trust policy of role {role.arn}",
                           arn=role.arn)  # fmt: skip

    def organizations(self, tx: ReadTx, account: str, deps: set[Ref] | None = None) -> tuple[Levels, Levels]:
        """The SCP and RCP levels that apply to ``account``: the policies attached to the
        organization root, each OU down to the account, and the account, each read with
        :meth:`stored` (``PolicyType.SCP``/``RCP`` and its level).

        None for an account in no organization, in an organization without all features,
        or for the management account, which SCPs and RCPs never restrict (AWS Organizations
        User Guide, "Service control policies" and "Resource control policies"); none of a
        type that is not enabled in the root. What they were built from goes to ``deps``: the
        account's membership, and the organization of an account its levels govern.

        With a cache, an account's levels are kept per account with those refs (docs/architecture.md,
        "Caches and invalidation"): a new caller of an account already seen reads no Organizations table.
        """
        cache = self.cache
        if cache is None:
            return self._organizations(tx, account, deps)
        key = ("org-levels", account)
        found = cache.get(Section.SETS, key)
        if found is None:
            started = cache.version
            refs: set[Ref] = set()
            levels = self._organizations(tx, account, refs)
            found = (levels, tuple(refs))
            size = 600 + 150 * sum(len(level) for kind in levels for level in kind)
            cache.put(Section.SETS, key, found, refs, started, size=size)
        if deps is not None:
            deps.update(found[1])
        return cast(tuple[Levels, Levels], found[0])

    def _organizations(self, tx: ReadTx, account: str, deps: set[Ref] | None) -> tuple[Levels, Levels]:
        org = tx.organization_of(account)
        governed = org is not None and org.feature_set == "ALL" and account != org.management_account_id
        if deps is not None:  # the management account's levels stay empty whatever its organization does
            deps.update(org_refs(account, org.id if org is not None and governed else None))
        if org is None or not governed:
            return (), ()
        tree = tx.org_tree(org.id)
        chain = tree.parent_chain(account)
        found: list[Levels] = []
        for org_type, policy_type in ((SCP, PolicyType.SCP), (RCP, PolicyType.RCP)):
            if org_type not in tree.root.policy_types:
                found.append(())
                continue
            levels = []
            for level, target in enumerate(chain):
                attached = []
                for policy_id in tree.attached(target):
                    stored = MANAGED.get(policy_id) or tree.policies.get(policy_id)
                    if stored is None or stored.type != org_type:
                        continue
                    arn = policy_arn(tree, stored.id, stored.type)
                    attached.append(self.stored(stored.content, policy_type, stored.name,
                                                f"{org_type.lower()} {arn}", arn=arn, level=level))  # fmt: skip
                levels.append(tuple(attached))
            found.append(tuple(levels))
        return found[0], found[1]

    def org_membership(self, tx: ReadTx, account: str, deps: set[Ref] | None = None) -> OrgMembership | None:
        """The organization ``account`` is in and the path of its parent, for the organization
        condition keys (``aws:PrincipalOrgID``/``OrgPaths``, ``aws:ResourceOrgID``/``OrgPaths``);
        None for an account in no organization (docs/organizations.md, "Condition keys")."""
        org = tx.organization_of(account)
        if deps is not None:
            deps.update(org_refs(account, org.id if org is not None else None))
        if org is None:
            return None
        return membership(tx.org_tree(org.id), account)

    # -- sets ---------------------------------------------------------------------------------
    # The set of the given policies (also for documents given directly: the simulator's inputs).
    build = staticmethod(PolicySet.of)

    @staticmethod
    def with_resource(base: PolicySet, resource: Policy | None, rcp: Levels | None = None) -> PolicySet:
        """``base`` (a caller's identity side) evaluated with a resource or trust policy, and
        the RCP levels of the resource's account (``rcp``; None keeps ``base``'s)."""
        return PolicySet.of(base.identity, base.boundary, base.session, resource, base.scp,
                            base.rcp if rcp is None else rcp)  # fmt: skip

    # A principal's set carries the SCP levels of its account. RCPs govern the resources of
    # the services that support them, in iamd the roles STS issues sessions for: the role's
    # account's levels are added with the trust policy (``with_resource``), not here.
    def shared(self, identity: Sequence[Policy], boundary: Policy | None, scp: Levels) -> PolicySet:
        """The set of a principal's policies, one object for every principal whose policies are
        the same objects (the loader makes one object per stored document: :meth:`stored`)."""
        key = (tuple(map(id, identity)), id(boundary), tuple(tuple(map(id, level)) for level in scp))
        found = self._sets.get(key)
        if found is None:
            found = self.build(identity, boundary, scp=scp)
            self._sets.put(key, found)
        return found

    def for_user(self, tx: ReadTx, user: User, deps: set[Ref] | None = None) -> PolicySet:
        identity = self.user_identity(tx, user, deps)
        boundary = self.boundary(tx, user.permissions_boundary, f"user {user.name}", deps)
        scp, _ = self.organizations(tx, user.account_id, deps)
        return self.shared(identity, boundary, scp)

    def for_role(self, tx: ReadTx, role: Role, deps: set[Ref] | None = None) -> PolicySet:
        identity = self.identity(tx, EntityKind.ROLE, role.name, role.account_id, deps)
        boundary = self.boundary(tx, role.permissions_boundary, f"role {role.name}", deps)
        scp, _ = self.organizations(tx, role.account_id, deps)
        return self.shared(identity, boundary, scp)

    def for_root(self, tx: ReadTx, account: str, deps: set[Ref] | None = None) -> PolicySet:
        """The root user's set: no identity policies, only its account's SCP levels."""
        scp, _ = self.organizations(tx, account, deps)
        return self.shared((), None, scp) if scp else EMPTY

    def for_session(
        self, tx: ReadTx, base: PolicySet, claims: SessionClaims, deps: set[Ref] | None = None
    ) -> PolicySet:
        """A session's set: its user's or role's (``base``) narrowed by its session policies."""
        session = self.session(tx, claims, deps)
        return PolicySet.of(base.identity, base.boundary, session, base.resource, base.scp, base.rcp)


def org_refs(account: str, org_id: str | None) -> tuple[Ref, ...]:
    """What a value built from an account's place in Organizations depends on: the account's
    membership (an account joins, moves or leaves) and, if given, its organization (any write to
    it); the store's Organizations writes name both (docs/organizations.md, "Caches")."""
    mine = ref("org-account", "", account)
    return (mine, ref("organization", "", org_id)) if org_id is not None else (mine,)


class PolicyCache:
    """Compiled policy sets per IAM user, per role, per session policy, built by the :class:`PolicyLoader`.

    Each compiled set is kept in the :class:`Cache` with what it was built from (the user or
    role, the user's groups, the managed policies attached to any of them, the boundary,
    managed session policies), so the change set of a write drops exactly the sets built
    from what it changed (docs/architecture.md, "Caches"). Parsed documents are kept by
    content in the loader and need no invalidation.
    """

    def __init__(
        self, max_sets: int | None = None, loader: PolicyLoader | None = None, cache: Cache | None = None
    ) -> None:
        if cache is None:
            cache = Cache(CacheLimits(sets=max_sets) if max_sets is not None else None)
        self.cache = cache
        self.loader = loader if loader is not None else PolicyLoader(cache=cache)
        self.builds = 0  # sets compiled so far (tests check that unrelated writes cause none)

    def for_user(self, tx: ReadTx, user: User, *, started: int | None = None) -> PolicySet:
        """``started``: the cache version before ``tx``'s snapshot began, if it began earlier
        than this call (a caller's credential and its set read in one snapshot:
        ``iamd.api.credentials``); by default, the version now."""
        cached: PolicySet | None = self.cache.get(_SETS, user.id)
        if cached is not None:  # a warm request's (twice per authorization): no closure made for a build
            return cached
        return self._build(user.id, lambda deps: self.loader.for_user(tx, user, deps), started)

    def resource_levels(self, tx: ReadTx, account: str) -> Levels:
        """The RCP levels that govern the resources of ``account`` (cached like the sets; a write
        to the account's organization or membership drops them)."""
        cached: PolicySet | None = self.cache.get(_SETS, ("rcp", account))
        if cached is not None:  # a warm request's: no closure made for a build
            return cached.rcp
        built = self._build(("rcp", account), lambda deps: self.loader.build(rcp=self.loader.organizations(tx,
                            account, deps)[1]))  # fmt: skip
        return built.rcp

    def org_membership(self, tx: ReadTx, account: str) -> OrgMembership | None:
        """:meth:`PolicyLoader.org_membership`, cached per account like the sets (one lookup on a
        warm request; a write to the account's organization or membership drops it)."""
        key = ("org-membership", account)
        found = self.cache.get(_SETS, key)
        if found is not None:
            return None if found is _NO_POLICY else found
        started = self.cache.version
        deps: set[Ref] = set()
        built = self.loader.org_membership(tx, account, deps)
        self.cache.put(Section.SETS, key, _NO_POLICY if built is None else built, deps, started, size=400)
        return built

    def for_role(self, tx: ReadTx, role: Role) -> PolicySet:
        """A role's identity policies (inline + attached) and its permissions boundary."""
        return self._cached(role.id, lambda deps: self.loader.for_role(tx, role, deps))

    def for_caller(self, tx: ReadTx, caller: Caller) -> PolicySet:
        """Every identity-side policy of the caller: entity policies, boundary, session policies.

        A role session whose role was deleted (or recreated: another unique id) has none.
        """
        claims = caller.session
        if claims is None or claims.kind is SessionKind.USER:
            if caller.user is not None:
                return self.for_user(tx, caller.user)
            if caller.is_root:
                return self._cached(("root", caller.account_id), lambda deps: self.loader.for_root(tx,
                                    caller.account_id, deps))  # fmt: skip
            return EMPTY
        if claims.kind is SessionKind.ROOT:
            root = functools.partial(self.loader.for_root, tx, caller.account_id)
            if not claims.has_session_policy:
                return self._cached(("root", caller.account_id), root)
            # an AssumeRoot session: root narrowed by its task policy (docs/organizations.md, "Root access")
            scoped = ("root-session", caller.account_id, claims.policy, claims.policy_arns)
            return self._cached(scoped, lambda deps: self.loader.for_session(tx, root(deps), claims, deps))
        load: Callable[[set[Ref]], PolicySet] | None = None
        if claims.kind is SessionKind.ASSUMED_ROLE and claims.role_arn:
            try:
                role = tx.get_role(claims.account, claims.role_arn.rsplit("/", 1)[1])
            except NotFound:
                return EMPTY
            if role.id != claims.role_id:
                return EMPTY
            if not claims.has_session_policy:
                return self.for_role(tx, role)
            load = functools.partial(self.loader.for_role, tx, role)
        elif claims.kind is SessionKind.FEDERATED_USER and claims.user_name is not None:
            try:
                user = tx.get_user(claims.account, claims.user_name)
            except NotFound:
                return EMPTY
            if user.id != claims.user_id:
                return EMPTY
            if not claims.has_session_policy:
                return self.for_user(tx, user)
            load = functools.partial(self.loader.for_user, tx, user)
        if load is None:
            return EMPTY
        key = (claims.kind.value, claims.role_id or claims.user_id, claims.policy, claims.policy_arns)
        entity_load = load
        return self._cached(key, lambda deps: self.loader.for_session(tx, entity_load(deps), claims, deps))

    def with_resource(self, base: PolicySet, resource: Policy | None, rcp: Levels) -> PolicySet:
        """``base`` with a resource policy and the RCP levels of the resource's account, built
        once while its three parts are the cached objects they are (a part rebuilt is another
        object, another key: nothing stale is served; the entry holds its parts, so an id is
        never reused while it is kept)."""
        key = ("with-resource", id(base), id(resource), id(rcp))
        found = self.cache.get(Section.SETS, key)
        if found is not None and found[0] is base and found[1] is resource and found[2] is rcp:
            return cast(PolicySet, found[3])
        started = self.cache.version
        built = self.loader.with_resource(base, resource, rcp)
        self.cache.put(Section.SETS, key, (base, resource, rcp, built), (), started, size=1_500)
        return built

    def _cached(self, key: object, build: Callable[[set[Ref]], PolicySet], started: int | None = None) -> PolicySet:
        cached: PolicySet | None = self.cache.get(Section.SETS, key)
        if cached is not None:
            return cached
        return self._build(key, build, started)

    def _build(self, key: object, build: Callable[[set[Ref]], PolicySet], started: int | None = None) -> PolicySet:
        """:meth:`_cached` once the cache has no set for ``key`` (a caller that looked first)."""
        if started is None:
            started = self.cache.version  # a write to what it reads, committed meanwhile: not kept
        self.builds += 1
        deps: set[Ref] = set()
        built = build(deps)
        # the entry and its index share; the set itself is shared by the principals of the same policies
        size = 550 + 50 * (len(built.identity) + len(built.session))  # iamd.cache's _SIZE
        self.cache.put(Section.SETS, key, built, deps, started, size=size)
        return built


_NO_POLICY = object()  # the managed cache's "there is no such policy"
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
# The trust policy of a role that does not exist: answered like one that trusts nobody.
_TRUSTS_NOBODY = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iamd.invalid"},'
    '"Action":"sts:AssumeRole"}]}',
    DocumentKind.TRUST,
)
