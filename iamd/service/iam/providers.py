"""IAM OIDC and SAML identity providers (AWS "Identity providers and federation into AWS") and their tags.

Providers are addressed by ARN. Messages follow AWS where known (IAM API "Common Errors"); the rest are
iamd's own, listed in docs/federation.md. Thumbprints are validated and stored as AWS does
but not used for trust: iamd verifies tokens against the provider's JWKS, fetched over TLS
or configured by the operator (docs/federation.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from iamd import errors as aws
from iamd.service.call import Call
from iamd.store import NotFound, ReadTx, TagTarget, Tx

from .checks import check_tags, tags_of
from .shapes import tags_shape

__all__ = [
    "MAX_CLIENT_IDS",
    "MAX_THUMBPRINTS",
    "PROVIDER_QUOTA",
    "oidc_provider",
    "oidc_url_key",
    "saml_provider",
]

PROVIDER_QUOTA = 100  # OIDC providers and SAML providers per account, each (AWS "IAM and AWS STS quotas")
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_BAD_URL = "Invalid Open ID Connect Provider URL"


# -- helpers ----------------------------------------------------------------------------------
def oidc_url_key(url: str) -> str:
    """``https://host[/path]`` → ``host[/path]``; InvalidInput for anything else ."""
    if not url.lower().startswith("https://"):
        raise aws.InvalidInput(_BAD_URL)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise aws.InvalidInput(_BAD_URL) from None
    if not parts.hostname or parts.query or parts.fragment or port is not None or parts.username or "?" in url:
        raise aws.InvalidInput(_BAD_URL)
    if any(c.isspace() for c in url):
        raise aws.InvalidInput(_BAD_URL)
    return url[len("https://") :].rstrip("/")


def _thumbprints(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_THUMBPRINTS:
        raise aws.InvalidInput("Thumbprint list must contain fewer than 5 entries.")
    for value in values:
        if not _THUMBPRINT.fullmatch(value):
            raise aws.InvalidInput(f"Thumbprint {value} is not a 40-character hexadecimal SHA-1 fingerprint.")
    return list(values)


def _client_ids(values: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(values))  # AWS keeps one of each, in the order given
    if len(unique) > MAX_CLIENT_IDS:
        raise aws.LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
    return unique


def oidc_provider(call: Call, tx: ReadTx) -> Any:
    """The provider ``OpenIDConnectProviderArn`` names, or AWS's NoSuchEntity."""
    arn = str(call.params["OpenIDConnectProviderArn"])
    try:
        return tx.get_oidc_provider(call.account, arn)
    except NotFound:
        raise aws.NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}") from None


def saml_provider(call: Call, tx: ReadTx) -> Any:
    """The provider ``SAMLProviderArn`` names, or AWS's NoSuchEntity."""
    arn = str(call.params["SAMLProviderArn"])
    try:
        return tx.get_saml_provider(call.account, arn)
    except NotFound:
        raise aws.NoSuchEntity(f"Manifest not found for arn {arn}") from None


def _metadata(text: str) -> Any:
    # imported here, not at start-up: lxml, signxml and cryptography's X.509 (bench/README.md, "Start-up")
    from iamd.federation.saml import MetadataError, parse_metadata

    try:
        return parse_metadata(text)
    except MetadataError:
        raise aws.InvalidInput("Could not parse metadata") from None


def _check_encryption(params: Any) -> None:
    # Encrypted assertions are not supported (docs/federation.md): refuse rather than accept
    # a provider whose assertions could never be read.
    if params.get("AddPrivateKey") or params.get("AssertionEncryptionMode") == "Required":
        raise aws.InvalidInput("iamd does not support encrypted SAML assertions (AssertionEncryptionMode Required).")


# -- OIDC -------------------------------------------------------------------------------------
def create_oidc_provider(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    url = oidc_url_key(str(p["Url"]))
    client_ids = _client_ids(p.get("ClientIDList") or ())
    thumbprints = _thumbprints(p.get("ThumbprintList") or ())
    tags = tags_of(p)
    check_tags(TagTarget.OIDC_PROVIDER, tags)
    if tx.find_oidc_provider(call.account, url) is not None:
        raise aws.EntityAlreadyExists(f"Provider with url https://{url} already exists.")
    if len(tx.list_oidc_providers(call.account)) >= PROVIDER_QUOTA:
        raise aws.LimitExceeded(f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {PROVIDER_QUOTA}")
    provider = tx.create_oidc_provider(call.account, url, client_ids=client_ids, thumbprints=thumbprints, tags=tags)
    out: dict[str, Any] = {"OpenIDConnectProviderArn": provider.arn}
    if tags:
        out["Tags"] = tags_shape(tags)
    return out


def get_oidc_provider(call: Call, tx: ReadTx) -> dict[str, Any]:
    provider = oidc_provider(call, tx)
    out: dict[str, Any] = {
        "Url": provider.url,  # AWS returns it without the scheme (AWS "Identity providers and federation into AWS")
        "ClientIDList": list(provider.client_ids),
        "ThumbprintList": list(provider.thumbprints),
        "CreateDate": provider.create_date,
    }
    tags = tx.list_tags(TagTarget.OIDC_PROVIDER, call.account, provider.arn)
    if tags:
        out["Tags"] = tags_shape(tags)
    return out


def list_oidc_providers(call: Call, tx: ReadTx) -> dict[str, Any]:
    return {"OpenIDConnectProviderList": [{"Arn": p.arn} for p in tx.list_oidc_providers(call.account)]}


def delete_oidc_provider(call: Call, tx: Tx) -> None:
    """Idempotent, as AWS documents it (IAM API Reference, DeleteOpenIDConnectProvider): a provider ARN of
    the caller's account that names no provider is not an error; any other ARN still is."""
    arn = str(call.params["OpenIDConnectProviderArn"])
    try:
        found = tx.get_oidc_provider(call.account, arn)
    except NotFound:
        if arn.startswith(f"arn:{call.partition}:iam::{call.account}:oidc-provider/"):
            return
        raise aws.NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}") from None
    tx.delete_oidc_provider(call.account, found.arn)


def add_client_id(call: Call, tx: Tx) -> None:
    provider = oidc_provider(call, tx)
    client_id = str(call.params["ClientID"])
    if client_id in provider.client_ids:
        return  # idempotent, as AWS documents
    ids = _client_ids([*provider.client_ids, client_id])
    tx.update_oidc_provider(call.account, provider.arn, client_ids=ids)


def remove_client_id(call: Call, tx: Tx) -> None:
    provider = oidc_provider(call, tx)
    client_id = str(call.params["ClientID"])
    if client_id in provider.client_ids:  # removing an absent id is not an error (AWS: idempotent)
        ids = [c for c in provider.client_ids if c != client_id]
        tx.update_oidc_provider(call.account, provider.arn, client_ids=ids)


def update_thumbprint(call: Call, tx: Tx) -> None:
    provider = oidc_provider(call, tx)
    tx.update_oidc_provider(call.account, provider.arn, thumbprints=_thumbprints(call.params["ThumbprintList"]))


# -- SAML -------------------------------------------------------------------------------------
def create_saml_provider(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    _check_encryption(p)
    metadata = _metadata(str(p["SAMLMetadataDocument"]))
    tags = tags_of(p)
    check_tags(TagTarget.SAML_PROVIDER, tags)
    name = str(p["Name"])
    arn = call.arn(f"saml-provider/{name}")
    try:
        tx.get_saml_provider(call.account, arn)
    except NotFound:
        pass
    else:
        raise aws.EntityAlreadyExists(f"SAMLProvider named {name} already exists")
    if len(tx.list_saml_providers(call.account)) >= PROVIDER_QUOTA:
        raise aws.LimitExceeded(f"Cannot exceed quota for SAMLProvidersPerAccount: {PROVIDER_QUOTA}")
    provider = tx.create_saml_provider(
        call.account, name, str(p["SAMLMetadataDocument"]), valid_until=metadata.valid_until, tags=tags
    )
    out: dict[str, Any] = {"SAMLProviderArn": provider.arn}
    if tags:
        out["Tags"] = tags_shape(tags)
    return out


def get_saml_provider(call: Call, tx: ReadTx) -> dict[str, Any]:
    provider = saml_provider(call, tx)
    out: dict[str, Any] = {
        "SAMLMetadataDocument": provider.metadata_document,
        "CreateDate": provider.create_date,
        "AssertionEncryptionMode": "Allowed",
    }
    if provider.valid_until is not None:
        out["ValidUntil"] = provider.valid_until
    tags = tx.list_tags(TagTarget.SAML_PROVIDER, call.account, provider.arn)
    if tags:
        out["Tags"] = tags_shape(tags)
    return out


def list_saml_providers(call: Call, tx: ReadTx) -> dict[str, Any]:
    entries = []
    for provider in tx.list_saml_providers(call.account):
        entry: dict[str, Any] = {"Arn": provider.arn, "CreateDate": provider.create_date}
        if provider.valid_until is not None:
            entry["ValidUntil"] = provider.valid_until
        entries.append(entry)
    return {"SAMLProviderList": entries}


def update_saml_provider(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    _check_encryption(p)
    provider = saml_provider(call, tx)
    document = p.get("SAMLMetadataDocument")
    if document is not None:
        metadata = _metadata(str(document))
        tx.update_saml_provider(call.account, provider.arn, str(document), valid_until=metadata.valid_until)
    return {"SAMLProviderArn": provider.arn}


def delete_saml_provider(call: Call, tx: Tx) -> None:
    tx.delete_saml_provider(call.account, saml_provider(call, tx).arn)
