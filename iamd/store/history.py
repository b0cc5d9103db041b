"""The policy history: every change to what a principal's policies are, read back as of a time.

Written by the store's own policy write methods, in the write's transaction (``Ops._history``):
inline policies, attachments, boundaries, group memberships, trust policies, managed policies'
default documents, and the creation of each user, group and role. The troubleshooter replays a
request "as it was" from it (docs/troubleshooting.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.records import PolicyChange

__all__ = ["HORIZON", "MAX_HISTORY", "PolicyHistoryOps"]

MAX_HISTORY = 10_000  # rows of one owner read at most
HORIZON = "horizon"  # owner_kind (and event) of the row that says from when the history is complete
_DELETE_CHUNK = 500

# Rows that only undo (a detach, a leave, a deleted inline policy, a removed boundary): once nothing older is
# kept, the state they leave is the same without them.
_NEGATIVE = frozenset({"detach", "leave"})


def _slot(event: str, subject: str | None) -> tuple[str, str | None]:
    """Which part of an owner's state a row sets: a later row of the same slot supersedes it."""
    if event in ("attach", "detach"):
        return ("attach", subject)
    if event in ("join", "leave"):
        return ("join", subject)
    if event == "inline":
        return ("inline", subject)
    return (event, None)  # create, boundary, trust, default


class PolicyHistoryOps(Ops):
    def policy_history(self, owner_kind: str, owner_id: str, until: datetime) -> tuple[PolicyChange, ...]:
        """The changes of one owner made at or before ``until``, oldest first (at most MAX_HISTORY, the newest)."""
        h = s.policy_history
        stmt = (
            select(h)
            .where(h.c.owner_kind == owner_kind, h.c.owner_id == owner_id, h.c.changed_at <= until)
            .order_by(h.c.seq.desc())
            .limit(MAX_HISTORY)
        )
        rows = list(self._conn.execute(stmt))
        rows.reverse()
        return tuple(
            PolicyChange(int(r.seq), r.changed_at, r.event, r.owner_kind, r.owner_id, r.subject, r.document)
            for r in rows
        )

    def policy_history_horizon(self) -> datetime | None:
        """From when the history is complete: the newest retention cut (None: everything is kept)."""
        h = s.policy_history
        value = self._conn.execute(select(func.max(h.c.changed_at)).where(h.c.owner_kind == HORIZON)).scalar()
        return value if isinstance(value, datetime) else None

    def prune_policy_history(self, before: datetime) -> int:
        """Retention (docs/troubleshooting.md, "History retention"): forget what only the past before ``before``
        needs. Of the rows older than ``before``, each owner keeps, per part of its state (an inline policy by
        name, an attachment, a group, the boundary, the trust policy, a managed policy's default document, its
        creation), only the newest row, and none where that row only undoes (a detach, a leave, a deletion): a
        replay at ``before`` or later gives what it gave. A horizon row records the cut, so a replay of an
        earlier time is known to be impossible. Returns the number of rows deleted."""
        self._writes_without_bump()
        h = s.policy_history
        newest: dict[tuple[str, str, tuple[str, str | None]], tuple[int, bool]] = {}
        doomed: list[int] = []
        rows = self._conn.execute(
            select(h.c.seq, h.c.event, h.c.owner_kind, h.c.owner_id, h.c.subject, h.c.document.is_(None))
            .where(h.c.changed_at < before, h.c.owner_kind != HORIZON)
            .order_by(h.c.seq)
        )
        for seq, event, owner_kind, owner_id, subject, no_document in rows:
            slot = (owner_kind, owner_id, _slot(event, subject))
            older = newest.get(slot)
            if older is not None:
                doomed.append(older[0])
            undoes = event in _NEGATIVE or (event in ("inline", "default", "trust") and bool(no_document))
            undoes = undoes or (event == "boundary" and subject is None)
            newest[slot] = (seq, undoes)
        doomed += [seq for seq, undoes in newest.values() if undoes]
        doomed.sort()
        for i in range(0, len(doomed), _DELETE_CHUNK):
            self._conn.execute(delete(h).where(h.c.seq.in_(doomed[i : i + _DELETE_CHUNK])))
        self._conn.execute(
            insert(h).values(account_id="", changed_at=before, event=HORIZON, owner_kind=HORIZON, owner_id=HORIZON)
        )
        self._changed(Entity.ACCOUNT, "", "", Verb.UPDATED, "policy history pruned")
        return len(doomed)
