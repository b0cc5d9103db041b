"""``iamd db load``: an account's users, groups, roles, managed policies and access keys from a
JSON Lines file, through the store's bulk path, in one transaction (docs/bulk-load.md).

Each line is one object with one member naming what it is, in the shapes of IAM's
``GetAccountAuthorizationDetails`` (so ``jq -c '.UserDetailList[] | {User: .}'`` turns a dump
into lines) plus access keys::

    {"Policy": {"PolicyName": "ReadIam", "Path": "/", "PolicyDocument": {...}}}
    {"Group": {"GroupName": "devs", "GroupPolicyList": [...], "AttachedManagedPolicies": [...]}}
    {"User": {"UserName": "alice", "GroupList": ["devs"], "Tags": [...], ...}}
    {"Role": {"RoleName": "ci", "AssumeRolePolicyDocument": {...}, ...}}
    {"AccessKey": {"UserName": "alice", "AccessKeyId": "AKIA…", "SecretAccessKey": "…", "Status": "Active"}}

A line may refer only to what an earlier line or the database has (a policy before the
entities attaching it, a group before its members, a user before its keys): the file is read
once, in chunks of :data:`CHUNK` lines, each chunk inserted table by table in multi-row
statements, so memory stays bounded whatever the file's size. Every value is checked as the
API would check it (the IAM model's name and path constraints, policy grammar, tag and key
rules); the first problem stops the load with its line number and nothing is written.
Secret access keys are sealed with the data directory's master key as they are read (never
stored in plain text). The load does not apply the API's per-account entity quotas (it is
how a self-hosted account gets past them); AWS's per-entity limits (two access keys per user,
fifty tags, ten managed policies per entity) are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from iamd.crypto import access_key_context, account_from_access_key_id
from iamd.importer import Imported, ImportError_, bundle_of, ensure_account
from iamd.policy import DocumentKind
from iamd.policy.document import validate_policy
from iamd.protocol import load_service_model
from iamd.protocol.constraints import rules_for
from iamd.service.iam.checks import MAX_TAGS  # the API's limits, checked here too
from iamd.service.iam.policies import MAX_ATTACHED
from iamd.store import AlreadyExists, BulkKey, LimitExceeded, NotFound, Store
from iamd.store.base import name_key

__all__ = ["CHUNK", "MAX_LINE", "Loaded", "LoadError", "load_lines"]

CHUNK = 5_000  # lines per bulk insert
MAX_LINE = 1024 * 1024  # bytes of one line (a role with ten 10 KiB inline policies fits)

Seal = Callable[[str, bytes], bytes]  # (secret, context) -> sealed secret
Progress = Callable[[int], None]  # called with the bytes just read

_KINDS = ("Policy", "Group", "User", "Role", "AccessKey")
_SHAPES = {
    "user": "userNameType", "group": "groupNameType", "role": "roleNameType", "policy": "policyNameType",
    "path": "pathType", "key id": "accessKeyIdType", "tag key": "tagKeyType", "tag value": "tagValueType",
}  # fmt: skip


class LoadError(ValueError):
    """A line iamd cannot load; its number is in the message. Nothing was written."""


Loaded = Imported  # the account and what was loaded, counted by kind


class _Checker:
    """The API's checks of one line's values: model constraints, documents (each text once), tags."""

    def __init__(self) -> None:
        model = load_service_model("iam")
        self._rules = {what: rules_for(model.shape_for(shape)) for what, shape in _SHAPES.items()}
        self._documents: dict[tuple[str, DocumentKind], str | None] = {}

    def value(self, what: str, value: object) -> str:
        if not isinstance(value, str):
            raise LoadError(f"the {what} is not a string")
        rules = self._rules[what]
        problems = rules.check_string(value) if rules is not None else ()
        if problems:
            raise LoadError(f"{what} {value[:130]!r}: {problems[0]}")
        return value

    def document(self, text: str, kind: DocumentKind, what: str) -> None:
        key = (text, kind)
        if key not in self._documents:
            problems = validate_policy(text, kind)
            self._documents[key] = problems[0].describe() if problems else None
            if len(self._documents) > 10_000:  # bounded: distinct documents are rare in bulk files
                self._documents.clear()
        problem = self._documents.get(key)
        if problem is not None:
            raise LoadError(f"{what}: {problem}")


def _one(entry: object) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise LoadError(f"not an object with one member of {', '.join(_KINDS)}")
    (kind, body), = entry.items()  # fmt: skip
    if kind not in _KINDS or not isinstance(body, Mapping):
        raise LoadError(f"{str(kind)[:40]!r} is not one of {', '.join(_KINDS)} (with an object)")
    return kind, body


def _listed(body: Mapping[str, Any], key: str, what: str) -> list[Any]:
    """``body[key]``: absent or null is empty; anything but a list is refused."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise LoadError(f"{what}: {key} must be a list")
    return value


def _text(document: object, what: str) -> str:
    if isinstance(document, str):
        return document
    if isinstance(document, Mapping):
        return json.dumps(document, indent=4)
    raise LoadError(f"{what}: the policy document is neither an object nor a string")


class _Chunk:
    """The entries of up to :data:`CHUNK` lines, as the importer's detail lists and keys."""

    def __init__(self) -> None:
        self.detail: dict[str, list[Mapping[str, Any]]] = {
            "Policies": [], "GroupDetailList": [], "UserDetailList": [], "RoleDetailList": []}  # fmt: skip
        self.keys: list[BulkKey] = []
        self.lines = 0
        self.named: dict[str, dict[str, tuple[int, str]]] = {"policy": {}, "group": {}, "user": {}, "role": {}}
        self.refs: list[tuple[int, str, str]] = []  # (line, kind of entity, name) a line refers to


class _Loader:
    def __init__(self, account: str, partition: str, seal: Seal, out: Loaded) -> None:
        self.account = account
        self.partition = partition
        self.seal = seal
        self.out = out
        self.check = _Checker()
        self.names: dict[str, set[str]] = {"policy": set(), "group": set(), "user": set(), "role": set()}
        self.key_ids: set[str] = set()

    def entry(self, kind: str, body: Mapping[str, Any], chunk: _Chunk, line: int) -> None:
        if kind == "AccessKey":
            key = self.access_key(body)
            chunk.keys.append(key)
            chunk.refs.append((line, "user", key.user))
            return
        if kind == "Policy":
            detail = self.policy(body)
            chunk.named["policy"][name_key(detail["PolicyName"])] = (line, detail["PolicyName"])
            chunk.detail["Policies"].append(detail)
            return
        label = kind.lower()
        name = self.check.value(label, body.get(f"{kind}Name"))
        self.check.value("path", body.get("Path", "/"))
        self.unique(label, name)
        chunk.named[label][name_key(name)] = (line, name)
        for group in _listed(body, "GroupList", f"{label} {name}") if kind == "User" else ():
            chunk.refs.append((line, "group", self.check.value("group", group)))
        for attached in _listed(body, "AttachedManagedPolicies", f"{label} {name}"):
            arn = attached.get("PolicyArn") if isinstance(attached, Mapping) else None
            if not isinstance(arn, str):
                raise LoadError(f"{label} {name}: an attached policy has no PolicyArn")
            chunk.refs.append((line, "policy", arn))
        boundary = body.get("PermissionsBoundary")
        if boundary is not None:
            if not isinstance(boundary, Mapping) or not isinstance(boundary.get("PermissionsBoundaryArn"), str):
                raise LoadError(f"{label} {name}: PermissionsBoundary must be an object with a PermissionsBoundaryArn")
            chunk.refs.append((line, "policy", boundary["PermissionsBoundaryArn"]))
        for policy in _listed(body, f"{kind}PolicyList", f"{label} {name}"):
            if not isinstance(policy, Mapping):
                raise LoadError(f"{label} {name}: {kind}PolicyList has an entry that is not an object")
            policy_name = self.check.value("policy", policy.get("PolicyName"))
            what = f"{label} {name}, inline policy {policy_name}"
            self.check.document(_text(policy.get("PolicyDocument"), what), DocumentKind.IDENTITY, what)
        attached = body.get("AttachedManagedPolicies") or ()
        if len(attached) > MAX_ATTACHED:
            raise LoadError(f"{label} {name}: {len(attached)} attached policies (at most {MAX_ATTACHED})")
        if kind in ("User", "Role"):
            self.tags(label, name, body.get("Tags") or [])
        if kind == "Role":
            duration = body.get("MaxSessionDuration", 3600)
            if not isinstance(duration, int) or not 3600 <= duration <= 43200:
                raise LoadError(f"role {name}: MaxSessionDuration must be 3600 to 43200 seconds")
            description = body.get("Description")
            if description is not None and (not isinstance(description, str) or len(description) > 1000):
                raise LoadError(f"role {name}: Description must be a string of at most 1000 characters")
            trust = _text(body.get("AssumeRolePolicyDocument"), f"role {name}")
            self.check.document(trust, DocumentKind.TRUST, f"role {name}, trust policy")
        chunk.detail[{"Group": "GroupDetailList", "User": "UserDetailList", "Role": "RoleDetailList"}[kind]].append(
            body
        )

    def policy(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        name = self.check.value("policy", body.get("PolicyName"))
        path = self.check.value("path", body.get("Path", "/"))
        self.unique("policy", name)
        if "PolicyVersionList" in body:  # a ManagedPolicyDetail from a dump
            for v in _listed(body, "PolicyVersionList", f"policy {name}"):
                if not isinstance(v, Mapping):
                    raise LoadError(f"policy {name}: PolicyVersionList has an entry that is not an object")
                what = f"policy {name} version {v.get('VersionId')}"
                self.check.document(_text(v.get("Document"), what), DocumentKind.IDENTITY, what)
            detail = dict(body)
        else:  # CreatePolicy's parameters
            document = _text(body.get("PolicyDocument"), f"policy {name}")
            self.check.document(document, DocumentKind.IDENTITY, f"policy {name}")
            version = {"VersionId": "v1", "IsDefaultVersion": True, "Document": document}
            detail = {"PolicyName": name, "Path": path, "Description": body.get("Description"),
                      "DefaultVersionId": "v1", "PolicyVersionList": [version]}  # fmt: skip
        detail["Arn"] = f"arn:{self.partition}:iam::{self.account}:policy{path}{name}"
        return detail

    def access_key(self, body: Mapping[str, Any]) -> BulkKey:
        user = self.check.value("user", body.get("UserName"))
        key_id = self.check.value("key id", body.get("AccessKeyId"))
        try:
            encoded = account_from_access_key_id(key_id)
        except ValueError as e:
            raise LoadError(f"access key {key_id[:40]}: {e}") from None
        if not key_id.startswith("AKIA"):
            raise LoadError(f"access key {key_id}: a long-term access key id starts with AKIA")
        if encoded != self.account:
            raise LoadError(f"access key {key_id} encodes account {encoded}, not {self.account}")
        secret = body.get("SecretAccessKey")
        if not isinstance(secret, str) or len(secret) != 40 or not secret.isascii() or not secret.isprintable():
            raise LoadError(f"access key {key_id}: SecretAccessKey must be 40 printable ASCII characters")
        status = body.get("Status", "Active")
        if status not in ("Active", "Inactive"):
            raise LoadError(f"access key {key_id}: Status must be Active or Inactive")
        if key_id in self.key_ids:
            raise LoadError(f"access key {key_id} appears twice")
        self.key_ids.add(key_id)
        sealed = self.seal(secret, access_key_context(key_id))
        return BulkKey(user, key_id, sealed, status)

    def tags(self, label: str, name: str, tags: object) -> None:
        if not isinstance(tags, list) or len(tags) > MAX_TAGS:
            raise LoadError(f"{label} {name}: Tags must be a list of at most {MAX_TAGS}")
        seen: set[str] = set()
        for tag in tags:
            if not isinstance(tag, Mapping):
                raise LoadError(f"{label} {name}: a tag is not an object")
            key = self.check.value("tag key", tag.get("Key"))
            self.check.value("tag value", tag.get("Value", ""))
            if key.lower().startswith("aws:"):
                raise LoadError(f"{label} {name}: tag key {key!r} starts with 'aws:'")
            if name_key(key) in seen:
                raise LoadError(f"{label} {name}: tag key {key!r} twice (tag keys are case-insensitive)")
            seen.add(name_key(key))

    def unique(self, label: str, name: str) -> None:
        names = self.names[label]
        if name_key(name) in names:
            raise LoadError(f"{label} {name} appears twice (names are case-insensitive)")
        names.add(name_key(name))


def load_lines(
    store: Store, lines: Iterable[bytes], *, account: str, seal: Seal, partition: str = "aws",
    progress: Progress | None = None,
) -> Loaded:  # fmt: skip
    """Load every line of ``lines`` (JSON objects, one per line; blank lines skipped) into
    ``account`` (created if the database lacks it), in one transaction: :class:`LoadError`
    (nothing written) at the first line that cannot be loaded."""
    out = Loaded(account)
    loader = _Loader(account, partition, seal, out)
    tick = progress or (lambda n: None)
    number = 0
    with store.transaction() as tx:
        ensure_account(tx, account, out)
        chunk = _Chunk()
        first = 1  # the first line of the chunk
        for number, line in enumerate(lines, start=1):
            tick(len(line))
            if len(line) > MAX_LINE:
                raise LoadError(f"line {number}: over {MAX_LINE} bytes")
            if not line.strip():
                continue
            try:
                loader.entry(*_one(orjson.loads(line)), chunk, number)
            except orjson.JSONDecodeError as e:
                raise LoadError(f"line {number}: not JSON ({e})") from None
            except LoadError as e:
                raise LoadError(f"line {number}: {e}") from None
            chunk.lines += 1
            if chunk.lines >= CHUNK:
                _flush(tx, chunk, loader, first, number)
                chunk, first = _Chunk(), number + 1
        _flush(tx, chunk, loader, first, number)
    return out


def _flush(tx: Any, chunk: _Chunk, loader: _Loader, first: int, last: int) -> None:
    where = f"line {first}" if first == last else f"lines {first}-{last}"
    for kind, named in chunk.named.items():  # a name the database has: the line that gives it again
        taken = tx.existing_names(loader.account, kind, [name for _, name in named.values()])
        if taken:
            line, name = min(named[k] for k in taken)
            raise LoadError(f"line {line}: {kind} {name} already exists (as {taken[name_key(name)]})")
    try:
        bundle, aws_managed = bundle_of(chunk.detail, loader.out)
    except ImportError_ as e:
        raise LoadError(f"{where}: {e}") from None
    assert not aws_managed  # every Policy line is the account's own (its ARN is made here)
    bundle.keys = chunk.keys
    loader.out.add("access keys", len(chunk.keys))
    if not (bundle.policies or bundle.groups or bundle.users or bundle.roles or bundle.keys):
        return
    try:
        tx.bulk_load_iam(loader.account, bundle, coarse=True)
    except NotFound as e:
        # the first line that names what is missing (a policy by its ARN, a group or user by its name)
        refers = (n for n, _, name in chunk.refs if name == e.name or name_key(name) == name_key(e.name))
        first_ref = next(refers, None)
        where = f"line {first_ref}" if first_ref is not None else where
        raise LoadError(f"{where}: {e} (a line may refer only to what an earlier line or the database has)") from None
    except AlreadyExists as e:
        raise LoadError(f"{where}: {e}: the database already has it") from None
    except LimitExceeded as e:
        raise LoadError(f"{where}: {e}") from None
