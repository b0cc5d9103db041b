"""What sign-in and the credential report need to know about MFA devices, as a Protocol.

Virtual MFA devices are built separately; until they are wired in, :class:`NoMfaDevices`
answers "no device" for everyone (so ``mfa_active`` is ``false`` and sign-in never asks
for a code). ``user_name`` None means the account root.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["MfaDevices", "NoMfaDevices"]


class MfaDevices(Protocol):
    def has_device(self, account: str, user_name: str | None) -> bool:
        """Whether the user has an active (enabled) MFA device."""
        ...

    def verify_code(self, account: str, user_name: str | None, code: str, now: datetime) -> bool:
        """Whether ``code`` is a valid, unused code of one of the user's devices at ``now``."""
        ...


class NoMfaDevices:
    """The default: nobody has a device, and no code is ever valid."""

    def has_device(self, account: str, user_name: str | None) -> bool:
        return False

    def verify_code(self, account: str, user_name: str | None, code: str, now: datetime) -> bool:
        return False
