"""Everything a running server needs, wired once: no module-level state anywhere.

``Backend`` is the wiring of one process: the store, the master keys, the application core
(``iamd.core``) it serves every call with, the credential resolver SigV4 looks keys up with
(``api.credentials``), the one cache (``iamd.cache``) and its invalidation by the store's
change sets, the audit writer, the watcher of other
processes' writes, console sign-in and role-use throttling. ``Backend.open(...)`` runs the first
start (``api.bootstrap``: migrations, the account, the root user's access key written to
``<data-dir>/root-credentials``, mode 0600). Tests build their own Backend with their own store
and clock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iamd.api import bootstrap
from iamd.api.audit_process import AuditProcessWriter
from iamd.api.audit_writer import AuditWriter
from iamd.api.bootstrap import DEV_ACCOUNT, RootCredentials
from iamd.api.credentials import CredentialResolver
from iamd.api.watcher import GenerationWatcher
from iamd.audit import CallEvent
from iamd.audit_budget import AuditBudget
from iamd.auth import Credential, SigV4Verifier
from iamd.cache import Cache, CacheLimits
from iamd.core import Core, Registry, builtin_registry
from iamd.crypto import SecretBox
from iamd.partitions import Partition
from iamd.partitions import partition as partition_named
from iamd.protocol import Catalog
from iamd.root_password import read_root_password_hash
from iamd.service.authorize import DecisionCounter, PolicyCache
from iamd.service.call import Caller, Env
from iamd.service.mfa_codes import StoreMfaDevices
from iamd.service.mfa_port import MfaDevices, NoMfaDevices
from iamd.service.signin import SigninAttempt, SigninResult, SigninService, ThrottlePolicy
from iamd.store import ChangeSet, Store

log = logging.getLogger("iamd.cache")

__all__ = ["DEV_ACCOUNT", "Backend", "RootCredentials"]

ROLE_USE_EVERY = timedelta(minutes=1)  # how often a role's last use is written at most


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    audit_budget: AuditBudget = field(default_factory=AuditBudget)  # iamd serve --audit-* (docs/audit.md)
    data_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # MFA devices as sign-in and the credential report see them (iamd.service.mfa_port)
    mfa: MfaDevices = field(default_factory=NoMfaDevices)
    signin_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    watcher: GenerationWatcher | None = None  # other processes' writes (see iamd.api.watcher)
    # The services the core serves (IAM, STS; a process may register more before its first call).
    registry: Registry = field(default_factory=builtin_registry)
    _env: Env | None = field(default=None, repr=False)
    _role_uses: dict[str, tuple[datetime, str]] = field(default_factory=dict, repr=False)  # role id -> last recorded
    _client_verifiers: dict[str, SigV4Verifier] = field(default_factory=dict, repr=False)  # iamd:Authorize
    # the partition served and the regions accepted (iamd.partitions; docs/iam-api.md, "Regions and partitions")
    partition: Partition = field(default_factory=partition_named)
    credentials: CredentialResolver = field(init=False, repr=False)
    core: Core = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The one cache (iamd.cache): credentials, entities, compiled policies and sets, kept
        # coherent by the store's change sets of every committed write of this process.
        self.cache = Cache(self.cache_limits)
        self.policies = PolicyCache(cache=self.cache)
        self._unsubscribe = self.store.subscribe(self._committed)
        self.credentials = CredentialResolver(
            self.store, lambda: self.secret_box, self.cache, self.partition.name, lambda: self.policies
        )
        self.core = Core(self, self.registry)
        if self.audit is None:
            self.audit = AuditWriter(self.store)
        if type(self.mfa) is NoMfaDevices:  # the default: the account's real virtual MFA devices
            self.mfa = StoreMfaDevices(self.store, self.secret_box)

    @property
    def env(self) -> Env:
        env = self._env
        if env is None or env.secret_box is not self.secret_box or env.policies is not self.policies:
            env = self._env = Env(
                self.secret_box,
                self.policies,
                role_used=self.record_role_use,
                mfa=self.mfa,
                partition=self.partition,
                lookup=self.lookup,
                submit_event=self._submit_event,
                client_verifier=self.client_verifier,
                public_url=self.public_url,
            )
        return env

    def public_url(self) -> str:
        """Where relying parties reach this server (outbound federation's issuer URLs; iamd.api.outbound)."""
        from iamd.api.outbound import public_url

        return public_url(self.environ, self.data_dir)

    def client_verifier(self, service: str) -> SigV4Verifier:
        """The verifier of client requests forwarded for ``service`` (iamd:Authorize): any region
        of the partition; kept per service (its signing-key cache), at most 256 services."""
        found = self._client_verifiers.get(service)
        if found is None:
            found = SigV4Verifier({service: self.partition.regions})
            if len(self._client_verifiers) < 256:
                self._client_verifiers[service] = found
        return found

    def _submit_event(self, event: CallEvent) -> None:
        if self.audit is not None:  # the writer of the moment (audit_in_process replaces it)
            self.audit.submit(event)

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

    def preload(self, limit: int) -> threading.Thread:
        """Start the credential index's bulk load on a thread of its own (``iamd serve
        --cache-preload``; ``CredentialResolver.preload``). A load that fails leaves the callers
        to the lazy path, as before."""

        def load() -> None:
            try:
                self.credentials.preload(limit)
            except Exception:
                log.warning("the credential index's bulk load failed; credentials are loaded on first use",
                            exc_info=True)  # fmt: skip

        thread = threading.Thread(target=load, name="iamd-preload", daemon=True)
        thread.start()
        return thread

    def knows_key(self, key_id: str) -> bool:
        """Whether ``lookup(key_id)`` is answered from the cache (no database read)."""
        return self.credentials.knows(key_id)

    def lookup(self, key_id: str, session_token: str | None = None) -> Credential[Caller] | None:
        """The credential for SigV4 (``api.credentials.CredentialResolver``)."""
        return self.credentials.lookup(key_id, session_token)

    # -- console sign-in (iamd.service.signin) ----------------------------------
    def sign_in(self, attempt: SigninAttempt) -> SigninResult:
        """Console sign-in: a session or the precise reason; audited; throttled in the store.

        A success records the password's last use outside a write transaction; the store
        publishes it, which drops the user's cached record (GetUser's ``PasswordLastUsed``).
        """
        service = SigninService(
            self.store, self.clock, mfa=self.mfa, throttle=self.signin_throttle,
            default_account=self.account_id, partition=self.partition.name,
            root_password=lambda account: read_root_password_hash(self.data_dir),  # iamd root set-password
        )  # fmt: skip
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
        partition: str | None = None,
        regions: Collection[str] | None = None,
        cache_limits: CacheLimits | None = None,
    ) -> tuple[Backend, RootCredentials]:
        """Start on ``database_url`` and ``data_dir`` (``api.bootstrap``: first start included).

        ``partition`` is recorded on a new database and must match an existing one's;
        ``regions`` narrows the regions requests may be signed for (default: all of the
        partition's). Both: docs/iam-api.md, "Regions and partitions"."""
        env = os.environ if env is None else env
        store, box, acct, settled = bootstrap.first_start(
            database_url, data_dir, env, account_id=account_id, dev=dev, partition=partition
        )
        served = partition_named(settled)
        if regions is not None:
            served = served.restricted_to(regions)
        backend = cls(
            store, acct, box, clock=clock, dev=dev, data_dir=data_dir, environ=dict(env), partition=served,
            verifier=SigV4Verifier(served.verifier_regions()), cache_limits=cache_limits or CacheLimits(),
        )  # fmt: skip
        root = backend.ensure_root_key(data_dir, env)
        return backend, root

    def audit_in_process(self, url: str) -> None:
        """Move the audit writer to its own process (``iamd serve``; see iamd.api.audit_process)."""
        if self.audit is not None:
            self.audit.close()
        self.audit = AuditProcessWriter(self.store, url, budget=self.audit_budget)

    def configure_audit(self, budget: AuditBudget) -> None:
        """The trail's retention and read policy (docs/audit.md); before ``audit_in_process``."""
        self.audit_budget = budget
        if isinstance(self.audit, AuditWriter):
            self.audit.configure(budget)

    def watch(self, interval: float = 0.1) -> GenerationWatcher:
        """Start noticing other processes' writes (``iamd serve`` does; tests may)."""
        if self.watcher is None:
            self.watcher = GenerationWatcher(self.store, self.changed, interval=interval, on_changes=self.invalidate)
            self.watcher.start()
        return self.watcher

    def reset(self) -> RootCredentials:
        """Wipe all state and start again as on first start (``--dev`` only)."""
        if not self.dev or self.data_dir is None:
            raise PermissionError("reset is available only in --dev mode")
        if self.audit is not None:
            self.audit.flush()
        bootstrap.reset(self.store, self.account_id, self.partition.name)  # published: every cache is dropped
        return self.ensure_root_key(self.data_dir, self.environ)

    def ensure_root_key(self, data_dir: Path, env: Mapping[str, str]) -> RootCredentials:
        """The root user's access key: from IAMD_ROOT_* in --dev mode, else created once."""
        root = bootstrap.ensure_root_key(
            self.store, self.secret_box, self.account_id, data_dir, env, dev=self.dev, region=self.partition.iam_region
        )
        return root  # a key created is published by the store like any write
