"""Console sessions: server-side, in the store, expiring, revocable; the pending step between password and MFA code.

A browser holds only a random token (``secrets.token_urlsafe(32)``, 256 bits) in an HttpOnly,
SameSite=Strict cookie. The store keeps the session under the token's SHA-256, so a lookup
never compares the token itself, and what the session holds (who signed in, the MFA setup in
progress, the role switched to) sealed with AES-256-GCM under a key derived from the token
(HKDF-SHA256): a copy of the database opens no session and reveals no seed. The CSRF token of
a session is derived from its token too (HMAC-SHA256), so no CSRF secret is stored at all,
and forms compare it with ``hmac.compare_digest``.

Because sessions are rows of the store, every process of ``iamd serve --workers N`` (and
every server on the same database) sees a sign-in, a sign-out and a revocation at the next
request (docs/console.md, "Sessions").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from iamd.service.signin import ConsoleSession, SigninAttempt
from iamd.store import Store
from iamd.store.console_sessions import ConsoleSessionRow

__all__ = [
    "PENDING_LIFETIME",
    "ConsoleSessions",
    "Pending",
    "RoleSwitch",
    "WebSession",
    "csrf_matches",
    "csrf_of",
]

PENDING_LIFETIME = timedelta(minutes=5)  # from a correct password to the MFA code
PENDING_TRIES = 5  # MFA codes per pending sign-in
PURGE_AFTER = timedelta(days=1)  # expired rows are forgotten this long after they expired
SESSION, PENDING = "session", "pending"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _aead(token: str) -> AESGCM:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"iamd-console-session")
    return AESGCM(kdf.derive(token.encode("utf-8", "surrogatepass")))


def _seal(token: str, value: dict[str, Any]) -> bytes:
    nonce = secrets.token_bytes(12)
    plain = json.dumps(value, separators=(",", ":"), default=_json_default).encode()
    return nonce + _aead(token).encrypt(nonce, plain, _digest(token).encode())


def _open(token: str, sealed: bytes) -> dict[str, Any] | None:
    try:
        plain = _aead(token).decrypt(sealed[:12], sealed[12:], _digest(token).encode())
    except (InvalidTag, ValueError):
        return None
    value = json.loads(plain)
    return value if isinstance(value, dict) else None


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def csrf_of(token: str) -> str:
    """A session's CSRF token: derived from its token, so nothing more is stored."""
    return hmac.new(token.encode("utf-8", "surrogatepass"), b"iamd-console-csrf", hashlib.sha256).hexdigest()


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class RoleSwitch:
    """The role a console session switched to (AWS's Switch Role): its STS session, by key id and token.

    The secret access key is not kept: the server opens the session token itself to know the
    caller, and the pages never sign anything."""

    account: str
    role_name: str  # path and name, as typed
    role_arn: str
    display_name: str
    color: str
    access_key_id: str
    session_token: str = field(repr=False)
    expires: datetime


@dataclass(frozen=True, slots=True)
class WebSession:
    signin: ConsoleSession
    csrf: str = field(repr=False)
    # A virtual MFA device being set up: (serial, base32 seed, QR PNG base64) until it is enabled.
    mfa_setup: tuple[str, str, str] | None = field(default=None, repr=False)
    role: RoleSwitch | None = None

    @property
    def expires(self) -> datetime:
        return self.signin.expires


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in whose password was right and that now needs an MFA code."""

    attempt: SigninAttempt = field(repr=False)
    csrf: str = field(repr=False)
    expires: datetime
    tries: int = 0


def _signin_of(d: dict[str, Any]) -> ConsoleSession:
    return ConsoleSession(**{**d, "created": datetime.fromisoformat(d["created"]),
                             "expires": datetime.fromisoformat(d["expires"])})  # fmt: skip


def _principal(signin: ConsoleSession) -> str:
    return "root" if signin.root else signin.user_id


class ConsoleSessions:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    # -- signed-in sessions ----------------------------------------------------------------
    def open(self, signin: ConsoleSession) -> tuple[str, WebSession]:
        """Keep a new session; answers the token for the cookie (a fresh one at every sign-in)."""
        token = secrets.token_urlsafe(32)
        session = WebSession(signin, csrf_of(token))
        now = self._clock()
        row = ConsoleSessionRow(_digest(token), SESSION, signin.account_id, _principal(signin), signin.created,
                                signin.expires, _seal(token, self._data(session)))  # fmt: skip
        with self._store.transaction() as tx:
            tx.purge_console_sessions(now - PURGE_AFTER)
            tx.put_console_session(row)
        return token, session

    @staticmethod
    def _data(session: WebSession) -> dict[str, Any]:
        return {"signin": asdict(session.signin), "mfa_setup": session.mfa_setup,
                "role": asdict(session.role) if session.role else None}  # fmt: skip

    def _row(self, token: str | None, kind: str) -> tuple[ConsoleSessionRow, dict[str, Any]] | None:
        if not token or len(token) > 128:
            return None
        with self._store.read() as tx:
            row = tx.get_console_session(_digest(token))
        if row is None or row.kind != kind or row.revoked is not None or self._clock() >= row.expires:
            return None
        data = _open(token, row.data)
        return None if data is None else (row, data)

    def get(self, token: str | None) -> WebSession | None:
        found = self._row(token, SESSION)
        if found is None or token is None:
            return None
        _, data = found
        role = data.get("role")
        return WebSession(
            _signin_of(data["signin"]), csrf_of(token),
            tuple(data["mfa_setup"]) if data.get("mfa_setup") else None,
            RoleSwitch(**{**role, "expires": datetime.fromisoformat(role["expires"])}) if role else None,
        )  # fmt: skip

    def update(self, token: str, session: WebSession) -> None:
        with self._store.transaction() as tx:
            tx.update_console_session(_digest(token), data=_seal(token, self._data(session)))

    def revoke(self, token: str | None) -> None:
        if token and len(token) <= 128:
            with self._store.transaction() as tx:
                tx.revoke_console_session(_digest(token), self._clock())

    def revoke_user(self, account: str, user_id: str) -> int:
        """End every session of one user (``"root"``: the root user's), in every server process."""
        with self._store.transaction() as tx:
            return tx.revoke_console_sessions(account, user_id, self._clock())

    # -- pending MFA step -----------------------------------------------------------------
    def start_pending(self, attempt: SigninAttempt) -> tuple[str, Pending]:
        """Keep a sign-in waiting for its MFA code; the attempt (password included) is sealed under the
        browser's token, so the row alone opens nothing."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        pending = Pending(attempt, csrf_of(token), now + PENDING_LIFETIME)
        data = {f: getattr(attempt, f) for f in ("account", "user_name", "password", "source_ip", "user_agent", "root")}
        row = ConsoleSessionRow(_digest(token), PENDING, attempt.account[:63], "", now, pending.expires,
                                _seal(token, data))  # fmt: skip
        with self._store.transaction() as tx:
            tx.purge_console_sessions(now - PURGE_AFTER)
            tx.put_console_session(row)
        return token, pending

    def pending(self, token: str | None) -> Pending | None:
        found = self._row(token, PENDING)
        if found is None or token is None:
            return None
        row, data = found
        if row.tries >= PENDING_TRIES:
            return None
        return Pending(SigninAttempt(**data), csrf_of(token), row.expires, row.tries)

    def pending_failed(self, token: str) -> None:
        found = self._row(token, PENDING)
        if found is not None:
            with self._store.transaction() as tx:
                tx.update_console_session(_digest(token), tries=found[0].tries + 1)

    def end_pending(self, token: str | None) -> None:
        self.revoke(token)
