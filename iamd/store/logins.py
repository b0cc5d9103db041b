"""Login profiles (console passwords), sign-in throttles and credential reports.

The store keeps only argon2id hashes of passwords (hashing is the caller's job, in
:mod:`iamd.service.passwords`); the history of earlier hashes serves
``PasswordReusePrevention``. Throttle counters and credential reports are not entity
changes: writing them bumps no generation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, NotFound

__all__ = ["CredentialReport", "LoginOps", "LoginProfile", "SigninThrottle"]


@dataclass(frozen=True, slots=True)
class LoginProfile:
    user_id: str
    user_name: str
    create_date: datetime
    password_changed: datetime
    password_reset_required: bool
    password_hash: str = field(repr=False)
    password_history: tuple[str, ...] = field(default=(), repr=False)  # earlier hashes, newest first


@dataclass(frozen=True, slots=True)
class SigninThrottle:
    key: str
    failures: int
    window_start: datetime
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CredentialReport:
    account_id: str
    generated_time: datetime
    content: bytes = field(repr=False)


_PROFILE_SELECT = select(s.login_profiles, s.users.c.name.label("u_name")).select_from(
    s.login_profiles.join(s.users, s.login_profiles.c.user_id == s.users.c.id)
)


def _profile(r: Row[Any]) -> LoginProfile:
    return LoginProfile(
        user_id=r.user_id,
        user_name=r.u_name,
        create_date=r.create_date,
        password_changed=r.password_changed,
        password_reset_required=bool(r.password_reset_required),
        password_hash=r.password_hash,
        password_history=tuple(json.loads(r.password_history)),
    )


class LoginOps(Ops):
    # -- login profiles ------------------------------------------------------------------
    def get_login_profile(self, account: str, user_name: str) -> LoginProfile:
        """The user's login profile; NotFound("user") or NotFound("login profile")."""
        user_id = self._named_id(s.users, "user", account, user_name)
        row = self._first(_PROFILE_SELECT.where(s.login_profiles.c.user_id == user_id))
        if row is None:
            raise NotFound("login profile", user_name)
        return _profile(row)

    def list_login_profiles(self, account: str) -> tuple[LoginProfile, ...]:
        stmt = _PROFILE_SELECT.where(s.users.c.account_id == account).order_by(s.users.c.name_key)
        return tuple(_profile(r) for r in self._conn.execute(stmt))

    def create_login_profile(
        self, account: str, user_name: str, password_hash: str, *, reset_required: bool, now: datetime
    ) -> LoginProfile:
        self._write()
        user_id = self._named_id(s.users, "user", account, user_name)
        if self._first(select(s.login_profiles.c.user_id).where(s.login_profiles.c.user_id == user_id)) is not None:
            raise AlreadyExists("login profile", user_name)
        self._conn.execute(
            insert(s.login_profiles).values(
                user_id=user_id,
                password_hash=password_hash,
                password_reset_required=reset_required,
                create_date=now,
                password_changed=now,
                password_history="[]",
            )
        )
        self._changed(Entity.LOGIN_PROFILE, account, user_name, Verb.CREATED)
        return self.get_login_profile(account, user_name)

    def update_login_profile(
        self,
        account: str,
        user_name: str,
        *,
        password_hash: str | None = None,
        reset_required: bool | None = None,
        now: datetime,
        keep_history: int = 24,
    ) -> LoginProfile:
        """Set a new password (the old hash moves into the history) and/or the reset flag."""
        self._write()
        current = self.get_login_profile(account, user_name)
        values: dict[str, Any] = {}
        if password_hash is not None:
            history: Sequence[str] = (current.password_hash, *current.password_history)[:keep_history]
            values.update(password_hash=password_hash, password_changed=now, password_history=json.dumps(history))
        if reset_required is not None:
            values["password_reset_required"] = reset_required
        if values:
            lp = s.login_profiles
            self._conn.execute(update(lp).where(lp.c.user_id == current.user_id).values(**values))
        self._changed(Entity.LOGIN_PROFILE, account, user_name, Verb.UPDATED)
        return self.get_login_profile(account, user_name)

    def delete_login_profile(self, account: str, user_name: str) -> None:
        self._write()
        profile = self.get_login_profile(account, user_name)
        self._conn.execute(delete(s.login_profiles).where(s.login_profiles.c.user_id == profile.user_id))
        self._changed(Entity.LOGIN_PROFILE, account, user_name, Verb.DELETED)

    # -- sign-in throttles (no generation bump) ------------------------------------------
    def get_signin_throttle(self, key: str) -> SigninThrottle | None:
        row = self._first(select(s.signin_throttles).where(s.signin_throttles.c.key == key))
        if row is None:
            return None
        return SigninThrottle(row.key, row.failures, row.window_start, row.locked_until)

    def put_signin_throttle(self, throttle: SigninThrottle) -> None:
        self._writes_without_bump()
        t = s.signin_throttles
        self._conn.execute(delete(t).where(t.c.key == throttle.key))
        self._conn.execute(
            insert(t).values(
                key=throttle.key,
                failures=throttle.failures,
                window_start=throttle.window_start,
                locked_until=throttle.locked_until,
            )
        )
        self._changed(Entity.SIGNIN_THROTTLE, "", throttle.key, Verb.UPDATED)

    def clear_signin_throttle(self, key: str) -> None:
        self._writes_without_bump()
        self._conn.execute(delete(s.signin_throttles).where(s.signin_throttles.c.key == key))
        self._changed(Entity.SIGNIN_THROTTLE, "", key, Verb.DELETED)

    # -- credential reports (no generation bump) -----------------------------------------
    def get_credential_report(self, account: str) -> CredentialReport | None:
        row = self._first(select(s.credential_reports).where(s.credential_reports.c.account_id == account))
        if row is None:
            return None
        return CredentialReport(row.account_id, row.generated_time, bytes(row.content))

    def put_credential_report(self, account: str, generated_time: datetime, content: bytes) -> CredentialReport:
        self._writes_without_bump()
        self._require_account(account)
        c = s.credential_reports
        self._conn.execute(delete(c).where(c.c.account_id == account))
        self._conn.execute(insert(c).values(account_id=account, generated_time=generated_time, content=content))
        self._changed(Entity.CREDENTIAL_REPORT, account, account, Verb.CREATED)
        return CredentialReport(account, generated_time, content)


def user_throttle_key(account: str, user_name: str) -> str:
    """The throttle key of a user name: hashed, since a "user name" may be a mistyped password."""
    digest = hashlib.sha256(f"{account}:{name_key(user_name)}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"user:{digest}"
