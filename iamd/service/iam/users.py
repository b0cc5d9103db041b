"""Users, groups and membership (IAM API "CreateUser", "UpdateUser", "DeleteUser"; IAM API "CreateGroup", "UpdateGroup",
"DeleteGroup").
"""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.store import EntityKind, NotFound, ReadTx, TagTarget, Tx

from .checks import ENTITY_QUOTAS, check_boundary, check_entity_quota, check_tags, tags_of, target_user_name
from .shapes import group_shape, page, user_shape

MAX_GROUPS_PER_USER = 10


def create_user(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    tags = tags_of(p)
    check_tags(TagTarget.USER, tags)
    check_boundary(tx, p.get("PermissionsBoundary"))
    # The name check, then the account's Users quota (a taken name is EntityAlreadyExists even at
    # the quota), in the store's transaction: one statement with the insert on PostgreSQL.
    user = tx.create_user(
        call.account, p["UserName"], path=p.get("Path") or "/",
        permissions_boundary=p.get("PermissionsBoundary"), tags=tags, quota=ENTITY_QUOTAS["Users"],
    )  # fmt: skip
    return {"User": user_shape(user, tags, full=True)}


def get_user(call: Call, tx: ReadTx) -> dict[str, Any]:
    name = target_user_name(call)
    if name is None:  # root: its own identity (IAM API "CreateUser", "UpdateUser", "DeleteUser")
        account = tx.get_account(call.account)
        return {
            "User": {
                "UserId": call.account,
                "Arn": call.arn("root"),
                "CreateDate": account.create_date,
            }
        }  # fmt: skip
    user = tx.get_user(call.account, name)
    return {"User": user_shape(user, tx.list_tags(TagTarget.USER, call.account, user.name), full=True)}


def list_users(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    result = tx.list_users(
        call.account, path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"Users": [user_shape(u) for u in result.items]}, result)


def update_user(call: Call, tx: Tx) -> None:
    p = call.params
    tx.update_user(call.account, p["UserName"], new_name=p.get("NewUserName"), new_path=p.get("NewPath"))


def delete_user(call: Call, tx: Tx) -> None:
    tx.delete_user(call.account, call.params["UserName"])


def create_group(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    try:
        tx.get_group(call.account, p["GroupName"])
    except NotFound:
        check_entity_quota(tx, call.account, "Groups", lambda limit: tx.count_groups(call.account, at_most=limit))
    return {"Group": group_shape(tx.create_group(call.account, p["GroupName"], path=p.get("Path") or "/"))}


def get_group(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    group = tx.get_group(call.account, p["GroupName"])
    members = tx.list_group_members(call.account, group.name, marker=p.get("Marker"), max_items=p.get("MaxItems", 100))
    return page({"Group": group_shape(group), "Users": [user_shape(u) for u in members.items]}, members)


def list_groups(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    result = tx.list_groups(
        call.account, path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"Groups": [group_shape(g) for g in result.items]}, result)


def update_group(call: Call, tx: Tx) -> None:
    p = call.params
    tx.update_group(call.account, p["GroupName"], new_name=p.get("NewGroupName"), new_path=p.get("NewPath"))


def delete_group(call: Call, tx: Tx) -> None:
    tx.delete_group(call.account, call.params["GroupName"])


def add_user_to_group(call: Call, tx: Tx) -> None:
    p = call.params
    tx.get_group(call.account, p["GroupName"])
    tx.get_user(call.account, p["UserName"])
    current = tx.list_groups_for_user(call.account, p["UserName"], max_items=1000).items
    if len(current) >= MAX_GROUPS_PER_USER and all(g.name.lower() != p["GroupName"].lower() for g in current):
        raise aws.LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
    tx.add_user_to_group(call.account, p["GroupName"], p["UserName"])


def remove_user_from_group(call: Call, tx: Tx) -> None:
    p = call.params
    tx.get_group(call.account, p["GroupName"])
    tx.get_user(call.account, p["UserName"])
    try:
        tx.remove_user_from_group(call.account, p["GroupName"], p["UserName"])
    except NotFound:  # not a member; AWS's wording is unconfirmed (IAM API "CreateGroup", "UpdateGroup", "DeleteGroup")
        raise aws.NoSuchEntity(
            f"The user with name {p['UserName']} cannot be found in the group {p['GroupName']}."
        ) from None


def list_groups_for_user(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    name = target_user_name(call)
    if name is None:
        raise aws.ValidationError("Must specify userName when calling with non-User credentials")
    tx.get_user(call.account, name)
    result = tx.list_groups_for_user(call.account, name, marker=p.get("Marker"), max_items=p.get("MaxItems", 100))
    return page({"Groups": [group_shape(g) for g in result.items]}, result)


__all__ = [
    "EntityKind",
    "add_user_to_group",
    "create_group",
    "create_user",
    "delete_group",
    "delete_user",
    "get_group",
    "get_user",
    "list_groups",
    "list_groups_for_user",
    "list_users",
    "remove_user_from_group",
    "update_group",
    "update_user",
]
