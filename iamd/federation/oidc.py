"""Verifying an OIDC web identity token for AssumeRoleWithWebIdentity (STS API "AssumeRoleWithWebIdentity").

:func:`token_issuer` reads the (unverified) issuer so STS can find the IAM OIDC provider;
:func:`verify_token` then checks, in AWS's order: the signature against the provider's
keys, ``exp`` (ExpiredTokenException), ``nbf``/``iat``, the issuer, and the audience (``aud``,
else ``azp``) against the provider's client ids. The clock is an argument; ``nbf`` and
``iat`` get :data:`CLOCK_SKEW` of tolerance, ``exp`` none (AWS's message compares the
instants directly).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from iamd.federation.jwks import JwksError, KeyUnavailable, issuer_key

__all__ = ["CLOCK_SKEW", "OidcError", "WebIdentity", "token_issuer", "verify_token"]

CLOCK_SKEW = timedelta(minutes=5)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TAGS_CLAIM = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
KEY_MESSAGE = (
    "Couldn't retrieve verification key from your identity provider, please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)


class OidcError(Exception):
    """A token STS refuses; ``code`` is STS's error code."""

    def __init__(self, message: str, code: str = "InvalidIdentityToken") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class WebIdentity:
    issuer: str  # the provider URL without scheme, as the provider is keyed
    subject: str
    audience: str  # the client id that matched (aud, else azp)
    amr: tuple[str, ...]
    principal_tags: tuple[tuple[str, str], ...]
    transitive_tag_keys: tuple[str, ...]
    source_identity: str | None
    claims: dict[str, Any]


def token_issuer(token: str) -> str:
    """The ``iss`` claim, unverified; InvalidIdentityToken when the token cannot be read."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OidcError(
            "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
        ) from None
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise OidcError("The ID Token provided has no issuer (iss) claim")
    return iss


def _tags(claims: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    raw = claims.get(TAGS_CLAIM)
    if raw is None:
        return (), ()
    if not isinstance(raw, dict):
        raise OidcError(f"The {TAGS_CLAIM} claim must be a JSON object", "IDPRejectedClaim")
    tags: list[tuple[str, str]] = []
    principal = raw.get("principal_tags") or {}
    if not isinstance(principal, dict):
        raise OidcError("principal_tags must be a JSON object", "IDPRejectedClaim")
    for key, value in principal.items():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str):
            raise OidcError(f"The value of principal tag {key} must be one string", "IDPRejectedClaim")
        tags.append((str(key), value))
    transitive = raw.get("transitive_tag_keys") or []
    if not isinstance(transitive, list) or not all(isinstance(k, str) for k in transitive):
        raise OidcError("transitive_tag_keys must be a list of strings", "IDPRejectedClaim")
    return tuple(tags), tuple(transitive)


def verify_token(
    token: str,
    provider_url: str,
    client_ids: Sequence[str],
    key_for: Callable[[str, str | None], jwt.PyJWK],
    now: datetime,
) -> WebIdentity:
    """Verify ``token`` issued by the provider at ``provider_url`` (with or without scheme)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise OidcError("The ID Token provided is not a valid JWT.") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise OidcError(f"The ID Token is signed with an unsupported algorithm: {alg}")
    issuer = token_issuer(token)
    if issuer_key(issuer) != issuer_key(provider_url):
        raise OidcError(f"No OpenIDConnect provider found in your account for {issuer}")
    kid = header.get("kid")
    try:
        key = key_for(issuer, kid if isinstance(kid, str) else None)
    except KeyUnavailable:
        raise OidcError(KEY_MESSAGE) from None
    except JwksError:
        raise OidcError(KEY_MESSAGE, "IDPCommunicationError") from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            options={
                "verify_aud": False, "verify_iss": False, "verify_exp": False, "verify_nbf": False,
                "verify_iat": False, "require": ["iss", "sub", "exp"],
            },
        )  # fmt: skip
    except jwt.MissingRequiredClaimError as e:
        raise OidcError(f"The ID Token provided is missing the {e.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise OidcError("The signature of the ID Token could not be verified") from None
    except jwt.PyJWTError:
        raise OidcError("The ID Token provided is not a valid JWT.") from None
    epoch = int(now.timestamp())
    skew = int(CLOCK_SKEW.total_seconds())
    exp = _number(claims, "exp")
    if exp is None:
        raise OidcError("The ID Token provided is missing the exp claim")
    if epoch >= exp:
        raise OidcError(
            f"Token expired: current date/time {epoch} must be before the expiration date/time {int(exp)}",
            "ExpiredTokenException",
        )
    nbf = _number(claims, "nbf")
    if nbf is not None and epoch + skew < nbf:
        raise OidcError("The ID Token is not yet valid (nbf)")
    iat = _number(claims, "iat")
    if iat is not None and epoch + skew < iat:
        raise OidcError("The ID Token was issued in the future (iat)")
    audiences = claims.get("aud")
    aud_list = [audiences] if isinstance(audiences, str) else [a for a in audiences or () if isinstance(a, str)]
    matched = next((a for a in aud_list if a in client_ids), None)
    azp = claims.get("azp")
    if matched is None and isinstance(azp, str) and azp in client_ids:
        matched = azp
    if matched is None:
        raise OidcError("Incorrect token audience")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcError("The ID Token provided is missing the sub claim")
    amr = claims.get("amr")
    amr_list = (amr,) if isinstance(amr, str) else tuple(a for a in amr or () if isinstance(a, str))
    tags, transitive = _tags(claims)
    source = claims.get(SOURCE_IDENTITY_CLAIM)
    return WebIdentity(
        issuer=issuer_key(issuer), subject=subject, audience=matched, amr=amr_list, principal_tags=tags,
        transitive_tag_keys=transitive, source_identity=source if isinstance(source, str) else None, claims=claims,
    )  # fmt: skip


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OidcError(f"The {name} claim of the ID Token is not a number")
    return float(value)
