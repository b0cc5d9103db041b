"""TOTP arithmetic of iamd.service.mfa_codes (pure: no store, no clock)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp

from iamd.service.mfa_codes import find_consecutive, find_single, new_seed, provisioning_uri, time_step

# RFC 6238 Appendix B: the SHA-1 secret "12345678901234567890"; at T = 59 s the 8-digit code
# is 94287082, so the 6-digit code AWS devices show is its last six digits.
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()


def test_rfc_6238_vector_and_steps() -> None:
    assert time_step(datetime.fromtimestamp(59, UTC)) == 1
    assert find_single(RFC_SEED, "287082", center=1, window=0, newer_than=None) == 1
    assert find_single(RFC_SEED, "287082", center=2, window=1, newer_than=None) == 1
    assert find_single(RFC_SEED, "287082", center=3, window=1, newer_than=None) is None  # outside the window
    assert find_single(RFC_SEED, "287082", center=1, window=1, newer_than=1) is None  # already used


def test_consecutive_codes() -> None:
    totp = pyotp.TOTP(RFC_SEED)
    c = [totp.generate_otp(i) for i in range(100, 106)]
    assert find_consecutive(RFC_SEED, c[1], c[2], center=102, window=1, newer_than=None) == 102
    assert find_consecutive(RFC_SEED, c[1], c[2], center=103, window=1, newer_than=None) == 102
    assert find_consecutive(RFC_SEED, c[1], c[2], center=104, window=1, newer_than=None) is None
    assert find_consecutive(RFC_SEED, c[1], c[3], center=102, window=2, newer_than=None) is None  # a gap
    assert find_consecutive(RFC_SEED, c[2], c[1], center=102, window=2, newer_than=None) is None  # reversed
    assert find_consecutive(RFC_SEED, c[1], c[2], center=102, window=1, newer_than=101) is None  # code 1 used
    assert find_consecutive(RFC_SEED, c[1], c[2], center=102, window=1, newer_than=100) == 102
    for bad in ("", "12345", "1234567", "12345a", "١٢٣٤٥٦"):  # only six ASCII digits
        assert find_consecutive(RFC_SEED, bad, c[2], center=102, window=1, newer_than=None) is None
        assert find_single(RFC_SEED, bad, center=102, window=1, newer_than=None) is None


def test_seed_and_uri() -> None:
    seed = new_seed()
    assert len(seed) == 64 and len(base64.b32decode(seed)) == 40 and new_seed() != seed
    uri = provisioning_uri(seed, "Phone", "123456789012")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, unquote(parts.path)) == (
        "otpauth", "totp", "/Amazon Web Services:Phone@123456789012",
    )  # fmt: skip
    assert parse_qs(parts.query) == {"secret": [seed], "issuer": ["Amazon Web Services"]}
