"""IAM OIDC and SAML identity providers and their tags (issue 4).

Revision ID: 0004_identity_providers
Revises: 0003_mfa_devices
"""

from __future__ import annotations

revision = "0004_identity_providers"
down_revision: str | None = "0003_mfa_devices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the work on this revision's tables


def downgrade() -> None:
    raise NotImplementedError("iamd migrations go forward only; restore a backup to go back")
