"""The bulk load of an account's IAM (``iamd import``; docs/troubleshooting.md, "Troubleshooting a
real AWS account"): every entity, policy, attachment, membership, tag and policy history row of a
:class:`IamBundle` inserted table by table, each table in one multi-row statement, in the caller's
transaction. The rules the single-entity writes enforce are the database's here: a name taken
(the unique constraints) fails the whole load, and an attached policy that does not exist is
:class:`NotFound` before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from iamd.store import schema as s
from iamd.store.base import Ops, name_key
from iamd.store.changes import Entity, Verb
from iamd.store.errors import AlreadyExists, LimitExceeded, NotFound
from iamd.store.records import Tag

__all__ = ["BulkEntity", "BulkKey", "BulkPolicy", "BulkProfile", "IamBundle", "IamBulkOps"]

_CHUNK = 500  # rows per multi-row statement


@dataclass(frozen=True, slots=True)
class BulkPolicy:
    """A customer managed policy: its default version's document (``default_version``, ``v1``
    unless given) and its other versions (id, document), each keeping its id."""

    name: str
    path: str
    document: str
    description: str | None = None
    default_version: str = "v1"
    other_versions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class BulkEntity:
    """A user, group or role, with what its policies are."""

    name: str
    path: str = "/"
    inline: Sequence[tuple[str, str]] = ()  # (policy name, document)
    attached: Sequence[str] = ()  # managed policy ARNs
    boundary: str | None = None  # users and roles
    tags: Sequence[Tag] = ()  # users and roles
    groups: Sequence[str] = ()  # users: group names
    trust: str | None = None  # roles
    description: str | None = None  # roles
    max_session_duration: int = 3600  # roles


@dataclass(frozen=True, slots=True)
class BulkProfile:
    name: str
    path: str
    role: str | None


@dataclass(frozen=True, slots=True)
class BulkKey:
    """An access key of a user (of this bundle or already stored), its secret sealed by the caller."""

    user: str
    key_id: str
    secret_sealed: bytes
    status: str = "Active"


MAX_KEYS_PER_USER = 2  # AWS "IAM and AWS STS quotas": access keys per user


@dataclass(slots=True)
class IamBundle:
    policies: list[BulkPolicy] = field(default_factory=list)
    groups: list[BulkEntity] = field(default_factory=list)
    users: list[BulkEntity] = field(default_factory=list)
    roles: list[BulkEntity] = field(default_factory=list)
    profiles: list[BulkProfile] = field(default_factory=list)
    keys: list[BulkKey] = field(default_factory=list)


class IamBulkOps(Ops):
    def _insert_many(self, table: Any, rows: list[dict[str, Any]]) -> None:
        for i in range(0, len(rows), _CHUNK):
            self._conn.execute(insert(table), rows[i : i + _CHUNK])

    def bulk_load_iam(self, account: str, bundle: IamBundle, *, coarse: bool = False) -> int:
        """Insert ``bundle`` into ``account`` (which must exist); returns the number of entities.

        ``coarse``: record one change that drops every cache (``Verb.RESET``) instead of one per
        entity: for loads of millions of entities (``iamd db load``), whose per-entity change list
        would only hold memory until the commit."""
        self._write()
        self._require_account(account)
        now = self._now()
        new_id = self._ctx.new_id
        history: list[dict[str, Any]] = []

        def hist(event: str, kind: str, owner: str, subject: str | None = None, document: str | None = None) -> None:
            history.append({"account_id": account, "changed_at": now, "event": event, "owner_kind": kind,
                            "owner_id": owner, "subject": subject, "document": document})  # fmt: skip

        # managed policies: the bundle's, then any other the entities attach (own or AWS managed)
        policy_ids: dict[str, str] = {}
        policy_rows: list[dict[str, Any]] = []
        version_rows: list[dict[str, Any]] = []
        defaults: dict[str, str] = {}  # policy id: its default version id
        for p in bundle.policies:
            pid = new_id("ANPA")
            arn = self._arn(account, "policy", p.path, p.name)
            policy_ids[arn] = pid
            versions = [(p.default_version, p.document), *p.other_versions]
            numbers = [_version_no(v) for v, _ in versions]
            policy_rows.append({"id": pid, "account_id": account, "name": p.name, "name_key": name_key(p.name),
                                "path": p.path, "description": p.description, "default_version_id": None,
                                "next_version": max(numbers) + 1, "create_date": now, "update_date": now})  # fmt: skip
            defaults[pid] = p.default_version
            for (version_id, document), number in zip(versions, numbers, strict=True):
                version_rows.append({"policy_id": pid, "version_id": version_id, "version_no": number,
                                     "document": document, "create_date": now})  # fmt: skip
            hist("default", "policy", arn, document=p.document)
        wanted = {a for e in (*bundle.groups, *bundle.users, *bundle.roles) for a in e.attached}
        wanted |= {e.boundary for e in (*bundle.users, *bundle.roles) if e.boundary}
        for arn in sorted(wanted - set(policy_ids)):
            pid, canonical = self._attachable_policy(account, arn)  # NotFound before anything is written
            policy_ids.setdefault(canonical, pid)
            policy_ids[arn] = pid

        arns: dict[str, str] = {}
        for a, i in policy_ids.items():
            arns.setdefault(i, a)  # the bundle's own ARN, or the canonical one (inserted first)

        def arn_of(pid: str) -> str:
            return arns[pid]

        ids: dict[tuple[str, str], str] = {}
        entity_rows: dict[str, list[dict[str, Any]]] = {"group": [], "user": [], "role": []}
        inline_rows: dict[str, list[dict[str, Any]]] = {"group": [], "user": [], "role": []}
        attach_rows: dict[str, list[dict[str, Any]]] = {"group": [], "user": [], "role": []}
        tag_rows: dict[str, list[dict[str, Any]]] = {"user": [], "role": []}
        members: list[dict[str, Any]] = []
        prefixes = {"group": "AGPA", "user": "AIDA", "role": "AROA"}
        for kind, entities in (("group", bundle.groups), ("user", bundle.users), ("role", bundle.roles)):
            for e in entities:
                eid = new_id(prefixes[kind])
                ids[(kind, name_key(e.name))] = eid
                row: dict[str, Any] = {"id": eid, "account_id": account, "name": e.name, "name_key": name_key(e.name),
                                       "path": e.path, "create_date": now}  # fmt: skip
                hist("create", kind, eid)
                if kind != "group":
                    row["boundary_policy_id"] = policy_ids[e.boundary] if e.boundary else None
                    if e.boundary:
                        hist("boundary", kind, eid, arn_of(policy_ids[e.boundary]))
                    seen: set[str] = set()
                    for t in e.tags:
                        if name_key(t.key) not in seen:
                            seen.add(name_key(t.key))
                            tag_rows[kind].append({"resource_id": eid, "key_norm": name_key(t.key), "key": t.key,
                                                   "value": t.value})  # fmt: skip
                if kind == "role":
                    if e.trust is None:
                        raise ValueError(f"role {e.name}: no trust policy")
                    row.update(assume_role_policy=e.trust, description=e.description,
                               max_session_duration=e.max_session_duration)  # fmt: skip
                    hist("trust", "role", eid, document=e.trust)
                entity_rows[kind].append(row)
                for policy_name, document in dict(e.inline).items():
                    inline_rows[kind].append({"entity_id": eid, "name": policy_name, "document": document})
                    hist("inline", kind, eid, policy_name, document)
                for arn in dict.fromkeys(e.attached):
                    attach_rows[kind].append({"entity_id": eid, "policy_id": policy_ids[arn]})
                    hist("attach", kind, eid, arn_of(policy_ids[arn]))
        for u in bundle.users:
            uid = ids[("user", name_key(u.name))]
            for g in dict.fromkeys(name_key(g) for g in u.groups):
                gid = ids.get(("group", g)) or self._named_id(s.groups, "group", account, g)
                members.append({"group_id": gid, "user_id": uid})
                hist("join", "user", uid, gid)
        key_rows = self._key_rows(account, bundle.keys, ids)
        profile_rows: list[dict[str, Any]] = []
        for profile in bundle.profiles:
            role_id = ids.get(("role", name_key(profile.role))) if profile.role else None
            if profile.role and role_id is None:
                raise NotFound("role", profile.role)
            profile_rows.append({"id": new_id("AIPA"), "account_id": account, "name": profile.name,
                                 "name_key": name_key(profile.name), "path": profile.path, "create_date": now,
                                 "role_id": role_id})  # fmt: skip
        try:
            self._insert_many(s.policies, policy_rows)
            self._insert_many(s.policy_versions, version_rows)
            by_default: dict[str, list[str]] = {}
            for pid, version_id in defaults.items():
                by_default.setdefault(version_id, []).append(pid)
            for version_id, pids in by_default.items():
                for start in range(0, len(pids), _CHUNK):
                    chunk = pids[start : start + _CHUNK]
                    self._conn.execute(
                        update(s.policies).where(s.policies.c.id.in_(chunk)).values(default_version_id=version_id)
                    )
            self._insert_many(s.groups, entity_rows["group"])
            self._insert_many(s.users, entity_rows["user"])
            self._insert_many(s.roles, entity_rows["role"])
            for kind, inline_table, attach_table in (
                ("group", s.group_inline_policies, s.group_policy_attachments),
                ("user", s.user_inline_policies, s.user_policy_attachments),
                ("role", s.role_inline_policies, s.role_policy_attachments),
            ):
                self._insert_many(inline_table, inline_rows[kind])
                self._insert_many(attach_table, attach_rows[kind])
            self._insert_many(s.user_tags, tag_rows["user"])
            self._insert_many(s.role_tags, tag_rows["role"])
            self._insert_many(s.group_members, members)
            self._insert_many(s.instance_profiles, profile_rows)
            self._insert_many(s.access_keys, key_rows)
            self._insert_many(s.policy_history, history)
        except IntegrityError as e:
            raise AlreadyExists("entity", str(e.orig).split("\n")[0][:200]) from None
        if coarse:
            self._changed(Entity.ACCOUNT, "", "", Verb.RESET)
            return sum(len(v) for v in entity_rows.values()) + len(policy_rows) + len(profile_rows)
        for p in bundle.policies:
            self._changed(Entity.POLICY, "", self._arn(account, "policy", p.path, p.name), Verb.CREATED)
        for kind, entity in (("group", Entity.GROUP), ("user", Entity.USER), ("role", Entity.ROLE)):
            for created in entity_rows[kind]:
                self._changed(entity, account, str(created["name"]), Verb.CREATED)
        for created in profile_rows:
            self._changed(Entity.INSTANCE_PROFILE, account, str(created["name"]), Verb.CREATED)
        for key in key_rows:
            self._changed(Entity.ACCESS_KEY, account, str(key["id"]), Verb.CREATED)
        return sum(len(v) for v in entity_rows.values()) + len(policy_rows) + len(profile_rows)

    def existing_names(self, account: str, kind: str, names: Sequence[str]) -> dict[str, str]:
        """Of ``names`` (``kind``: policy, group, user or role), those ``account`` already has,
        case-insensitively: name key -> the stored name."""
        table = {"policy": s.policies, "group": s.groups, "user": s.users, "role": s.roles}[kind]
        keys = sorted({name_key(n) for n in names})
        found: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            stmt = select(table.c.name_key, table.c.name).where(table.c.account_id == account,
                                                                table.c.name_key.in_(chunk))  # fmt: skip
            found.update((str(k), str(n)) for k, n in self._conn.execute(stmt))
        return found

    def _key_rows(self, account: str, keys: Sequence[BulkKey], ids: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
        """The access_keys rows of ``keys``: each user this bundle's or stored (NotFound), at most
        :data:`MAX_KEYS_PER_USER` keys per user with the ones it has (LimitExceeded), a key id
        used once (the primary key: AlreadyExists)."""
        if not keys:
            return []
        now = self._now()
        rows: list[dict[str, Any]] = []
        per_user: dict[str, int] = {}
        names: dict[str, str] = {}  # user id: the name the key gave
        for key in keys:
            uid = ids.get(("user", name_key(key.user))) or self._named_id(s.users, "user", account, key.user)
            per_user[uid] = per_user.get(uid, 0) + 1
            names.setdefault(uid, key.user)
            rows.append({"id": key.key_id, "account_id": account, "user_id": uid, "status": key.status,
                         "secret_sealed": key.secret_sealed, "create_date": now})  # fmt: skip
        mine = set(ids.values())
        stored = [uid for uid in per_user if uid not in mine]
        for start in range(0, len(stored), _CHUNK):
            chunk = stored[start : start + _CHUNK]
            counted = select(s.access_keys.c.user_id, func.count()).where(s.access_keys.c.user_id.in_(chunk))
            for uid, n in self._conn.execute(counted.group_by(s.access_keys.c.user_id)):
                per_user[uid] += int(n)
        over = next((uid for uid, n in per_user.items() if n > MAX_KEYS_PER_USER), None)
        if over is not None:
            raise LimitExceeded(f"AccessKeysPerUser of user {names[over]}", MAX_KEYS_PER_USER)
        return rows


def _version_no(version_id: str) -> int:
    """``v3`` → 3: AWS's policy version ids (ValueError for another shape: the import refuses it)."""
    if len(version_id) < 2 or version_id[0] != "v" or not version_id[1:].isdigit() or len(version_id) > 6:
        raise ValueError(f"policy version id {version_id[:16]!r} is not v1, v2, …")
    return int(version_id[1:])
