"""Accounts: 12-digit id, alias (globally unique), password policy JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, NotFound
from iamd.store.records import AWS_ACCOUNT, Account

__all__ = ["AccountOps"]


def _account(r: Row[Any]) -> Account:
    return Account(
        id=r.id, alias=r.alias, password_policy=r.password_policy, create_date=r.create_date,
        created_by_organization=r.created_by_organization,
    )  # fmt: skip


class AccountOps(Ops):
    def get_account(self, account_id: str) -> Account:
        row = self._first(select(s.accounts).where(s.accounts.c.id == account_id))
        if row is None or account_id == AWS_ACCOUNT:
            raise NotFound("account", account_id)
        return _account(row)

    def list_accounts(self) -> tuple[Account, ...]:
        a = s.accounts
        return tuple(_account(r) for r in self._conn.execute(select(a).where(a.c.id != AWS_ACCOUNT).order_by(a.c.id)))

    def _check_alias(self, account_id: str, alias: str | None) -> None:
        if alias is None:
            return
        owner = self._first(select(s.accounts.c.id).where(s.accounts.c.alias == alias))
        if owner is not None and owner.id != account_id:
            raise AlreadyExists("account alias", alias)

    def create_account(
        self, account_id: str, *, alias: str | None = None, created_by_organization: str | None = None
    ) -> Account:
        self._write()
        if self._first(select(s.accounts.c.id).where(s.accounts.c.id == account_id)) is not None:
            raise AlreadyExists("account", account_id)
        self._check_alias(account_id, alias)
        self._conn.execute(insert(s.accounts).values(
            id=account_id, alias=alias, create_date=self._now(), created_by_organization=created_by_organization
        ))  # fmt: skip
        self._changed(Entity.ACCOUNT, account_id, account_id, Verb.CREATED)
        return self.get_account(account_id)

    def set_account_alias(self, account_id: str, alias: str | None) -> Account:
        """Set (replacing) or, with ``None``, remove the alias."""
        self._write()
        self.get_account(account_id)
        self._check_alias(account_id, alias)
        self._conn.execute(update(s.accounts).where(s.accounts.c.id == account_id).values(alias=alias))
        self._changed(Entity.ACCOUNT, account_id, account_id, Verb.UPDATED, "alias")
        return self.get_account(account_id)

    def set_password_policy(self, account_id: str, policy_json: str | None) -> Account:
        self._write()
        self.get_account(account_id)
        self._conn.execute(update(s.accounts).where(s.accounts.c.id == account_id).values(password_policy=policy_json))
        self._changed(Entity.ACCOUNT, account_id, account_id, Verb.UPDATED, "password policy")
        return self.get_account(account_id)
