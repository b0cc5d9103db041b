"""PostgreSQL: ``iamd_refuse(reason, detail)``, which raises the error a write's check found, with
iamd's own SQLSTATE (``errors.REFUSED``), ``reason`` as its message and ``detail`` as its detail.

A write whose statement is sent whole with its ``BEGIN``, the writers' lock, its audit event,
``COMMIT`` and the durable flush (one round trip: ``Ops._defer_first``) cannot look at its
checks' row before the ``COMMIT`` is sent; its statement calls this function instead when a check
fails (a name taken, a quota reached, an unknown account, a user that has keys), which aborts
the pipeline and rolls everything back, and iamd answers the AWS error the reason names
(docs/architecture.md, "Writes on PostgreSQL"). SQLite: nothing (its writes keep their path).

Revision ID: 0016_pg1trip_refusals
Revises: 0015_audit_listed_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0016_pg1trip_refusals"
down_revision: str | None = "0015_audit_listed_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # VOLATILE (the default): never evaluated ahead of the CASE that calls it when a check fails.
    op.execute(
        "CREATE FUNCTION iamd_refuse(reason text, detail text) RETURNS boolean LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'IAM01', MESSAGE = reason, DETAIL = detail; END $$"
    )


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
