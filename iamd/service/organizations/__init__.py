"""AWS Organizations: the operations iamd implements, name → (handler, writes, who may call it).

Handlers have the IAM operations' shape, ``handler(call, tx) -> dict | None``. ``who`` says
whose account may call: ``management`` (the management account only; a member account is
answered ``AccessDeniedException``, as AWS answers one that is not a delegated
administrator), ``reader`` (the management account, a delegated administrator of any service,
or a member account the delegation policy allows), ``delegable`` (the management account, or a
member account the delegation policy allows), ``member`` (any account of the organization) or
``anyone`` (CreateOrganization: an account in no organization); see
:mod:`iamd.service.organizations.delegation`. An operation of the model absent here is answered
``NotImplemented`` (docs/organizations.md says which and why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import delegation, policies, tree

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
    "ListRoots": _r(tree.list_roots, "reader"),
    "EnablePolicyType": _w(tree.enable_policy_type, "delegable"),
    "DisablePolicyType": _w(tree.disable_policy_type, "delegable"),
    # organizational units
    "CreateOrganizationalUnit": _w(tree.create_organizational_unit),
    "DescribeOrganizationalUnit": _r(tree.describe_organizational_unit, "reader"),
    "UpdateOrganizationalUnit": _w(tree.update_organizational_unit),
    "DeleteOrganizationalUnit": _w(tree.delete_organizational_unit),
    "ListOrganizationalUnitsForParent": _r(tree.list_organizational_units_for_parent, "reader"),
    "ListChildren": _r(tree.list_children, "reader"),
    "ListParents": _r(tree.list_parents, "reader"),
    # accounts
    "CreateAccount": _w(tree.create_account),
    "DescribeCreateAccountStatus": _r(tree.describe_create_account_status, "reader"),
    "ListCreateAccountStatus": _r(tree.list_create_account_status, "reader"),
    "DescribeAccount": _r(tree.describe_account, "reader"),
    "ListAccounts": _r(tree.list_accounts, "reader"),
    "ListAccountsForParent": _r(tree.list_accounts_for_parent, "reader"),
    "MoveAccount": _w(tree.move_account),
    "RemoveAccountFromOrganization": _w(tree.remove_account_from_organization),
    # policies and attachments
    "CreatePolicy": _w(policies.create_policy, "delegable"),
    "DescribePolicy": _r(policies.describe_policy, "reader"),
    "UpdatePolicy": _w(policies.update_policy, "delegable"),
    "DeletePolicy": _w(policies.delete_policy, "delegable"),
    "ListPolicies": _r(policies.list_policies, "reader"),
    "AttachPolicy": _w(policies.attach_policy, "delegable"),
    "DetachPolicy": _w(policies.detach_policy, "delegable"),
    "ListPoliciesForTarget": _r(policies.list_policies_for_target, "reader"),
    "ListTargetsForPolicy": _r(policies.list_targets_for_policy, "reader"),
    # tags
    "TagResource": _w(policies.tag_resource, "delegable"),
    "UntagResource": _w(policies.untag_resource, "delegable"),
    "ListTagsForResource": _r(policies.list_tags_for_resource, "reader"),
    # trusted access, delegated administrators and the delegation policy
    "EnableAWSServiceAccess": _w(delegation.enable_aws_service_access),
    "DisableAWSServiceAccess": _w(delegation.disable_aws_service_access),
    "ListAWSServiceAccessForOrganization": _r(delegation.list_aws_service_access_for_organization, "reader"),
    "RegisterDelegatedAdministrator": _w(delegation.register_delegated_administrator),
    "DeregisterDelegatedAdministrator": _w(delegation.deregister_delegated_administrator),
    "ListDelegatedAdministrators": _r(delegation.list_delegated_administrators, "reader"),
    "ListDelegatedServicesForAccount": _r(delegation.list_delegated_services_for_account, "reader"),
    "PutResourcePolicy": _w(delegation.put_resource_policy),
    "DescribeResourcePolicy": _r(delegation.describe_resource_policy, "reader"),
    "DeleteResourcePolicy": _w(delegation.delete_resource_policy),
}
