"""Tags on users, roles, managed policies, instance profiles and virtual MFA devices.

Users and roles compare keys case-insensitively (tagging ``department`` replaces
``Department``, and the stored spelling becomes the new one); the other resources compare
keys exactly. Tags are listed by key. Deleting the resource deletes its tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from iamd.store import driver
from iamd.store import schema as s
from iamd.store.base import Ops, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.errors import NotFound
from iamd.store.provider_arns import provider_id
from iamd.store.records import Tag, TagTarget

__all__ = ["TagOps", "put_tags"]


def _table(target: TagTarget) -> tuple[Any, Any, str, bool]:
    """(tag table, owner table, label, keys case-insensitive)."""
    if target is TagTarget.USER:
        return s.user_tags, s.users, "user", True
    if target is TagTarget.ROLE:
        return s.role_tags, s.roles, "role", True
    if target is TagTarget.POLICY:
        return s.policy_tags, s.policies, "policy", False
    if target is TagTarget.MFA_DEVICE:  # ref is the serial number
        return s.mfa_device_tags, s.mfa_devices, "virtual mfa device", False
    # identity providers (federation)
    if target is TagTarget.OIDC_PROVIDER:
        return s.oidc_provider_tags, s.oidc_providers, "OpenIDConnect provider", False
    if target is TagTarget.SAML_PROVIDER:
        return s.saml_provider_tags, s.saml_providers, "SAML provider", False
    if target is TagTarget.SERVER_CERTIFICATE:
        return s.server_certificate_tags, s.server_certificates, "server certificate", False
    return s.instance_profile_tags, s.instance_profiles, "instance profile", False


def put_tags(conn: Connection, target: TagTarget, resource_id: str, tags: Sequence[Tag]) -> None:
    """Add or overwrite ``tags`` on a resource (the caller validated keys and quotas)."""
    if not tags:
        return
    table, _, _, folded = _table(target)
    norm = [(name_key(t.key) if folded else t.key, t) for t in tags]
    keys = [k for k, _ in norm]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate tag keys")
    conn.execute(delete(table).where(table.c.resource_id == resource_id, table.c.key_norm.in_(keys)))
    conn.execute(
        insert(table),
        [{"resource_id": resource_id, "key_norm": k, "key": t.key, "value": t.value} for k, t in norm],
    )


def _list_tags_statement(target: TagTarget) -> Any:
    table = _table(target)[0]
    return (
        select(table.c.key, table.c.value).where(table.c.resource_id == bindparam("owner")).order_by(table.c.key_norm)
    )


_LIST_TAGS = {target: _list_tags_statement(target) for target in TagTarget}


class TagOps(Ops):
    def _tag_owner(self, target: TagTarget, account: str, ref: str) -> str:
        if target is TagTarget.POLICY:
            row = self._policy_row(ref)
            if row.account_id != account:
                raise NotFound("policy", ref)
            return str(row.id)
        if target is TagTarget.MFA_DEVICE:
            d = s.mfa_devices
            found = self._first(select(d.c.id).where(d.c.id == ref, d.c.account_id == account))
            if found is None:
                raise NotFound("virtual mfa device", ref)
            return str(found.id)
        if target in (TagTarget.OIDC_PROVIDER, TagTarget.SAML_PROVIDER):  # identity providers
            return provider_id(self._conn, target, account, ref, self._ctx.partition)
        _, owner, label, _ = _table(target)
        return self._named_id(owner, label, account, ref)

    def list_tags(self, target: TagTarget, account: str, ref: str) -> tuple[Tag, ...]:
        owner = self._tag_owner(target, account, ref)
        rows = driver.rows(self._conn, _LIST_TAGS[target], {"owner": owner})
        return tuple(Tag(key, value) for key, value in rows)

    def tag_resource(self, target: TagTarget, account: str, ref: str, tags: Sequence[Tag]) -> None:
        self._write()
        put_tags(self._conn, target, self._tag_owner(target, account, ref), tags)
        self._changed(Entity(target.value), account, ref, Verb.TAGGED)

    def untag_resource(self, target: TagTarget, account: str, ref: str, keys: Sequence[str]) -> None:
        self._write()
        table, _, _, folded = _table(target)
        owner = self._tag_owner(target, account, ref)
        norm = [name_key(k) if folded else k for k in keys]
        self._changed(Entity(target.value), account, ref, Verb.UNTAGGED)
        if norm:
            self._conn.execute(delete(table).where(table.c.resource_id == owner, table.c.key_norm.in_(norm)))
