"""Two partial indexes for the trail's rare filters (docs/audit.md, "Indexes"): by event name and by
user, ``(account_id, event_name | user_name, event_time, seq)``, of the events that are not
successful reads (``schema.LISTED``). A successful read, the bulk of the trail, goes into neither.

Since 0014 a filter that matches few of an account's events (a user's failures, a rare event
name such as ``CreateUser``, the troubleshooter's ``AssumeRole`` when it looks for a session's
origin) read the account's entries of the trail's index until it had its page: about 0.25 s per
1,000,000 events. A listing that asks for no successful read (errors, writes, or an event name
that is not a read's, whose events are never successful reads) now seeks these indexes.

Every event of such a name is in them: a call's ``readOnly`` is its name's, and an event given as
its record that is a read although its name is not (``audit_codec.ODD_READ``) is flagged so, and
kept in them. The stored ones are flagged here (one pass over the trail's index).

Revision ID: 0015_audit_listed_indexes
Revises: 0014_audit_index_diet
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_audit_listed_indexes"
down_revision: str | None = "0014_audit_index_diet"
branch_labels = None
depends_on = None

LISTED = "error_code IS NOT NULL OR (flags & 9) <> 1"  # not a successful read, or an ODD_READ (flags & 8)


def upgrade() -> None:
    from iamd.audit import is_read_only

    conn = op.get_bind()
    names = [r[0] for r in conn.execute(sa.text(
        "SELECT DISTINCT event_name FROM audit_events WHERE error_code IS NULL AND (flags & 1) = 1"
    ))]  # fmt: skip
    if names:
        values = conn.execute(
            sa.text("SELECT id, value FROM audit_strings WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": names},
        )
        odd = [int(i) for i, value in values if not is_read_only(value)]
        if odd:  # successful reads of a name that is not a read's (events given as their records)
            conn.execute(
                sa.text(
                    "UPDATE audit_events SET flags = flags | 8 WHERE event_name IN :ids"
                    " AND error_code IS NULL AND (flags & 1) = 1"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": odd},
            )
    for name, column in (("ix_audit_events_listed_name", "event_name"), ("ix_audit_events_listed_user", "user_name")):
        op.create_index(
            name, "audit_events", ["account_id", column, "event_time", "seq"],
            sqlite_where=sa.text(LISTED), postgresql_where=sa.text(LISTED),
        )  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
