"""Organizations' identifiers, ARNs, AWS managed policies and response shapes (docs/organizations.md).

IDs follow the model's patterns and AWS's usual lengths: ``o-`` + 10, ``r-`` + 4,
``ou-<root suffix>-`` + 8, ``p-`` + 8, ``car-`` + 32 lower-case letters and digits. Every ARN
carries the **management** account's id (AWS Organizations User Guide, "ARN formats").
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from iamd.policy import OrgMembership
from iamd.store import CreateAccountStatus, OrgAccount, OrgPolicy, OrgTree, OrgUnit

__all__ = [
    "AUTHORIZATION_TYPES",
    "MANAGED",
    "POLICY_TYPES",
    "RCP",
    "SCP",
    "ManagedPolicy",
    "account_arn",
    "account_shape",
    "membership",
    "new_id",
    "org_arn",
    "policy_arn",
    "policy_shape",
    "root_arn",
    "root_shape",
    "unit_arn",
]

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
AUTHORIZATION_TYPES = (SCP, RCP)
# Every policy type of the model; only SCPs and RCPs govern authorization, the others are stored.
POLICY_TYPES = (
    SCP, RCP, "TAG_POLICY", "BACKUP_POLICY", "AISERVICES_OPT_OUT_POLICY", "CHATBOT_POLICY", "DECLARATIVE_POLICY_EC2",
    "SECURITYHUB_POLICY", "INSPECTOR_POLICY", "UPGRADE_ROLLOUT_POLICY", "BEDROCK_POLICY", "S3_POLICY",
    "NETWORK_SECURITY_DIRECTOR_POLICY",
)  # fmt: skip
# Largest policy content in characters (AWS Organizations User Guide, "Quotas and service limits").
MAX_CONTENT = {SCP: 5120, RCP: 5120, "TAG_POLICY": 10_000, "BACKUP_POLICY": 10_000, "AISERVICES_OPT_OUT_POLICY": 2500}
DEFAULT_MAX_CONTENT = 10_000

_ALNUM = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """An AWS managed authorization policy, attached by default where its type is enabled."""

    id: str
    name: str
    type: str
    description: str
    content: str

    def arn(self, partition: str = "aws") -> str:
        return f"arn:{partition}:organizations::aws:policy/{self.type.lower()}/{self.id}"


MANAGED = {
    "p-FullAWSAccess": ManagedPolicy(
        "p-FullAWSAccess", "FullAWSAccess", SCP, "Allows access to every operation",
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Action": "*",\n'
        '      "Resource": "*"\n    }\n  ]\n}',
    ),
    "p-RCPFullAWSAccess": ManagedPolicy(
        "p-RCPFullAWSAccess", "RCPFullAWSAccess", RCP, "Allows access to every resource",
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Principal": "*",\n'
        '      "Action": "*",\n      "Resource": "*"\n    }\n  ]\n}',
    ),
}  # fmt: skip
DEFAULT_POLICY = {SCP: "p-FullAWSAccess", RCP: "p-RCPFullAWSAccess"}


# -- ARNs ------------------------------------------------------------------------------------
def org_arn(tree: OrgTree) -> str:
    o = tree.organization
    return f"arn:{tree.partition}:organizations::{o.management_account_id}:organization/{o.id}"


def root_arn(tree: OrgTree) -> str:
    o = tree.organization
    return f"arn:{tree.partition}:organizations::{o.management_account_id}:root/{o.id}/{tree.root.id}"


def unit_arn(tree: OrgTree, unit_id: str) -> str:
    o = tree.organization
    return f"arn:{tree.partition}:organizations::{o.management_account_id}:ou/{o.id}/{unit_id}"


def account_arn(tree: OrgTree, account_id: str) -> str:
    o = tree.organization
    return f"arn:{tree.partition}:organizations::{o.management_account_id}:account/{o.id}/{account_id}"


def policy_arn(tree: OrgTree, policy_id: str, policy_type: str) -> str:
    if policy_id in MANAGED:
        return MANAGED[policy_id].arn(tree.partition)
    o = tree.organization
    return (
        f"arn:{tree.partition}:organizations::{o.management_account_id}:policy/{o.id}/{policy_type.lower()}/{policy_id}"
    )


def target_arn(tree: OrgTree, target_id: str) -> str:
    if target_id == tree.root.id:
        return root_arn(tree)
    if target_id in tree.units:
        return unit_arn(tree, target_id)
    return account_arn(tree, target_id)


def path_of(tree: OrgTree, target_id: str) -> str:
    """The entity path ``o-…/r-…/ou-…/`` down to ``target_id``, included (``OrganizationalUnit.Path``,
    ``Account.Paths``; the condition keys use the path of an account's parent, docs/organizations.md)."""
    return "/".join([tree.organization.id, *tree.parent_chain(target_id)]) + "/"


def membership(tree: OrgTree, account_id: str) -> OrgMembership:
    """The organization condition keys' values for an account of ``tree``: the organization's id
    and the path of the account's parent, ``o-…/r-…/`` for an account under the root
    (``aws:PrincipalOrgPaths``, ``aws:ResourceOrgPaths``; docs/organizations.md, "Condition keys")."""
    chain = tree.parent_chain(account_id)[:-1] or [tree.root.id]
    return OrgMembership(tree.organization.id, ("/".join([tree.organization.id, *chain]) + "/",))


# -- shapes ------------------------------------------------------------------------------------
def organization_shape(tree: OrgTree, management_email: str) -> dict[str, Any]:
    o = tree.organization
    available = [{"Type": SCP, "Status": "ENABLED"}] if o.feature_set == "ALL" and SCP in tree.root.policy_types else []
    return {
        "Id": o.id, "Arn": org_arn(tree), "FeatureSet": o.feature_set,
        "MasterAccountArn": account_arn(tree, o.management_account_id), "MasterAccountId": o.management_account_id,
        "MasterAccountEmail": management_email, "AvailablePolicyTypes": available,
    }  # fmt: skip


def root_shape(tree: OrgTree) -> dict[str, Any]:
    types = [{"Type": t, "Status": "ENABLED"} for t in tree.root.policy_types]
    return {"Id": tree.root.id, "Arn": root_arn(tree), "Name": tree.root.name, "PolicyTypes": types}


def unit_shape(tree: OrgTree, unit: OrgUnit) -> dict[str, Any]:
    return {"Id": unit.id, "Arn": unit_arn(tree, unit.id), "Name": unit.name, "Path": path_of(tree, unit.id)}


def account_shape(tree: OrgTree, account: OrgAccount) -> dict[str, Any]:
    return {
        "Id": account.account_id, "Arn": account_arn(tree, account.account_id), "Email": account.email,
        "Name": account.name, "Status": account.status, "State": account.status,
        "Paths": [path_of(tree, account.account_id)],
        "JoinedMethod": account.joined_method, "JoinedTimestamp": account.joined_timestamp,
    }  # fmt: skip


def policy_summary(tree: OrgTree, policy: OrgPolicy | ManagedPolicy) -> dict[str, Any]:
    managed = isinstance(policy, ManagedPolicy)
    return {
        "Id": policy.id, "Arn": policy_arn(tree, policy.id, policy.type), "Name": policy.name,
        "Description": policy.description, "Type": policy.type, "AwsManaged": managed,
    }  # fmt: skip


def policy_shape(tree: OrgTree, policy: OrgPolicy | ManagedPolicy) -> dict[str, Any]:
    return {"PolicySummary": policy_summary(tree, policy), "Content": policy.content}


def status_shape(status: CreateAccountStatus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": status.id, "AccountName": status.account_name, "State": status.state,
        "RequestedTimestamp": status.requested,
    }  # fmt: skip
    if status.completed is not None:
        out["CompletedTimestamp"] = status.completed
    if status.account_id is not None:
        out["AccountId"] = status.account_id
    if status.failure_reason is not None:
        out["FailureReason"] = status.failure_reason
    return out
