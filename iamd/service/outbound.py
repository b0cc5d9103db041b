"""Outbound web identity federation: an account's issuer and signing keys, the IAM operations
that switch it on and off, STS GetWebIdentityToken, and the OpenID Connect discovery documents
relying parties verify its tokens with (IAM User Guide, "Getting started with outbound identity
federation", "Understanding token claims"; docs/federation.md, "Outbound").

Each account gets, when it first enables the feature, an issuer id and two signing keys (RSA
2048 for ``RS256``, P-384 for ``ES384``); the private keys are sealed with the server's master
key, bound to their key id, like every other secret iamd keeps. The issuer URL is
``<public URL>/outbound/<issuer id>``; the discovery document and the key set are served at
``<issuer>/.well-known/openid-configuration`` and ``<issuer>/.well-known/jwks.json``, the
paths AWS documents.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from iamd import errors as aws
from iamd.crypto import SecretBox
from iamd.ids import new_uuid4
from iamd.service.authorize import authorize_action
from iamd.service.call import Call
from iamd.store import ReadTx, Tx
from iamd.store.surface import WebIdentityKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

# PyJWT and cryptography's key types are imported by the two functions that sign or make keys,
# not at start-up: a server that issues no web identity token never loads them (bench/README.md,
# "Start-up").

__all__ = [
    "ALGORITHMS",
    "DEFAULT_PUBLIC_URL",
    "disable_outbound_web_identity_federation",
    "discovery_document",
    "enable_outbound_web_identity_federation",
    "get_outbound_web_identity_federation_info",
    "get_web_identity_token",
    "issuer_url",
    "jwks_document",
]

ALGORITHMS = ("RS256", "ES384")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:4566"
DEFAULT_DURATION = 300  # seconds (STS API "GetWebIdentityToken")
NAMESPACE = "https://sts.amazonaws.com/"  # where AWS puts its own claims


def key_context(kid: str) -> bytes:
    return f"web-identity-key:{kid}".encode()


def issuer_url(public_url: str, issuer_id: str) -> str:
    return f"{public_url.rstrip('/')}/outbound/{issuer_id}"


def _public_url(call: Call) -> str:
    source: Callable[[], str] | None = call.env.public_url
    return source() if source is not None else DEFAULT_PUBLIC_URL


# -- keys ------------------------------------------------------------------------------------
def _new_key(box: SecretBox, account: str, algorithm: str, now: Any) -> WebIdentityKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    kid = secrets.token_hex(16)
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        private = ec.generate_private_key(ec.SECP384R1())
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=kid, alg=algorithm, use="sig")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    sealed = box.seal(pem, context=key_context(kid)).encode("ascii")
    return WebIdentityKey(kid, account, algorithm, sealed, json.dumps(jwk, sort_keys=True), now)


# -- IAM: the account's switch ------------------------------------------------------------------
def enable_outbound_web_identity_federation(call: Call, tx: Tx) -> dict[str, Any]:
    current = tx.get_outbound_federation(call.account)
    if current is not None and current.enabled:
        raise aws.FeatureEnabled(
            "Outbound identity federation is already enabled for this account."  # iamd's wording
        )
    issuer_id = current.issuer_id if current is not None else new_uuid4()
    state = tx.set_outbound_federation(call.account, issuer_id, True)
    have = {k.algorithm for k in tx.list_web_identity_keys(call.account)}
    for algorithm in ALGORITHMS:
        if algorithm not in have:
            tx.add_web_identity_key(_new_key(call.env.secret_box, call.account, algorithm, call.now))
    return {"IssuerIdentifier": issuer_url(_public_url(call), state.issuer_id)}


def disable_outbound_web_identity_federation(call: Call, tx: Tx) -> None:
    current = tx.get_outbound_federation(call.account)
    if current is None or not current.enabled:
        raise aws.FeatureDisabled("Outbound identity federation is already disabled for this account.")
    tx.set_outbound_federation(call.account, current.issuer_id, False)


def get_outbound_web_identity_federation_info(call: Call, tx: ReadTx) -> dict[str, Any]:
    current = tx.get_outbound_federation(call.account)
    if current is None:
        raise aws.FeatureDisabled("Outbound identity federation has never been enabled for this account.")
    return {"IssuerIdentifier": issuer_url(_public_url(call), current.issuer_id), "JwtVendingEnabled": current.enabled}


# -- STS: GetWebIdentityToken -----------------------------------------------------------------------
def _subject(call: Call) -> str:
    """``sub``: the caller's IAM identity: a user's or root's ARN, a role session's role ARN."""
    principal = call.caller.principal
    return principal.entity_arn or principal.arn


def _organization_claims(tx: ReadTx, account: str) -> dict[str, Any]:
    org = tx.organization_of(account)
    if org is None:
        return {}
    tree = tx.org_tree(org.id)
    path = "/".join((org.id, *tree.parent_chain(account)[:-1]))
    return {"org_id": org.id, "ou_path": f"{path}/"}


def get_web_identity_token(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    audience = [str(a) for a in p["Audience"]]
    algorithm = str(p["SigningAlgorithm"])
    if algorithm not in ALGORITHMS:
        raise aws.ValidationError(
            f"1 validation error detected: Value '{algorithm}' at 'signingAlgorithm' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(ALGORITHMS)}]"
        )
    duration = int(p.get("DurationSeconds") or DEFAULT_DURATION)
    tags = [(str(t["Key"]), str(t["Value"])) for t in p.get("Tags") or ()]
    extra: list[tuple[str, str | list[str]]] = [
        ("sts:IdentityTokenAudience", audience), ("sts:DurationSeconds", str(duration)),
        ("sts:SigningAlgorithm", algorithm),
    ]  # fmt: skip
    if tags:
        extra += [(f"aws:RequestTag/{k}", v) for k, v in tags]
        extra.append(("aws:TagKeys", [k for k, _ in tags]))
    authorize_action(call, tx, "sts:GetWebIdentityToken", "*", extra)
    state = tx.get_outbound_federation(call.account)
    if state is None or not state.enabled:
        raise aws.OutboundWebIdentityFederationDisabledException(
            "Outbound web identity federation is disabled for this account. Enable it with "
            "EnableOutboundWebIdentityFederation."
        )
    expires = call.now + timedelta(seconds=duration)
    session = call.caller.session
    if session is not None and expires > session.expires_at:
        raise aws.SessionDurationEscalationException(
            "The requested token duration would extend the session beyond its original expiration time."
        )
    key = next((k for k in tx.list_web_identity_keys(call.account) if k.algorithm == algorithm), None)
    if key is None:  # enabled without keys cannot happen; fail closed all the same
        raise aws.ServiceFailure("No signing key is available for this account.")
    pem = call.env.secret_box.open(key.private_sealed.decode("ascii"), context=key_context(key.kid))
    aws_claims: dict[str, Any] = {
        "aws_account": call.account, "source_region": call.region, "principal_id": _subject(call),
        **_organization_claims(tx, call.account),
    }  # fmt: skip
    if call.caller.principal.tags:
        aws_claims["principal_tags"] = dict(call.caller.principal.tags)
    if tags:
        aws_claims["request_tags"] = dict(tags)
    claims = {
        "iss": issuer_url(_public_url(call), state.issuer_id),
        "aud": audience[0] if len(audience) == 1 else audience,
        "sub": _subject(call),
        "iat": int(call.now.timestamp()),
        "nbf": int(call.now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": new_uuid4(),
        NAMESPACE: aws_claims,
    }
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    private = serialization.load_pem_private_key(pem.encode("ascii"), None)
    if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):  # only these are ever made
        raise aws.ServiceFailure("The account's signing key cannot be used.")
    token = jwt.encode(claims, private, algorithm=algorithm, headers={"kid": key.kid, "typ": "JWT"})
    return {"WebIdentityToken": token, "Expiration": expires.replace(microsecond=0)}


# -- the public documents ------------------------------------------------------------------------
def discovery_document(public_url: str, issuer_id: str) -> dict[str, Any]:
    issuer = issuer_url(public_url, issuer_id)
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "claims_supported": ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", NAMESPACE],
    }


def jwks_document(keys: tuple[WebIdentityKey, ...]) -> dict[str, Any]:
    return {"keys": [json.loads(k.public_jwk) for k in keys]}
