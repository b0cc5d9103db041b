"""Authorizing Organizations calls: the engine on ``organizations:<Operation>``, then who may call.

The resource of each operation is the one AWS's Service Authorization Reference lists for
it ("Actions, resources, and condition keys for AWS Organizations"): the policy, root, OU or
account the request names (AttachPolicy/DetachPolicy: the policy and the target; MoveAccount:
the account and both parents), ``*`` for operations on the organization as a whole. The
caller's policies come from the policy cache like every other call's, so SCPs bind member
accounts here too. Organizations resources are evaluated as the caller's own (an identity
policy suffices, as AWS does for Organizations): the ARNs carry the management account's id
only as a name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from iamd import errors as aws
from iamd.policy import Context as PolicyContext
from iamd.policy import Decision, PolicySet, PolicyType, Request, build_context, evaluate
from iamd.service.authorize import DecisionCounter, PolicyCache, request_context
from iamd.service.call import Call
from iamd.store import OrgTree, ReadTx

from . import OrgOperation
from .common import NO_PERMISSION, NOT_IN_USE, policy_of, target_kind
from .delegation import DELEGABLE, delegated_services, resource_policy_arn
from .errors import AccessDeniedException, AWSOrganizationsNotInUseException
from .model import membership, policy_arn, target_arn

__all__ = ["authorize_organizations", "resource_arns"]

_POLICY = frozenset({"DescribePolicy", "UpdatePolicy", "DeletePolicy", "ListTargetsForPolicy"})
_PARENT = frozenset(
    {"CreateOrganizationalUnit", "ListChildren", "ListOrganizationalUnitsForParent", "ListAccountsForParent"}
)
_UNIT = frozenset({"DescribeOrganizationalUnit", "UpdateOrganizationalUnit", "DeleteOrganizationalUnit"})
_ACCOUNT = frozenset({"DescribeAccount", "RemoveAccountFromOrganization", "RegisterDelegatedAdministrator",
                      "DeregisterDelegatedAdministrator", "ListDelegatedServicesForAccount"})  # fmt: skip
_RESOURCE_POLICY = frozenset({"PutResourcePolicy", "DescribeResourcePolicy", "DeleteResourcePolicy"})
_TARGET = {"ListPoliciesForTarget": "TargetId", "TagResource": "ResourceId", "UntagResource": "ResourceId",
           "ListTagsForResource": "ResourceId", "ListParents": "ChildId"}  # fmt: skip
_TAGGED = frozenset({"CreateAccount", "CreateOrganizationalUnit", "CreatePolicy", "TagResource"})


def _arn(tree: OrgTree, ident: str | None) -> str:
    """The ARN of a root, OU, account, policy or resource policy id of this organization; ``*`` if it names none."""
    if not ident:
        return "*"
    if target_kind(tree, ident) is not None:
        return target_arn(tree, ident)
    if tree.resource_policy is not None and ident == tree.resource_policy.id:
        return resource_policy_arn(tree, ident)
    policy = policy_of(tree, ident)
    return policy_arn(tree, policy.id, policy.type) if policy is not None else "*"


def resource_arns(operation: str, params: Mapping[str, Any], tree: OrgTree | None) -> list[str]:
    """The resources ``operation`` is authorized against (module doc)."""
    if tree is None:
        return ["*"]
    if operation in _POLICY:
        return [_arn(tree, params.get("PolicyId"))]
    if operation in ("AttachPolicy", "DetachPolicy"):
        return [_arn(tree, params.get("PolicyId")), _arn(tree, params.get("TargetId"))]
    if operation in _PARENT:
        return [_arn(tree, params.get("ParentId"))]
    if operation in _UNIT:
        return [_arn(tree, params.get("OrganizationalUnitId"))]
    if operation in _ACCOUNT:
        return [_arn(tree, params.get("AccountId"))]
    if operation == "MoveAccount":
        return [_arn(tree, params.get(k)) for k in ("AccountId", "SourceParentId", "DestinationParentId")]
    if operation in ("EnablePolicyType", "DisablePolicyType"):
        return [_arn(tree, params.get("RootId"))]
    if operation in _TARGET:
        return [_arn(tree, params.get(_TARGET[operation]))]
    if operation in _RESOURCE_POLICY and tree.resource_policy is not None:
        return [resource_policy_arn(tree, tree.resource_policy.id)]
    return ["*"]


def _context_items(call: Call, tree: OrgTree | None) -> list[tuple[str, str | Sequence[str]]]:
    """The request's keys: the common ones, ``organizations:PolicyType``, and the request's tags."""
    params = call.params
    items = request_context(call)
    policy_type = params.get("Type") or params.get("PolicyType") or params.get("Filter")
    if policy_type is None and tree is not None and params.get("PolicyId"):
        found = policy_of(tree, params["PolicyId"])
        policy_type = found.type if found is not None else None
    if isinstance(policy_type, str):
        items.append(("organizations:PolicyType", policy_type))
    if isinstance(params.get("ServicePrincipal"), str):
        items.append(("organizations:ServicePrincipal", params["ServicePrincipal"]))
    tags = params.get("Tags") or ()
    if tags:
        items += [(f"aws:RequestTag/{t['Key']}", t.get("Value", "")) for t in tags]
        items.append(("aws:TagKeys", [t["Key"] for t in tags]))
    elif params.get("TagKeys"):
        items.append(("aws:TagKeys", list(params["TagKeys"])))
    return items


def _context(call: Call, tree: OrgTree | None) -> PolicyContext:
    """The request context. An organization's resources (its root, OUs, accounts and policies)
    belong to its management account, whose id their ARNs carry: ``aws:ResourceAccount`` is that
    account and ``aws:ResourceOrgID``/``OrgPaths`` its organization's keys; with no organization
    yet (CreateOrganization) the resource is the caller's account (docs/organizations.md,
    "Condition keys")."""
    if tree is None:
        return build_context(call.caller.principal, _context_items(call, tree), resource_account=call.account)
    management = tree.organization.management_account_id
    return build_context(
        call.caller.principal, _context_items(call, tree), resource_account=management,
        principal_org=membership(tree, call.account), resource_org=membership(tree, management),
    )  # fmt: skip


def authorize_organizations(
    call: Call, tx: ReadTx, operation: OrgOperation, cache: PolicyCache, counter: DecisionCounter | None = None
) -> Decision:
    """Raise unless the caller may make this call; the decision on the call's own action.

    In order: an account in no organization may only create one (``AWSOrganizationsNotInUseException``);
    the engine must allow ``organizations:<Operation>`` on every resource (``AccessDenied``, SCPs
    included); a member account may call a management-account operation only as a delegated
    administrator (``AccessDeniedException``; :func:`_member_may_call`).
    """
    org = tx.organization_of(call.account)
    if org is None and operation.who != "anyone":
        raise AWSOrganizationsNotInUseException(NOT_IN_USE)
    tree = tx.org_tree(org.id) if org is not None else None
    policies = cache.for_caller(tx, call.caller)
    context = PolicyContext.deferred(functools.partial(_context, call, tree))
    action = f"organizations:{call.operation}"
    first: Decision | None = None
    for arn in resource_arns(call.operation, call.params, tree):
        decision = evaluate(Request(call.caller.principal, action, arn, context, call.account), policies)
        if counter is not None:
            counter.add(decision.verdict)
        if not decision.allowed:
            raise aws.AccessDenied(decision.message or "Access denied", decision)
        first = first or decision
    if call.operation in _TAGGED and call.params.get("Tags"):
        tagging = evaluate(Request(call.caller.principal, "organizations:TagResource", "*", context, call.account),
                           policies)  # fmt: skip
        if not tagging.allowed:
            raise aws.AccessDenied(tagging.message or "Access denied", tagging)
    if tree is not None and call.account != tree.organization.management_account_id:
        _member_may_call(call, operation, tree, cache, policies, context)
    assert first is not None
    return first


def _member_may_call(
    call: Call,
    operation: OrgOperation,
    tree: OrgTree,
    cache: PolicyCache,
    policies: PolicySet,
    context: PolicyContext,
) -> None:
    """A member account's call, its own policies having allowed it: a ``member`` operation is its
    own; a ``reader`` one is allowed to a delegated administrator of any service; a ``reader`` or
    ``delegable`` one to an account the delegation policy allows it to, evaluated as a cross-account
    request to the management account (both sides must allow; docs/organizations.md, "Delegation").
    Anything else is ``AccessDeniedException``, as AWS answers a member account."""
    if operation.who == "member":
        return
    if operation.who == "reader" and delegated_services(tree, call.account):
        return
    found = tree.resource_policy
    if operation.who in ("reader", "delegable") and found is not None and call.operation in DELEGABLE:
        arn = resource_policy_arn(tree, found.id)
        delegation = cache.loader.stored(found.content, PolicyType.RESOURCE, "ResourcePolicy",
                                         f"delegation policy {arn}", arn=arn)  # fmt: skip
        combined = cache.loader.with_resource(policies, delegation, ())
        management = tree.organization.management_account_id
        action = f"organizations:{call.operation}"
        asked = [(action, resource) for resource in resource_arns(call.operation, call.params, tree)]
        if call.operation in _TAGGED and call.params.get("Tags"):
            asked.append(("organizations:TagResource", "*"))  # delegated too, as for the caller's own policies
        if all(evaluate(Request(call.caller.principal, a, r, context, management), combined).allowed
               for a, r in asked):  # fmt: skip
            return
    raise AccessDeniedException(NO_PERMISSION)
