"""Centralized root access for member accounts: the IAM operations that turn it on and off for
an organization (Enable/DisableOrganizationsRootCredentialsManagement,
Enable/DisableOrganizationsRootSessions, ListOrganizationsFeatures) and STS AssumeRoot, the
privileged task session on a member account (IAM User Guide, "Centrally manage root access for
member accounts", "Perform a privileged task on an AWS Organizations member account"; STS API
"AssumeRoot"; docs/organizations.md, "Root access in member accounts").

A member account registered as the delegated administrator for ``iam.amazonaws.com``
(Organizations RegisterDelegatedAdministrator) may do what the management account does here
except enable a feature: list and disable them, and call AssumeRoot on the other member accounts.

An AssumeRoot session is a root session of the member account whose task policy (an AWS managed
policy under ``/root-task/``) is its session policy: the engine lets root do only what the task
policy allows, and the member account's SCPs still apply.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from iamd import errors as aws
from iamd.service.authorize import authorize_action
from iamd.service.call import Call
from iamd.sessions import SessionClaims, SessionKind, issue_credentials
from iamd.store import ReadTx, Tx
from iamd.store.organizations import Organization

__all__ = [
    "ROOT_TASK_POLICIES",
    "assume_root",
    "disable_organizations_root_credentials_management",
    "disable_organizations_root_sessions",
    "enable_organizations_root_credentials_management",
    "enable_organizations_root_sessions",
    "list_organizations_features",
]

CREDENTIALS = "RootCredentialsManagement"
SESSIONS = "RootSessions"
FEATURES = (CREDENTIALS, SESSIONS)  # the order answers list them in
ROOT_TASK_POLICIES = frozenset({
    "IAMAuditRootUserCredentials", "IAMCreateRootUserPassword", "IAMDeleteRootUserCredentials",
    "S3UnlockBucketPolicy", "SQSUnlockQueuePolicy",
})  # fmt: skip
MAX_DURATION = 900  # seconds (STS API "AssumeRoot")
IAM_SERVICE = "iam.amazonaws.com"


def _delegated_for_iam(tx: ReadTx, org: Organization, account: str) -> bool:
    """Whether ``account`` is the organization's delegated administrator for IAM."""
    return (account, IAM_SERVICE) in tx.org_tree(org.id).delegated_admins


def _organization(call: Call, tx: ReadTx, *, enabling: bool) -> Organization:
    """The caller's organization, if the caller may manage its root-access features."""
    org = tx.organization_of(call.account)
    if org is None:
        raise aws.OrganizationNotFoundException("The request was rejected because your account is not a member of "
                                                "an organization.")  # fmt: skip
    if org.feature_set != "ALL":
        raise aws.OrganizationNotInAllFeaturesModeException(
            "The request was rejected because the organization does not have all features enabled."
        )
    if call.account != org.management_account_id:
        if enabling:
            raise aws.CallerIsNotManagementAccountException(
                "The request was rejected because the caller is not the management account of the organization."
            )
        if _delegated_for_iam(tx, org, call.account):
            return org
        raise aws.AccountNotManagementOrDelegatedAdministratorException(
            "The request was rejected because the account is neither the management account nor a delegated "
            "administrator for IAM."
        )
    return org


def _answer(org: Organization, features: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"OrganizationId": org.id, "EnabledFeatures": [f for f in FEATURES if f in features]}


def _switch(call: Call, tx: Tx, feature: str, on: bool) -> dict[str, Any]:
    org = _organization(call, tx, enabling=on)
    current = set(tx.list_org_root_features(org.id))
    wanted = current | {feature} if on else current - {feature}
    if wanted != current:
        tx.set_org_root_features(org.id, [f for f in FEATURES if f in wanted])
    return _answer(org, sorted(wanted))


def enable_organizations_root_credentials_management(call: Call, tx: Tx) -> dict[str, Any]:
    return _switch(call, tx, CREDENTIALS, True)


def disable_organizations_root_credentials_management(call: Call, tx: Tx) -> dict[str, Any]:
    return _switch(call, tx, CREDENTIALS, False)


def enable_organizations_root_sessions(call: Call, tx: Tx) -> dict[str, Any]:
    return _switch(call, tx, SESSIONS, True)


def disable_organizations_root_sessions(call: Call, tx: Tx) -> dict[str, Any]:
    return _switch(call, tx, SESSIONS, False)


def list_organizations_features(call: Call, tx: ReadTx) -> dict[str, Any]:
    org = _organization(call, tx, enabling=False)
    return _answer(org, tx.list_org_root_features(org.id))


# -- STS AssumeRoot ------------------------------------------------------------------------------
def _target_account(target: str) -> str | None:
    """The member account an AssumeRoot ``TargetPrincipal`` names: an account id or its root ARN."""
    if len(target) == 12 and target.isdigit():
        return target
    parts = target.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[5] == "root":
        account = parts[4]
        return account if len(account) == 12 and account.isdigit() else None
    return None


def _refused(call: Call, resource: str, why: str) -> aws.AccessDenied:
    """AWS's denial text, with iamd's reason (the policies allowed the call; the organization did not)."""
    return aws.AccessDenied(f"User: {call.caller.principal.arn} is not authorized to perform: sts:AssumeRoot on "
                            f"resource: {resource} because {why}")  # fmt: skip


def assume_root(call: Call, tx: ReadTx) -> dict[str, Any]:
    caller = call.caller
    p = call.params
    target = str(p["TargetPrincipal"])
    account = _target_account(target)
    if account is None:
        raise aws.InvalidParameterValue(f"TargetPrincipal {target} is not an account id or an account's root ARN.")
    task_arn = str((p.get("TaskPolicyArn") or {}).get("arn", ""))
    prefix = f"arn:{call.partition}:iam::aws:policy/root-task/"
    if not task_arn.startswith(prefix) or task_arn.removeprefix(prefix) not in ROOT_TASK_POLICIES:
        raise aws.InvalidParameterValue(f"TaskPolicyArn {task_arn} is not a root task policy.")
    resource = f"arn:{call.partition}:iam::{account}:root"
    if caller.is_root:  # AWS: root user credentials cannot make this call
        raise _refused(call, resource, "root user credentials cannot call AssumeRoot")
    authorize_action(call, tx, "sts:AssumeRoot", resource, [("sts:TaskPolicyArn", task_arn)])
    org = tx.organization_of(call.account)
    denied = None
    managing = org is not None and (
        org.management_account_id == call.account or _delegated_for_iam(tx, org, call.account)
    )
    if org is None or org.feature_set != "ALL" or not managing:
        denied = (
            "the caller's account is neither the management account of an organization nor its delegated "
            "administrator for IAM"
        )
    elif SESSIONS not in tx.list_org_root_features(org.id):
        denied = f"root sessions are not enabled for the organization {org.id}"
    elif account in (call.account, org.management_account_id) or tx.organization_of(account) != org:
        denied = f"account {account} is not a member account of the organization {org.id}"
    if denied is not None:
        raise _refused(call, resource, denied)
    duration = int(p.get("DurationSeconds") or MAX_DURATION)
    claims = SessionClaims(
        kind=SessionKind.ROOT, account=account, issued_at=call.now, expires_at=call.now + timedelta(seconds=duration),
        secret_access_key="", policy_arns=(task_arn,), partition=call.partition,
        source_identity=caller.session.source_identity if caller.session is not None else None,
        extra={"assumedRoot": True, "assumedBy": caller.principal.arn},
    )  # fmt: skip
    issued, _ = issue_credentials(call.env.secret_box, claims)
    out: dict[str, Any] = {"Credentials": issued.response()}
    if claims.source_identity:
        out["SourceIdentity"] = claims.source_identity
    return out
