"""Console sessions: server-side, expiring, revocable; the pending step between password and MFA code.

A browser holds only a random token (``secrets.token_urlsafe(32)``, 256 bits) in an
HttpOnly, SameSite=Strict cookie; the server keeps the session under the token's SHA-256,
so a lookup never compares the token itself and a memory dump holds no usable token. Each
session carries its own CSRF token, checked with ``hmac.compare_digest`` on every form.

Sessions live in the memory of the server process that made them (docs/console.md,
"Sessions"): a restart signs everyone out. Their number is bounded; when full, the oldest
go first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from iamd.service.signin import ConsoleSession, SigninAttempt

__all__ = ["PENDING_LIFETIME", "ConsoleSessions", "Pending", "WebSession", "csrf_matches"]

PENDING_LIFETIME = timedelta(minutes=5)  # from a correct password to the MFA code
PENDING_TRIES = 5  # MFA codes per pending sign-in
MAX_SESSIONS = 10_000
MAX_PENDING = 10_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class WebSession:
    signin: ConsoleSession
    csrf: str = field(repr=False)
    # A virtual MFA device being set up: (serial, base32 seed, QR PNG base64) until it is enabled.
    mfa_setup: tuple[str, str, str] | None = field(default=None, repr=False)

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


class ConsoleSessions:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self._pending: OrderedDict[str, Pending] = OrderedDict()

    # -- signed-in sessions ----------------------------------------------------------------
    def open(self, signin: ConsoleSession) -> tuple[str, WebSession]:
        """Keep a new session; answers the token for the cookie (a fresh one at every sign-in)."""
        token = secrets.token_urlsafe(32)
        session = WebSession(signin, secrets.token_urlsafe(32))
        self._put(self._sessions, _digest(token), session, MAX_SESSIONS)
        return token, session

    def get(self, token: str | None) -> WebSession | None:
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None and self._clock() >= session.expires:
                del self._sessions[key]
                return None
        return session

    def update(self, token: str, session: WebSession) -> None:
        key = _digest(token)
        with self._lock:
            if key in self._sessions:
                self._sessions[key] = session

    def revoke(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def revoke_user(self, account: str, user_id: str) -> int:
        """End every session of one user (e.g. after an administrator's password reset)."""
        with self._lock:
            keys = [
                k for k, s in self._sessions.items() if (s.signin.account_id, s.signin.user_id) == (account, user_id)
            ]
            for k in keys:
                del self._sessions[k]
        return len(keys)

    def __len__(self) -> int:
        return len(self._sessions)

    # -- pending MFA step -----------------------------------------------------------------
    def start_pending(self, attempt: SigninAttempt) -> tuple[str, Pending]:
        token = secrets.token_urlsafe(32)
        pending = Pending(attempt, secrets.token_urlsafe(32), self._clock() + PENDING_LIFETIME)
        self._put(self._pending, _digest(token), pending, MAX_PENDING)
        return token, pending

    def pending(self, token: str | None) -> Pending | None:
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            pending = self._pending.get(key)
            if pending is not None and (self._clock() >= pending.expires or pending.tries >= PENDING_TRIES):
                del self._pending[key]
                return None
        return pending

    def pending_failed(self, token: str) -> None:
        key = _digest(token)
        with self._lock:
            pending = self._pending.get(key)
            if pending is not None:
                self._pending[key] = replace(pending, tries=pending.tries + 1)

    def end_pending(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._pending.pop(_digest(token), None)

    # -- bounded maps ----------------------------------------------------------------------
    def _put(self, table: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
        with self._lock:
            now = self._clock()
            while table and next(iter(table.values())).expires <= now:  # the oldest expire first
                table.popitem(last=False)
            while len(table) >= limit:
                table.popitem(last=False)
            table[key] = value
