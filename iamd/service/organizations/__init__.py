"""AWS Organizations: the operations iamd implements, name → (handler, writes, who may call it).

Handlers have the IAM operations' shape, ``handler(call, tx) -> dict | None``. ``who`` says
whose account may call: ``management`` (the management account only; a member account is
answered ``AccessDeniedException``, as AWS answers one that is not a delegated
administrator), ``member`` (any account of the organization) or ``anyone`` (CreateOrganization:
an account in no organization). An operation of the model absent here is answered
``NotImplemented`` (docs/organizations.md says which and why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import policies, tree

__all__ = ["OPERATIONS", "OrgOperation"]


@dataclass(frozen=True, slots=True)
class OrgOperation:
    handler: Callable[..., dict[str, Any] | None]
    writes: bool
    who: str = "management"


def _w(handler: Callable[..., Any], who: str = "management") -> OrgOperation:
    return OrgOperation(handler, True, who)


def _r(handler: Callable[..., Any], who: str = "management") -> OrgOperation:
    return OrgOperation(handler, False, who)


OPERATIONS: dict[str, OrgOperation] = {
    # the organization
    "CreateOrganization": _w(tree.create_organization, "anyone"),
    "DescribeOrganization": _r(tree.describe_organization, "member"),
    "DeleteOrganization": _w(tree.delete_organization),
    "LeaveOrganization": _w(tree.leave_organization, "member"),
    # the root and policy types
    "ListRoots": _r(tree.list_roots),
    "EnablePolicyType": _w(tree.enable_policy_type),
    "DisablePolicyType": _w(tree.disable_policy_type),
    # organizational units
    "CreateOrganizationalUnit": _w(tree.create_organizational_unit),
    "DescribeOrganizationalUnit": _r(tree.describe_organizational_unit),
    "UpdateOrganizationalUnit": _w(tree.update_organizational_unit),
    "DeleteOrganizationalUnit": _w(tree.delete_organizational_unit),
    "ListOrganizationalUnitsForParent": _r(tree.list_organizational_units_for_parent),
    "ListChildren": _r(tree.list_children),
    "ListParents": _r(tree.list_parents),
    # accounts
    "CreateAccount": _w(tree.create_account),
    "DescribeCreateAccountStatus": _r(tree.describe_create_account_status),
    "ListCreateAccountStatus": _r(tree.list_create_account_status),
    "DescribeAccount": _r(tree.describe_account),
    "ListAccounts": _r(tree.list_accounts),
    "ListAccountsForParent": _r(tree.list_accounts_for_parent),
    "MoveAccount": _w(tree.move_account),
    "RemoveAccountFromOrganization": _w(tree.remove_account_from_organization),
    # policies and attachments
    "CreatePolicy": _w(policies.create_policy),
    "DescribePolicy": _r(policies.describe_policy),
    "UpdatePolicy": _w(policies.update_policy),
    "DeletePolicy": _w(policies.delete_policy),
    "ListPolicies": _r(policies.list_policies),
    "AttachPolicy": _w(policies.attach_policy),
    "DetachPolicy": _w(policies.detach_policy),
    "ListPoliciesForTarget": _r(policies.list_policies_for_target),
    "ListTargetsForPolicy": _r(policies.list_targets_for_policy),
    # tags
    "TagResource": _w(policies.tag_resource),
    "UntagResource": _w(policies.untag_resource),
    "ListTagsForResource": _r(policies.list_tags_for_resource),
}
