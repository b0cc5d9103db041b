"""The organization, its root and policy types, OUs, and member accounts (docs/organizations.md).

Lifecycle facts from the AWS Organizations User Guide ("Creating an organization", "Enabling
and disabling policy types", "Managing organizational units", "Creating a member account",
"Removing a member account") and the API reference of each operation.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import Any

from iamd.protocol.json_codec import InvalidInputException
from iamd.service.call import Call
from iamd.store import (
    CreateAccountStatus,
    EntityKind,
    NotFound,
    OrgAccount,
    Organization,
    OrgRoot,
    OrgTree,
    OrgUnit,
    ReadTx,
    Tx,
)

from . import errors as e
from .common import caller_tree, check_tags, page, target_kind
from .model import (
    AUTHORIZATION_TYPES,
    DEFAULT_POLICY,
    account_shape,
    new_id,
    organization_shape,
    root_shape,
    status_shape,
    unit_shape,
)
from .policies import policy_type_of

MAX_ACCOUNTS = 10  # accounts per organization (AWS Organizations User Guide, "Quotas and service limits")
MAX_UNITS = 1000
MAX_DEPTH = 5  # OU levels below the root
ACCESS_ROLE = "OrganizationAccountAccessRole"
ADMINISTRATOR = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def management_email(account_id: str) -> str:
    """The management account's email: iamd keeps none for its own accounts (docs/organizations.md)."""
    return f"{account_id}@iamd.invalid"


# -- the organization ----------------------------------------------------------------------------
def create_organization(call: Call, tx: Tx) -> dict[str, Any]:
    if tx.organization_of(call.account) is not None:
        raise e.AlreadyInOrganizationException("The AWS account is already a member of an organization.")
    feature_set = call.params.get("FeatureSet", "ALL")
    org = Organization(new_id("o-", 10), call.account, feature_set, call.now)
    # An ALL-features organization starts with SCPs enabled and FullAWSAccess attached (Organizations API
    # "CreateOrganization").
    types = ("SERVICE_CONTROL_POLICY",) if feature_set == "ALL" else ()
    root = OrgRoot(new_id("r-", 4), org.id, "Root", types)
    account = tx.get_account(call.account)
    name = account.alias or call.account
    management = OrgAccount(call.account, org.id, root.id, name, management_email(call.account), "INVITED", call.now)
    tx.create_organization(org, root, management)
    for policy_type in types:
        for target in (root.id, call.account):
            tx.attach_org_policy(org.id, target, DEFAULT_POLICY[policy_type])
    return {"Organization": organization_shape(tx.org_tree(org.id), management.email)}


def describe_organization(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    mgmt = tree.accounts.get(tree.organization.management_account_id)
    email = mgmt.email if mgmt is not None else management_email(tree.organization.management_account_id)
    return {"Organization": organization_shape(tree, email)}


def delete_organization(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    if len(tree.accounts) > 1:
        raise e.OrganizationNotEmptyException(
            "To delete an organization you must first remove all member accounts (except the master)."
        )
    tx.delete_organization(tree.organization.id)


def leave_organization(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    if call.account == tree.organization.management_account_id:
        raise e.MasterCannotLeaveOrganizationException(
            "You can't remove the management account from an organization. Delete the organization instead."
        )
    _not_delegated(tree, call.account)
    tx.delete_org_account(call.account)
    tx.set_org_tags(tree.organization.id, call.account, ())


# -- the root and policy types -------------------------------------------------------------------
def list_roots(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    return page(call, [tree.root], "Roots", lambda _: root_shape(tree))


def _root(tree: OrgTree, root_id: str) -> None:
    if root_id != tree.root.id:
        raise e.RootNotFoundException("You specified a root that doesn't exist.")


def enable_policy_type(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    _root(tree, call.params["RootId"])
    policy_type = call.params["PolicyType"]
    if tree.organization.feature_set != "ALL":
        raise e.PolicyTypeNotAvailableForOrganizationException(
            "This operation can be performed only for policy types available in the organization."
        )
    if policy_type in tree.root.policy_types:
        raise e.PolicyTypeAlreadyEnabledException("The specified policy type is already enabled.")
    tx.set_root_policy_types(tree.root.id, (*tree.root.policy_types, policy_type))
    default = DEFAULT_POLICY.get(policy_type)
    if default is not None:  # the AWS managed policy of the type, on every root, OU and account
        for target in (tree.root.id, *tree.units, *tree.accounts):
            tx.attach_org_policy(tree.organization.id, target, default)
    return {"Root": root_shape(tx.org_tree(tree.organization.id))}


def disable_policy_type(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    _root(tree, call.params["RootId"])
    policy_type = call.params["PolicyType"]
    if policy_type not in tree.root.policy_types:
        raise e.PolicyTypeNotEnabledException("This operation can be performed only for enabled policy types.")
    tx.set_root_policy_types(tree.root.id, tuple(t for t in tree.root.policy_types if t != policy_type))
    # Every policy of the type is detached from every entity; the policies themselves remain.
    tx.detach_org_policies(
        tree.organization.id, [(t, p) for t, p in tree.attachments if policy_type_of(tree, p) == policy_type]
    )
    return {"Root": root_shape(tx.org_tree(tree.organization.id))}


# -- organizational units ------------------------------------------------------------------------
def _parent(tree: OrgTree, parent_id: str) -> str:
    kind = target_kind(tree, parent_id)
    if kind not in ("ROOT", "ORGANIZATIONAL_UNIT"):
        raise e.ParentNotFoundException("You specified a parent that doesn't exist.")
    return parent_id


def _unit(tree: OrgTree, unit_id: str) -> OrgUnit:
    unit = tree.units.get(unit_id)
    if unit is None:
        raise e.OrganizationalUnitNotFoundException("You specified an organizational unit that doesn't exist.")
    return unit


def _check_sibling_name(tree: OrgTree, parent_id: str, name: str, unit_id: str | None = None) -> None:
    for unit in tree.units.values():
        if unit.parent_id == parent_id and unit.name == name and unit.id != unit_id:
            raise e.DuplicateOrganizationalUnitException("An OU with the same name already exists.")


def _attach_defaults(tx: Tx, tree: OrgTree, target_id: str) -> None:
    """A new OU or account gets the AWS managed policy of each enabled authorization type."""
    for policy_type in AUTHORIZATION_TYPES:
        if policy_type in tree.root.policy_types:
            tx.attach_org_policy(tree.organization.id, target_id, DEFAULT_POLICY[policy_type])


def create_organizational_unit(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    parent = _parent(tree, call.params["ParentId"])
    name = call.params["Name"]
    if len(tree.parent_chain(parent)) > MAX_DEPTH:  # the root and the OUs above the new one
        raise e.ConstraintViolationException(
            "You have reached the maximum depth of organizational units.", "OU_DEPTH_LIMIT_EXCEEDED"
        )
    if len(tree.units) >= MAX_UNITS:
        raise e.ConstraintViolationException(
            "You have reached the maximum number of organizational units.", "OU_NUMBER_LIMIT_EXCEEDED"
        )
    _check_sibling_name(tree, parent, name)
    unit = OrgUnit(f"ou-{tree.root.id[2:]}-" + new_id("", 8), tree.organization.id, parent, name, call.now)
    tags = check_tags((), call.params.get("Tags", ()))
    tx.put_org_unit(unit)
    _attach_defaults(tx, tree, unit.id)
    if tags:
        tx.set_org_tags(tree.organization.id, unit.id, tags)
    return {"OrganizationalUnit": unit_shape(tx.org_tree(tree.organization.id), unit)}


def describe_organizational_unit(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    return {"OrganizationalUnit": unit_shape(tree, _unit(tree, call.params["OrganizationalUnitId"]))}


def update_organizational_unit(call: Call, tx: Tx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    unit = _unit(tree, call.params["OrganizationalUnitId"])
    name = call.params.get("Name")
    if name is not None and name != unit.name:
        _check_sibling_name(tree, unit.parent_id, name, unit.id)
        unit = replace(unit, name=name)
        tx.put_org_unit(unit)
    return {"OrganizationalUnit": unit_shape(tree, unit)}


def delete_organizational_unit(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    unit = _unit(tree, call.params["OrganizationalUnitId"])
    if any(u.parent_id == unit.id for u in tree.units.values()) or any(
        a.parent_id == unit.id for a in tree.accounts.values()
    ):
        raise e.OrganizationalUnitNotEmptyException(
            "The specified organizational unit isn't empty. Move or remove its accounts and child OUs first."
        )
    tx.delete_org_unit(unit.id)


def list_organizational_units_for_parent(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    parent = _parent(tree, call.params["ParentId"])
    units = sorted((u for u in tree.units.values() if u.parent_id == parent), key=lambda u: u.id)
    return page(call, units, "OrganizationalUnits", lambda u: unit_shape(tree, u))


def list_children(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    parent = _parent(tree, call.params["ParentId"])
    child_type = call.params["ChildType"]
    if child_type == "ACCOUNT":
        ids = sorted(a.account_id for a in tree.accounts.values() if a.parent_id == parent)
    else:
        ids = sorted(u.id for u in tree.units.values() if u.parent_id == parent)
    return page(call, ids, "Children", lambda i: {"Id": i, "Type": child_type})


def list_parents(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    child = call.params["ChildId"]
    if target_kind(tree, child) not in ("ACCOUNT", "ORGANIZATIONAL_UNIT"):
        raise e.ChildNotFoundException("You specified a child that doesn't exist.")
    parent = tree.parent_chain(child)[-2]
    kind = "ROOT" if parent == tree.root.id else "ORGANIZATIONAL_UNIT"
    return page(call, [parent], "Parents", lambda p: {"Id": p, "Type": kind})


# -- accounts ------------------------------------------------------------------------------------
def _account(tree: OrgTree, account_id: str) -> OrgAccount:
    account = tree.accounts.get(account_id)
    if account is None:
        raise e.AccountNotFoundException("You specified an account that doesn't exist.")
    return account


def _new_account_id(tx: Tx) -> str:
    while True:
        candidate = f"{secrets.randbelow(9 * 10**11) + 10**11:012d}"
        try:
            tx.get_account(candidate)
        except NotFound:
            return candidate


def create_account(call: Call, tx: Tx) -> dict[str, Any]:
    """Create a real account of this server, under the root (Organizations API "CreateAccount").

    Done at once: the answer says ``IN_PROGRESS`` as AWS's does, and the first
    DescribeCreateAccountStatus already says ``SUCCEEDED`` (or ``FAILED`` with the reason).
    """
    tree = caller_tree(call, tx)
    params = call.params
    role_name = params.get("RoleName") or ACCESS_ROLE
    if role_name.startswith("AWSServiceRoleFor"):
        raise InvalidInputException("You provided a role name that isn't valid.", "INVALID_ROLE_NAME")
    tags = check_tags((), params.get("Tags", ()))
    status = CreateAccountStatus(new_id("car-", 32), tree.organization.id, params["AccountName"], "IN_PROGRESS",
                                 call.now)  # fmt: skip
    failure = None
    if len(tree.accounts) >= MAX_ACCOUNTS:
        failure = "ACCOUNT_LIMIT_EXCEEDED"
    elif tx.org_email_taken(params["Email"]):
        failure = "EMAIL_ALREADY_EXISTS"
    if failure is not None:
        tx.put_create_account_status(replace(status, state="FAILED", completed=call.now, failure_reason=failure))
        return {"CreateAccountStatus": status_shape(status)}
    account_id = _new_account_id(tx)
    tx.create_account(account_id, created_by_organization=tree.organization.id)
    tx.put_org_account(OrgAccount(account_id, tree.organization.id, tree.root.id, params["AccountName"],
                                  params["Email"], "CREATED", call.now))  # fmt: skip
    _attach_defaults(tx, tree, account_id)
    if tags:
        tx.set_org_tags(tree.organization.id, account_id, tags)
    # The role the management account administers the new account through: it trusts the management
    # account as a whole and has full administrator permissions, inline (AWS Organizations User Guide,
    # "Accessing a member account that has a management account access role").
    management = tree.organization.management_account_id
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": call.env.partition.arn("iam", management, "root")},
         "Action": "sts:AssumeRole"}
    ]}  # fmt: skip
    tx.create_role(account_id, role_name, assume_role_policy=json.dumps(trust))
    tx.put_inline_policy(EntityKind.ROLE, account_id, role_name, "AdministratorAccess", ADMINISTRATOR)
    tx.put_create_account_status(replace(status, state="SUCCEEDED", completed=call.now, account_id=account_id))
    return {"CreateAccountStatus": status_shape(status)}


def describe_create_account_status(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    try:
        status = tx.get_create_account_status(tree.organization.id, call.params["CreateAccountRequestId"])
    except NotFound:
        raise e.CreateAccountStatusNotFoundException(
            "We can't find a create account request with the CreateAccountRequestId that you specified."
        ) from None
    return {"CreateAccountStatus": status_shape(status)}


def list_create_account_status(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    states = call.params.get("States")
    found = [s for s in tx.list_create_account_statuses(tree.organization.id) if not states or s.state in states]
    return page(call, found, "CreateAccountStatuses", status_shape)


def describe_account(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    return {"Account": account_shape(tree, _account(tree, call.params["AccountId"]))}


def list_accounts(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    accounts = sorted(tree.accounts.values(), key=lambda a: (a.joined_timestamp, a.account_id))
    return page(call, accounts, "Accounts", lambda a: account_shape(tree, a))


def list_accounts_for_parent(call: Call, tx: ReadTx) -> dict[str, Any]:
    tree = caller_tree(call, tx)
    parent = _parent(tree, call.params["ParentId"])
    accounts = sorted((a for a in tree.accounts.values() if a.parent_id == parent), key=lambda a: a.account_id)
    return page(call, accounts, "Accounts", lambda a: account_shape(tree, a))


def move_account(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    account = _account(tree, call.params["AccountId"])
    source, destination = call.params["SourceParentId"], call.params["DestinationParentId"]
    if target_kind(tree, source) not in ("ROOT", "ORGANIZATIONAL_UNIT") or account.parent_id != source:
        raise e.SourceParentNotFoundException("You specified a source parent that doesn't exist.")
    if target_kind(tree, destination) not in ("ROOT", "ORGANIZATIONAL_UNIT"):
        raise e.DestinationParentNotFoundException("You specified a destination parent that doesn't exist.")
    if destination == source:
        raise e.DuplicateAccountException("That account is already present in the specified destination.")
    tx.put_org_account(replace(account, parent_id=destination))


def remove_account_from_organization(call: Call, tx: Tx) -> None:
    tree = caller_tree(call, tx)
    account = _account(tree, call.params["AccountId"])
    if account.account_id == tree.organization.management_account_id:
        raise e.MasterCannotLeaveOrganizationException(
            "You can't remove the management account from an organization. Delete the organization instead."
        )
    _not_delegated(tree, account.account_id)
    tx.delete_org_account(account.account_id)


def _not_delegated(tree: OrgTree, account_id: str) -> None:
    """A delegated administrator must be deregistered before it leaves (Organizations API
    "RemoveAccountFromOrganization", ``CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG``)."""
    if any(account == account_id for account, _ in tree.delegated_admins):
        raise e.ConstraintViolationException(
            "You can't remove an account that is a delegated administrator. Deregister it first.",
            "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG",
        )
