"""Console sessions in the store, so that every server process sees every sign-in (docs/console.md).

A row is keyed by the SHA-256 of the browser's random token, never the token; its ``data`` is
sealed by the console under a key derived from that token (:mod:`iamd.console.sessions`), so
the table holds nothing a reader of the database could sign in with or decrypt. Sessions are
not entities: writing them bumps no generation and nothing cached depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb

__all__ = ["ConsoleSessionOps", "ConsoleSessionRow"]


@dataclass(frozen=True, slots=True)
class ConsoleSessionRow:
    id_hash: str  # SHA-256 (hex) of the browser's token
    kind: str  # "session" or "pending" (between the password and the MFA code)
    account_id: str
    principal_id: str  # the user's unique id, or "root"
    created: datetime
    expires: datetime
    data: bytes = field(repr=False)  # sealed under a key derived from the token
    tries: int = 0
    revoked: datetime | None = None


def _row(r: Row[Any]) -> ConsoleSessionRow:
    return ConsoleSessionRow(
        r.id_hash, r.kind, r.account_id, r.principal_id, r.created, r.expires, bytes(r.data), r.tries, r.revoked
    )


class ConsoleSessionOps(Ops):
    def get_console_session(self, id_hash: str) -> ConsoleSessionRow | None:
        row = self._first(select(s.console_sessions).where(s.console_sessions.c.id_hash == id_hash))
        return None if row is None else _row(row)

    def put_console_session(self, session: ConsoleSessionRow) -> None:
        self._writes_without_bump()
        self._conn.execute(
            insert(s.console_sessions).values(
                id_hash=session.id_hash, kind=session.kind, account_id=session.account_id,
                principal_id=session.principal_id, created=session.created, expires=session.expires,
                data=session.data, tries=session.tries, revoked=session.revoked,
            )
        )  # fmt: skip
        self._changed(Entity.CONSOLE_SESSION, session.account_id, session.id_hash, Verb.CREATED)

    def update_console_session(self, id_hash: str, *, data: bytes | None = None, tries: int | None = None) -> bool:
        """New sealed data or a new count of tries for a live (unrevoked) row; False when there is none."""
        self._writes_without_bump()
        c = s.console_sessions
        values: dict[str, Any] = {}
        if data is not None:
            values["data"] = data
        if tries is not None:
            values["tries"] = tries
        if not values:
            return False
        done = self._conn.execute(update(c).where(c.c.id_hash == id_hash, c.c.revoked.is_(None)).values(**values))
        self._changed(Entity.CONSOLE_SESSION, "", id_hash, Verb.UPDATED)
        return bool(done.rowcount)

    def revoke_console_session(self, id_hash: str, now: datetime) -> None:
        self._writes_without_bump()
        c = s.console_sessions
        self._conn.execute(update(c).where(c.c.id_hash == id_hash, c.c.revoked.is_(None)).values(revoked=now))
        self._changed(Entity.CONSOLE_SESSION, "", id_hash, Verb.DELETED)

    def revoke_console_sessions(self, account: str, principal_id: str, now: datetime) -> int:
        """End every live session and pending sign-in of one principal; answers how many."""
        self._writes_without_bump()
        c = s.console_sessions
        done = self._conn.execute(
            update(c)
            .where(c.c.account_id == account, c.c.principal_id == principal_id, c.c.revoked.is_(None))
            .values(revoked=now)
        )
        self._changed(Entity.CONSOLE_SESSION, account, principal_id, Verb.DELETED)
        return int(done.rowcount or 0)

    def purge_console_sessions(self, before: datetime) -> int:
        """Forget rows that expired before ``before`` (revoked ones included)."""
        self._writes_without_bump()
        c = s.console_sessions
        done = self._conn.execute(delete(c).where(c.c.expires < before))
        self._changed(Entity.CONSOLE_SESSION, "", "", Verb.DELETED)
        return int(done.rowcount or 0)
