"""Account-wide settings and tasks: the STS global endpoint token version
(SetSecurityTokenServicePreferences), service-linked role deletion tasks, and entity quotas other
than AWS's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update

from iamd.store import driver
from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.errors import NotFound

__all__ = ["AccountSettingOps", "DeletionTask"]

# An account's entity quotas (every CreateUser, CreateGroup, ... reads them).
_ENTITY_QUOTAS = select(s.account_quotas.c.name, s.account_quotas.c.value).where(
    s.account_quotas.c.account_id == bindparam("account")
)


@dataclass(frozen=True, slots=True)
class DeletionTask:
    id: str
    account_id: str
    status: str  # SUCCEEDED | IN_PROGRESS | FAILED | NOT_STARTED
    reason: str | None
    create_date: datetime


class AccountSettingOps(Ops):
    def get_sts_token_version(self, account: str) -> int | None:
        """1 or 2 when SetSecurityTokenServicePreferences chose it, else None (AWS's default)."""
        a = s.accounts
        row = self._first(select(a.c.sts_token_version).where(a.c.id == account))
        if row is None:
            raise NotFound("account", account)
        return None if row.sts_token_version is None else int(row.sts_token_version)

    def set_sts_token_version(self, account: str, version: int) -> None:
        self._write()
        self._changed(Entity.ACCOUNT, account, account, Verb.UPDATED, "sts preferences")
        a = s.accounts
        self._conn.execute(update(a).where(a.c.id == account).values(sts_token_version=version))

    def get_entity_quotas(self, account: str) -> dict[str, int]:
        """The entity quotas set for ``account`` (name -> value); AWS's defaults apply to the others."""
        rows = driver.rows(self._conn, _ENTITY_QUOTAS, {"account": account})
        return {str(name): int(value) for name, value in rows}

    def set_entity_quota(self, account: str, name: str, value: int | None) -> None:
        """Set quota ``name`` of ``account`` to ``value`` (None: back to AWS's default)."""
        self._write()
        self._require_account(account)
        self._changed(Entity.ACCOUNT, account, account, Verb.UPDATED, "quotas")
        q = s.account_quotas
        self._conn.execute(delete(q).where(q.c.account_id == account, q.c.name == name))
        if value is not None:
            self._conn.execute(insert(q).values(account_id=account, name=name, value=value))

    def add_deletion_task(self, account: str, task_id: str, status: str, reason: str | None = None) -> DeletionTask:
        self._write()
        self._changed(Entity.ACCOUNT, account, account, Verb.UPDATED, "service-linked role deletion")
        t = s.service_linked_role_deletions
        now = self._now()
        self._conn.execute(
            insert(t).values(id=task_id, account_id=account, status=status, reason=reason, create_date=now)
        )
        return DeletionTask(task_id, account, status, reason, now)

    def get_deletion_task(self, account: str, task_id: str) -> DeletionTask:
        t = s.service_linked_role_deletions
        row = self._first(select(t).where(t.c.id == task_id, t.c.account_id == account))
        if row is None:
            raise NotFound("deletion task", task_id)
        return DeletionTask(row.id, row.account_id, row.status, row.reason, row.create_date)
