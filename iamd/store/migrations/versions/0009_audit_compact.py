"""The audit trail stored compact: its records as their parts, repeating strings interned (docs/audit.md).

Every stored event is converted (in batches of 2,000, keeping its sequence number): its JSON
record is taken apart (:func:`iamd.store.audit_codec.compact_stored_event`), or kept whole when
it does not have the usual shape, so that every reader gets exactly the same record back. The
event id's unique index goes (a batch stored again is recognised through its request ids), and
so do the datetime and text columns that the indexes were built on.

Revision ID: 0009_audit_compact
Revises: 0008_console_sessions
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0009_audit_compact"
down_revision: str | None = "0008_console_sessions"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 2000


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.LargeBinary(), nullable=True),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("account_id", SEQ, nullable=False),
        sa.Column("event_name", SEQ, nullable=False),
        sa.Column("event_source", SEQ, nullable=False),
        sa.Column("user_name", SEQ, nullable=True),
        sa.Column("identity", SEQ, nullable=False),
        sa.Column("region", SEQ, nullable=True),
        sa.Column("source_ip", SEQ, nullable=True),
        sa.Column("user_agent", SEQ, nullable=True),
        sa.Column("error_code", SEQ, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("decision", SEQ, nullable=True),
        sa.Column("resource", SEQ, nullable=True),
        sa.Column("params", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("authentication", sa.Text(), nullable=True),
        sa.Column("redacted", sa.Text(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("flags", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    # The conversion is iamd's own code: the record's parts are what the store reads back.
    from iamd.store.audit import _interned, _row
    from iamd.store.audit_codec import compact_stored_event
    from iamd.store.audit_strings import AuditStrings
    from iamd.store.records import AuditEvent

    op.create_table(
        "audit_strings",
        sa.Column("id", SEQ, autoincrement=True, nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_strings")),
        sa.UniqueConstraint("digest", name=op.f("uq_audit_strings_digest")),
    )
    new = op.create_table(
        "audit_events_new", *_columns(), sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events_new"))
    )
    assert new is not None
    conn = op.get_bind()
    dialect = conn.dialect.name
    names = ("seq", "event_id", "account_id", "event_name", "event_source", "user_name", "user_arn", "error_code",
             "request_id", "read_only", "record")  # fmt: skip
    old = sa.table("audit_events", *(sa.column(n) for n in names), sa.column("event_time", sa.DateTime(timezone=True)))
    strings = AuditStrings()
    after = -1
    while True:
        rows = conn.execute(sa.select(old).where(old.c.seq > after).order_by(old.c.seq).limit(_BATCH)).all()
        if not rows:
            break
        after = int(rows[-1].seq)
        compact = []
        for r in rows:
            when = r.event_time if r.event_time.tzinfo else r.event_time.replace(tzinfo=UTC)
            event = AuditEvent(
                event_id=r.event_id, account_id=r.account_id, event_time=when, event_name=r.event_name,
                event_source=r.event_source, read_only=bool(r.read_only), record=r.record, user_name=r.user_name,
                user_arn=r.user_arn, error_code=r.error_code, request_id=r.request_id,
            )  # fmt: skip
            compact.append((int(r.seq), compact_stored_event(event)))
        ids, _ = strings.ids(conn, dialect, (v for _, c in compact for v in _interned(c)))
        conn.execute(sa.insert(new), [{"seq": seq, **_row(c, ids)} for seq, c in compact])
    op.drop_table("audit_events")
    op.rename_table("audit_events_new", "audit_events")
    if dialect == "postgresql":
        op.execute("ALTER TABLE audit_events RENAME CONSTRAINT pk_audit_events_new TO pk_audit_events")
        op.execute("ALTER SEQUENCE audit_events_new_seq_seq RENAME TO audit_events_seq_seq")
        op.execute("SELECT setval('audit_events_seq_seq', COALESCE((SELECT max(seq) FROM audit_events), 0) + 1, false)")
    op.create_index(
        op.f("ix_audit_events_account_id_event_time_seq"), "audit_events", ["account_id", "event_time", "seq"]
    )
    op.create_index(
        op.f("ix_audit_events_account_id_user_name_event_time_seq"), "audit_events",
        ["account_id", "user_name", "event_time", "seq"],
    )  # fmt: skip
    op.create_index(
        op.f("ix_audit_events_account_id_event_name_event_time_seq"), "audit_events",
        ["account_id", "event_name", "event_time", "seq"],
    )  # fmt: skip
    op.create_index(op.f("ix_audit_events_request_id"), "audit_events", ["request_id"])


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
