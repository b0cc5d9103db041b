"""The policy history: every change to what a principal's policies are, read back as of a time.

Written by the store's own policy write methods, in the write's transaction (``Ops._history``):
inline policies, attachments, boundaries, group memberships, trust policies, managed policies'
default documents, and the creation of each user, group and role. The troubleshooter replays a
request "as it was" from it (docs/troubleshooting.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.records import PolicyChange

__all__ = ["MAX_HISTORY", "PolicyHistoryOps"]

MAX_HISTORY = 10_000  # rows of one owner read at most


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
