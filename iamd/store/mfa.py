"""Virtual MFA devices: sealed TOTP seeds, assignment to a user, used time-steps.

A device is addressed by its serial number, its ARN ``arn:<partition>:iam::<acct>:mfa/<path><name>``
(exact, case-sensitive, as IAM compares ARNs). Names are unique per account
case-insensitively. The seed arrives sealed by the service and is stored as opaque bytes;
the store never sees a TOTP seed or code. ``last_step`` only ever moves forward
(:meth:`MfaOps.record_mfa_step` is a compare-and-set), so a code is accepted at most once
even by concurrent requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from iamd.store import schema as s
from iamd.store.base import Ops, name_key, user_select
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, Conflict, ConflictReason, NotFound
from iamd.store.records import AssignmentStatus, Page, Tag, TagTarget, User, VirtualMfaDevice
from iamd.store.tags import put_tags

__all__ = ["MfaOps"]


def _build_device_select() -> Select[Any]:
    d = s.mfa_devices
    users = user_select().subquery("mfa_user")
    return select(
        d,
        users.c.id.label("u_id"),
        users.c.account_id.label("u_account_id"),
        users.c.name.label("u_name"),
        users.c.path.label("u_path"),
        users.c.create_date.label("u_create_date"),
        users.c.password_last_used.label("u_password_last_used"),
        users.c.bp_account,
        users.c.bp_path,
        users.c.bp_name,
    ).select_from(d.outerjoin(users, d.c.user_id == users.c.id))


_DEVICE_SELECT = _build_device_select()


class MfaOps(Ops):
    def _device(self, r: Row[Any]) -> VirtualMfaDevice:
        user = None
        if r.u_id is not None:
            user = self._user_of_device_row(r)
        return VirtualMfaDevice(
            serial=r.id,
            account_id=r.account_id,
            name=r.name,
            path=r.path,
            create_date=r.create_date,
            seed_sealed=bytes(r.seed_sealed),
            user=user,
            enable_date=r.enable_date,
            last_step=r.last_step,
            drift=r.drift,
        )

    def _user_of_device_row(self, r: Row[Any]) -> User:
        return User(
            id=r.u_id,
            account_id=r.u_account_id,
            name=r.u_name,
            path=r.u_path,
            arn=self._arn(r.u_account_id, "user", r.u_path, r.u_name),
            create_date=r.u_create_date,
            permissions_boundary=self._boundary_arn(r.bp_account, r.bp_path, r.bp_name),
            password_last_used=r.u_password_last_used,
        )

    def _device_row(self, account: str, serial: str) -> Row[Any]:
        d = s.mfa_devices
        row = self._first(_DEVICE_SELECT.where(d.c.id == serial, d.c.account_id == account))
        if row is None:
            raise NotFound("virtual mfa device", serial)
        return row

    # -- reads ---------------------------------------------------------------------------
    def get_virtual_mfa_device(self, account: str, serial: str) -> VirtualMfaDevice:
        return self._device(self._device_row(account, serial))

    def list_virtual_mfa_devices(
        self,
        account: str,
        *,
        assignment: AssignmentStatus = AssignmentStatus.ANY,
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[VirtualMfaDevice]:
        """Ordered by serial number."""
        d = s.mfa_devices
        stmt = _DEVICE_SELECT.where(d.c.account_id == account)
        if assignment is AssignmentStatus.ASSIGNED:
            stmt = stmt.where(d.c.user_id.is_not(None))
        elif assignment is AssignmentStatus.UNASSIGNED:
            stmt = stmt.where(d.c.user_id.is_(None))
        return self._paged(stmt, [d.c.id], f"mfa-{assignment.value}", marker, max_items, self._device)

    def list_mfa_devices(
        self, account: str, user_name: str, *, marker: str | None = None, max_items: int = 100
    ) -> Page[VirtualMfaDevice]:
        """The devices assigned to a user, ordered by serial number."""
        d = s.mfa_devices
        user_id = self._named_id(s.users, "user", account, user_name)
        stmt = _DEVICE_SELECT.where(d.c.account_id == account, d.c.user_id == user_id)
        return self._paged(stmt, [d.c.id], "user-mfa", marker, max_items, self._device)

    def count_virtual_mfa_devices(self, account: str, *, assigned_only: bool = False) -> int:
        d = s.mfa_devices
        where: list[ColumnElement[bool]] = [d.c.account_id == account]
        if assigned_only:
            where.append(d.c.user_id.is_not(None))
        return self._count(select(func.count()).select_from(d).where(*where))

    # -- writes --------------------------------------------------------------------------
    def create_virtual_mfa_device(
        self,
        account: str,
        name: str,
        *,
        serial: str,
        seed_sealed: bytes,
        path: str = "/",
        tags: Sequence[Tag] = (),
    ) -> VirtualMfaDevice:
        """``serial`` must be this device's ARN (the service sealed the seed bound to it)."""
        self._write()
        self._require_account(account)
        if serial != self._arn(account, "mfa", path, name):
            raise ValueError("serial is not the ARN of this device")
        d = s.mfa_devices
        if self._first(select(d.c.id).where(d.c.account_id == account, d.c.name_key == name_key(name))):
            raise AlreadyExists("virtual mfa device", name)
        self._conn.execute(
            insert(d).values(
                id=serial,
                account_id=account,
                name=name,
                name_key=name_key(name),
                path=path,
                create_date=self._now(),
                seed_sealed=seed_sealed,
                drift=0,
            )
        )
        put_tags(self._conn, TagTarget.MFA_DEVICE, serial, tags)
        self._changed(Entity.MFA_DEVICE, account, serial, Verb.CREATED)
        return self.get_virtual_mfa_device(account, serial)

    def enable_mfa_device(
        self, account: str, serial: str, user_name: str, *, step: int, drift: int, when: datetime
    ) -> VirtualMfaDevice:
        """Assign an unassigned device to a user; ``step`` is the newest time-step just accepted.

        :class:`AlreadyExists` when the device is assigned (to anyone); the caller checked
        the codes and the per-user quota in this same (serialized) transaction.
        """
        self._write()
        user_id = self._named_id(s.users, "user", account, user_name)
        row = self._device_row(account, serial)
        if row.user_id is not None:
            raise AlreadyExists("mfa device assignment", serial)
        d = s.mfa_devices
        done = self._conn.execute(
            update(d)
            .where(d.c.id == serial, d.c.user_id.is_(None), or_(d.c.last_step.is_(None), d.c.last_step < step))
            .values(user_id=user_id, enable_date=when, last_step=step, drift=drift)
        )
        if done.rowcount != 1:
            raise AlreadyExists("mfa device assignment", serial)
        self._changed(Entity.MFA_DEVICE, account, serial, Verb.MEMBER_ADDED, f"user {user_name}")
        self._changed(Entity.USER, account, user_name, Verb.MEMBER_ADDED, f"mfa {serial}")
        return self.get_virtual_mfa_device(account, serial)

    def record_mfa_step(self, account: str, serial: str, step: int, *, drift: int | None = None) -> bool:
        """Remember ``step`` as used, only if it is newer than every step used before.

        Returns False (and changes nothing) when ``step`` was already used or is older: a
        replay. ``drift`` (ResyncMFADevice) is stored at the same time.
        """
        self._writes_without_bump()
        d = s.mfa_devices
        values: dict[str, int] = {"last_step": step}
        if drift is not None:
            values["drift"] = drift
        done = self._conn.execute(
            update(d)
            .where(d.c.id == serial, d.c.account_id == account, or_(d.c.last_step.is_(None), d.c.last_step < step))
            .values(**values)
        )
        if done.rowcount != 1:
            return False
        self._changed(Entity.MFA_DEVICE, account, serial, Verb.USED, str(step))
        return True

    def deactivate_mfa_device(self, account: str, serial: str, user_name: str) -> None:
        """Unassign a device from a user; :class:`NotFound` unless it is assigned to that user."""
        self._write()
        user_id = self._named_id(s.users, "user", account, user_name)
        d = s.mfa_devices
        done = self._conn.execute(
            update(d)
            .where(d.c.id == serial, d.c.account_id == account, d.c.user_id == user_id)
            .values(user_id=None, enable_date=None)
        )
        if done.rowcount != 1:
            raise NotFound("mfa device assignment", serial)
        self._changed(Entity.MFA_DEVICE, account, serial, Verb.MEMBER_REMOVED, f"user {user_name}")
        self._changed(Entity.USER, account, user_name, Verb.MEMBER_REMOVED, f"mfa {serial}")

    def delete_virtual_mfa_device(self, account: str, serial: str) -> None:
        """Refused (:class:`Conflict`) while the device is assigned to a user."""
        self._write()
        row = self._device_row(account, serial)
        if row.user_id is not None:
            raise Conflict(ConflictReason.MFA_DEVICE_ASSIGNED, "virtual mfa device", serial)
        self._conn.execute(delete(s.mfa_devices).where(s.mfa_devices.c.id == serial))
        self._changed(Entity.MFA_DEVICE, account, serial, Verb.DELETED)
