"""AssumeRoleWithSAML (STS API "AssumeRoleWithSAML"): a SAML assertion in exchange for a role session.

The request is unsigned; the assertion is the credential. In order: ``PrincipalArn`` must
be a SAML provider of the role's account, the assertion must verify against the provider's
metadata (:mod:`iamd.federation.saml`: signature, issuer, audience / Recipient, validity
window), the assertion's ``…/Attributes/Role`` must pair ``RoleArn`` with ``PrincipalArn``,
and the role's trust policy must allow ``sts:AssumeRoleWithSAML`` for
``{"Federated": <provider ARN>}`` under the ``saml:*`` conditions. Session tags come from
``…/PrincipalTag:<k>`` and ``…/TransitiveTagKeys``; a source identity from
``…/SourceIdentity``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from iamd import errors as aws
from iamd.federation.saml import SAML_KEY_ATTRIBUTES, MetadataError, SamlAssertion, SamlError, parse_metadata
from iamd.federation.saml import verify_response as verify_saml_response
from iamd.policy import Principal
from iamd.service.call import Call
from iamd.service.sts.assume import AssumeRoleParams, assume_role_session
from iamd.service.sts.web_identity import federation_error, role_account
from iamd.store import NotFound, ReadTx

__all__ = ["assume_role_with_saml", "name_qualifier"]

ACTION = "sts:AssumeRoleWithSAML"
DENIED = "Not authorized to perform sts:AssumeRoleWithSAML"
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """AWS's ``NameQualifier``: BASE64(SHA1(issuer + account + "/" + provider name)) (STS API "AssumeRoleWithSAML")."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider_name}".encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def assume_role_with_saml(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    role_arn, provider_arn = str(p["RoleArn"]), str(p["PrincipalArn"])
    account = role_account(role_arn)
    try:
        provider = tx.get_saml_provider(account, provider_arn)
    except NotFound:
        raise aws.InvalidIdentityToken("Specified provider doesn't exist") from None
    if provider.valid_until is not None and provider.valid_until <= call.now:
        raise aws.InvalidIdentityToken("The SAML provider's metadata has expired (ValidUntil).")
    try:
        metadata = parse_metadata(provider.metadata_document)
        assertion = verify_saml_response(str(p["SAMLAssertion"]), metadata, call.now)
    except MetadataError:  # stored metadata was validated on write; fail closed anyway
        raise aws.InvalidIdentityToken("The SAML provider's metadata cannot be used.") from None
    except SamlError as e:
        raise federation_error(e.code, e.message) from None
    if (role_arn, provider_arn) not in assertion.roles:
        raise aws.AccessDenied(DENIED)
    session_name = assertion.session_name
    if session_name is None:
        raise aws.InvalidIdentityToken("RoleSessionName is required in AuthnResponse")
    if not _SESSION_NAME.fullmatch(session_name):
        raise aws.InvalidIdentityToken("RoleSessionName in AuthnResponse must be 2-64 characters of [\\w+=,.@-]")
    qualifier = name_qualifier(assertion.issuer, account, provider.name)
    audience = assertion.recipient or (assertion.audiences[0] if assertion.audiences else "")
    params = AssumeRoleParams.federated(
        p, session_name=session_name, tags=assertion.principal_tags,
        transitive_keys=assertion.transitive_tag_keys, source_identity=assertion.source_identity,
    )  # fmt: skip
    context = _context(assertion, audience, qualifier, account, provider.name)
    result = assume_role_session(
        call, tx, Principal.federated(provider.arn, account), params, action=ACTION, extra_context=context,
        federated_provider=provider.arn, denial_message=DENIED,
    )  # fmt: skip
    result.update(
        Subject=assertion.subject, SubjectType=assertion.subject_type, Issuer=assertion.issuer,
        Audience=audience, NameQualifier=qualifier,
    )  # fmt: skip
    return result


def _context(
    assertion: SamlAssertion, audience: str, qualifier: str, account: str, provider_name: str
) -> list[tuple[str, str | list[str]]]:
    """The ``saml:*`` condition keys of the trust decision (AWS "IAM and AWS STS condition context keys" (web identity
    and SAML keys)).
    """
    items: list[tuple[str, str | list[str]]] = [
        ("saml:aud", audience),
        ("saml:iss", assertion.issuer),
        ("saml:sub", assertion.subject),
        ("saml:sub_type", assertion.subject_type),
        ("saml:namequalifier", qualifier),
        ("saml:doc", f"{account}/{provider_name}"),
    ]
    for name, key in SAML_KEY_ATTRIBUTES.items():
        values = assertion.attributes.get(name)
        if values:
            items.append((key, list(values) if len(values) > 1 or key.startswith("saml:eduperson") else values[0]))
    return items
