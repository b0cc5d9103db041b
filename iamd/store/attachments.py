"""Managed-policy attachments, permissions boundaries and inline policies of users, groups, roles.

Inline policy names are unique per owning entity and compared exactly (case-sensitively);
putting an existing name replaces its document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, literal, literal_column, null, select, union_all, update

from iamd.store import schema as s
from iamd.store.base import MAX_ITEMS_LIMIT, Ops, encode_marker, kind_tables, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.driver import DriverQuery
from iamd.store.errors import NotFound
from iamd.store.records import (
    AttachedPolicy,
    EntityKind,
    InlinePolicy,
    Page,
    PolicyEntity,
    PolicySources,
    PolicyUsage,
)

__all__ = ["AttachmentOps"]


def _inline_policies(kind: EntityKind) -> Any:
    i = kind_tables(kind).inline
    return select(i.c.name, i.c.document).where(i.c.entity_id == bindparam("entity")).order_by(i.c.name)


def _attached(kind: EntityKind) -> Any:
    """The first page of an entity's attached policies (``list_attached_policies``' order)."""
    a, p = kind_tables(kind).attachments, s.policies
    stmt = select(p.c.name, p.c.name_key, p.c.account_id, p.c.path).join(a, a.c.policy_id == p.c.id)
    stmt = stmt.where(a.c.entity_id == bindparam("entity")).order_by(p.c.name_key.asc(), p.c.account_id.asc())
    return stmt.limit(bindparam("limit"))


def _policy_sources(kind: EntityKind) -> Any:
    """Every row :meth:`AttachmentOps.policy_sources` needs, in one statement (``UNION ALL``).

    Each row is (part, owner_key, owner, a, b, c): part 0 names an entity (the one asked for,
    ``owner_key`` empty, then each group of a user, ``owner_key`` its name key), part 1 is one of
    its inline policies (a = name, b = document), part 2 one of its attached managed policies
    (a, b, c = the policy's account, path and name). Ordered as the per-piece reads are: the
    entity, then each group by name key; each one's inline policies by name, then its attached
    policies by (name key, account). The entity is found by its name key (no id lookup first);
    no row at all means there is no such entity.
    """
    t = kind_tables(kind)
    e, p = t.entity, s.policies
    owner = (
        select(e.c.id, e.c.name)
        .where(e.c.account_id == bindparam("account"), e.c.name_key == bindparam("key"))
        .cte("sources_owner")
    )
    empty: Any = literal_column("''")
    none: Any = null()

    def row(part: int, key: Any, name: Any, sort1: Any, sort2: Any, a: Any, b: Any, c: Any) -> list[Any]:
        cols: tuple[Any, ...] = (literal_column(str(part)), key, name, sort1, sort2, a, b, c)
        return [col.label(label) for col, label in zip(cols, _SOURCE_COLUMNS, strict=True)]

    def parts(key: Any, name: Any, inline: Any, attachments: Any, entity_id: Any, base: Any) -> list[Any]:
        return [
            select(*row(0, key, name, empty, empty, none, none, none)).select_from(base),
            select(*row(1, key, name, inline.c.name, empty, inline.c.name, inline.c.document, none)).select_from(
                base.join(inline, inline.c.entity_id == entity_id)
            ),
            select(*row(2, key, name, p.c.name_key, p.c.account_id, p.c.account_id, p.c.path, p.c.name)).select_from(
                base.join(attachments, attachments.c.entity_id == entity_id).join(p, p.c.id == attachments.c.policy_id)
            ),
        ]

    selects = parts(empty, owner.c.name, t.inline, t.attachments, owner.c.id, owner)
    if kind is EntityKind.USER:
        m, g = s.group_members, s.groups
        member_of = owner.join(m, m.c.user_id == owner.c.id).join(g, g.c.id == m.c.group_id)
        selects += parts(g.c.name_key, g.c.name, s.group_inline_policies, s.group_policy_attachments, g.c.id,
                         member_of)  # fmt: skip
    order: list[Any] = [literal_column(c) for c in ("owner_key", "part", "sort1", "sort2")]
    return union_all(*selects).order_by(*order)


_SOURCE_COLUMNS = ("part", "owner_key", "owner", "sort1", "sort2", "a", "b", "c")

# Built once (a statement built per call costs more than the query itself on SQLite).
_INLINE_POLICIES = {kind: _inline_policies(kind) for kind in EntityKind}
_ATTACHED = {kind: _attached(kind) for kind in EntityKind}
_POLICY_SOURCES = {kind: DriverQuery(_policy_sources(kind)) for kind in EntityKind}  # on the driver's cursor


class AttachmentOps(Ops):
    # -- managed policy attachments ------------------------------------------------------
    def list_attached_policies(
        self,
        kind: EntityKind,
        account: str,
        name: str,
        *,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[AttachedPolicy]:
        entity_id = self._entity_id(kind, account, name)
        a, p = kind_tables(kind).attachments, s.policies

        def convert(r: Row[Any]) -> AttachedPolicy:
            return AttachedPolicy(r.name, self._arn(r.account_id, "policy", r.path, r.name))

        keys = [p.c.name_key, p.c.account_id]
        if path_prefix == "/" and marker is None and 1 <= max_items <= MAX_ITEMS_LIMIT:
            # The common case (every policy set a caller's first request builds): prebuilt.
            rows = self._conn.execute(_ATTACHED[kind], {"entity": entity_id, "limit": max_items + 1}).all()
            more = len(rows) > max_items
            rows = rows[:max_items]
            last = rows[-1] if more else None
            listing = f"attached:{kind.value}"
            next_marker = None if last is None else encode_marker(listing, [last.name_key, last.account_id])
            return Page(tuple(convert(r) for r in rows), next_marker)
        stmt = select(p.c.name, p.c.name_key, p.c.account_id, p.c.path).join(a, a.c.policy_id == p.c.id)
        stmt = stmt.where(a.c.entity_id == entity_id)
        under = self._under(p.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)
        return self._paged(stmt, keys, f"attached:{kind.value}", marker, max_items, convert)

    def list_entities_for_policy(
        self,
        arn: str,
        *,
        account: str | None = None,
        entity_filter: EntityKind | None = None,
        usage: PolicyUsage = PolicyUsage.PERMISSIONS_POLICY,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[PolicyEntity]:
        """Users, groups and roles using the policy, in ``account`` (default: the policy's own)."""
        policy = self._policy_row(arn)
        owner = account if account is not None else policy.account_id
        parts = []
        for kind in EntityKind:
            if entity_filter is not None and kind is not entity_filter:
                continue
            t = kind_tables(kind)
            e = t.entity
            cols = (literal(kind.value).label("kind"), e.c.id, e.c.name, e.c.name_key, e.c.path)
            if usage is PolicyUsage.PERMISSIONS_POLICY:
                a = t.attachments
                part = select(*cols).join(a, a.c.entity_id == e.c.id).where(a.c.policy_id == policy.id)
            elif kind is EntityKind.GROUP:
                continue
            else:
                part = select(*cols).where(e.c.boundary_policy_id == policy.id)
            parts.append(part.where(e.c.account_id == owner))
        if not parts:
            return Page(())
        sq = union_all(*parts).subquery()
        stmt = select(sq)
        under = self._under(sq.c.path, path_prefix)
        if under is not None:
            stmt = stmt.where(under)

        def convert(r: Row[Any]) -> PolicyEntity:
            return PolicyEntity(EntityKind(r.kind), r.id, r.name)

        return self._paged(stmt, [sq.c.kind, sq.c.name_key], "policy-entities", marker, max_items, convert)

    def attach_policy(self, kind: EntityKind, account: str, name: str, arn: str) -> bool:
        """Idempotent: returns False when the policy was already attached."""
        self._write()
        entity_id = self._entity_id(kind, account, name)
        policy_id = self._attachable_policy_id(account, arn)
        a = kind_tables(kind).attachments
        found = self._first(select(a.c.policy_id).where(a.c.entity_id == entity_id, a.c.policy_id == policy_id))
        if found is not None:
            return False
        self._conn.execute(insert(a).values(entity_id=entity_id, policy_id=policy_id))
        self._history(account, "attach", kind.value, entity_id, self._policy_arn_of(policy_id))
        self._changed(Entity(kind.value), account, name, Verb.ATTACHED, arn)
        self._changed(Entity.POLICY, "", arn, Verb.ATTACHED, f"{kind.value} {name}")
        return True

    def detach_policy(self, kind: EntityKind, account: str, name: str, arn: str) -> None:
        self._write()
        entity_id = self._entity_id(kind, account, name)
        policy_id = str(self._policy_row(arn).id)
        a = kind_tables(kind).attachments
        done = self._conn.execute(delete(a).where(a.c.entity_id == entity_id, a.c.policy_id == policy_id))
        if done.rowcount == 0:
            raise NotFound("policy attachment", arn)
        self._history(account, "detach", kind.value, entity_id, self._policy_arn_of(policy_id))
        self._changed(Entity(kind.value), account, name, Verb.DETACHED, arn)
        self._changed(Entity.POLICY, "", arn, Verb.DETACHED, f"{kind.value} {name}")

    # -- permissions boundaries ------------------------------------------------------------
    def put_permissions_boundary(self, kind: EntityKind, account: str, name: str, arn: str) -> None:
        self._set_boundary(kind, account, name, arn)

    def delete_permissions_boundary(self, kind: EntityKind, account: str, name: str) -> None:
        """Removing a boundary that is not set is not an error."""
        self._set_boundary(kind, account, name, None)

    def _set_boundary(self, kind: EntityKind, account: str, name: str, arn: str | None) -> None:
        if kind is EntityKind.GROUP:
            raise ValueError("groups cannot have permissions boundaries")
        self._write()
        entity_id = self._entity_id(kind, account, name)
        policy_id = self._attachable_policy_id(account, arn) if arn is not None else None
        e = kind_tables(kind).entity
        old = self._conn.execute(select(e.c.boundary_policy_id).where(e.c.id == entity_id)).scalar()
        self._conn.execute(update(e).where(e.c.id == entity_id).values(boundary_policy_id=policy_id))
        self._history(account, "boundary", kind.value, entity_id, self._policy_arn_of(policy_id) if policy_id else None)
        whose = f"{kind.value} {name}"
        if arn is not None:
            self._changed(Entity(kind.value), account, name, Verb.BOUNDARY_SET, arn)
            self._changed(Entity.POLICY, "", arn, Verb.BOUNDARY_SET, whose)
        else:
            self._changed(Entity(kind.value), account, name, Verb.BOUNDARY_REMOVED)
        if old is not None and old != policy_id:  # the boundary it replaced is used once less
            p = s.policies
            row = self._first(select(p.c.account_id, p.c.path, p.c.name).where(p.c.id == old))
            if row is not None:
                self._changed(Entity.POLICY, "", self._arn(row.account_id, "policy", row.path, row.name),
                              Verb.BOUNDARY_REMOVED, whose)  # fmt: skip

    # -- inline policies -----------------------------------------------------------------
    def get_inline_policy(self, kind: EntityKind, account: str, entity_name: str, policy_name: str) -> InlinePolicy:
        entity_id = self._entity_id(kind, account, entity_name)
        i = kind_tables(kind).inline
        row = self._first(select(i.c.document).where(i.c.entity_id == entity_id, i.c.name == policy_name))
        if row is None:
            raise NotFound(f"{kind.value} policy", policy_name)
        return InlinePolicy(kind, self._entity_name(kind, entity_id), policy_name, row.document)

    def _entity_name(self, kind: EntityKind, entity_id: str) -> str:
        e = kind_tables(kind).entity
        return str(self._conn.execute(select(e.c.name).where(e.c.id == entity_id)).scalar_one())

    def list_inline_policy_names(
        self,
        kind: EntityKind,
        account: str,
        entity_name: str,
        *,
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[str]:
        entity_id = self._entity_id(kind, account, entity_name)
        i = kind_tables(kind).inline
        stmt = select(i.c.name).where(i.c.entity_id == entity_id)
        return self._paged(stmt, [i.c.name], f"inline:{kind.value}", marker, max_items, lambda r: str(r.name))

    def list_inline_policies(self, kind: EntityKind, account: str, entity_name: str) -> tuple[InlinePolicy, ...]:
        """Every inline policy of the entity with its document, by name."""
        entity_id, real_name = self._entity_named(kind, account, entity_name)
        rows = self._conn.execute(_INLINE_POLICIES[kind], {"entity": entity_id})
        return tuple(InlinePolicy(kind, real_name, r.name, r.document) for r in rows)

    def policy_sources(self, kind: EntityKind, account: str, name: str) -> PolicySources:
        """What the entity's identity policies are built from (``PolicySources``), in one statement:
        the same policies, in the same order, as ``list_inline_policies``, ``list_attached_policies``
        and, for a user, ``list_groups_for_user`` and theirs for each group."""
        # a caller's first request: on the driver's cursor (iamd/store/driver.py); rows are
        # (part, owner_key, owner, sort1, sort2, a, b, c): _SOURCE_COLUMNS
        rows = _POLICY_SOURCES[kind].rows(self._conn, {"account": account, "key": name_key(name)})
        if not rows:
            raise NotFound(kind_tables(kind).label, name)
        found: list[PolicySources] = []
        inline: list[InlinePolicy] = []
        attached: list[AttachedPolicy] = []
        for part, owner_key, owner, _, _, a, b, c in rows:
            if part == 0:  # the next entity: the one asked for first, then each of its groups
                if found:
                    found[-1] = PolicySources(found[-1].kind, found[-1].name, tuple(inline), tuple(attached))
                found.append(PolicySources(kind if owner_key == "" else EntityKind.GROUP, owner))
                inline, attached = [], []
            elif part == 1:
                inline.append(InlinePolicy(found[-1].kind, found[-1].name, a, b))
            else:
                attached.append(AttachedPolicy(c, self._arn(a, "policy", b, c)))
        found[-1] = PolicySources(found[-1].kind, found[-1].name, tuple(inline), tuple(attached))
        entity, *groups = found
        return PolicySources(entity.kind, entity.name, entity.inline, entity.attached, tuple(groups))

    def put_inline_policy(
        self, kind: EntityKind, account: str, entity_name: str, policy_name: str, document: str
    ) -> bool:
        """Create or replace; returns True when the name was new."""
        self._write()
        entity_id = self._entity_id(kind, account, entity_name)
        i = kind_tables(kind).inline
        where = (i.c.entity_id == entity_id, i.c.name == policy_name)
        if self._first(select(i.c.name).where(*where)) is not None:
            self._conn.execute(update(i).where(*where).values(document=document))
            self._history(account, "inline", kind.value, entity_id, policy_name, document)
            self._changed(Entity(kind.value), account, entity_name, Verb.POLICY_PUT, policy_name)
            return False
        self._conn.execute(insert(i).values(entity_id=entity_id, name=policy_name, document=document))
        self._history(account, "inline", kind.value, entity_id, policy_name, document)
        self._changed(Entity(kind.value), account, entity_name, Verb.POLICY_PUT, policy_name)
        return True

    def delete_inline_policy(self, kind: EntityKind, account: str, entity_name: str, policy_name: str) -> None:
        self._write()
        entity_id = self._entity_id(kind, account, entity_name)
        i = kind_tables(kind).inline
        done = self._conn.execute(delete(i).where(i.c.entity_id == entity_id, i.c.name == policy_name))
        if done.rowcount == 0:
            raise NotFound(f"{kind.value} policy", policy_name)
        self._history(account, "inline", kind.value, entity_id, policy_name)
        self._changed(Entity(kind.value), account, entity_name, Verb.POLICY_DELETED, policy_name)
