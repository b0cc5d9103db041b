"""The MFA check of GetSessionToken and AssumeRole (SerialNumber + TokenCode, AWS "Secure API access with MFA").

The code is checked against the TOTP seed of the virtual MFA device ``serial`` assigned to
the calling IAM user (:func:`iamd.service.mfa_codes.verify_mfa_code`, through
``Env.mfa.authenticate``, which runs it in its own write transaction because an accepted code's
time-step is recorded: the same code is never accepted twice). The step is consumed even
if the STS call fails later (for example on the trust policy): safer than letting a
code be replayed.

Outcomes are AWS's AccessDenied texts (AWS "Troubleshoot IAM" (AWS STS and MFA errors)): :data:`NOT_ASSOCIATED` when the
serial names no device assigned to the caller, :data:`INVALID_CODE` for a wrong, stale or
replayed code. Root callers and session callers have no IAM user whose device could be
checked here: they get :data:`NOT_ASSOCIATED` (fail closed; root MFA devices are not
modelled yet — docs/sts.md).
"""

from __future__ import annotations

from datetime import datetime

from iamd import errors as aws
from iamd.service import mfa_codes
from iamd.service.call import Call
from iamd.store import User

__all__ = ["INVALID_CODE", "NOT_ASSOCIATED", "verify_mfa_code"]

# AWS "Troubleshoot IAM" (AWS STS and MFA errors) / AWS "Secure API access with MFA": the texts the device checks
# themselves raise
INVALID_CODE = mfa_codes.INVALID_CODE
NOT_ASSOCIATED = mfa_codes.NOT_ASSIGNED


def verify_mfa_code(call: Call, user: User | None, serial: str, code: str) -> datetime:
    """The time of a successful MFA authentication, or AWS's AccessDenied.

    ``user`` is the IAM user behind the calling credentials (None for the root user).
    """
    if user is None:
        raise aws.AccessDenied(NOT_ASSOCIATED)
    return call.env.mfa.authenticate(call.account, user.name, serial, code, call.now)  # or AccessDenied
