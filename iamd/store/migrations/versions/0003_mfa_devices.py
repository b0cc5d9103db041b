"""Virtual MFA devices (sealed TOTP seeds), their tags and used codes (issue 5).

Revision ID: 0003_mfa_devices
Revises: 0002_login_profiles
"""

from __future__ import annotations

revision = "0003_mfa_devices"
down_revision: str | None = "0002_login_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on this revision's tables


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
