"""Managed policies and versions, attachments, inline policies, boundaries (AWS "Versioning IAM policies"; IAM API
"PutUserPolicy", "PutGroupPolicy", "PutRolePolicy").
"""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.policy import DocumentKind
from iamd.service.call import Call
from iamd.store import EntityKind, ManagedPolicy, NotFound, PolicyScope, PolicyUsage, ReadTx, Tag, TagTarget, Tx

from .checks import (
    check_boundary,
    check_document,
    check_entity_quota,
    check_inline_aggregate,
    check_managed_size,
    check_tags,
    tags_of,
)
from .roles import check_modifiable_role
from .shapes import page, page_of, policy_shape, version_shape

MAX_ATTACHED = 10
_KIND = {"User": EntityKind.USER, "Group": EntityKind.GROUP, "Role": EntityKind.ROLE}


def _entity(operation: str) -> EntityKind:
    for word, kind in _KIND.items():
        if word in operation:
            return kind
    raise AssertionError(operation)  # pragma: no cover - the dispatch table only routes these


def _name(call: Call, kind: EntityKind) -> str:
    return str(call.params[f"{kind.value.capitalize()}Name"])


def _require_entity(tx: ReadTx, call: Call, kind: EntityKind, *, modifies: bool = False) -> None:
    """The named user/group/role must exist; a role changed by the call must not be AWS's."""
    if kind is EntityKind.ROLE:
        role = tx.get_role(call.account, _name(call, kind))
        if modifies:
            check_modifiable_role(role.path, role.name)
        return
    getter = tx.get_user if kind is EntityKind.USER else tx.get_group
    getter(call.account, _name(call, kind))


def _policy_tags(tx: ReadTx, policy: ManagedPolicy) -> tuple[Tag, ...]:
    """Tags of a managed policy; AWS managed policies live in the ``aws`` pseudo-account."""
    return tx.list_tags(TagTarget.POLICY, policy.account_id, policy.arn)


def create_policy(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    document = p["PolicyDocument"]
    check_document(document, DocumentKind.IDENTITY, "PolicyDocument")
    check_managed_size(document)
    tags = tags_of(p)
    check_tags(TagTarget.POLICY, tags)

    def policies(limit: int) -> int:  # at the quota, a taken name is still EntityAlreadyExists
        count = tx.count_policies(call.account, at_most=limit)
        return 0 if count >= limit and _policy_name_taken(tx, call.account, p["PolicyName"]) else count

    check_entity_quota(tx, call.account, "Policies", policies)
    policy = tx.create_policy(
        call.account, p["PolicyName"], document, path=p.get("Path") or "/", description=p.get("Description"),
        tags=tags,
    )  # fmt: skip
    return {"Policy": policy_shape(policy, tags)}


def _policy_name_taken(tx: ReadTx, account: str, name: str) -> bool:
    marker = None
    while True:
        listed = tx.list_policies(account, scope=PolicyScope.LOCAL, marker=marker, max_items=1000)
        if any(x.name.lower() == name.lower() for x in listed.items):
            return True
        if listed.marker is None:
            return False
        marker = listed.marker


def get_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    policy = tx.get_policy(call.params["PolicyArn"])
    return {"Policy": policy_shape(policy, _policy_tags(tx, policy))}


def delete_policy(call: Call, tx: Tx) -> None:
    tx.delete_policy(call.params["PolicyArn"])


def list_policies(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    usage = p.get("PolicyUsageFilter")
    result = tx.list_policies(
        call.account,
        scope=PolicyScope(p.get("Scope", "All")),
        only_attached=bool(p.get("OnlyAttached", False)),
        usage=PolicyUsage(usage) if usage else None,
        path_prefix=p.get("PathPrefix") or "/",
        marker=p.get("Marker"),
        max_items=p.get("MaxItems", 100),
    )
    return page({"Policies": [policy_shape(x, full=False) for x in result.items]}, result)


def create_policy_version(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    document = p["PolicyDocument"]
    check_document(document, DocumentKind.IDENTITY, "PolicyDocument")
    check_managed_size(document)
    version = tx.create_policy_version(p["PolicyArn"], document, set_as_default=bool(p.get("SetAsDefault", False)))
    return {"PolicyVersion": version_shape(version, document=False)}


def get_policy_version(call: Call, tx: ReadTx) -> dict[str, Any]:
    version = tx.get_policy_version(call.params["PolicyArn"], call.params["VersionId"])
    return {"PolicyVersion": version_shape(version)}


def list_policy_versions(call: Call, tx: ReadTx) -> dict[str, Any]:
    tx.get_policy(call.params["PolicyArn"])
    result = page_of(tx.list_policy_versions(call.params["PolicyArn"]), call.params, "policy-versions")
    return page({"Versions": [version_shape(v, document=False) for v in result.items]}, result)


def set_default_policy_version(call: Call, tx: Tx) -> None:
    tx.set_default_policy_version(call.params["PolicyArn"], call.params["VersionId"])


def delete_policy_version(call: Call, tx: Tx) -> None:
    tx.delete_policy_version(call.params["PolicyArn"], call.params["VersionId"])


def attach_policy(call: Call, tx: Tx) -> None:
    kind = _entity(call.operation)
    name = _name(call, kind)
    _require_entity(tx, call, kind, modifies=True)
    arn = call.params["PolicyArn"]
    try:
        policy = tx.get_policy(arn)
    except NotFound:
        raise aws.NoSuchEntity(f"Policy {arn} does not exist or is not attachable.") from None
    if not policy.is_attachable:
        raise aws.NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    attached = tx.list_attached_policies(kind, call.account, name, max_items=1000).items
    if len(attached) >= MAX_ATTACHED and all(a.arn != arn for a in attached):
        quota = {
            EntityKind.USER: "PoliciesPerUser",
            EntityKind.GROUP: "PoliciesPerGroup",
            EntityKind.ROLE: "PoliciesPerRole",
        }
        raise aws.LimitExceeded(f"Cannot exceed quota for {quota[kind]}: {MAX_ATTACHED}")
    tx.attach_policy(kind, call.account, name, arn)


def detach_policy(call: Call, tx: Tx) -> None:
    kind = _entity(call.operation)
    _require_entity(tx, call, kind, modifies=True)
    arn = call.params["PolicyArn"]
    try:
        tx.detach_policy(kind, call.account, _name(call, kind), arn)
    except NotFound:
        raise aws.NoSuchEntity(f"Policy {arn} was not found.") from None


def list_attached_policies(call: Call, tx: ReadTx) -> dict[str, Any]:
    kind = _entity(call.operation)
    _require_entity(tx, call, kind)
    p = call.params
    result = tx.list_attached_policies(
        kind, call.account, _name(call, kind), path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"),
        max_items=p.get("MaxItems", 100),
    )  # fmt: skip
    items = [{"PolicyName": a.name, "PolicyArn": a.arn} for a in result.items]
    return page({"AttachedPolicies": items}, result)


def list_entities_for_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    tx.get_policy(p["PolicyArn"])
    entity_filter = p.get("EntityFilter")
    kind = {"User": EntityKind.USER, "Group": EntityKind.GROUP, "Role": EntityKind.ROLE}.get(entity_filter or "")
    usage = p.get("PolicyUsageFilter")
    result = tx.list_entities_for_policy(
        p["PolicyArn"], account=call.account, entity_filter=kind,
        usage=PolicyUsage(usage) if usage else PolicyUsage.PERMISSIONS_POLICY,
        path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"), max_items=p.get("MaxItems", 100),
    )  # fmt: skip
    out: dict[str, list[dict[str, str]]] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
    for e in result.items:
        key = {EntityKind.USER: "User", EntityKind.GROUP: "Group", EntityKind.ROLE: "Role"}[e.kind]
        out[f"Policy{key}s"].append({f"{key}Name": e.name, f"{key}Id": e.id})
    return page(dict(out), result)


def put_inline_policy(call: Call, tx: Tx) -> None:
    kind = _entity(call.operation)
    name = _name(call, kind)
    _require_entity(tx, call, kind, modifies=True)
    p = call.params
    document = p["PolicyDocument"]
    check_document(document, DocumentKind.IDENTITY, "PolicyDocument")
    others = [x.document for x in tx.list_inline_policies(kind, call.account, name) if x.name != p["PolicyName"]]
    check_inline_aggregate(kind.value, name, [*others, document])
    tx.put_inline_policy(kind, call.account, name, p["PolicyName"], document)


def get_inline_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    kind = _entity(call.operation)
    name = _name(call, kind)
    _require_entity(tx, call, kind)
    policy_name = call.params["PolicyName"]
    try:
        policy = tx.get_inline_policy(kind, call.account, name, policy_name)
    except NotFound:
        raise aws.NoSuchEntity(f"The {kind.value} policy with name {policy_name} cannot be found.") from None
    label = kind.value.capitalize()
    return {f"{label}Name": name, "PolicyName": policy.name, "PolicyDocument": policy.document}


def delete_inline_policy(call: Call, tx: Tx) -> None:
    kind = _entity(call.operation)
    name = _name(call, kind)
    _require_entity(tx, call, kind, modifies=True)
    policy_name = call.params["PolicyName"]
    try:
        tx.delete_inline_policy(kind, call.account, name, policy_name)
    except NotFound:
        raise aws.NoSuchEntity(f"The {kind.value} policy with name {policy_name} cannot be found.") from None


def list_inline_policies(call: Call, tx: ReadTx) -> dict[str, Any]:
    kind = _entity(call.operation)
    _require_entity(tx, call, kind)
    p = call.params
    result = tx.list_inline_policy_names(
        kind, call.account, _name(call, kind), marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"PolicyNames": list(result.items)}, result)


def put_boundary(call: Call, tx: Tx) -> None:
    kind = _entity(call.operation)
    _require_entity(tx, call, kind, modifies=True)
    arn = call.params["PermissionsBoundary"]
    check_boundary(tx, arn)
    tx.put_permissions_boundary(kind, call.account, _name(call, kind), arn)


def delete_boundary(call: Call, tx: Tx) -> None:
    kind = _entity(call.operation)
    _require_entity(tx, call, kind, modifies=True)
    tx.delete_permissions_boundary(kind, call.account, _name(call, kind))
