"""Everything a running server needs, wired once: no module-level state anywhere.

``Backend.open(...)`` migrates the database, creates the account on first start (with
the root user's access key, written to ``<data-dir>/root-credentials``, mode 0600) and
builds the caches. Tests build their own Backend with their own store and clock.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iamd.api.audit_process import AuditProcessWriter
from iamd.api.audit_writer import AuditWriter
from iamd.api.managed_policies import install_managed_policies
from iamd.api.watcher import GenerationWatcher
from iamd.auth import Credential, SigV4Verifier
from iamd.cache import Cache, CacheLimits, Section
from iamd.crypto import (
    SecretBox,
    access_key_context,
    new_access_key_id,
    new_secret_access_key,
)
from iamd.datadir import make_private
from iamd.keyring import load_secret_box
from iamd.policy import Principal
from iamd.protocol import Catalog
from iamd.refs import key_ref, ref
from iamd.service.authorize import DecisionCounter, PolicyCache
from iamd.service.call import Caller, Env
from iamd.service.mfa_codes import StoreMfaDevices
from iamd.service.mfa_port import MfaDevices, NoMfaDevices
from iamd.service.sessions import principal_for_session
from iamd.service.signin import SigninAttempt, SigninResult, SigninService, ThrottlePolicy
from iamd.sessions import TokenError, open_session_token
from iamd.store import ChangeSet, NotFound, Store, TagTarget, migrate, open_store

__all__ = ["DEV_ACCOUNT", "Backend", "RootCredentials"]

DEV_ACCOUNT = "123456789012"
ROLE_USE_EVERY = timedelta(minutes=1)  # how often a role's last use is written at most
ROOT_CREDENTIALS_FILE = "root-credentials"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    created: bool  # False when the key already existed (the secret is then read back)


@dataclass(eq=False)
class Backend:
    store: Store
    account_id: str
    secret_box: SecretBox
    clock: Callable[[], datetime] = utcnow
    catalog: Catalog = field(default_factory=Catalog)
    verifier: SigV4Verifier = field(default_factory=SigV4Verifier)
    cache_limits: CacheLimits = field(default_factory=CacheLimits)  # iamd serve --cache-* (docs/architecture.md)
    cache: Cache = field(init=False, repr=False)
    policies: PolicyCache = field(init=False, repr=False)
    decisions: DecisionCounter = field(default_factory=DecisionCounter)
    dev: bool = False
    audit: AuditWriter | AuditProcessWriter | None = None
    data_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # MFA devices as sign-in and the credential report see them (iamd.service.mfa_port)
    mfa: MfaDevices = field(default_factory=NoMfaDevices)
    signin_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    watcher: GenerationWatcher | None = None  # other processes' writes (see iamd.api.watcher)
    _env: Env | None = field(default=None, repr=False)
    _role_uses: dict[str, tuple[datetime, str]] = field(default_factory=dict, repr=False)  # role id -> last recorded

    def __post_init__(self) -> None:
        # The one cache (iamd.cache): credentials, entities, compiled policies and sets, kept
        # coherent by the store's change sets of every committed write of this process.
        self.cache = Cache(self.cache_limits)
        self.policies = PolicyCache(cache=self.cache)
        self._unsubscribe = self.store.subscribe(self._committed)
        if self.audit is None:
            self.audit = AuditWriter(self.store)
        if type(self.mfa) is NoMfaDevices:  # the default: the account's real virtual MFA devices
            self.mfa = StoreMfaDevices(self.store, self.secret_box)

    @property
    def env(self) -> Env:
        env = self._env
        if env is None or env.secret_box is not self.secret_box or env.policies is not self.policies:
            env = self._env = Env(self.secret_box, self.policies, role_used=self.record_role_use, mfa=self.mfa)
        return env

    def record_role_use(self, account: str, role_name: str, role_id: str, when: datetime, region: str) -> None:
        """Record a role's last use (GetRole's RoleLastUsed), at most once a minute per role.

        AWS reports RoleLastUsed with a delay too; a write per AssumeRole would cost more than
        the rest of the call. A use in another region is recorded at once. The store
        publishes the change (the role's cached record is dropped, nothing else).
        """
        last = self._role_uses.get(role_id)
        if last is not None and last[1] == region and timedelta(0) <= when - last[0] < ROLE_USE_EVERY:
            return
        if len(self._role_uses) > 100_000:
            self._role_uses.clear()
        self._role_uses[role_id] = (when, region)
        self.store.record_role_use(role_id, when, region)

    # -- caches (docs/architecture.md, "Caches") ----------------------------------------
    def changed(self) -> None:
        """Drop every cache: compiled policies, credentials, entities (another process's write)."""
        self.cache.clear()

    def invalidate(self, changes: ChangeSet) -> None:
        """After a committed write: drop only what depends on what it changed."""
        self.cache.apply(changes)

    def _committed(self, changes: ChangeSet) -> None:
        """The store's listener: every committed write of this process, whoever wrote it."""
        self.cache.apply(changes)
        if changes.generation is not None and self.watcher is not None:
            self.watcher.own(changes.generation)  # not another process's write

    def knows_key(self, key_id: str) -> bool:
        """Whether ``lookup(key_id)`` is answered from the cache (no database read)."""
        return self.cache.contains(Section.CREDENTIALS, key_id)

    def lookup(self, key_id: str, session_token: str | None = None) -> Credential[Caller] | None:
        """The credential for SigV4; one indexed query on a miss, none in steady state.

        Temporary (ASIA) credentials are never stored: the presented session token is opened
        (authenticated decryption, no database read) and must belong to this key id.
        """
        if key_id.startswith("ASIA"):
            return self._session_credential(key_id, session_token)
        cached = self.cache.get(Section.CREDENTIALS, key_id)
        if cached is not None:
            return None if cached is _NO_KEY else cached
        started = self.cache.version
        credential = self._load_credential(key_id)
        user = credential.principal.user if credential is not None else None
        deps = [key_ref(key_id)] if user is None else [key_ref(key_id), ref("user", user.account_id, user.name)]
        self.cache.put(Section.CREDENTIALS, key_id, _NO_KEY if credential is None else credential, deps, started)
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
        cached: Credential[Caller] | None = self.cache.get(Section.SESSIONS, cache_key)
        if cached is not None:
            return cached
        started = self.cache.version
        try:
            claims = open_session_token(self.secret_box, key_id, token)
        except TokenError:
            return None
        caller = Caller(claims.account, principal_for_session(claims), key_id, None, claims)
        credential = Credential(claims.secret_access_key, caller, session_token=token, expires_at=claims.expires_at)
        # Built from the token alone: nothing a write changes (expiry is checked per request).
        self.cache.put(Section.SESSIONS, cache_key, credential, (), started, size=3_000 + len(token))
        return credential

    def _load_credential(self, key_id: str) -> Credential[Caller] | None:
        try:
            with self.store.read() as tx:
                owner = tx.lookup_access_key(key_id)
                tags = tx.list_tags(TagTarget.USER, owner.key.account_id, owner.user.name) if owner.user else ()
        except NotFound:
            return None
        key = owner.key
        secret = self.secret_box.open(key.secret_sealed.decode(), context=access_key_context(key.id))
        if owner.user is None:
            principal = Principal.from_arn(f"arn:aws:iam::{key.account_id}:root")
        else:
            principal = Principal.from_arn(
                owner.user.arn, unique_id=owner.user.id, tags=[(t.key, t.value) for t in tags]
            )
        caller = Caller(key.account_id, principal, key.id, owner.user)
        return Credential(secret, caller, active=key.status.value == "Active")

    # -- console sign-in (iamd.service.signin) ----------------------------------
    def sign_in(self, attempt: SigninAttempt) -> SigninResult:
        """Console sign-in: a session or the precise reason; audited; throttled in the store.

        A success records the password's last use outside a write transaction; the store
        publishes it, which drops the user's cached record (GetUser's ``PasswordLastUsed``).
        """
        service = SigninService(
            self.store, self.clock, mfa=self.mfa, throttle=self.signin_throttle, default_account=self.account_id
        )
        return service.sign_in(attempt)

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self._unsubscribe()
        if self.watcher is not None:
            self.watcher.stop()
        if self.audit is not None:
            self.audit.close()
        self.store.close()

    @classmethod
    def open(
        cls,
        database_url: str,
        data_dir: Path,
        *,
        account_id: str | None = None,
        dev: bool = False,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        cache_limits: CacheLimits | None = None,
    ) -> tuple[Backend, RootCredentials]:
        env = os.environ if env is None else env
        make_private(data_dir)
        migrate.upgrade(database_url)
        store = open_store(database_url)
        box = load_secret_box(data_dir, env)  # the primary master key and any retired ones
        with store.read() as tx:
            accounts = [a.id for a in tx.list_accounts() if a.id != "aws"]
        if accounts:
            acct = accounts[0]
        else:
            acct = account_id or (DEV_ACCOUNT if dev else f"{secrets.randbelow(9 * 10**11) + 10**11:012d}")
            with store.transaction() as tx:
                tx.create_account(acct)
        backend = cls(store, acct, box, clock=clock, dev=dev, data_dir=data_dir, environ=dict(env),
                      cache_limits=cache_limits or CacheLimits())  # fmt: skip
        install_managed_policies(store)
        root = backend.ensure_root_key(data_dir, env)
        return backend, root

    def audit_in_process(self, url: str) -> None:
        """Move the audit writer to its own process (``iamd serve``; see iamd.api.audit_process)."""
        if self.audit is not None:
            self.audit.close()
        self.audit = AuditProcessWriter(self.store, url)

    def watch(self, interval: float = 0.1) -> GenerationWatcher:
        """Start noticing other processes' writes (``iamd serve`` does; tests may)."""
        if self.watcher is None:
            self.watcher = GenerationWatcher(self.store, self.changed, interval=interval)
            self.watcher.start()
        return self.watcher

    def reset(self) -> RootCredentials:
        """Wipe all state and start again as on first start (``--dev`` only)."""
        if not self.dev or self.data_dir is None:
            raise PermissionError("reset is available only in --dev mode")
        if self.audit is not None:
            self.audit.flush()
        self.store.reset()  # published: every cache is dropped
        with self.store.transaction() as tx:
            tx.create_account(self.account_id)
        install_managed_policies(self.store)
        return self.ensure_root_key(self.data_dir, self.environ)

    def ensure_root_key(self, data_dir: Path, env: Mapping[str, str]) -> RootCredentials:
        """The root user's access key: from IAMD_ROOT_* in --dev mode, else created once."""
        wanted_id = env.get("IAMD_ROOT_ACCESS_KEY_ID") if self.dev else None
        wanted_secret = env.get("IAMD_ROOT_SECRET_ACCESS_KEY") if self.dev else None
        with self.store.read() as tx:
            existing = tx.list_access_keys(self.account_id, None)
        path = data_dir / ROOT_CREDENTIALS_FILE
        for key in existing:
            if wanted_id in (None, key.id):
                secret = self.secret_box.open(key.secret_sealed.decode(), context=access_key_context(key.id))
                if wanted_secret is None or wanted_secret == secret:
                    return RootCredentials(key.id, secret, created=False)
        key_id = wanted_id or new_access_key_id(account_id=self.account_id)
        secret = wanted_secret or new_secret_access_key()
        sealed = self.secret_box.seal(secret, context=access_key_context(key_id)).encode()
        with self.store.transaction() as tx:
            for key in existing:  # --dev with other root credentials: they replace the old ones
                tx.delete_access_key(self.account_id, None, key.id)
            tx.create_access_key(self.account_id, None, key_id, sealed)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"AccountId": self.account_id, "AccessKeyId": key_id, "SecretAccessKey": secret}, f, indent=2)
        return RootCredentials(key_id, secret, created=True)


_NO_KEY = object()  # the credential cache's "no such access key"
