"""Credential resolution: what SigV4 verification looks a presented access key id up with.

Long-term keys are read from the store (one indexed query on a miss) and kept in the process's
one cache (``iamd.cache``, section ``credentials``) until a committed write changes the key or
its user; temporary (ASIA) keys are never stored: the presented session token is opened
(authenticated decryption, no database read) and what it opened to is kept per exact (key id,
token) pair (section ``sessions``). docs/architecture.md, "Caches and invalidation".
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from iamd.auth import Credential
from iamd.cache import Cache, Section
from iamd.core.reads import remember_user
from iamd.crypto import SecretBox, access_key_context
from iamd.policy import Principal
from iamd.refs import key_ref, ref
from iamd.service.call import Caller
from iamd.service.policy_loader import PolicyCache
from iamd.service.sessions import principal_for_session
from iamd.sessions import TokenError, open_session_token
from iamd.store import AccessKeyOwner, NotFound, ReadTx, Store, User

__all__ = ["CredentialResolver"]

log = logging.getLogger("iamd.auth")

_NO_KEY = object()  # the credential section's "no such access key"
# _CREDENTIALS: an enum member read through its class costs a call through EnumType.__getattr__'s hook
# on Python 3.11, about ten times a module constant's (bench/README.md, "Session 18: the single
# check's ids, time and enum members"): read twice on every authorization.
_CREDENTIALS = Section.CREDENTIALS


class CredentialResolver:
    """``lookup(key_id, session_token)`` for the verifier, through the one cache."""

    def __init__(
        self,
        store: Store,
        secret_box: Callable[[], SecretBox],
        cache: Cache,
        partition: str = "aws",
        policies: Callable[[], PolicyCache | None] | None = None,
    ) -> None:
        self.store = store
        self._box = secret_box  # the process's current secret box (a test may swap it)
        self._cache = cache
        self._partition = partition  # root's ARN: arn:<partition>:iam::<account>:root
        # The process's policy sets (``Backend.policies``): a user's is built in its credential's snapshot.
        self._policies = policies

    def knows(self, key_id: str) -> bool:
        """Whether ``lookup(key_id)`` is answered from the cache (no database read)."""
        return self._cache.contains(Section.CREDENTIALS, key_id)

    def lookup(self, key_id: str, session_token: str | None = None) -> Credential[Caller] | None:
        """The credential for SigV4; one indexed query on a miss, none in steady state."""
        if key_id.startswith("ASIA"):
            return self._session_credential(key_id, session_token)
        cached = self._cache.get(_CREDENTIALS, key_id)
        if cached is not None:
            return None if cached is _NO_KEY else cached
        started = self._cache.version
        credential = self._load_credential(key_id, started)
        self._keep(key_id, credential, started)
        return credential

    def _keep(self, key_id: str, credential: Credential[Caller] | None, started: int) -> bool:
        """Cache ``credential`` (None: no such key) under the one staleness rule."""
        user = credential.principal.user if credential is not None else None
        deps = [key_ref(key_id)] if user is None else [key_ref(key_id), ref("user", user.account_id, user.name)]
        return self._cache.put(
            Section.CREDENTIALS, key_id, _NO_KEY if credential is None else credential, deps, started
        )

    def preload(self, limit: int, page: int = 500) -> int:
        """The credential index's bulk load (docs/architecture.md, "The credential index"): what
        every stored key's first request would keep — its credential, and for an active key of a
        user the user's policy set, record and tags, and its account's place in Organizations —
        kept the same way, ``page`` keys per snapshot (one statement for the keys, users and tags;
        one per user for its policy sources), under the one staleness rule: each page's
        ``started`` is taken before its snapshot, so an entry that a write committed meanwhile may
        have changed is left out and its caller's first request reads it as before. From then on
        the entries are invalidated as any other. Nothing is loaded when the store has more than
        ``limit`` keys, or more than the cache holds credentials; the load stops when the cache
        starts evicting (its memory budget is full): the rest are loaded on first use. A key
        already cached is left alone. Returns how many credentials were kept."""
        with self.store.read() as tx:
            if tx.count_access_keys() > min(limit, self._cache.limits.credentials):
                return 0
        kept, after, evictions = 0, "", self._cache.evictions
        while True:
            started = self._cache.version
            with self.store.read() as tx:
                owners = tx.access_key_owners(after, page)
                for owner in owners:
                    key_id = owner.key.id
                    if self.knows(key_id):
                        continue
                    if owner.user is not None and owner.key.status.value == "Active":
                        self._user_set(tx, owner.user, started)
                    kept += self._keep(key_id, self._credential(owner, key_id, started), started)
                policies = self._policies() if self._policies is not None else None
                for account in {owner.key.account_id for owner in owners}:
                    if policies is not None:  # what each request of the account reads (cached per account)
                        policies.org_membership(tx, account)
            if len(owners) < page or self._cache.evictions != evictions:
                return kept
            after = owners[-1].key.id

    def _session_credential(self, key_id: str, token: str | None) -> Credential[Caller] | None:
        """Open the presented session token (no database read), remembering what it opened to.

        The cache is keyed by the exact (key id, token) pair, so only a token that already
        passed authenticated decryption for that key id is ever served from it; expiry is
        checked by the verifier on every request. Master keys change only at a restart.
        """
        if token is None:
            return None  # the verifier answers InvalidClientTokenId
        cache_key = (key_id, token)
        cached: Credential[Caller] | None = self._cache.get(Section.SESSIONS, cache_key)
        if cached is not None:
            return cached
        started = self._cache.version
        try:
            claims = open_session_token(self._box(), key_id, token)
        except TokenError:
            return None
        caller = Caller(claims.account, principal_for_session(claims), key_id, None, claims)
        credential = Credential(claims.secret_access_key, caller, session_token=token, expires_at=claims.expires_at)
        # Built from the token alone: nothing a write changes (expiry is checked per request).
        self._cache.put(Section.SESSIONS, cache_key, credential, (), started, size=3_000 + len(token))
        return credential

    def _load_credential(self, key_id: str, started: int) -> Credential[Caller] | None:
        """The key, its user and the user's tags: one statement (``ReadTx.lookup_access_key``).
        The user and its tags are also what the entity lookups ``get_user`` and ``list_tags`` of
        that user answer, read in the same snapshot: they are kept as those answers too (same
        refs, same staleness rule), so the caller's first request does not read them again."""
        try:
            with self.store.read() as tx:
                owner = tx.lookup_access_key(key_id)
                if owner.user is not None and owner.key.status.value == "Active":
                    self._user_set(tx, owner.user, started)
        except NotFound:
            return None
        return self._credential(owner, key_id, started)

    def _credential(self, owner: AccessKeyOwner, key_id: str, started: int) -> Credential[Caller]:
        """The credential of ``owner`` as read (its secret opened), its user and tags kept as
        entity lookups (``started``: the cache version before the snapshot that read them)."""
        key, user, tags = owner.key, owner.user, owner.user_tags
        secret = self._box().open(key.secret_sealed.decode(), context=access_key_context(key.id))
        if user is None:
            principal = Principal.from_arn(f"arn:{self._partition}:iam::{key.account_id}:root")
        else:
            principal = Principal.from_arn(user.arn, unique_id=user.id, tags=[(t.key, t.value) for t in tags])
            remember_user(self._cache, user, tags, started)
        # the principal's (interned) account and the presented key id, which the cache is keyed by:
        # the same string objects, not one more copy each per cached caller
        caller = Caller(principal.account or key.account_id, principal, key_id if key_id == key.id else key.id, user)
        return Credential(secret, caller, active=key.status.value == "Active")

    def _user_set(self, tx: ReadTx, user: User, started: int) -> None:
        """Build the user's policy set in its credential's snapshot (one snapshot per first
        request instead of two: the request's authorization then finds it cached). Kept under the
        one staleness rule with the credential's ``started`` (taken before the snapshot began). A
        failure here is left to the request's authorization, which builds the set again and
        answers it as before."""
        policies = self._policies() if self._policies is not None else None
        if policies is None:
            return
        try:
            policies.for_user(tx, user, started=started)
        except Exception:
            log.warning("could not build the policy set of %s with its credential", user.arn, exc_info=True)
