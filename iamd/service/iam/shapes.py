"""Store records → the output shapes of botocore's IAM model."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from iamd import errors as aws
from iamd.store import AccessKey, Group, InstanceProfile, ManagedPolicy, Page, PolicyVersion, Role, Tag, User

T = TypeVar("T")

__all__ = [
    "access_key_metadata",
    "group_shape",
    "instance_profile_shape",
    "page",
    "page_of",
    "policy_shape",
    "role_shape",
    "tags_shape",
    "user_shape",
    "version_shape",
]


def tags_shape(tags: Iterable[Tag]) -> list[dict[str, str]]:
    return [{"Key": t.key, "Value": t.value} for t in tags]


def _boundary(arn: str | None) -> dict[str, str] | None:
    return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn} if arn else None


def user_shape(user: User, tags: Iterable[Tag] = (), *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": user.path, "UserName": user.name, "UserId": user.id, "Arn": user.arn, "CreateDate": user.create_date,
    }  # fmt: skip
    if full:
        if user.password_last_used:
            out["PasswordLastUsed"] = user.password_last_used
        if user.permissions_boundary:
            out["PermissionsBoundary"] = _boundary(user.permissions_boundary)
        tag_list = tags_shape(tags)
        if tag_list:
            out["Tags"] = tag_list
    return out


def group_shape(group: Group) -> dict[str, Any]:
    return {
        "Path": group.path, "GroupName": group.name, "GroupId": group.id, "Arn": group.arn,
        "CreateDate": group.create_date,
    }  # fmt: skip


def role_shape(role: Role, tags: Iterable[Tag] = (), *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path, "RoleName": role.name, "RoleId": role.id, "Arn": role.arn, "CreateDate": role.create_date,
        "AssumeRolePolicyDocument": role.assume_role_policy, "MaxSessionDuration": role.max_session_duration,
    }  # fmt: skip
    if role.description is not None:
        out["Description"] = role.description
    if full:
        if role.permissions_boundary:
            out["PermissionsBoundary"] = _boundary(role.permissions_boundary)
        tag_list = tags_shape(tags)
        if tag_list:
            out["Tags"] = tag_list
        last: dict[str, Any] = {}
        if role.last_used_date:
            last["LastUsedDate"] = role.last_used_date
        if role.last_used_region:
            last["Region"] = role.last_used_region
        out["RoleLastUsed"] = last
    return out


def policy_shape(policy: ManagedPolicy, tags: Iterable[Tag] = (), *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "PolicyName": policy.name, "PolicyId": policy.id, "Arn": policy.arn, "Path": policy.path,
        "DefaultVersionId": policy.default_version_id, "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.permissions_boundary_usage_count,
        "IsAttachable": policy.is_attachable, "CreateDate": policy.create_date, "UpdateDate": policy.update_date,
    }  # fmt: skip
    if full and policy.description:
        out["Description"] = policy.description
    tag_list = tags_shape(tags)
    if full and tag_list:
        out["Tags"] = tag_list
    return out


def version_shape(version: PolicyVersion, *, document: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": version.version_id, "IsDefaultVersion": version.is_default, "CreateDate": version.create_date,
    }  # fmt: skip
    if document:
        out["Document"] = version.document
    return out


def access_key_metadata(key: AccessKey) -> dict[str, Any]:
    out: dict[str, Any] = {"AccessKeyId": key.id, "Status": key.status.value, "CreateDate": key.create_date}
    if key.user_name:
        out["UserName"] = key.user_name
    return out


def instance_profile_shape(profile: InstanceProfile, tags: Iterable[Tag] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": profile.path, "InstanceProfileName": profile.name, "InstanceProfileId": profile.id,
        "Arn": profile.arn, "CreateDate": profile.create_date,
        "Roles": [role_shape(profile.role, full=False)] if profile.role else [],
    }  # fmt: skip
    tag_list = tags_shape(tags)
    if tag_list:
        out["Tags"] = tag_list
    return out


def page(result: dict[str, Any], p: Page[Any]) -> dict[str, Any]:
    """Add ``IsTruncated`` and ``Marker`` from a store page."""
    result["IsTruncated"] = p.is_truncated
    if p.marker is not None:
        result["Marker"] = p.marker
    return result


def page_of(items: Sequence[T], params: Mapping[str, Any], listing: str) -> Page[T]:
    """A page of a listing the service holds in memory (tags, keys, versions, details).

    The marker is opaque to clients (base64 of ``[listing, offset]``); one issued by
    another listing, or garbage, is a ValidationError "Invalid Marker." as for the
    store's listings (the Errors of each operation in the IAM API Reference).
    """
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        try:
            kind, start = json.loads(base64.b64decode(str(marker), validate=True))
        except (ValueError, TypeError, binascii.Error):
            kind, start = None, -1
        if kind != listing or type(start) is not int or not 0 <= start <= len(items):
            raise aws.ValidationError("Invalid Marker.")
    end = start + int(params.get("MaxItems") or 100)
    following = None
    if end < len(items):
        following = base64.b64encode(json.dumps([listing, end]).encode()).decode("ascii")
    return Page(tuple(items[start:end]), following)
