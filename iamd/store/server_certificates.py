"""Server certificates: a name (case-insensitively unique per account) and path like other
IAM entities, the certificate and chain as uploaded, the private key sealed by the service
(never returned), and tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, NotFound
from iamd.store.records import Page, Tag, TagTarget
from iamd.store.tags import put_tags

__all__ = ["ServerCertificate", "ServerCertificateOps"]


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    id: str
    account_id: str
    name: str
    path: str
    arn: str
    body: str
    chain: str | None
    private_key_sealed: bytes = field(repr=False)
    expiration: datetime
    upload_date: datetime


class ServerCertificateOps(Ops):
    def _server_certificate(self, r: Row[Any]) -> ServerCertificate:
        return ServerCertificate(
            r.id, r.account_id, r.name, r.path, self._arn(r.account_id, "server-certificate", r.path, r.name), r.body,
            r.chain, bytes(r.private_key_sealed), r.expiration, r.create_date,
        )  # fmt: skip

    def get_server_certificate(self, account: str, name: str) -> ServerCertificate:
        t = s.server_certificates
        row = self._first(select(t).where(t.c.account_id == account, t.c.name_key == name_key(name)))
        if row is None:
            raise NotFound("server certificate", name)
        return self._server_certificate(row)

    def list_server_certificates(
        self, account: str, *, path_prefix: str = "/", marker: str | None = None, max_items: int = 100
    ) -> Page[ServerCertificate]:
        t = s.server_certificates
        stmt = select(t).where(t.c.account_id == account)
        under = self._under(t.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        return self._paged(stmt, [t.c.name_key], "server-certificates", marker, max_items, self._server_certificate)

    def count_server_certificates(self, account: str) -> int:
        t = s.server_certificates
        return self._count(select(func.count()).select_from(t).where(t.c.account_id == account))

    def create_server_certificate(
        self, account: str, cert_id: str, name: str, *, path: str, body: str, chain: str | None,
        private_key_sealed: bytes, expiration: datetime, tags: Sequence[Tag] = (),
    ) -> ServerCertificate:  # fmt: skip
        self._write()
        self._changed(Entity.SERVER_CERTIFICATE, account, name, Verb.CREATED)
        t = s.server_certificates
        if self._name_taken(t, account, name):
            raise AlreadyExists("server certificate", name)
        self._conn.execute(
            insert(t).values(
                id=cert_id, account_id=account, name=name, name_key=name_key(name), path=path, body=body, chain=chain,
                private_key_sealed=private_key_sealed, expiration=expiration, create_date=self._now(),
            )
        )  # fmt: skip
        put_tags(self._conn, TagTarget.SERVER_CERTIFICATE, cert_id, tags)
        return self.get_server_certificate(account, name)

    def update_server_certificate(
        self, account: str, name: str, *, new_name: str | None = None, new_path: str | None = None
    ) -> ServerCertificate:
        self._write()
        if new_name is not None and new_name != name:
            self._changed(Entity.SERVER_CERTIFICATE, account, name, Verb.RENAMED, new_name)
        else:
            self._changed(Entity.SERVER_CERTIFICATE, account, name, Verb.UPDATED)
        current = self.get_server_certificate(account, name)
        t = s.server_certificates
        values: dict[str, Any] = {}
        if new_name is not None and new_name != current.name:
            if name_key(new_name) != name_key(current.name) and self._name_taken(t, account, new_name):
                raise AlreadyExists("server certificate", new_name)
            values.update(name=new_name, name_key=name_key(new_name))
        if new_path is not None:
            values["path"] = new_path
        if values:
            self._conn.execute(update(t).where(t.c.id == current.id).values(**values))
        return self.get_server_certificate(account, new_name or current.name)

    def delete_server_certificate(self, account: str, name: str) -> None:
        self._write()
        self._changed(Entity.SERVER_CERTIFICATE, account, name, Verb.DELETED)
        current = self.get_server_certificate(account, name)
        self._conn.execute(delete(s.server_certificates).where(s.server_certificates.c.id == current.id))
