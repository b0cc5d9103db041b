"""OIDC web identity tokens and JWKS sources (STS API "AssumeRoleWithWebIdentity").

Signed with a test issuer's own RSA keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from iamd.federation.jwks import JwksError, JwksResolver, KeyUnavailable, issuer_key, parse_source_option
from iamd.federation.oidc import OidcError, token_issuer, verify_token
from tests.federation.idp import OidcIssuer, new_rsa_key

ISSUER = "https://token.example.test"


@pytest.fixture(scope="module")
def issuer() -> OidcIssuer:
    return OidcIssuer()


def _file_resolver(issuer: OidcIssuer, tmp_path: Path) -> JwksResolver:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(issuer.jwks()))
    return JwksResolver({ISSUER: str(path)})


def _verify(token: str, resolver: JwksResolver, now: datetime | None = None, clients: tuple[str, ...] = ("app",)):  # type: ignore[no-untyped-def]
    return verify_token(token, "token.example.test", clients, resolver.key_for, now or datetime.now(UTC))


def test_a_valid_token_yields_subject_audience_tags(issuer: OidcIssuer, tmp_path: Path) -> None:
    claims = {
        "sub": "user-1", "aud": ["other", "app"], "amr": ["pwd", "mfa"],
        "https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"]}, "transitive_tag_keys": ["team"]},
        "https://aws.amazon.com/source_identity": "user-1",
    }  # fmt: skip
    ident = _verify(issuer.token(ISSUER, claims), _file_resolver(issuer, tmp_path))
    assert (ident.issuer, ident.subject, ident.audience) == ("token.example.test", "user-1", "app")
    assert ident.amr == ("pwd", "mfa") and ident.principal_tags == (("team", "blue"),)
    assert ident.transitive_tag_keys == ("team",) and ident.source_identity == "user-1"
    # azp stands in for aud when aud names no client id of the provider
    assert _verify(issuer.token(ISSUER, {"sub": "s", "aud": "x", "azp": "app"}), _file_resolver(issuer, tmp_path))


def test_refusals_carry_sts_codes(issuer: OidcIssuer, tmp_path: Path) -> None:
    resolver = _file_resolver(issuer, tmp_path)
    cases = {
        "Incorrect token audience": issuer.token(ISSUER, {"sub": "s", "aud": "nope"}),
        "The signature of the ID Token could not be verified": issuer.token(
            ISSUER, {"sub": "s", "aud": "app"}, key=new_rsa_key()
        ),
        "No OpenIDConnect provider found in your account for https://evil.example": issuer.token(
            "https://evil.example", {"sub": "s", "aud": "app"}
        ),
    }
    for message, token in cases.items():
        with pytest.raises(OidcError) as info:
            _verify(token, resolver)
        assert (info.value.code, info.value.message) == ("InvalidIdentityToken", message)
    hs = jwt.encode({"iss": ISSUER, "sub": "s", "aud": "app", "exp": 2**40}, "s" * 32, algorithm="HS256")
    with pytest.raises(OidcError, match="unsupported algorithm"):
        _verify(hs, resolver)
    with pytest.raises(OidcError, match="not a valid JWT"):
        token_issuer("not.a.jwt")


def test_expiry_uses_the_injected_clock(issuer: OidcIssuer, tmp_path: Path) -> None:
    token = issuer.token(ISSUER, {"sub": "s", "aud": "app"})
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    later = datetime.fromtimestamp(exp, UTC)
    with pytest.raises(OidcError) as info:
        _verify(token, _file_resolver(issuer, tmp_path), now=later)
    assert info.value.code == "ExpiredTokenException"
    assert info.value.message == f"Token expired: current date/time {exp} must be before the expiration date/time {exp}"
    earlier = datetime.now(UTC) - timedelta(minutes=10)  # iat lies more than the skew ahead
    with pytest.raises(OidcError, match="issued in the future"):
        _verify(token, _file_resolver(issuer, tmp_path), now=earlier)


def test_jwks_over_loopback_http_discovery_and_rotation(issuer: OidcIssuer) -> None:
    with issuer.serve() as jwks_url:
        direct = JwksResolver({ISSUER: jwks_url})
        assert _verify(issuer.token(ISSUER, {"sub": "s", "aud": "app"}), direct).subject == "s"
        # discovery: <issuer>/.well-known/openid-configuration names the jwks_uri
        discovered = JwksResolver(fetch=lambda url, timeout: _loopback(url, issuer.url))
        assert discovered.key_for("https://idp.example", "k1").key_id == "k1"
        # an unknown kid refetches once (key rotation), then fails as AWS does
        with pytest.raises(KeyUnavailable):
            direct.key_for(ISSUER, "rotated-away")
    with pytest.raises(JwksError):  # the IdP is gone: IDPCommunicationError
        JwksResolver({ISSUER: jwks_url}, timeout=1).key_for(ISSUER, "k1")


def _loopback(url: str, base: str) -> bytes:
    import urllib.request

    target = url.replace("https://idp.example", base)
    with urllib.request.urlopen(target, timeout=5) as r:
        return bytes(r.read())


def test_sources_are_https_or_loopback_http_or_files() -> None:
    assert parse_source_option("https://a.example=https://a.example/keys") == (
        "https://a.example",
        "https://a.example/keys",
    )
    assert parse_source_option("a.example=/etc/iamd/a.json")[1] == "/etc/iamd/a.json"
    assert parse_source_option("a.example=http://127.0.0.1:8080/k")[1] == "http://127.0.0.1:8080/k"
    with pytest.raises(KeyUnavailable):
        parse_source_option("a.example=http://keys.example.com/k")
    with pytest.raises(ValueError):
        parse_source_option("no-source")
    assert issuer_key("HTTPS://a.example/path/") == "a.example/path"


def test_serve_option_configures_the_process_resolver(issuer: OidcIssuer, tmp_path: Path) -> None:
    import click

    from iamd.cli.server import _configure_jwks
    from iamd.federation.jwks import default_resolver

    path = tmp_path / "keys.json"
    path.write_text(json.dumps(issuer.jwks()))
    _configure_jwks([f"https://cli.example.test={path}"])
    try:
        assert default_resolver().key_for("https://cli.example.test", "k1").key_id == "k1"
    finally:
        default_resolver().configure("https://cli.example.test", None)
    with pytest.raises(click.BadParameter):
        _configure_jwks(["cli.example.test=http://keys.example.com/jwks.json"])  # http only for loopback
