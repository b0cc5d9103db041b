"""The foreign keys to ``users`` check ``ON DELETE RESTRICT`` instead of ``NO ACTION``.

The same integrity: a user still cannot be deleted while a row refers to it. The two differ only
in a row of the same key stored again by the same statement (``NO ACTION`` lets it take the old
one's place, ``RESTRICT`` does not; nothing in iamd does that) and in deferral (none is deferred).
What changes is PostgreSQL's work at every DeleteUser: its ``NO ACTION`` trigger first looks,
for each of the nine, for another ``users`` row with the deleted key (one more query through the
trigger's SPI per foreign key) before it looks for referring rows; ``RESTRICT`` only does the
latter: DeleteUser's statement took about a fifth less of PostgreSQL's CPU (bench/README.md,
"Session 15: PostgreSQL's own CPU per write"). SQLite copies each table (batch mode), as 0001
did.

Revision ID: 0017_users_fk_restrict
Revises: 0016_pg1trip_refusals
"""

from __future__ import annotations

from alembic import op

revision = "0017_users_fk_restrict"
down_revision: str | None = "0016_pg1trip_refusals"
branch_labels = None
depends_on = None

REFERRING = (
    ("access_keys", "user_id"),
    ("group_members", "user_id"),
    ("user_inline_policies", "entity_id"),
    ("user_policy_attachments", "entity_id"),
    ("login_profiles", "user_id"),
    ("mfa_devices", "user_id"),
    ("ssh_public_keys", "user_id"),
    ("signing_certificates", "user_id"),
    ("service_specific_credentials", "user_id"),
)


def upgrade() -> None:
    for table, column in REFERRING:
        name = f"fk_{table}_{column}_users"
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")
            batch.create_foreign_key(name, "users", [column], ["id"], ondelete="RESTRICT")


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
