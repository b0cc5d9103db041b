"""TOTP codes of virtual MFA devices: seeds, the provisioning URI, and code verification.

RFC 6238 as authenticator apps and AWS use it: HMAC-SHA1, 6 digits, 30-second steps from
the Unix epoch (pyotp computes the codes). Decisions (docs/mfa.md):

* **One code** (STS ``TokenCode``, console sign-in): accepted for a time-step within
  ``±1`` of the server's current step shifted by the device's recorded drift.
* **Two consecutive codes** (EnableMFADevice): code 1 for step ``k``, code 2 for ``k+1``,
  with ``k+1`` within ``±1`` of the current step. ResyncMFADevice searches ``±10`` steps
  (5 minutes) and records the device's drift.
* **Replay**: every device remembers the newest time-step it ever had accepted; a code for
  that step or an older one is refused, whatever the operation (Enable, Resync, STS,
  sign-in). Remembering is a write (a compare-and-set in the store).
* Codes are compared in constant time; seeds are only ever handled sealed outside this
  module and the operations that create devices.

:func:`verify_mfa_code` is the one entry point for features that authenticate with MFA
(STS GetSessionToken / AssumeRole with ``SerialNumber`` + ``TokenCode``, console sign-in).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pyotp

from iamd import errors as aws
from iamd.crypto import SecretBox
from iamd.store import NotFound, Store, Tx, VirtualMfaDevice

__all__ = [
    "ENABLE_WINDOW",
    "ISSUER",
    "RESYNC_WINDOW",
    "SEED_BYTES",
    "STEP_SECONDS",
    "VERIFY_WINDOW",
    "MfaAuthentication",
    "MfaCodeInvalid",
    "MfaDeviceNotAssigned",
    "find_consecutive",
    "find_single",
    "mfa_seed_context",
    "new_seed",
    "open_seed",
    "provisioning_uri",
    "time_step",
    "verify_mfa_code",
    "StoreMfaDevices",
]

STEP_SECONDS = 30
DIGITS = 6
SEED_BYTES = 40
"""40 random bytes = 64 Base32 characters, the length AWS's seeds have (AWS "Assign a virtual MFA device in the AWS
Management Console").
"""
VERIFY_WINDOW = 1
ENABLE_WINDOW = 1
RESYNC_WINDOW = 10
ISSUER = "Amazon Web Services"

INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
NOT_ASSIGNED = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is "
    "valid and associated with this user."
)


class MfaCodeInvalid(aws.AccessDenied):
    """The code is wrong, outside the window, or already used (AWS "Troubleshoot IAM" (AWS STS and MFA errors))."""

    def __init__(self) -> None:
        super().__init__(INVALID_CODE)


class MfaDeviceNotAssigned(aws.AccessDenied):
    """The serial names no device assigned to this user (AWS "Troubleshoot IAM" (AWS STS and MFA errors))."""

    def __init__(self) -> None:
        super().__init__(NOT_ASSIGNED)


@dataclass(frozen=True, slots=True)
class MfaAuthentication:
    """A successful MFA check: what a session records (``aws:MultiFactorAuthAge`` counts from ``at``)."""

    serial_number: str
    user_name: str
    step: int
    at: datetime


def new_seed() -> str:
    """A fresh random TOTP seed, Base32 text (RFC 4648, no padding needed at 40 bytes)."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")


def mfa_seed_context(serial_number: str) -> bytes:
    """The associated data that binds a sealed seed to its device's serial number."""
    return f"mfa-seed:{serial_number}".encode()


def open_seed(box: SecretBox, device: VirtualMfaDevice) -> str:
    return box.open(device.seed_sealed.decode("ascii"), context=mfa_seed_context(device.serial))


def provisioning_uri(seed: str, device_name: str, account_name: str) -> str:
    """``otpauth://totp/Amazon%20Web%20Services:<device>@<account>?secret=…&issuer=…`` (docs/mfa.md)."""
    return pyotp.TOTP(seed).provisioning_uri(name=f"{device_name}@{account_name}", issuer_name=ISSUER)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _matches(totp: pyotp.TOTP, code: str, step: int) -> bool:
    return step >= 0 and hmac.compare_digest(totp.generate_otp(step).encode(), code.encode())


def _around(center: int, window: int) -> Iterator[int]:
    """``center``, then ``center-1``, ``center+1``, … out to ``window``: nearest first."""
    yield center
    for distance in range(1, window + 1):
        yield center - distance
        yield center + distance


def _well_formed(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def find_single(seed: str, code: str, center: int, window: int, newer_than: int | None) -> int | None:
    """The time-step ``code`` is valid for within ``center ± window`` and after ``newer_than``."""
    if not _well_formed(code):
        return None
    totp = pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS)
    for step in _around(center, window):
        if (newer_than is None or step > newer_than) and _matches(totp, code, step):
            return step
    return None


def find_consecutive(seed: str, code1: str, code2: str, center: int, window: int, newer_than: int | None) -> int | None:
    """The step ``k+1`` of ``code2`` when ``code1`` is valid for ``k``, ``k+1`` within ``center ± window``.

    Both steps must be newer than ``newer_than`` (no code is accepted twice).
    """
    if not (_well_formed(code1) and _well_formed(code2)):
        return None
    totp = pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS)
    for second in _around(center, window):
        first = second - 1
        if newer_than is not None and first <= newer_than:
            continue
        if _matches(totp, code1, first) and _matches(totp, code2, second):
            return second
    return None


def verify_mfa_code(
    tx: Tx,
    box: SecretBox,
    account_id: str,
    user_name: str,
    serial_number: str,
    code: str,
    now: datetime,
) -> MfaAuthentication:
    """Check one MFA code of ``user_name``'s device and consume it; raise AWS's outcome.

    For STS GetSessionToken / AssumeRole (``SerialNumber`` + ``TokenCode``) and console
    sign-in. Must run in a write transaction: an accepted code's time-step is recorded so
    the same code (or an older one) is never accepted again, also by a concurrent request.

    * :class:`MfaDeviceNotAssigned` (AccessDenied, AWS "Troubleshoot IAM" (AWS STS and MFA errors)) when
      ``serial_number``
      names no device of this account assigned to ``user_name`` (unknown, unassigned, or
      another user's device — indistinguishable on purpose);
    * :class:`MfaCodeInvalid` (AccessDenied) when the code is malformed, wrong, outside the
      window (``±1`` step around now + the device's drift), or already used.

    ``now`` is the call's clock (``Call.now``), never the wall clock.
    """
    try:
        device = tx.get_virtual_mfa_device(account_id, serial_number)
    except NotFound:
        raise MfaDeviceNotAssigned() from None
    if device.user is None or device.user.name.lower() != user_name.lower():
        raise MfaDeviceNotAssigned()
    center = time_step(now) + device.drift
    step = find_single(open_seed(box, device), code, center, VERIFY_WINDOW, device.last_step)
    if step is None or not tx.record_mfa_step(account_id, serial_number, step):
        raise MfaCodeInvalid()
    return MfaAuthentication(serial_number, device.user.name, step, now)


class StoreMfaDevices:
    """The account's virtual MFA devices as sign-in, STS and the credential report see them
    (:class:`iamd.service.mfa_port.MfaDevices`). Each code check runs in its own write
    transaction, because an accepted code's time-step is recorded."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self._store = store
        self._box = box

    def _serials(self, account: str, user_name: str) -> list[str]:
        with self._store.read() as tx:
            try:
                return [d.serial for d in tx.list_mfa_devices(account, user_name, max_items=100).items]
            except NotFound:
                return []

    def has_device(self, account: str, user_name: str | None) -> bool:
        return user_name is not None and bool(self._serials(account, user_name))

    def verify_code(self, account: str, user_name: str | None, code: str, now: datetime) -> bool:
        """Console sign-in: a valid, unused code of any of the user's devices."""
        if user_name is None:
            return False
        for serial in self._serials(account, user_name):
            try:
                self.authenticate(account, user_name, serial, code, now)
            except aws.AccessDenied:
                continue
            return True
        return False

    def authenticate(self, account: str, user_name: str, serial: str, code: str, now: datetime) -> datetime:
        with self._store.transaction() as tx:
            return verify_mfa_code(tx, self._box, account, user_name, serial, code, now).at
