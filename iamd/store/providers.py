"""IAM OIDC and SAML identity providers (AWS "Identity providers and federation into AWS").

Providers are addressed by ARN. An OIDC provider is keyed by its URL without the scheme
(``host[/path]``, as its ARN spells it), one per URL per account; a SAML provider by its
name, unique case-insensitively per account. Deleting a provider deletes its tags. The
service checks quotas and validates the URL / metadata before calling these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, NotFound
from iamd.store.provider_arns import OIDC_LABEL, SAML_LABEL, parse_provider_arn, provider_id
from iamd.store.records import Tag, TagTarget
from iamd.store.tags import put_tags

__all__ = ["OidcProvider", "ProviderOps", "SamlProvider"]


@dataclass(frozen=True, slots=True)
class OidcProvider:
    id: str
    account_id: str
    url: str  # without the scheme: host[/path]
    arn: str
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    create_date: datetime


@dataclass(frozen=True, slots=True)
class SamlProvider:
    id: str
    account_id: str
    name: str
    arn: str
    metadata_document: str
    valid_until: datetime | None
    create_date: datetime
    update_date: datetime


class ProviderOps(Ops):
    # -- conversions -----------------------------------------------------------------------
    def _oidc(self, r: Row[Any]) -> OidcProvider:
        return OidcProvider(
            id=r.id,
            account_id=r.account_id,
            url=r.url,
            arn=f"arn:{self._ctx.partition}:iam::{r.account_id}:oidc-provider/{r.url}",
            client_ids=tuple(json.loads(r.client_ids)),
            thumbprints=tuple(json.loads(r.thumbprints)),
            create_date=r.create_date,
        )

    def _saml(self, r: Row[Any]) -> SamlProvider:
        return SamlProvider(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            arn=f"arn:{self._ctx.partition}:iam::{r.account_id}:saml-provider/{r.name}",
            metadata_document=r.metadata_document,
            valid_until=r.valid_until,
            create_date=r.create_date,
            update_date=r.update_date,
        )

    # -- OIDC reads ------------------------------------------------------------------------
    def get_oidc_provider(self, account: str, arn: str) -> OidcProvider:
        pid = provider_id(self._conn, TagTarget.OIDC_PROVIDER, account, arn, self._ctx.partition)
        row = self._first(select(s.oidc_providers).where(s.oidc_providers.c.id == pid))
        if row is None:  # pragma: no cover - the id was just read in this transaction
            raise NotFound(OIDC_LABEL, arn)
        return self._oidc(row)

    def find_oidc_provider(self, account: str, url: str) -> OidcProvider | None:
        """The provider for ``url`` (without scheme), or None."""
        o = s.oidc_providers
        row = self._first(select(o).where(o.c.account_id == account, o.c.url == url))
        return None if row is None else self._oidc(row)

    def list_oidc_providers(self, account: str) -> tuple[OidcProvider, ...]:
        o = s.oidc_providers
        rows = self._conn.execute(select(o).where(o.c.account_id == account).order_by(o.c.url))
        return tuple(self._oidc(r) for r in rows)

    # -- OIDC writes -----------------------------------------------------------------------
    def create_oidc_provider(
        self,
        account: str,
        url: str,
        *,
        client_ids: Sequence[str] = (),
        thumbprints: Sequence[str] = (),
        tags: Sequence[Tag] = (),
    ) -> OidcProvider:
        self._write()
        self._require_account(account)
        if self.find_oidc_provider(account, url) is not None:
            raise AlreadyExists(OIDC_LABEL, url)
        pid = self._ctx.new_id("OIDC")
        self._conn.execute(
            insert(s.oidc_providers).values(
                id=pid,
                account_id=account,
                url=url,
                client_ids=json.dumps(list(client_ids)),
                thumbprints=json.dumps(list(thumbprints)),
                create_date=self._now(),
            )
        )
        put_tags(self._conn, TagTarget.OIDC_PROVIDER, pid, tags)
        found = self.find_oidc_provider(account, url)
        assert found is not None
        self._changed(Entity.OIDC_PROVIDER, account, found.arn, Verb.CREATED)
        return found

    def update_oidc_provider(
        self,
        account: str,
        arn: str,
        *,
        client_ids: Sequence[str] | None = None,
        thumbprints: Sequence[str] | None = None,
    ) -> OidcProvider:
        """Replace the client id list and/or the thumbprint list."""
        self._write()
        provider = self.get_oidc_provider(account, arn)
        values: dict[str, str] = {}
        if client_ids is not None:
            values["client_ids"] = json.dumps(list(client_ids))
        if thumbprints is not None:
            values["thumbprints"] = json.dumps(list(thumbprints))
        if values:
            o = s.oidc_providers
            self._conn.execute(update(o).where(o.c.id == provider.id).values(**values))
        self._changed(Entity.OIDC_PROVIDER, account, provider.arn, Verb.UPDATED)
        return self.get_oidc_provider(account, arn)

    def delete_oidc_provider(self, account: str, arn: str) -> None:
        self._write()
        provider = self.get_oidc_provider(account, arn)
        self._conn.execute(delete(s.oidc_provider_tags).where(s.oidc_provider_tags.c.resource_id == provider.id))
        self._conn.execute(delete(s.oidc_providers).where(s.oidc_providers.c.id == provider.id))
        self._changed(Entity.OIDC_PROVIDER, account, provider.arn, Verb.DELETED)

    # -- SAML reads ------------------------------------------------------------------------
    def get_saml_provider(self, account: str, arn: str) -> SamlProvider:
        pid = provider_id(self._conn, TagTarget.SAML_PROVIDER, account, arn, self._ctx.partition)
        row = self._first(select(s.saml_providers).where(s.saml_providers.c.id == pid))
        if row is None:  # pragma: no cover - the id was just read in this transaction
            raise NotFound(SAML_LABEL, arn)
        return self._saml(row)

    def list_saml_providers(self, account: str) -> tuple[SamlProvider, ...]:
        p = s.saml_providers
        rows = self._conn.execute(select(p).where(p.c.account_id == account).order_by(p.c.name_key))
        return tuple(self._saml(r) for r in rows)

    # -- SAML writes -----------------------------------------------------------------------
    def create_saml_provider(
        self,
        account: str,
        name: str,
        metadata_document: str,
        *,
        valid_until: datetime | None = None,
        tags: Sequence[Tag] = (),
    ) -> SamlProvider:
        self._write()
        self._require_account(account)
        p = s.saml_providers
        if self._first(select(p.c.id).where(p.c.account_id == account, p.c.name_key == name_key(name))) is not None:
            raise AlreadyExists(SAML_LABEL, name)
        pid = self._ctx.new_id("SAML")
        now = self._now()
        self._conn.execute(
            insert(p).values(
                id=pid,
                account_id=account,
                name=name,
                name_key=name_key(name),
                metadata_document=metadata_document,
                valid_until=valid_until,
                create_date=now,
                update_date=now,
            )
        )
        put_tags(self._conn, TagTarget.SAML_PROVIDER, pid, tags)
        row = self._first(select(p).where(p.c.id == pid))
        assert row is not None
        created = self._saml(row)
        self._changed(Entity.SAML_PROVIDER, account, created.arn, Verb.CREATED)
        return created

    def update_saml_provider(
        self, account: str, arn: str, metadata_document: str, *, valid_until: datetime | None = None
    ) -> SamlProvider:
        self._write()
        provider = self.get_saml_provider(account, arn)
        p = s.saml_providers
        self._conn.execute(
            update(p)
            .where(p.c.id == provider.id)
            .values(metadata_document=metadata_document, valid_until=valid_until, update_date=self._now())
        )
        self._changed(Entity.SAML_PROVIDER, account, provider.arn, Verb.UPDATED)
        return self.get_saml_provider(account, arn)

    def delete_saml_provider(self, account: str, arn: str) -> None:
        self._write()
        provider = self.get_saml_provider(account, arn)
        self._conn.execute(delete(s.saml_provider_tags).where(s.saml_provider_tags.c.resource_id == provider.id))
        self._conn.execute(delete(s.saml_providers).where(s.saml_providers.c.id == provider.id))
        self._changed(Entity.SAML_PROVIDER, account, provider.arn, Verb.DELETED)


__all__ += ["parse_provider_arn"]
