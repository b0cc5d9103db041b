"""Roles and instance profiles (IAM API "CreateRole", "UpdateRole", "DeleteRole"; AWS "Use instance profiles")."""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.policy import DocumentKind
from iamd.service.authorize import protected_role_message
from iamd.service.call import Call
from iamd.service.trust import shown_profile, shown_role, store_trust_policy
from iamd.store import NotFound, ReadTx, TagTarget, Tx

from .checks import (
    check_boundary,
    check_document,
    check_entity_quota,
    check_tags,
    check_trust_size,
    tags_of,
)
from .shapes import instance_profile_shape, page, role_shape, tags_shape

PROTECTED_PATHS = ("/aws-service-role/", "/aws-reserved/")


def _check_trust(tx: ReadTx, text: str) -> None:
    doc = check_document(text, DocumentKind.TRUST, "AssumeRolePolicyDocument")
    check_trust_size(text)
    # A trust policy naming a user or role that does not exist is refused (AWS "AWS JSON policy elements: Principal"):
    # the ARN must name an existing entity, path included. Accounts this server does not
    # hold cannot be checked; their principals are accepted (docs/iam-api.md).
    for st in doc.statements:
        for name in st.principal.aws if st.principal else ():
            parts = name.split(":", 5)
            if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith(("user/", "role/")):
                try:
                    tx.get_account(parts[4])
                except NotFound:
                    continue
                kind, _, rest = parts[5].partition("/")
                path, _, entity = rest.rpartition("/")
                try:
                    found = (tx.get_user if kind == "user" else tx.get_role)(parts[4], entity)
                except NotFound:
                    found = None
                if found is None or found.path != f"/{path}/".replace("//", "/"):
                    raise aws.MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{name}"')


def check_modifiable_role(role_path: str, role_name: str) -> None:
    """Service-linked (``/aws-service-role/``) and AWS-reserved roles belong to AWS (IAM API "CreateRole", "UpdateRole",
    "DeleteRole").
    """
    if role_path.startswith(PROTECTED_PATHS):
        raise aws.UnmodifiableEntity(protected_role_message(role_name))


def create_role(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    path = p.get("Path") or "/"
    if path.startswith(PROTECTED_PATHS):
        raise aws.InvalidInput(f"The path {path} is reserved for AWS; choose another path.")
    _check_trust(tx, p["AssumeRolePolicyDocument"])
    tags = tags_of(p)
    check_tags(TagTarget.ROLE, tags)
    boundary = p.get("PermissionsBoundary")
    check_boundary(tx, boundary)
    try:
        tx.get_role(call.account, p["RoleName"])
    except NotFound:
        check_entity_quota(tx, call.account, "Roles", lambda limit: tx.count_roles(call.account, at_most=limit))
    role = tx.create_role(
        call.account, p["RoleName"], assume_role_policy=store_trust_policy(p["AssumeRolePolicyDocument"], tx),
        path=path,
        description=p.get("Description"), max_session_duration=p.get("MaxSessionDuration", 3600),
        permissions_boundary=boundary, tags=tags,
    )  # fmt: skip
    role = shown_role(tx, role)
    shape = role_shape(role, tags, full=False) | ({"Tags": tags_shape(tags)} if tags else {})
    if role.permissions_boundary:  # AWS's CreateRole answers the boundary it set (not RoleLastUsed)
        shape["PermissionsBoundary"] = role_shape(role)["PermissionsBoundary"]
    return {"Role": shape}


def get_role(call: Call, tx: ReadTx) -> dict[str, Any]:
    role = shown_role(tx, tx.get_role(call.account, call.params["RoleName"]))
    return {"Role": role_shape(role, tx.list_tags(TagTarget.ROLE, call.account, role.name))}


def list_roles(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    result = tx.list_roles(
        call.account, path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"Roles": [role_shape(shown_role(tx, r), full=False) for r in result.items]}, result)


def update_role(call: Call, tx: Tx) -> dict[str, Any]:
    role = tx.get_role(call.account, call.params["RoleName"])
    check_modifiable_role(role.path, role.name)
    tx.update_role(
        call.account, role.name, description=call.params.get("Description"),
        max_session_duration=call.params.get("MaxSessionDuration"),
    )  # fmt: skip
    return {}


def update_role_description(call: Call, tx: Tx) -> dict[str, Any]:
    role = tx.get_role(call.account, call.params["RoleName"])
    if role.path.startswith("/aws-reserved/"):
        check_modifiable_role(role.path, role.name)
    updated = shown_role(tx, tx.update_role(call.account, role.name, description=call.params["Description"]))
    return {"Role": role_shape(updated, tx.list_tags(TagTarget.ROLE, call.account, role.name))}


def update_assume_role_policy(call: Call, tx: Tx) -> None:
    role = tx.get_role(call.account, call.params["RoleName"])
    check_modifiable_role(role.path, role.name)
    _check_trust(tx, call.params["PolicyDocument"])
    tx.update_assume_role_policy(call.account, role.name, store_trust_policy(call.params["PolicyDocument"], tx))


def delete_role(call: Call, tx: Tx) -> None:
    role = tx.get_role(call.account, call.params["RoleName"])
    check_modifiable_role(role.path, role.name)
    tx.delete_role(call.account, role.name)


def create_instance_profile(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    tags = tags_of(p)
    check_tags(TagTarget.INSTANCE_PROFILE, tags)
    try:
        tx.get_instance_profile(call.account, p["InstanceProfileName"])
    except NotFound:

        def profiles(limit: int) -> int:  # counted a page at a time, up to the quota
            counted, marker = 0, None
            while counted < limit:
                listed = tx.list_instance_profiles(call.account, marker=marker, max_items=min(limit - counted, 1000))
                counted += len(listed.items)
                if listed.marker is None:
                    break
                marker = listed.marker
            return counted

        check_entity_quota(tx, call.account, "InstanceProfiles", profiles)
    profile = tx.create_instance_profile(call.account, p["InstanceProfileName"], path=p.get("Path") or "/", tags=tags)
    return {"InstanceProfile": instance_profile_shape(shown_profile(tx, profile), tags)}


def get_instance_profile(call: Call, tx: ReadTx) -> dict[str, Any]:
    name = call.params["InstanceProfileName"]
    profile = tx.get_instance_profile(call.account, name)
    return {
        "InstanceProfile": instance_profile_shape(
            shown_profile(tx, profile), tx.list_tags(TagTarget.INSTANCE_PROFILE, call.account, name)
        )
    }


def list_instance_profiles(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    result = tx.list_instance_profiles(
        call.account, path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"InstanceProfiles": [instance_profile_shape(shown_profile(tx, x)) for x in result.items]}, result)


def list_instance_profiles_for_role(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    tx.get_role(call.account, p["RoleName"])
    result = tx.list_instance_profiles_for_role(
        call.account, p["RoleName"], marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"InstanceProfiles": [instance_profile_shape(shown_profile(tx, x)) for x in result.items]}, result)


def delete_instance_profile(call: Call, tx: Tx) -> None:
    tx.delete_instance_profile(call.account, call.params["InstanceProfileName"])


def add_role_to_instance_profile(call: Call, tx: Tx) -> None:
    p = call.params
    tx.get_role(call.account, p["RoleName"])
    tx.add_role_to_instance_profile(call.account, p["InstanceProfileName"], p["RoleName"])


def remove_role_from_instance_profile(call: Call, tx: Tx) -> None:
    p = call.params
    tx.get_role(call.account, p["RoleName"])
    tx.remove_role_from_instance_profile(call.account, p["InstanceProfileName"], p["RoleName"])
