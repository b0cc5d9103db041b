"""AssumeRoleWithWebIdentity (STS API "AssumeRoleWithWebIdentity"): an OIDC token in exchange for a role session.

The request is unsigned; the token is the credential. In AWS's order: the token's issuer
must be an IAM OIDC provider of the role's account (InvalidIdentityToken), the token is
verified against the provider's keys (:mod:`iamd.federation.oidc`; ExpiredTokenException,
InvalidIdentityToken, IDPCommunicationError), and the role's trust policy must allow
``sts:AssumeRoleWithWebIdentity`` for ``{"Federated": <provider ARN>}`` under the
``<provider>:aud`` / ``:sub`` / ``:amr`` conditions (AccessDenied "Not authorized to perform
sts:AssumeRoleWithWebIdentity"). Session tags and a source identity may come from the
token's ``https://aws.amazon.com/tags`` / ``…/source_identity`` claims (``sts:TagSession`` /
``sts:SetSourceIdentity`` then need to be trusted as well).
"""

from __future__ import annotations

import re
from typing import Any

from iamd import errors as aws
from iamd.federation.jwks import JwksResolver, default_resolver, issuer_key
from iamd.federation.oidc import OidcError, WebIdentity, token_issuer, verify_token
from iamd.policy import Principal
from iamd.service.call import Call
from iamd.service.sts.assume import AssumeRoleParams, assume_role_session
from iamd.store import ReadTx

__all__ = ["WELL_KNOWN_PROVIDERS", "assume_role_with_web_identity", "federation_error", "role_account"]

ACTION = "sts:AssumeRoleWithWebIdentity"
DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
# Hosts a trust policy names as ``"Federated": "<host>"`` instead of a provider ARN (AWS's
# built-in web identity providers); any other IAM OIDC provider is named by its ARN.
WELL_KNOWN_PROVIDERS = frozenset(
    {"accounts.google.com", "graph.facebook.com", "www.amazon.com", "cognito-identity.amazonaws.com"}
)
_ROLE_ACCOUNT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/.+")
_ERRORS: dict[str, type[aws.AwsError]] = {
    "InvalidIdentityToken": aws.InvalidIdentityToken,
    "ExpiredTokenException": aws.ExpiredTokenException,
    "IDPRejectedClaim": aws.IDPRejectedClaim,
    "IDPCommunicationError": aws.IDPCommunicationError,
}


def federation_error(code: str, message: str) -> aws.AwsError:
    return _ERRORS.get(code, aws.InvalidIdentityToken)(message)


def role_account(role_arn: str) -> str:
    """The account of ``RoleArn``: providers are looked up there (ValidationError otherwise)."""
    m = _ROLE_ACCOUNT.fullmatch(role_arn)
    if m is None:
        raise aws.ValidationError(f"{role_arn} is invalid")
    return m.group(1)


def _resolver() -> JwksResolver:
    return default_resolver()


def assume_role_with_web_identity(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    account = role_account(str(p["RoleArn"]))
    if p.get("ProviderId") is not None:
        # OAuth 2.0 access tokens of www.amazon.com / graph.facebook.com need those services'
        # token-info endpoints; iamd supports OpenID Connect ID tokens only (docs/federation.md).
        raise aws.InvalidParameterValue("iamd supports OpenID Connect ID tokens only; ProviderId is not supported.")
    token = str(p["WebIdentityToken"])
    try:
        issuer = token_issuer(token)
        provider = tx.find_oidc_provider(account, issuer_key(issuer))
        if provider is None:
            raise OidcError(f"No OpenIDConnect provider found in your account for {issuer}")
        identity = verify_token(token, provider.url, provider.client_ids, _resolver().key_for, call.now)
    except OidcError as e:
        raise federation_error(e.code, e.message) from None
    host = provider.url
    trusted_as = host if host in WELL_KNOWN_PROVIDERS else provider.arn
    params = AssumeRoleParams.federated(
        p, session_name=str(p["RoleSessionName"]), tags=identity.principal_tags,
        transitive_keys=identity.transitive_tag_keys, source_identity=identity.source_identity,
    )  # fmt: skip
    result = assume_role_session(
        call, tx, Principal.federated(trusted_as, account), params, action=ACTION,
        extra_context=_context(host, identity), federated_provider=trusted_as, denial_message=DENIED,
        extra_claims={"webIdFederationData": _cloudtrail(trusted_as, identity)},
    )  # fmt: skip
    result.update(SubjectFromWebIdentityToken=identity.subject, Provider=trusted_as, Audience=identity.audience)
    return result


def _context(host: str, identity: WebIdentity) -> list[tuple[str, str | list[str]]]:
    """The web identity condition keys of the trust decision (AWS "IAM and AWS STS condition context keys" (web identity
    and SAML keys)).
    """
    items: list[tuple[str, str | list[str]]] = [
        (f"{host}:aud", identity.audience),
        (f"{host}:sub", identity.subject),
    ]
    if identity.amr:
        items.append((f"{host}:amr", list(identity.amr)))
    azp = identity.claims.get("azp")
    if isinstance(azp, str) and azp != identity.audience:
        items.append((f"{host}:azp", azp))
    aud = identity.claims.get("aud")
    if isinstance(aud, str) and aud != identity.audience:
        items.append((f"{host}:oaud", aud))  # Google: the original aud when azp matched
    return items


def _cloudtrail(provider: str, identity: WebIdentity) -> dict[str, Any]:
    return {
        "federatedProvider": provider,
        "attributes": {
            f"{identity.issuer}:aud": identity.audience,
            f"{identity.issuer}:sub": identity.subject,
        },
    }
