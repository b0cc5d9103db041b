"""Identity-provider ARNs → rows: shared by the provider family and the tag family."""

from __future__ import annotations

from sqlalchemy import Connection, select

from iamd.store import schema as s
from iamd.store.base import name_key
from iamd.store.errors import NotFound
from iamd.store.records import TagTarget

__all__ = ["OIDC_LABEL", "SAML_LABEL", "parse_provider_arn", "provider_id"]

OIDC_LABEL = "OpenIDConnect provider"
SAML_LABEL = "SAML provider"
_KINDS = {TagTarget.OIDC_PROVIDER: "oidc-provider/", TagTarget.SAML_PROVIDER: "saml-provider/"}


def parse_provider_arn(target: TagTarget, account: str, arn: str, partition: str) -> str | None:
    """The URL (OIDC, without scheme) or name (SAML) an ARN of ``account`` names, else None."""
    prefix = f"arn:{partition}:iam::{account}:{_KINDS[target]}"
    if not arn.startswith(prefix) or len(arn) == len(prefix):
        return None
    return arn[len(prefix) :]


def provider_id(conn: Connection, target: TagTarget, account: str, arn: str, partition: str) -> str:
    """The row id of the provider ``arn`` names in ``account``; NotFound otherwise."""
    label = OIDC_LABEL if target is TagTarget.OIDC_PROVIDER else SAML_LABEL
    ref = parse_provider_arn(target, account, arn, partition)
    if ref is None:
        raise NotFound(label, arn)
    if target is TagTarget.OIDC_PROVIDER:
        o = s.oidc_providers
        row = conn.execute(select(o.c.id).where(o.c.account_id == account, o.c.url == ref)).first()
    else:
        p = s.saml_providers
        row = conn.execute(select(p.c.id).where(p.c.account_id == account, p.c.name_key == name_key(ref))).first()
    if row is None:
        raise NotFound(label, arn)
    return str(row.id)
