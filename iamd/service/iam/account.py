"""Account-level operations (IAM API "GetAccountSummary", "CreateAccountAlias")."""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.service.trust import shown_profile, shown_role
from iamd.store import EntityKind, PolicyScope, ReadTx, TagTarget, Tx

from .checks import ENTITY_QUOTAS, entity_quotas
from .shapes import (
    group_shape,
    instance_profile_shape,
    page,
    page_of,
    policy_shape,
    role_shape,
    tags_shape,
    user_shape,
    version_shape,
)
from .sts_preferences import global_endpoint_token_version

QUOTAS = {
    "UsersQuota": ENTITY_QUOTAS["Users"], "GroupsQuota": ENTITY_QUOTAS["Groups"], "RolesQuota": ENTITY_QUOTAS["Roles"],
    "PoliciesQuota": ENTITY_QUOTAS["Policies"], "InstanceProfilesQuota": ENTITY_QUOTAS["InstanceProfiles"],
    "ServerCertificatesQuota": 20, "GroupsPerUserQuota": 10,
    "AttachedPoliciesPerUserQuota": 10, "AttachedPoliciesPerGroupQuota": 10, "AttachedPoliciesPerRoleQuota": 10,
    "AccessKeysPerUserQuota": 2, "SigningCertificatesPerUserQuota": 2, "MFADevices": 0, "MFADevicesInUse": 0,
    "UserPolicySizeQuota": 2048, "GroupPolicySizeQuota": 5120, "RolePolicySizeQuota": 10240,
    "PolicySizeQuota": 6144, "PolicyVersionsInUseQuota": 10000, "VersionsPerPolicyQuota": 5,
    "AssumeRolePolicySizeQuota": 2048, "GlobalEndpointTokenVersion": 1,
}  # fmt: skip


def create_account_alias(call: Call, tx: Tx) -> None:
    alias = call.params["AccountAlias"]
    account = tx.get_account(call.account)
    if account.alias == alias:
        return
    tx.set_account_alias(call.account, alias)


def delete_account_alias(call: Call, tx: Tx) -> None:
    alias = call.params["AccountAlias"]
    if tx.get_account(call.account).alias != alias:
        raise aws.NoSuchEntity(f"The account alias {alias} cannot be found.")
    tx.set_account_alias(call.account, None)


def list_account_aliases(call: Call, tx: ReadTx) -> dict[str, Any]:
    alias = tx.get_account(call.account).alias
    result = page_of([alias] if alias else [], call.params, "account-aliases")
    return page({"AccountAliases": list(result.items)}, result)


def get_account_summary(call: Call, tx: ReadTx) -> dict[str, Any]:
    acct = call.account
    summary = dict(QUOTAS)
    summary.update({f"{name}Quota": value for name, value in entity_quotas(tx, acct).items()})
    # PolicyVersionsInUse counts the managed policies (customer and AWS) attached to at least
    # one user, group or role: only their default versions are in use. Features iamd does not
    # have (root MFA devices and password, signing certificates, server certificates) count 0.
    summary.update(
        Users=tx.count_users(acct), Groups=tx.count_groups(acct), Roles=tx.count_roles(acct),
        Policies=tx.count_policies(acct),
        InstanceProfiles=len(_all(lambda m: tx.list_instance_profiles(acct, marker=m, max_items=1000))),
        AccountAccessKeysPresent=int(bool(tx.list_access_keys(acct, None))),
        PolicyVersionsInUse=len(_all(lambda m: tx.list_policies(acct, only_attached=True, marker=m, max_items=1000))),
        AccountMFAEnabled=0, AccountPasswordPresent=0, AccountSigningCertificatesPresent=0, Providers=0,
        ServerCertificates=0,
    )  # fmt: skip
    # virtual MFA devices: created, and assigned to a user
    summary.update(
        MFADevices=tx.count_virtual_mfa_devices(acct),
        MFADevicesInUse=tx.count_virtual_mfa_devices(acct, assigned_only=True),
    )
    # identity providers: SAML and OIDC providers together, as AWS counts them
    summary["Providers"] = len(tx.list_oidc_providers(acct)) + len(tx.list_saml_providers(acct))
    summary["GlobalEndpointTokenVersion"] = global_endpoint_token_version(tx, acct)
    summary["AccountSigningCertificatesPresent"] = int(tx.root_has_signing_certificate(acct))
    summary["ServerCertificates"] = tx.count_server_certificates(acct)
    return {"SummaryMap": summary}


def _all(fetch: Any) -> list[Any]:
    items: list[Any] = []
    marker = None
    while True:
        result = fetch(marker)
        items.extend(result.items)
        if result.marker is None:
            return items
        marker = result.marker


def get_account_authorization_details(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Every detail list, paged as one sequence: users, groups, roles, then policies.

    AWS managed policies are listed only when attached to something (IAM API "GetAccountSummary", "CreateAccountAlias",
    observed). The marker is an offset in that sequence (see :func:`.shapes.page_of`).
    """
    acct = call.account
    wanted = set(call.params.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"])
    out: dict[str, Any] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}

    def attached(kind: EntityKind, name: str) -> list[dict[str, str]]:
        items = _all(lambda m: tx.list_attached_policies(kind, acct, name, marker=m, max_items=1000))
        return [{"PolicyName": a.name, "PolicyArn": a.arn} for a in items]

    def inline(kind: EntityKind, name: str) -> list[dict[str, str]]:
        return [{"PolicyName": p.name, "PolicyDocument": p.document} for p in tx.list_inline_policies(kind, acct, name)]

    if "User" in wanted:
        for u in _all(lambda m: tx.list_users(acct, marker=m, max_items=1000)):
            detail = user_shape(u, tx.list_tags(TagTarget.USER, acct, u.name), full=True)
            groups = _all(lambda m, n=u.name: tx.list_groups_for_user(acct, n, marker=m, max_items=1000))
            detail.update(
                GroupList=[g.name for g in groups], UserPolicyList=inline(EntityKind.USER, u.name),
                AttachedManagedPolicies=attached(EntityKind.USER, u.name),
            )  # fmt: skip
            out["UserDetailList"].append(detail)
    if "Group" in wanted:
        for g in _all(lambda m: tx.list_groups(acct, marker=m, max_items=1000)):
            detail = group_shape(g)
            detail.update(
                GroupPolicyList=inline(EntityKind.GROUP, g.name),
                AttachedManagedPolicies=attached(EntityKind.GROUP, g.name),
            )
            out["GroupDetailList"].append(detail)
    if "Role" in wanted:
        for r in _all(lambda m: tx.list_roles(acct, marker=m, max_items=1000)):
            detail = role_shape(shown_role(tx, r), tx.list_tags(TagTarget.ROLE, acct, r.name))
            profiles = _all(lambda m, n=r.name: tx.list_instance_profiles_for_role(acct, n, marker=m, max_items=1000))
            detail.update(
                RolePolicyList=inline(EntityKind.ROLE, r.name),
                AttachedManagedPolicies=attached(EntityKind.ROLE, r.name),
                InstanceProfileList=[instance_profile_shape(shown_profile(tx, p)) for p in profiles],
            )  # fmt: skip
            out["RoleDetailList"].append(detail)
    scopes = []
    if "LocalManagedPolicy" in wanted:
        scopes.append(PolicyScope.LOCAL)
    if "AWSManagedPolicy" in wanted:
        scopes.append(PolicyScope.AWS)
    for scope in scopes:
        only_attached = scope is PolicyScope.AWS
        for pol in _all(
            lambda m, s=scope, o=only_attached: tx.list_policies(
                acct, scope=s, only_attached=o, marker=m, max_items=1000
            )
        ):
            detail = policy_shape(pol, full=False)
            detail["PolicyVersionList"] = [version_shape(v) for v in tx.list_policy_versions(pol.arn)]
            out["Policies"].append(detail)
    sequence = [(name, detail) for name in _DETAIL_LISTS for detail in out[name]]
    result = page_of(sequence, call.params, "authorization-details")
    paged: dict[str, Any] = {name: [] for name in _DETAIL_LISTS}
    for name, detail in result.items:
        paged[name].append(detail)
    return page(paged, result)


_DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


__all__ = ["tags_shape"]
