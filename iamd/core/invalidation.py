"""What a committed IAM write touched, so that only the caches that depend on it are dropped.

A write names what it changes in its parameters (``UserName``, ``GroupName``, ``RoleName``,
``PolicyArn``, ``InstanceProfileName``, ``AccessKeyId``, the ``New*Name`` of a rename) or
in its result (the key ``CreateAccessKey`` made). :func:`touched_by` turns those into
:class:`Ref` values; :meth:`iamd.api.backend.Backend.invalidate` drops the cached entities,
compiled policy sets and credentials that depend on any of them.

Only the operations listed in :data:`SELECTIVE` are trusted to be described by their
parameters; every other write (account aliases, and any operation added later) drops all
caches, as every write did before: an operation nobody reviewed here is safe by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iamd.refs import Ref, key_ref, policy_ref, ref

__all__ = ["EVERYTHING", "SELECTIVE", "Touched", "touched_by"]


@dataclass(frozen=True, slots=True)
class Touched:
    refs: frozenset[Ref]
    everything: bool = False


EVERYTHING = Touched(frozenset(), everything=True)

_ENTITY_KINDS = ("User", "Group", "Role")
SELECTIVE = frozenset(
    {
        "CreateUser", "UpdateUser", "DeleteUser", "TagUser", "UntagUser",
        "CreateGroup", "UpdateGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup",
        "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicyVersion",
        "TagPolicy", "UntagPolicy",
        *(f"{verb}{kind}Policy" for verb in ("Attach", "Detach", "Put", "Delete") for kind in _ENTITY_KINDS),
        "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
        "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
        "CreateRole", "UpdateRole", "UpdateRoleDescription", "UpdateAssumeRolePolicy", "DeleteRole",
        "TagRole", "UntagRole",
        "CreateInstanceProfile", "DeleteInstanceProfile", "AddRoleToInstanceProfile",
        "RemoveRoleFromInstanceProfile", "TagInstanceProfile", "UntagInstanceProfile",
        "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
    }
)  # fmt: skip

_NAMES = (
    ("UserName", "user"),
    ("NewUserName", "user"),
    ("GroupName", "group"),
    ("NewGroupName", "group"),
    ("RoleName", "role"),
    ("InstanceProfileName", "instance-profile"),
)


def touched_by(
    operation: str, params: Mapping[str, Any], result: Mapping[str, Any] | None, account: str, caller_user: str | None
) -> Touched:
    """The refs a committed ``operation`` may have changed (``caller_user``: the signer's user name)."""
    if operation not in SELECTIVE:
        return EVERYTHING
    refs: set[Ref] = set()
    for member, kind in _NAMES:
        value = params.get(member)
        if isinstance(value, str) and value:
            refs.add(ref(kind, account, value))
    arn = params.get("PolicyArn")
    if isinstance(arn, str) and arn:
        refs.add(policy_ref(arn))
    boundary = params.get("PermissionsBoundary")
    if isinstance(boundary, str) and boundary:
        refs.add(policy_ref(boundary))
    key_id = params.get("AccessKeyId")
    if isinstance(key_id, str) and key_id:
        refs.add(key_ref(key_id))
    created = (result or {}).get("Policy")  # CreatePolicy: a cached "no such policy" must go
    if isinstance(created, Mapping) and created.get("Arn"):
        refs.add(policy_ref(str(created["Arn"])))
    made = (result or {}).get("AccessKey")
    if isinstance(made, Mapping):
        refs.add(key_ref(str(made.get("AccessKeyId", ""))))
        if made.get("UserName"):
            refs.add(ref("user", account, str(made["UserName"])))
    if operation.endswith("AccessKey") and "UserName" not in params and caller_user is not None:
        refs.add(ref("user", account, caller_user))  # the caller's own key
    return Touched(frozenset(refs))
