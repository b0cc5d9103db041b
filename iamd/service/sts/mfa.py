"""The MFA check of GetSessionToken and AssumeRole (SerialNumber + TokenCode, api.md §6.4).

MFA devices are built by another engineer in parallel. Until the lead wires the real TOTP
check in after merging, :func:`verify_mfa_code` FAILS CLOSED: every code is refused with
AWS's answer for a serial number that is not a device assigned to the caller. The wiring
must: find the MFA device ``serial`` assigned to ``user`` in ``account`` (else
:data:`NOT_ASSOCIATED`), check ``code`` against its seed at ``now`` (±1 time step), refuse
a time step already accepted for that device (AWS rejects reused codes), remember the
accepted step, and answer :data:`INVALID_CODE` for a wrong code.
"""

from __future__ import annotations

from datetime import datetime

from iamd import errors as aws
from iamd.store import ReadTx, User

__all__ = ["INVALID_CODE", "NOT_ASSOCIATED", "verify_mfa_code"]

# errors.md §3.5 / api.md §6.4 (the trailing space and the double space are AWS's)
INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
NOT_ASSOCIATED = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is "
    "valid and associated with this user."
)


def verify_mfa_code(tx: ReadTx, account: str, user: User | None, serial: str, code: str, now: datetime) -> datetime:
    """The time of a successful MFA authentication, or AWS's AccessDenied.

    ``user`` is the IAM user behind the calling credentials (None for the root user).
    Fails closed until MFA devices exist (see the module docstring).
    """
    raise aws.AccessDenied(NOT_ASSOCIATED)
