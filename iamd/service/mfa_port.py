"""What sign-in and the credential report need to know about MFA devices, as a Protocol.

The server's implementation is :class:`iamd.service.mfa_codes.StoreMfaDevices` (the
account's virtual MFA devices, codes checked and consumed in their own write transaction);
:class:`NoMfaDevices` answers "no device" for everyone, for unit tests that need no
devices. ``user_name`` None means the account root (root MFA devices are not modelled:
root has none).
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

    def authenticate(self, account: str, user_name: str, serial: str, code: str, now: datetime) -> datetime:
        """STS's check of ``SerialNumber`` + ``TokenCode``: when MFA authenticated, or AWS's AccessDenied."""
        ...


class NoMfaDevices:
    """The default: nobody has a device, and no code is ever valid."""

    def has_device(self, account: str, user_name: str | None) -> bool:
        return False

    def verify_code(self, account: str, user_name: str | None, code: str, now: datetime) -> bool:
        return False

    def authenticate(self, account: str, user_name: str, serial: str, code: str, now: datetime) -> datetime:
        from iamd.service.mfa_codes import MfaDeviceNotAssigned

        raise MfaDeviceNotAssigned()
