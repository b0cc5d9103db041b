"""``iamd import``: load a real AWS account's IAM from ``aws iam get-account-authorization-details``
into an iamd data directory, so that ``iamd explain`` answers for its CloudTrail events offline
(docs/troubleshooting.md, "Troubleshooting a real AWS account").

One store transaction for the whole dump (all or nothing), written with the store's own write
methods (so the policy history, the change sets and the uniqueness rules are the same as for the
API), never request by request through the API. What is loaded: customer managed policies (the
default version's document), AWS managed policies the dump carries and iamd lacks, groups with
their inline and attached policies, users with theirs, their permissions boundary, tags and
groups, roles with their trust policy, inline and attached policies, boundary, tags and instance
profiles. Entities get iamd's own unique ids (AWS's are not reused); names, paths and ARNs are
AWS's. The account is the dump's (read from its ARNs) unless one is given; it is created when
the data directory does not have it.

Bounded input: the caller reads the file (at most :data:`MAX_DUMP` bytes); every document is
stored as its JSON text, and documents iamd cannot read are kept and fail closed when evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamd.store import AlreadyExists, EntityKind, NotFound, Store, Tag, Tx

__all__ = ["MAX_DUMP", "ImportError_", "Imported", "count_entities", "import_authorization_details"]

MAX_DUMP = 512 * 1024 * 1024  # bytes of one dump file

Progress = Callable[[int], None]  # called with the number of entities just written


class ImportError_(ValueError):
    """The dump is not an authorization-details document iamd can load."""


@dataclass(slots=True)
class Imported:
    account: str
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ImportError_(f"{key} is not a list of objects")
    return value


def _text(document: Any, what: str) -> str:
    """A policy document as stored text: the AWS CLI prints documents decoded (objects); the API's raw
    answer has them URL-encoded strings."""
    if isinstance(document, str):
        from urllib.parse import unquote

        text = unquote(document) if document.startswith("%7B") else document
        return text
    if isinstance(document, Mapping):
        return json.dumps(document, indent=4)
    raise ImportError_(f"{what}: the policy document is neither an object nor a string")


def _str(entry: Mapping[str, Any], key: str, what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ImportError_(f"{what}: {key} is missing")
    return value


def _tags(entry: Mapping[str, Any]) -> list[Tag]:
    return [
        Tag(str(t["Key"]), str(t.get("Value", "")))
        for t in entry.get("Tags") or ()
        if isinstance(t, Mapping) and isinstance(t.get("Key"), str)
    ]


def _account_of(data: Mapping[str, Any]) -> str:
    for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
        for entry in _list(data, key):
            parts = str(entry.get("Arn", "")).split(":")
            if len(parts) >= 5 and len(parts[4]) == 12 and parts[4].isdigit():
                return parts[4]
    raise ImportError_("no ARN in the dump names an account: give --account")


def count_entities(data: Mapping[str, Any]) -> int:
    """How many entities the dump has (the progress bar's total)."""
    return sum(len(_list(data, k)) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))


def _default_document(entry: Mapping[str, Any], what: str) -> str | None:
    versions = _list(entry, "PolicyVersionList")
    default = entry.get("DefaultVersionId")
    for v in versions:
        if v.get("IsDefaultVersion") or v.get("VersionId") == default:
            return _text(v.get("Document"), what)
    return None


def import_authorization_details(
    store: Store, data: Any, *, account: str | None = None, progress: Progress | None = None
) -> Imported:
    """Load the dump in one transaction; :class:`ImportError_` (nothing written) when it cannot be."""
    if not isinstance(data, Mapping):
        raise ImportError_("not a JSON object (expected the output of aws iam get-account-authorization-details)")
    account = account or _account_of(data)
    tick = progress or (lambda n: None)
    out = Imported(account)
    try:
        with store.transaction() as tx:
            try:
                tx.get_account(account)
            except NotFound:
                tx.create_account(account)
                out.add("account")
            _policies(tx, data, account, out, tick)
            _groups(tx, data, account, out, tick)
            _users(tx, data, account, out, tick)
            _roles(tx, data, account, out, tick)
    except AlreadyExists as e:
        raise ImportError_(f"{e}: the data directory already has it (import into a new account)") from None
    except NotFound as e:  # an attached policy the dump does not carry: evaluating without it would mislead
        raise ImportError_(f"{e}: attached but not in the dump (dump it with its AWS managed policies)") from None
    except (KeyError, TypeError) as e:
        raise ImportError_(f"unexpected shape: {e}") from None
    return out


def _policies(tx: Tx, data: Mapping[str, Any], account: str, out: Imported, tick: Progress) -> None:
    for entry in _list(data, "Policies"):
        arn = _str(entry, "Arn", "policy")
        name = _str(entry, "PolicyName", arn)
        document = _default_document(entry, arn)
        tick(1)
        if document is None:
            raise ImportError_(f"{arn}: no default version in PolicyVersionList")
        if arn.split(":")[4] == "aws":
            try:
                tx.get_policy(arn)
            except NotFound:
                path = str(entry.get("Path") or "/")
                tx.put_aws_managed_policy(name, document, path=path, version_id=str(entry.get("DefaultVersionId")))
                out.add("aws managed policies")
            continue
        tx.create_policy(
            account, name, document, path=str(entry.get("Path") or "/"),
            description=entry.get("Description") if isinstance(entry.get("Description"), str) else None,
        )  # fmt: skip
        out.add("policies")


def _attach_all(tx: Tx, kind: EntityKind, account: str, name: str, entry: Mapping[str, Any], inline_key: str,
                out: Imported) -> None:  # fmt: skip
    for inline in _list(entry, inline_key):
        policy_name = _str(inline, "PolicyName", name)
        tx.put_inline_policy(kind, account, name, policy_name, _text(inline.get("PolicyDocument"), policy_name))
        out.add("inline policies")
    for attached in _list(entry, "AttachedManagedPolicies"):
        tx.attach_policy(kind, account, name, _str(attached, "PolicyArn", name))
        out.add("attachments")
    boundary = entry.get("PermissionsBoundary")
    if isinstance(boundary, Mapping) and isinstance(boundary.get("PermissionsBoundaryArn"), str):
        tx.put_permissions_boundary(kind, account, name, boundary["PermissionsBoundaryArn"])
        out.add("boundaries")


def _groups(tx: Tx, data: Mapping[str, Any], account: str, out: Imported, tick: Progress) -> None:
    for entry in _list(data, "GroupDetailList"):
        name = _str(entry, "GroupName", "group")
        tx.create_group(account, name, path=str(entry.get("Path") or "/"))
        _attach_all(tx, EntityKind.GROUP, account, name, entry, "GroupPolicyList", out)
        out.add("groups")
        tick(1)


def _users(tx: Tx, data: Mapping[str, Any], account: str, out: Imported, tick: Progress) -> None:
    for entry in _list(data, "UserDetailList"):
        name = _str(entry, "UserName", "user")
        tx.create_user(account, name, path=str(entry.get("Path") or "/"), tags=_tags(entry))
        _attach_all(tx, EntityKind.USER, account, name, entry, "UserPolicyList", out)
        for group in entry.get("GroupList") or ():
            if isinstance(group, str):
                tx.add_user_to_group(account, group, name)
                out.add("memberships")
        out.add("users")
        tick(1)


def _roles(tx: Tx, data: Mapping[str, Any], account: str, out: Imported, tick: Progress) -> None:
    profiles: set[str] = set()
    for entry in _list(data, "RoleDetailList"):
        name = _str(entry, "RoleName", "role")
        trust = _text(entry.get("AssumeRolePolicyDocument"), name)
        description = entry.get("Description")
        duration = entry.get("MaxSessionDuration")
        tx.create_role(
            account, name, assume_role_policy=trust, path=str(entry.get("Path") or "/"),
            description=description if isinstance(description, str) else None,
            max_session_duration=duration if isinstance(duration, int) else 3600, tags=_tags(entry),
        )  # fmt: skip
        _attach_all(tx, EntityKind.ROLE, account, name, entry, "RolePolicyList", out)
        for profile in _list(entry, "InstanceProfileList"):
            profile_name = _str(profile, "InstanceProfileName", name)
            if profile_name not in profiles:
                tx.create_instance_profile(account, profile_name, path=str(profile.get("Path") or "/"))
                profiles.add(profile_name)
                out.add("instance profiles")
            tx.add_role_to_instance_profile(account, profile_name, name)
        out.add("roles")
        tick(1)
