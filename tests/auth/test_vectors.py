"""The three test vectors of AWS "Create a signed AWS API request", through the public verifier."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from iamd.auth import SignedRequest, SigV4Verifier
from iamd.auth.canonical import _hmac, derive_signing_key, sign
from iamd.errors import SignatureDoesNotMatch
from tests.auth.signing import FORM, KEY, NOW, SECRET, TEMP_KEY, TOKEN, lookup, session, user

VECTOR_1_CANONICAL = (
    "POST\n/\n\n"
    "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
    "host:sts.amazonaws.com\n"
    "x-amz-date:20240115T120000Z\n\n"
    "content-type;host;x-amz-date\n"
    "ab821ae955788b0e33ebd34c208442ccfc2d406e2edc5e7a39bd6458fbb4f843"
)


def _header_request(
    host: str, body: bytes, credential: str, signed: str, signature: str, **extra: str
) -> SignedRequest:
    authorization = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}"
    headers = {"Content-Type": FORM, "Host": host, "X-Amz-Date": "20240115T120000Z", **extra}
    return SignedRequest.of("POST", "/", "", {**headers, "Authorization": authorization}, body)


def test_vector_1_sts_header_auth() -> None:
    signature = "3c658ddffabb44fcaa5144e521d10927753846d074b187ad146a2d26a93cb198"
    request = _header_request(
        "sts.amazonaws.com",
        b"Action=GetCallerIdentity&Version=2011-06-15",
        f"{KEY}/20240115/us-east-1/sts/aws4_request",
        "content-type;host;x-amz-date",
        signature,
    )
    verifier = SigV4Verifier()
    details = verifier.describe(request)
    assert details.canonical_request == VECTOR_1_CANONICAL
    digest = "7e91f8c2cd46ae52271a8b9787a9555171bbb7c4c1c1e3b5acd7992f0bf9cdcc"
    assert (
        details.string_to_sign == f"AWS4-HMAC-SHA256\n20240115T120000Z\n20240115/us-east-1/sts/aws4_request\n{digest}"
    )
    k_signing = derive_signing_key(SECRET, "20240115", "us-east-1", "sts")
    assert k_signing.hex() == "c1a78205e84844de7463980b6e986343bffa13eca3fbc091db6f1417303a8948"
    assert sign(k_signing, details.string_to_sign) == signature
    verified = verifier.verify(request, now=NOW, lookup=lookup((KEY, user())))
    assert (verified.access_key_id, verified.service, verified.region, verified.date) == (
        KEY,
        "sts",
        "us-east-1",
        "20240115",
    )
    assert not verified.presigned and verified.session_token is None


def test_vector_2_iam_with_session_token() -> None:
    body = b"Action=ListUsers&MaxItems=10&Version=2010-05-08"
    assert hashlib.sha256(body).hexdigest() == "f22f3e14efddd9e79db4404886cbdbd75ac84373bbcec5e15526b884a70e5241"
    request = _header_request(
        "iam.amazonaws.com",
        body,
        f"{TEMP_KEY}/20240115/us-east-1/iam/aws4_request",
        "content-type;host;x-amz-date;x-amz-security-token",
        "8b6c67d97caa93b6cdc090cd4c55e7365909e4424e49dc384da8a80c10649d71",
        **{"X-Amz-Security-Token": TOKEN},
    )
    details = SigV4Verifier().describe(request)
    assert details.canonical_request.splitlines()[-2:] == [
        "content-type;host;x-amz-date;x-amz-security-token",
        "f22f3e14efddd9e79db4404886cbdbd75ac84373bbcec5e15526b884a70e5241",
    ]
    assert f"x-amz-security-token:{TOKEN}\n" in details.canonical_request
    assert hashlib.sha256(details.canonical_request.encode()).hexdigest() == (
        "12bddc55dc5cd07b192e2ed2bb1389c8a8b194ddae654090d998d346fb0f3460"
    )
    verified = SigV4Verifier().verify(request, now=NOW, lookup=lookup((TEMP_KEY, session())))
    assert verified.session_token == TOKEN and verified.service == "iam"


def test_vector_3_presigned_sts_get() -> None:
    query = (
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240115%2Fus-east-1%2Fsts%2Faws4_request"
        "&X-Amz-Date=20240115T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=444a60f37f7d3392942df9ac25ee2668bd55ea23247a8992aab59dde7065c896"
    )
    request = SignedRequest.of("GET", "/", query, {"Host": "sts.amazonaws.com"})
    details = SigV4Verifier().describe(request)
    assert details.canonical_request == (
        "GET\n/\n"
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240115%2Fus-east-1%2Fsts%2Faws4_request"
        "&X-Amz-Date=20240115T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\n"
        "host:sts.amazonaws.com\n\nhost\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    verified = SigV4Verifier().verify(request, now=NOW, lookup=lookup((KEY, user())))
    assert verified.presigned and verified.url_expires_at is not None
    assert verified.url_expires_at.isoformat() == "2024-01-15T12:01:00+00:00"


@pytest.mark.parametrize("flip", [0, 31, 63])
def test_vector_1_any_changed_signature_digit_is_refused(flip: int) -> None:
    good = "3c658ddffabb44fcaa5144e521d10927753846d074b187ad146a2d26a93cb198"
    bad = good[:flip] + ("0" if good[flip] != "0" else "1") + good[flip + 1 :]
    request = _header_request(
        "sts.amazonaws.com",
        b"Action=GetCallerIdentity&Version=2011-06-15",
        f"{KEY}/20240115/us-east-1/sts/aws4_request",
        "content-type;host;x-amz-date",
        bad,
    )
    with pytest.raises(SignatureDoesNotMatch, match=r"^The request signature we calculated does not match"):
        SigV4Verifier().verify(request, now=NOW, lookup=lookup((KEY, user())))


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
def test_the_hashlib_hmac_is_hmac_sha256(key_length: int) -> None:
    """derive_signing_key's steps (hashlib, holding the GIL) give what ``hmac.digest`` gives,
    keys longer than a block (hashed first) included."""
    for message in (b"", b"20240115", b"aws4_request", os.urandom(300)):
        key = os.urandom(key_length)
        assert _hmac(key, message) == hmac.digest(key, message, "sha256")
