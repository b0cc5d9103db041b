"""Login profiles (password hashes), password history and sign-in throttling (issue 5).

Revision ID: 0002_login_profiles
Revises: 0001_initial_schema
"""

from __future__ import annotations

revision = "0002_login_profiles"
down_revision: str | None = "0001_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on this revision's tables


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
