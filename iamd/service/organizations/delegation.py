"""Trusted access, delegated administrators and the delegation policy (docs/organizations.md, "Delegation").

* **Trusted access** (EnableAWSServiceAccess, DisableAWSServiceAccess,
  ListAWSServiceAccessForOrganization): which AWS services may work in the organization's
  accounts. Only the service principals of :data:`SERVICES` are recognized.
* **Delegated administrators** (RegisterDelegatedAdministrator, DeregisterDelegatedAdministrator,
  ListDelegatedAdministrators, ListDelegatedServicesForAccount): a member account registered for
  a service whose trusted access is enabled. Registration "grants read-only access to AWS
  Organizations service data" (Organizations API "RegisterDelegatedAdministrator"): the
  account may call the read-only operations of :data:`READ_ONLY`.
* **The delegation policy** (PutResourcePolicy, DescribeResourcePolicy, DeleteResourcePolicy):
  a resource-based policy of the organization naming member accounts and the Organizations
  actions they may perform (AWS Organizations User Guide, "Delegated administrator for AWS
  Organizations"): read-only actions and policy management, :data:`DELEGABLE`. A call through
  it is evaluated cross-account: the caller's own policies (and SCPs) and the delegation
  policy must both allow it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from iamd.policy import DocumentKind
from iamd.policy.document import Check, PolicyValidationError, parse_policy
from iamd.policy.model import PolicyDocument
from iamd.policy.wildcard import compile_glob
from iamd.protocol.json_codec import InvalidInputException
from iamd.service.call import Call
from iamd.store import OrgResourcePolicy, OrgTree, ReadTx, Tx

from . import errors as e
from .common import caller_tree, check_tags, page
from .model import account_arn, new_id

__all__ = [
    "DELEGABLE",
    "READ_ONLY",
    "SERVICES",
    "delegated_services",
    "resource_policy_arn",
]

# The service principals iamd recognizes for trusted access, with how many delegated
# administrators each accepts (0: the service has none). From AWS Organizations User Guide,
# "AWS services that you can use with AWS Organizations" (its "Supports delegated
# administrator" column) and each service's guide; docs/organizations.md lists them.
SERVICES: dict[str, int] = {
    "access-analyzer.amazonaws.com": 1,
    "account.amazonaws.com": 1,
    "auditmanager.amazonaws.com": 1,
    "backup.amazonaws.com": 1,
    "cloudtrail.amazonaws.com": 3,
    "compute-optimizer.amazonaws.com": 1,
    "config.amazonaws.com": 3,
    "config-multiaccountsetup.amazonaws.com": 3,
    "controltower.amazonaws.com": 0,
    "detective.amazonaws.com": 1,
    "guardduty.amazonaws.com": 1,
    "health.amazonaws.com": 1,
    "iam.amazonaws.com": 1,
    "inspector2.amazonaws.com": 1,
    "ipam.amazonaws.com": 1,
    "license-manager.amazonaws.com": 1,
    "macie.amazonaws.com": 1,
    "member.org.stacksets.cloudformation.amazonaws.com": 5,
    "ram.amazonaws.com": 0,
    "securityhub.amazonaws.com": 1,
    "securitylake.amazonaws.com": 1,
    "servicecatalog.amazonaws.com": 1,
    "sso.amazonaws.com": 1,
    "ssm.amazonaws.com": 1,
    "storage-lens.s3.amazonaws.com": 1,
    "tagpolicies.tag.amazonaws.com": 0,
}

# The operations a delegated administrator (of any service) may call: those the Organizations API
# reference says "can be called only from the organization's management account or by a member
# account that is a delegated administrator" and that only read.
READ_ONLY = frozenset({
    "DescribeAccount", "DescribeCreateAccountStatus", "DescribeOrganizationalUnit", "DescribePolicy",
    "DescribeResourcePolicy", "ListAWSServiceAccessForOrganization", "ListAccounts", "ListAccountsForParent",
    "ListChildren", "ListCreateAccountStatus", "ListDelegatedAdministrators", "ListDelegatedServicesForAccount",
    "ListOrganizationalUnitsForParent", "ListParents", "ListPolicies", "ListPoliciesForTarget", "ListRoots",
    "ListTagsForResource", "ListTargetsForPolicy",
})  # fmt: skip
# Policy management, which only the delegation policy delegates (AWS Organizations User Guide,
# "Resource-based policy examples for AWS Organizations").
POLICY_MANAGEMENT = frozenset({
    "CreatePolicy", "UpdatePolicy", "DeletePolicy", "AttachPolicy", "DetachPolicy", "EnablePolicyType",
    "DisablePolicyType", "TagResource", "UntagResource",
})  # fmt: skip
# What a delegation policy may name; anything else is refused when it is put.
DELEGABLE = READ_ONLY | POLICY_MANAGEMENT | {"DescribeOrganization"}

MAX_RESOURCE_POLICY = 40_000  # characters (the model's limit on ResourcePolicyContent)


def delegated_services(tree: OrgTree, account_id: str) -> list[tuple[str, datetime]]:
    """The services ``account_id`` is a delegated administrator for, by name, with their dates."""
    return sorted((sp, when) for (account, sp), when in tree.delegated_admins.items() if account == account_id)


# -- trusted access ------------------------------------------------------------------------------
def _recognized(principal: str, delegable: bool = False) -> str:
    if principal not in SERVICES or (delegable and SERVICES[principal] == 0):
        raise InvalidInputException("You specified a service principal that isn't recognized.",
                                    "UNRECOGNIZED_SERVICE_PRINCIPAL")  # fmt: skip
    return principal


def enable_aws_service_access(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    principal = _recognized(call.params["ServicePrincipal"])
    if tree.organization.feature_set != "ALL":
        raise e.ConstraintViolationException(
            "Trusted access can be enabled only in an organization with all features enabled.",
            "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE",
        )
    if principal not in tree.service_access:  # enabling what is enabled changes nothing
        tx.set_org_service_access(tree.organization.id, principal, call.now)


def disable_aws_service_access(call: Call, tx: Tx) -> None:
    """Disabling trusted access also deregisters the service's delegated administrators: nothing
    is left granted for a service that may no longer work in the organization (docs/organizations.md)."""
    tree = caller_tree(call, tx)
    principal = _recognized(call.params["ServicePrincipal"])
    if principal not in tree.service_access:
        return
    registered = [(account, sp) for account, sp in tree.delegated_admins if sp == principal]
    if registered:
        tx.delete_org_delegated_admins(tree.organization.id, registered)
    tx.set_org_service_access(tree.organization.id, principal, None)


def list_aws_service_access_for_organization(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    enabled = sorted(tree.service_access.items())
    return page(call, enabled, "EnabledServicePrincipals", lambda x: {"ServicePrincipal": x[0], "DateEnabled": x[1]})


# -- delegated administrators -----------------------------------------------------------------
def _member(tree: OrgTree, account_id: str) -> str:
    if account_id not in tree.accounts:
        raise e.AccountNotFoundException("You specified an account that doesn't exist.")
    return account_id


def register_delegated_administrator(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    principal = _recognized(call.params["ServicePrincipal"], delegable=True)
    account = _member(tree, call.params["AccountId"])
    if account == tree.organization.management_account_id:
        raise e.ConstraintViolationException(
            "You can't register the management account of the organization as a delegated administrator.",
            "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
        )
    if principal not in tree.service_access:
        raise e.ConstraintViolationException(
            "You must enable trusted access for the service before you register a delegated administrator for it.",
            "SERVICE_ACCESS_NOT_ENABLED",
        )
    if (account, principal) in tree.delegated_admins:
        raise e.AccountAlreadyRegisteredException(
            "The specified account is already a delegated administrator for this AWS service."
        )
    limit = SERVICES[principal]
    if sum(sp == principal for _, sp in tree.delegated_admins) >= limit:
        if limit == 1:
            raise e.ConstraintViolationException(
                "The service already has a delegated administrator.", "DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE"
            )
        raise e.ConstraintViolationException(
            "You have reached the maximum number of delegated administrators for this service.",
            "MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED",
        )
    tx.put_org_delegated_admin(tree.organization.id, account, principal, call.now)


def deregister_delegated_administrator(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    principal = _recognized(call.params["ServicePrincipal"], delegable=True)
    account = _member(tree, call.params["AccountId"])
    if (account, principal) not in tree.delegated_admins:
        raise e.AccountNotRegisteredException(
            "The specified account is not a delegated administrator for this AWS service."
        )
    tx.delete_org_delegated_admins(tree.organization.id, [(account, principal)])


def list_delegated_administrators(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    wanted = call.params.get("ServicePrincipal")
    if wanted is not None:
        _recognized(wanted, delegable=True)
    since: dict[str, datetime] = {}  # account -> the earliest registration that matches
    for (account, sp), when in tree.delegated_admins.items():
        if (wanted is None or sp == wanted) and account in tree.accounts:
            since[account] = min(when, since.get(account, when))

    def shape(account_id: str) -> dict[str, Any]:
        a = tree.accounts[account_id]
        return {
            "Id": a.account_id, "Arn": account_arn(tree, a.account_id), "Email": a.email, "Name": a.name,
            "Status": a.status, "State": a.status, "JoinedMethod": a.joined_method,
            "JoinedTimestamp": a.joined_timestamp, "DelegationEnabledDate": since[account_id],
        }  # fmt: skip

    return page(call, sorted(since), "DelegatedAdministrators", shape)


def list_delegated_services_for_account(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    account = _member(tree, call.params["AccountId"])
    services = delegated_services(tree, account)
    if not services:
        raise e.AccountNotRegisteredException("The specified account is not a delegated administrator.")
    return page(call, services, "DelegatedServices",
                lambda x: {"ServicePrincipal": x[0], "DelegationEnabledDate": x[1]})  # fmt: skip


# -- the delegation policy ----------------------------------------------------------------------
def resource_policy_arn(tree: OrgTree, policy_id: str) -> str:
    o = tree.organization
    return f"arn:{tree.partition}:organizations::{o.management_account_id}:resourcepolicy/{o.id}/{policy_id}"


def _shape(tree: OrgTree, policy: OrgResourcePolicy) -> dict[str, Any]:
    return {"ResourcePolicySummary": {"Id": policy.id, "Arn": resource_policy_arn(tree, policy.id)},
            "Content": policy.content}  # fmt: skip


_DELEGABLE_LOWER = tuple(f"organizations:{name.lower()}" for name in sorted(DELEGABLE))


def _aws_principal(text: str, partition: str) -> bool:
    """An account id, or an account's root, IAM user or role ARN in the server's partition."""
    if len(text) == 12 and text.isdigit():
        return True
    prefix = f"arn:{partition}:iam::"
    if not text.startswith(prefix):
        return False
    account, _, rest = text[len(prefix) :].partition(":")
    if len(account) != 12 or not account.isdigit():
        return False
    return rest == "root" or (rest.startswith(("user/", "role/")) and len(rest) > 5)


def check_delegation_policy(tree: OrgTree, content: str) -> PolicyDocument:
    """A delegation policy, validated: a resource-based policy whose principals are accounts (or
    their IAM users and roles), whose actions are delegable Organizations actions and whose
    resources are the organization's. ``NotPrincipal``, ``NotAction`` and ``NotResource`` are
    refused (AWS Organizations User Guide, "Update a resource-based delegation policy")."""
    try:
        doc = parse_policy(content, DocumentKind.RESOURCE)
    except PolicyValidationError as problem:
        if problem.problems[0].check in _PRINCIPAL_CHECKS:
            raise _invalid_principal() from None
        raise InvalidInputException("The provided resource policy document isn't a valid policy.",
                                    "INVALID_RESOURCE_POLICY_JSON") from None  # fmt: skip
    for st in doc.statements:
        principal = st.principal
        if (st.not_principal is not None or principal is None or principal.wildcard or principal.service
                or principal.federated or principal.canonical_user or not principal.aws
                or not all(_aws_principal(p, tree.partition) for p in principal.aws)):  # fmt: skip
            raise _invalid_principal()
        if st.not_actions is not None or not _delegable(st.actions or ()):
            raise InvalidInputException("The provided policy contains an action that can't be delegated.",
                                        "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY")  # fmt: skip
        own = f"arn:{tree.partition}:organizations::"
        if st.not_resources is not None or not all(r == "*" or r.startswith(own) for r in st.resources or ("",)):
            raise InvalidInputException("The provided policy contains a resource that can't be delegated.",
                                        "UNSUPPORTED_RESOURCE_IN_RESOURCE_POLICY")  # fmt: skip
    return doc


_PRINCIPAL_CHECKS = frozenset({Check.PRINCIPAL_MISSING, Check.PRINCIPAL_INVALID, Check.NOT_PRINCIPAL_ALLOW})


def _invalid_principal() -> InvalidInputException:
    return InvalidInputException("You specified an invalid principal element in the policy.", "INVALID_PRINCIPAL")


def _delegable(actions: Iterable[str]) -> bool:
    """Every action is an Organizations action matching at least one delegable operation (a
    pattern such as ``organizations:List*`` is accepted; it delegates only what is delegable)."""
    found = False
    for action in actions:
        found = True
        lower = action.lower()
        if not lower.startswith("organizations:"):
            return False
        matches = compile_glob(lower)
        if not any(matches(name) for name in _DELEGABLE_LOWER):
            return False
    return found


def put_resource_policy(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    content = call.params["Content"]
    check_delegation_policy(tree, content)
    existing = tree.resource_policy
    policy = OrgResourcePolicy(existing.id if existing is not None else new_id("rp-", 8), tree.organization.id,
                               content)  # fmt: skip
    old_tags = tx.list_org_tags(tree.organization.id, policy.id) if existing is not None else ()
    tags = check_tags(old_tags, call.params.get("Tags", ()))
    tx.put_org_resource_policy(policy)
    if call.params.get("Tags"):
        tx.set_org_tags(tree.organization.id, policy.id, tags)
    return {"ResourcePolicy": _shape(tree, policy)}


def _resource_policy(tree: OrgTree) -> OrgResourcePolicy:
    if tree.resource_policy is None:
        raise e.ResourcePolicyNotFoundException("We can't find a resource policy request with the parameter "
                                                "that you specified.")  # fmt: skip
    return tree.resource_policy


def describe_resource_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    return {"ResourcePolicy": _shape(tree, _resource_policy(tree))}


def delete_resource_policy(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    _resource_policy(tree)
    tx.delete_org_resource_policy(tree.organization.id)
