"""Organizations policies, their attachments, and tags (docs/organizations.md, policies).

SCP and RCP content is validated by iamd's one policy validator (``DocumentKind.SCP``/``RCP``,
the rules of AWS Organizations User Guide "SCP syntax" and "RCP syntax"); AWS names no rule
in its answer, so neither does iamd (``MalformedPolicyDocumentException`` with AWS's text).
Other policy types are stored as JSON documents, unevaluated.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from iamd.policy import DocumentKind
from iamd.policy.document import PolicyValidationError, parse_policy
from iamd.protocol.json_codec import InvalidInputException
from iamd.service.call import Call
from iamd.store import OrgPolicy, OrgTree, ReadTx, Tx

from . import errors as e
from .common import caller_tree, check_tags, page, policy_of, target_kind
from .model import (
    DEFAULT_MAX_CONTENT,
    MANAGED,
    MAX_CONTENT,
    RCP,
    SCP,
    ManagedPolicy,
    new_id,
    policy_shape,
    policy_summary,
    target_arn,
)

MAX_POLICIES = 1000  # per type per organization (AWS Organizations User Guide, "Quotas and service limits")
MAX_ATTACHED = 5  # SCPs (or RCPs) attached directly to one root, OU or account
MALFORMED = "The provided policy document does not meet the requirements of the specified policy type."
_KINDS = {SCP: DocumentKind.SCP, RCP: DocumentKind.RCP}


def _policy(tree: OrgTree, policy_id: str) -> OrgPolicy | ManagedPolicy:
    found = policy_of(tree, policy_id)
    if found is None:
        raise e.PolicyNotFoundException("We can't find a policy with the PolicyId that you specified.")
    return found


def _available(tree: OrgTree) -> None:
    if tree.organization.feature_set != "ALL":
        raise e.PolicyTypeNotAvailableForOrganizationException(
            "You can't use policies in an organization that doesn't have all features enabled."
        )


def _check_content(policy_type: str, content: str) -> None:
    if len(content) > MAX_CONTENT.get(policy_type, DEFAULT_MAX_CONTENT):
        raise e.ConstraintViolationException(
            "The provided policy document exceeds the maximum size.", "POLICY_CONTENT_LIMIT_EXCEEDED"
        )
    kind = _KINDS.get(policy_type)
    try:
        if kind is not None:
            parse_policy(content, kind)
        elif not isinstance(json.loads(content), dict):
            raise ValueError("not a JSON object")
    except (PolicyValidationError, ValueError):
        raise e.MalformedPolicyDocumentException(MALFORMED) from None


def _check_name(tree: OrgTree, policy_type: str, name: str, policy_id: str | None = None) -> None:
    taken = any(p.type == policy_type and p.name == name for p in MANAGED.values()) or any(
        p.type == policy_type and p.name == name and p.id != policy_id for p in tree.policies.values()
    )
    if taken:
        raise e.DuplicatePolicyException("A policy with the same name already exists.")


def _immutable(policy: OrgPolicy | ManagedPolicy) -> OrgPolicy:
    if isinstance(policy, ManagedPolicy):
        raise InvalidInputException("You can't modify or delete an AWS managed policy.", "IMMUTABLE_POLICY")
    return policy


def create_policy(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    _available(tree)
    params = call.params
    policy_type, name, content = params["Type"], params["Name"], params["Content"]
    _check_content(policy_type, content)
    if sum(p.type == policy_type for p in tree.policies.values()) >= MAX_POLICIES:
        raise e.ConstraintViolationException(
            "You have reached the maximum number of policies of this type.", "POLICY_NUMBER_LIMIT_EXCEEDED"
        )
    _check_name(tree, policy_type, name)
    tags = check_tags((), params.get("Tags", ()))
    policy = OrgPolicy(new_id("p-", 8), tree.organization.id, policy_type, name, params["Description"], content,
                       call.now)  # fmt: skip
    tx.put_org_policy(policy)
    if tags:
        tx.set_org_tags(tree.organization.id, policy.id, tags)
    return {"Policy": policy_shape(tree, policy)}


def describe_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    return {"Policy": policy_shape(tree, _policy(tree, call.params["PolicyId"]))}


def update_policy(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    policy = _immutable(_policy(tree, call.params["PolicyId"]))
    params = call.params
    if params.get("Content") is not None:
        _check_content(policy.type, params["Content"])
        policy = replace(policy, content=params["Content"])
    if params.get("Name") is not None:
        _check_name(tree, policy.type, params["Name"], policy.id)
        policy = replace(policy, name=params["Name"])
    if params.get("Description") is not None:
        policy = replace(policy, description=params["Description"])
    tx.put_org_policy(policy)
    return {"Policy": policy_shape(tree, policy)}


def delete_policy(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    policy = _immutable(_policy(tree, call.params["PolicyId"]))
    if any(p == policy.id for _, p in tree.attachments):
        raise e.PolicyInUseException("The policy is attached to one or more entities. Detach it first.")
    tx.delete_org_policy(policy.id)


def list_policies(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    policy_type = call.params["Filter"]
    found: list[OrgPolicy | ManagedPolicy] = [p for p in MANAGED.values() if p.type == policy_type]
    found += sorted((p for p in tree.policies.values() if p.type == policy_type), key=lambda p: (p.name, p.id))
    return page(call, found, "Policies", lambda p: policy_summary(tree, p))


def _target(tree: OrgTree, target_id: str) -> str:
    kind = target_kind(tree, target_id)
    if kind is None:
        raise e.TargetNotFoundException("We can't find a root, OU, account, or policy with the TargetId you specified.")
    return kind


def attach_policy(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    policy = _policy(tree, call.params["PolicyId"])
    target = call.params["TargetId"]
    if policy.type not in tree.root.policy_types:
        raise e.PolicyTypeNotEnabledException("This operation can be performed only for enabled policy types.")
    _target(tree, target)
    if (target, policy.id) in tree.attachments:
        raise e.DuplicatePolicyAttachmentException("The selected policy is already attached to the specified target.")
    if sum(policy_type_of(tree, p) == policy.type for p in tree.attached(target)) >= MAX_ATTACHED:
        raise e.ConstraintViolationException(
            "You have attached the maximum number of policies to the specified target.",
            "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
        )
    tx.attach_org_policy(tree.organization.id, target, policy.id)


def detach_policy(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    policy = _policy(tree, call.params["PolicyId"])
    target = call.params["TargetId"]
    _target(tree, target)
    if (target, policy.id) not in tree.attachments:
        raise e.PolicyNotAttachedException("The policy isn't attached to the specified target.")
    if policy.id == "p-RCPFullAWSAccess":
        raise InvalidInputException("You can't detach the RCPFullAWSAccess policy.", "NON_DETACHABLE_POLICY")
    if policy.type == SCP and sum(policy_type_of(tree, p) == SCP for p in tree.attached(target)) <= 1:
        raise e.ConstraintViolationException(
            "You can't detach the last service control policy from a root, OU or account.",
            "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
        )
    tx.detach_org_policies(tree.organization.id, [(target, policy.id)])


def policy_type_of(tree: OrgTree, policy_id: str) -> str | None:
    found = policy_of(tree, policy_id)
    return found.type if found is not None else None


def list_policies_for_target(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    target = call.params["TargetId"]
    _target(tree, target)
    policy_type = call.params["Filter"]
    found = [p for p in (policy_of(tree, i) for i in tree.attached(target)) if p is not None and p.type == policy_type]
    return page(call, found, "Policies", lambda p: policy_summary(tree, p))


def list_targets_for_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    policy = _policy(tree, call.params["PolicyId"])
    targets = sorted(t for t, p in tree.attachments if p == policy.id)
    return page(call, targets, "Targets", lambda t: _target_shape(tree, t))


def _target_shape(tree: OrgTree, target_id: str) -> dict[str, Any]:
    kind = target_kind(tree, target_id) or "ACCOUNT"
    if kind == "ROOT":
        name = tree.root.name
    elif kind == "ORGANIZATIONAL_UNIT":
        name = tree.units[target_id].name
    else:
        name = tree.accounts[target_id].name
    return {"TargetId": target_id, "Arn": target_arn(tree, target_id), "Name": name, "Type": kind}


# -- tags ----------------------------------------------------------------------------------------
def _taggable(tree: OrgTree, resource_id: str) -> str:
    delegation = tree.resource_policy.id if tree.resource_policy is not None else None
    if target_kind(tree, resource_id) is None and resource_id not in tree.policies and resource_id != delegation:
        raise e.TargetNotFoundException("We can't find a root, OU, account, or policy with the TargetId you specified.")
    return resource_id


def tag_resource(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    resource = _taggable(tree, call.params["ResourceId"])
    existing = tx.list_org_tags(tree.organization.id, resource)
    tx.set_org_tags(tree.organization.id, resource, check_tags(existing, call.params["Tags"]))


def untag_resource(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    resource = _taggable(tree, call.params["ResourceId"])
    gone = set(call.params["TagKeys"])
    kept = [(k, v) for k, v in tx.list_org_tags(tree.organization.id, resource) if k not in gone]
    tx.set_org_tags(tree.organization.id, resource, kept)


def list_tags_for_resource(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    resource = _taggable(tree, call.params["ResourceId"])
    tags = tx.list_org_tags(tree.organization.id, resource)
    return page(call, tags, "Tags", lambda t: {"Key": t[0], "Value": t[1]}, limit_key="")
