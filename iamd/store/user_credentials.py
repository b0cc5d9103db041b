"""A user's other credentials: SSH public keys, signing certificates (the root user's too,
``user_name`` None) and service-specific credentials.

Each list is short (AWS allows 5 SSH keys, 2 certificates, 2 credentials per service per
user), so listings return everything and the service pages in memory. Duplicates are found
by fingerprint: an SSH key per user, a certificate per account. A service-specific
credential's password arrives hashed (argon2id); the store never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, NotFound

__all__ = ["ServiceCredential", "SigningCertificate", "SshPublicKey", "UserCredentialOps"]


@dataclass(frozen=True, slots=True)
class SshPublicKey:
    id: str
    user_name: str
    body: str
    fingerprint: str
    status: str
    upload_date: datetime


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    id: str
    account_id: str
    user_name: str | None  # None: the root user's
    body: str
    status: str
    upload_date: datetime


@dataclass(frozen=True, slots=True)
class ServiceCredential:
    id: str
    user_name: str
    service_name: str
    service_user_name: str
    password_hash: str
    status: str
    create_date: datetime


class UserCredentialOps(Ops):
    def _user_id(self, account: str, user_name: str) -> str:
        return self._named_id(s.users, "user", account, user_name)

    # -- SSH public keys ---------------------------------------------------------------------
    def _ssh_select(self) -> Select[Any]:
        k, u = s.ssh_public_keys, s.users
        return select(k, u.c.name.label("u_name")).select_from(k.join(u, k.c.user_id == u.c.id))

    @staticmethod
    def _ssh(r: Row[Any]) -> SshPublicKey:
        return SshPublicKey(r.id, r.u_name, r.body, r.fingerprint, r.status, r.upload_date)

    def list_ssh_public_keys(self, account: str, user_name: str) -> tuple[SshPublicKey, ...]:
        k = s.ssh_public_keys
        stmt = self._ssh_select().where(k.c.user_id == self._user_id(account, user_name))
        return tuple(self._ssh(r) for r in self._conn.execute(stmt.order_by(k.c.upload_date, k.c.id)))

    def get_ssh_public_key(self, account: str, user_name: str, key_id: str) -> SshPublicKey:
        k = s.ssh_public_keys
        row = self._first(self._ssh_select().where(k.c.user_id == self._user_id(account, user_name), k.c.id == key_id))
        if row is None:
            raise NotFound("ssh public key", key_id)
        return self._ssh(row)

    def add_ssh_public_key(
        self, account: str, user_name: str, key_id: str, body: str, fingerprint: str
    ) -> SshPublicKey:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.CREATED, "ssh public key")
        user_id = self._user_id(account, user_name)
        k = s.ssh_public_keys
        if self._first(select(k.c.id).where(k.c.user_id == user_id, k.c.fingerprint == fingerprint)) is not None:
            raise AlreadyExists("ssh public key", fingerprint)
        self._conn.execute(
            insert(k).values(
                id=key_id, user_id=user_id, body=body, fingerprint=fingerprint, status="Active", upload_date=self._now()
            )
        )
        return self.get_ssh_public_key(account, user_name, key_id)

    def set_ssh_public_key_status(self, account: str, user_name: str, key_id: str, status: str) -> None:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.UPDATED, "ssh public key")
        k = s.ssh_public_keys
        self.get_ssh_public_key(account, user_name, key_id)
        self._conn.execute(update(k).where(k.c.id == key_id).values(status=status))

    def delete_ssh_public_key(self, account: str, user_name: str, key_id: str) -> None:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.DELETED, "ssh public key")
        self.get_ssh_public_key(account, user_name, key_id)
        self._conn.execute(delete(s.ssh_public_keys).where(s.ssh_public_keys.c.id == key_id))

    # -- signing certificates --------------------------------------------------------------------
    def _cert_select(self) -> Select[Any]:
        c, u = s.signing_certificates, s.users
        return select(c, u.c.name.label("u_name")).select_from(c.outerjoin(u, c.c.user_id == u.c.id))

    @staticmethod
    def _cert(r: Row[Any]) -> SigningCertificate:
        return SigningCertificate(r.id, r.account_id, r.u_name, r.body, r.status, r.upload_date)

    def _cert_owner(self, account: str, user_name: str | None) -> Any:
        c = s.signing_certificates
        if user_name is None:
            return (c.c.account_id == account) & c.c.user_id.is_(None)
        return c.c.user_id == self._user_id(account, user_name)

    def list_signing_certificates(self, account: str, user_name: str | None) -> tuple[SigningCertificate, ...]:
        c = s.signing_certificates
        stmt = self._cert_select().where(self._cert_owner(account, user_name)).order_by(c.c.upload_date, c.c.id)
        return tuple(self._cert(r) for r in self._conn.execute(stmt))

    def count_signing_certificate_owners(self, account: str) -> int:
        """How many of the account's users (and root) have a signing certificate."""
        c = s.signing_certificates
        stmt = select(func.count(func.distinct(func.coalesce(c.c.user_id, "")))).where(c.c.account_id == account)
        return self._count(stmt)

    def root_has_signing_certificate(self, account: str) -> bool:
        return bool(self.list_signing_certificates(account, None))

    def get_signing_certificate(self, account: str, user_name: str | None, cert_id: str) -> SigningCertificate:
        c = s.signing_certificates
        row = self._first(self._cert_select().where(self._cert_owner(account, user_name), c.c.id == cert_id))
        if row is None:
            raise NotFound("signing certificate", cert_id)
        return self._cert(row)

    def add_signing_certificate(
        self, account: str, user_name: str | None, cert_id: str, body: str, fingerprint: str
    ) -> SigningCertificate:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.CREATED, "signing certificate")
        c = s.signing_certificates
        user_id = None if user_name is None else self._user_id(account, user_name)
        if self._first(select(c.c.id).where(c.c.account_id == account, c.c.fingerprint == fingerprint)) is not None:
            raise AlreadyExists("signing certificate", fingerprint)
        try:
            self._conn.execute(
                insert(c).values(
                    id=cert_id,
                    account_id=account,
                    user_id=user_id,
                    body=body,
                    fingerprint=fingerprint,
                    status="Active",
                    upload_date=self._now(),
                )
            )
        except IntegrityError:  # the same certificate uploaded concurrently (PostgreSQL)
            raise AlreadyExists("signing certificate", fingerprint) from None
        return self.get_signing_certificate(account, user_name, cert_id)

    def set_signing_certificate_status(self, account: str, user_name: str | None, cert_id: str, status: str) -> None:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.UPDATED, "signing certificate")
        self.get_signing_certificate(account, user_name, cert_id)
        c = s.signing_certificates
        self._conn.execute(update(c).where(c.c.id == cert_id).values(status=status))

    def delete_signing_certificate(self, account: str, user_name: str | None, cert_id: str) -> None:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.DELETED, "signing certificate")
        self.get_signing_certificate(account, user_name, cert_id)
        self._conn.execute(delete(s.signing_certificates).where(s.signing_certificates.c.id == cert_id))

    # -- service-specific credentials -------------------------------------------------------------
    def _service_select(self) -> Select[Any]:
        c, u = s.service_specific_credentials, s.users
        return select(c, u.c.name.label("u_name")).select_from(c.join(u, c.c.user_id == u.c.id))

    @staticmethod
    def _service(r: Row[Any]) -> ServiceCredential:
        return ServiceCredential(
            r.id, r.u_name, r.service_name, r.service_user_name, r.password_hash, r.status, r.create_date
        )

    def list_service_credentials(
        self, account: str, user_name: str | None, service_name: str | None = None
    ) -> tuple[ServiceCredential, ...]:
        """A user's credentials, or (``user_name`` None) every user's of the account."""
        c, u = s.service_specific_credentials, s.users
        stmt = self._service_select().where(u.c.account_id == account)
        if user_name is not None:
            stmt = stmt.where(c.c.user_id == self._user_id(account, user_name))
        if service_name is not None:
            stmt = stmt.where(c.c.service_name == service_name)
        stmt = stmt.order_by(u.c.name_key, c.c.create_date, c.c.id)
        return tuple(self._service(r) for r in self._conn.execute(stmt))

    def get_service_credential(self, account: str, user_name: str, cred_id: str) -> ServiceCredential:
        c = s.service_specific_credentials
        stmt = self._service_select().where(c.c.user_id == self._user_id(account, user_name), c.c.id == cred_id)
        row = self._first(stmt)
        if row is None:
            raise NotFound("service specific credential", cred_id)
        return self._service(row)

    def add_service_credential(
        self, account: str, user_name: str, cred_id: str, service_name: str, service_user_name: str, password_hash: str
    ) -> ServiceCredential:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.CREATED, "service-specific credential")
        self._conn.execute(
            insert(s.service_specific_credentials).values(
                id=cred_id,
                user_id=self._user_id(account, user_name),
                service_name=service_name,
                service_user_name=service_user_name,
                password_hash=password_hash,
                status="Active",
                create_date=self._now(),
            )
        )
        return self.get_service_credential(account, user_name, cred_id)

    def update_service_credential(
        self, account: str, user_name: str, cred_id: str, *, status: str | None = None, password_hash: str | None = None
    ) -> ServiceCredential:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.UPDATED, "service-specific credential")
        self.get_service_credential(account, user_name, cred_id)
        values = {k: v for k, v in (("status", status), ("password_hash", password_hash)) if v is not None}
        c = s.service_specific_credentials
        if values:
            self._conn.execute(update(c).where(c.c.id == cred_id).values(**values))
        return self.get_service_credential(account, user_name, cred_id)

    def delete_service_credential(self, account: str, user_name: str, cred_id: str) -> None:
        self._write()
        self._changed(Entity.USER_CREDENTIAL, account, user_name or "", Verb.DELETED, "service-specific credential")
        self.get_service_credential(account, user_name, cred_id)
        c = s.service_specific_credentials
        self._conn.execute(delete(c).where(c.c.id == cred_id))
