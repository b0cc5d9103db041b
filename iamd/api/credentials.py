"""Credential resolution: what SigV4 verification looks a presented access key id up with.

Long-term keys are read from the store (one indexed query on a miss) and cached until a write
touches the key or its user; temporary (ASIA) keys are never stored: the presented session
token is opened (authenticated decryption, no database read) and what it opened to is cached
per exact (key id, token) pair. docs/architecture.md, "Caches and invalidation".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from iamd.auth import Credential
from iamd.crypto import SecretBox, access_key_context
from iamd.policy import Principal
from iamd.refs import Ref, ref
from iamd.service.call import Caller
from iamd.service.sessions import principal_for_session
from iamd.sessions import TokenError, open_session_token
from iamd.store import NotFound, Store, TagTarget

__all__ = ["CredentialResolver"]


class CredentialResolver:
    """``lookup(key_id, session_token)`` for the verifier, with its two caches."""

    def __init__(self, store: Store, secret_box: Callable[[], SecretBox], partition: str = "aws") -> None:
        self.store = store
        self._partition = partition  # root's ARN: arn:<partition>:iam::<account>:root
        self._box = secret_box  # the process's current secret box (a test may swap it)
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by every drop: a credential read while one happened is not kept
        self._credentials: dict[str, Credential[Caller] | None] = {}
        self._index: dict[Ref, set[str]] = {}  # user ref -> key ids
        self._sessions: dict[tuple[str, str], Credential[Caller]] = {}  # opened tokens

    def knows(self, key_id: str) -> bool:
        """Whether ``lookup(key_id)`` is answered from the cache (no database read)."""
        return key_id in self._credentials

    def clear(self) -> None:
        """Drop every cached long-term credential."""
        with self._lock:
            self._epoch += 1
            self._credentials.clear()
            self._index.clear()

    def drop(self, refs: Iterable[Ref]) -> None:
        """Drop the credentials of the keys and users in ``refs``."""
        with self._lock:
            self._epoch += 1
            for r in refs:
                if r[0] == "key":
                    self._credentials.pop(r[2], None)
                for key_id in self._index.pop(r, ()):
                    self._credentials.pop(key_id, None)

    def lookup(self, key_id: str, session_token: str | None = None) -> Credential[Caller] | None:
        """The credential for SigV4; one indexed query on a miss, none in steady state.

        Temporary (ASIA) credentials are never stored: the presented session token is opened
        (authenticated decryption, no database read) and must belong to this key id.
        """
        if key_id.startswith("ASIA"):
            return self._session_credential(key_id, session_token)
        if key_id in self._credentials:
            return self._credentials[key_id]
        epoch = self._epoch
        credential = self._load(key_id)
        with self._lock:
            if epoch != self._epoch:  # a write committed while this was read: don't keep it
                return credential
            if len(self._credentials) > 100_000:
                self._credentials.clear()
                self._index.clear()
            self._credentials[key_id] = credential
            user = credential.principal.user if credential is not None else None
            if user is not None:
                self._index.setdefault(ref("user", user.account_id, user.name), set()).add(key_id)
        return credential

    def _session_credential(self, key_id: str, token: str | None) -> Credential[Caller] | None:
        """Open the presented session token (no database read), remembering what it opened to.

        The cache is keyed by the exact (key id, token) pair, so only a token that already
        passed authenticated decryption for that key id is ever served from it; expiry is
        checked by the verifier on every request. Master keys change only at a restart.
        """
        if token is None:
            return None  # the verifier answers InvalidClientTokenId
        cache_key = (key_id, token)
        cached = self._sessions.get(cache_key)
        if cached is not None:
            return cached
        try:
            claims = open_session_token(self._box(), key_id, token)
        except TokenError:
            return None
        caller = Caller(claims.account, principal_for_session(claims), key_id, None, claims)
        credential = Credential(claims.secret_access_key, caller, session_token=token, expires_at=claims.expires_at)
        with self._lock:
            if len(self._sessions) >= 10_000:
                self._sessions.clear()
            self._sessions[cache_key] = credential
        return credential

    def _load(self, key_id: str) -> Credential[Caller] | None:
        try:
            with self.store.read() as tx:
                owner = tx.lookup_access_key(key_id)
                tags = tx.list_tags(TagTarget.USER, owner.key.account_id, owner.user.name) if owner.user else ()
        except NotFound:
            return None
        key = owner.key
        secret = self._box().open(key.secret_sealed.decode(), context=access_key_context(key.id))
        if owner.user is None:
            principal = Principal.from_arn(f"arn:{self._partition}:iam::{key.account_id}:root")
        else:
            principal = Principal.from_arn(
                owner.user.arn, unique_id=owner.user.id, tags=[(t.key, t.value) for t in tags]
            )
        caller = Caller(key.account_id, principal, key.id, owner.user)
        return Credential(secret, caller, active=key.status.value == "Active")
