"""A session token has one spelling: the unpadded base64url iamd issues. Any other is invalid."""

from __future__ import annotations

import base64
import secrets

import pytest

from bench.fuzz import VERSIONS, Target
from iamd.crypto import SecretBox, SecretBoxError
from tests.security.inprocess import answer, target

__all__ = ["target"]

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
INVALID = (403, "InvalidClientTokenId", "The security token included in the request is invalid.")


def _variants(token: str) -> dict[str, str]:
    """Re-encodings of ``token`` that decode to the same bytes with a lenient decoder."""
    head, body = token.rsplit(":", 1)
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    standard = base64.b64encode(raw).decode()
    out = {
        "one =": f"{token}=",
        "two =": f"{token}==",
        "padded": f"{head}:{base64.urlsafe_b64encode(raw).decode()}",
        "standard alphabet, padded": f"{head}:{standard}",
        "standard alphabet, unpadded": f"{head}:{standard.rstrip('=')}",
        "a character the decoder skips": f"{head}:{body[:10]}.{body[10:]}",
        "whitespace inside": f"{head}:{body[:10]}\n{body[10:]}",
    }
    if len(body) % 4:  # trailing bits that the decoder drops
        out["non-zero trailing bits"] = f"{head}:{body[:-1]}{URLSAFE[URLSAFE.index(body[-1]) | 1]}"
    return {name: value for name, value in out.items() if value != token}


def test_the_secret_box_opens_exactly_the_encoding_it_seals() -> None:
    box = SecretBox({"k": secrets.token_bytes(32)}, primary="k")
    for _ in range(20):  # lengths of every residue modulo 4, with and without '-' and '_'
        sealed = box.seal_bytes(secrets.token_bytes(secrets.randbelow(40)), context=b"c")
        box.open_bytes(sealed, context=b"c")
        for name, variant in _variants(sealed).items():
            with pytest.raises(SecretBoxError):
                box.open_bytes(variant, context=b"c")
                pytest.fail(f"{name} opened")


def test_a_session_token_re_encoded_does_not_authenticate(target: Target) -> None:
    key, secret, token = target.keys["session"]
    assert token is not None
    assert answer(target, {"Action": "GetCallerIdentity"}, identity="session", service="sts")[:2] == (200, "OK")
    variants = _variants(token)
    assert "standard alphabet, padded" in variants  # the token has '-' or '_', or padding to add
    for name, variant in variants.items():
        target.keys["variant"] = (key, secret, variant)
        for service, action in (("sts", "GetCallerIdentity"), ("iam", "GetUser")):
            got = answer(target, {"Action": action, "Version": VERSIONS[service]}, identity="variant", service=service)
            assert got == INVALID, (name, service)
