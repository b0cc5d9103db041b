"""Account-level operations (api.md §5.11)."""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.store import EntityKind, PolicyScope, ReadTx, TagTarget, Tx

from .shapes import group_shape, policy_shape, role_shape, tags_shape, user_shape, version_shape

QUOTAS = {
    "UsersQuota": 5000, "GroupsQuota": 300, "RolesQuota": 1000, "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000, "ServerCertificatesQuota": 20, "GroupsPerUserQuota": 10,
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
    return {"AccountAliases": [alias] if alias else [], "IsTruncated": False}


def get_account_summary(call: Call, tx: ReadTx) -> dict[str, Any]:
    acct = call.account
    summary = dict(QUOTAS)
    summary.update(
        Users=tx.count_users(acct), Groups=tx.count_groups(acct), Roles=tx.count_roles(acct),
        Policies=tx.count_policies(acct),
        InstanceProfiles=len(tx.list_instance_profiles(acct, max_items=1000).items),
        AccountAccessKeysPresent=int(bool(tx.list_access_keys(acct, None))),
        AccountMFAEnabled=0, PolicyVersionsInUse=0, ServerCertificates=0,
    )  # fmt: skip
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
            detail = role_shape(r, tx.list_tags(TagTarget.ROLE, acct, r.name))
            profiles = _all(lambda m, n=r.name: tx.list_instance_profiles_for_role(acct, n, marker=m, max_items=1000))
            detail.update(
                RolePolicyList=inline(EntityKind.ROLE, r.name),
                AttachedManagedPolicies=attached(EntityKind.ROLE, r.name),
                InstanceProfileList=[
                    {"Path": p.path, "InstanceProfileName": p.name, "InstanceProfileId": p.id, "Arn": p.arn,
                     "CreateDate": p.create_date, "Roles": []}
                    for p in profiles
                ],
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
    out["IsTruncated"] = False
    return out


__all__ = ["tags_shape"]
