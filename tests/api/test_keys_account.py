"""Access keys and account-level operations (AWS "Manage access keys for IAM users"; IAM API "GetAccountSummary",
"CreateAccountAlias").
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, client_for, failure, policy
from tests.api.server import RunningServer

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
TRUST = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
INVALID_TOKEN = (403, "InvalidClientTokenId", "The security token included in the request is invalid.")


# -- access keys ----------------------------------------------------------------------------
def test_access_key_lifecycle(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="Keyholder")
    first = iam.create_access_key(UserName="Keyholder")["AccessKey"]
    assert set(first) == {"UserName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate"}
    assert first["UserName"] == "Keyholder" and first["Status"] == "Active"
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and isinstance(first["CreateDate"], datetime)
    second = iam.create_access_key(UserName="keyholder")["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName="Keyholder")
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    listed = iam.list_access_keys(UserName="Keyholder")
    assert [k["AccessKeyId"] for k in listed["AccessKeyMetadata"]] == [first["AccessKeyId"], second["AccessKeyId"]]
    assert all(set(k) == {"UserName", "AccessKeyId", "Status", "CreateDate"} for k in listed["AccessKeyMetadata"])
    page = iam.list_access_keys(UserName="Keyholder", MaxItems=1)
    assert page["IsTruncated"] is True and len(page["AccessKeyMetadata"]) == 1
    assert iam.list_access_keys(UserName="Keyholder", Marker=page["Marker"])["AccessKeyMetadata"][0][
        "AccessKeyId"
    ] == second["AccessKeyId"]  # fmt: skip

    holder = client_for(api_server, first["AccessKeyId"], first["SecretAccessKey"])
    with pytest.raises(ClientError) as e:  # authenticated, then denied: no policies
        holder.list_users()
    assert failure(e)[:2] == (403, "AccessDenied")
    iam.update_access_key(UserName="Keyholder", AccessKeyId=first["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName="Keyholder")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as e:
        holder.list_users()
    assert failure(e) == INVALID_TOKEN
    iam.update_access_key(UserName="Keyholder", AccessKeyId=first["AccessKeyId"], Status="Active")
    with pytest.raises(ClientError) as e:
        holder.list_users()
    assert failure(e)[:2] == (403, "AccessDenied")  # active again
    iam.delete_access_key(UserName="Keyholder", AccessKeyId=first["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        holder.list_users()
    assert failure(e) == INVALID_TOKEN
    with pytest.raises(ClientError) as e:
        iam.delete_access_key(UserName="Keyholder", AccessKeyId=first["AccessKeyId"])
    assert failure(e) == (404, "NoSuchEntity", f"The Access Key with id {first['AccessKeyId']} cannot be found")


def test_key_must_belong_to_the_named_or_calling_user(iam: BaseClient, raw_iam: BaseClient) -> None:
    iam.create_user(UserName="Owner")
    iam.create_user(UserName="Other")
    key = iam.create_access_key(UserName="Owner")["AccessKey"]["AccessKeyId"]
    message = f"The Access Key with id {key} cannot be found"
    for call in (
        lambda: iam.update_access_key(UserName="Other", AccessKeyId=key, Status="Inactive"),
        lambda: iam.update_access_key(AccessKeyId=key, Status="Inactive"),  # root's own keys
        lambda: iam.delete_access_key(UserName="Other", AccessKeyId=key),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert failure(e) == (404, "NoSuchEntity", message)
    with pytest.raises(ClientError) as e:  # the model's enum has "Expired"; no key can be set to it
        raw_iam.update_access_key(UserName="Owner", AccessKeyId=key, Status="Expired")
    assert failure(e) == (
        400, "ValidationError",
        "1 validation error detected: Value 'Expired' at 'status' failed to satisfy constraint: Member must "
        "satisfy enum value set: [Active, Inactive]",
    )  # fmt: skip
    with pytest.raises(ClientError) as e:
        raw_iam.update_access_key(UserName="Owner", AccessKeyId=key, Status="Paused")
    assert failure(e)[:2] == (400, "ValidationError")
    assert iam.list_access_keys(UserName="Owner")["AccessKeyMetadata"][0]["Status"] == "Active"


def test_users_manage_their_own_keys_without_naming_themselves(user_client: UserClient, acct: str) -> None:
    me = f"arn:aws:iam::{acct}:user/SelfService"
    actions = ["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:DeleteAccessKey"]
    client = user_client("SelfService", policy(allow(actions, me)))
    keys = client.list_access_keys()["AccessKeyMetadata"]
    assert len(keys) == 1 and keys[0]["UserName"] == "SelfService"
    created = client.create_access_key()["AccessKey"]
    assert created["UserName"] == "SelfService" and "SecretAccessKey" in created
    client.update_access_key(AccessKeyId=created["AccessKeyId"], Status="Inactive")
    client.delete_access_key(AccessKeyId=created["AccessKeyId"])
    assert len(client.list_access_keys()["AccessKeyMetadata"]) == 1


def test_get_access_key_last_used(api_server: RunningServer, iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="Tracked", Path="/t/")
    key = iam.create_access_key(UserName="Tracked")["AccessKey"]
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == "Tracked"
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    iam.put_user_policy(
        UserName="Tracked", PolicyName="own",
        PolicyDocument=policy(allow("iam:GetAccessKeyLastUsed", f"arn:aws:iam::{acct}:user/t/Tracked")),
    )  # fmt: skip
    tracked = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    own = tracked.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert own["UserName"] == "Tracked"
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "iam" and used["Region"] == "us-east-1"
    assert isinstance(used["LastUsedDate"], datetime)
    # the resource is the key's owner, not the caller: another user's key is not readable
    iam.create_user(UserName="Neighbour")
    neighbour_key = iam.create_access_key(UserName="Neighbour")["AccessKey"]["AccessKeyId"]
    with pytest.raises(ClientError) as e:
        tracked.get_access_key_last_used(AccessKeyId=neighbour_key)
    assert failure(e) == (
        403, "AccessDenied",
        f"User: arn:aws:iam::{acct}:user/t/Tracked is not authorized to perform: iam:GetAccessKeyLastUsed on "
        "resource: user Neighbour because no identity-based policy allows the iam:GetAccessKeyLastUsed action",
    )  # fmt: skip
    with pytest.raises(ClientError) as e:
        iam.get_access_key_last_used(AccessKeyId="AKIAIOSFODNN7UNKNOWN")
    assert failure(e)[:2] == (403, "AccessDenied")
    root = iam.get_access_key_last_used(AccessKeyId=api_server.root_key)
    assert "UserName" not in root and root["AccessKeyLastUsed"]["ServiceName"] == "iam"


def test_root_access_keys(iam: BaseClient) -> None:
    root_keys = iam.list_access_keys()["AccessKeyMetadata"]
    assert len(root_keys) == 1 and "UserName" not in root_keys[0]
    extra = iam.create_access_key()["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key()
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    iam.delete_access_key(AccessKeyId=extra["AccessKeyId"])
    assert len(iam.list_access_keys()["AccessKeyMetadata"]) == 1


# -- account ----------------------------------------------------------------------------------
def test_account_alias(iam: BaseClient, raw_iam: BaseClient) -> None:
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias="example-corp")
    iam.create_account_alias(AccountAlias="example-corp")  # same alias again: no error
    assert iam.list_account_aliases()["AccountAliases"] == ["example-corp"]
    iam.create_account_alias(AccountAlias="example-two")  # one alias per account: replaced
    assert iam.list_account_aliases()["AccountAliases"] == ["example-two"]
    with pytest.raises(ClientError) as e:
        iam.delete_account_alias(AccountAlias="example-corp")
    assert failure(e) == (404, "NoSuchEntity", "The account alias example-corp cannot be found.")
    with pytest.raises(ClientError) as e:
        raw_iam.create_account_alias(AccountAlias="Bad_Alias")
    assert failure(e)[:2] == (400, "ValidationError")
    iam.delete_account_alias(AccountAlias="example-two")
    assert iam.list_account_aliases() | {"ResponseMetadata": None} == {
        "AccountAliases": [], "IsTruncated": False, "ResponseMetadata": None,
    }  # fmt: skip


SUMMARY_KEYS = {
    "Users", "UsersQuota", "Groups", "GroupsQuota", "ServerCertificates", "ServerCertificatesQuota",
    "UserPolicySizeQuota", "GroupPolicySizeQuota", "GroupsPerUserQuota", "SigningCertificatesPerUserQuota",
    "AccessKeysPerUserQuota", "MFADevices", "MFADevicesInUse", "AccountMFAEnabled", "AccountAccessKeysPresent",
    "AccountPasswordPresent", "AccountSigningCertificatesPresent", "AttachedPoliciesPerGroupQuota",
    "AttachedPoliciesPerRoleQuota", "AttachedPoliciesPerUserQuota", "Policies", "PoliciesQuota", "PolicySizeQuota",
    "PolicyVersionsInUse", "PolicyVersionsInUseQuota", "VersionsPerPolicyQuota", "GlobalEndpointTokenVersion",
    "AssumeRolePolicySizeQuota", "InstanceProfiles", "InstanceProfilesQuota", "Providers", "RolePolicySizeQuota",
    "Roles", "RolesQuota",
}  # fmt: skip


def test_account_summary_counts_and_quotas(iam: BaseClient) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    assert set(before) == SUMMARY_KEYS
    assert before["UsersQuota"] == 5000 and before["GroupsQuota"] == 300 and before["RolesQuota"] == 1000
    assert before["PoliciesQuota"] == 1500 and before["InstanceProfilesQuota"] == 1000
    assert before["AccessKeysPerUserQuota"] == 2 and before["AccountAccessKeysPresent"] == 1
    iam.create_user(UserName="Counted")
    iam.create_group(GroupName="CountedGroup")
    iam.create_role(RoleName="CountedRole", AssumeRolePolicyDocument=TRUST)
    arn = iam.create_policy(PolicyName="CountedPolicy", PolicyDocument=policy(allow("s3:*")))["Policy"]["Arn"]
    iam.create_instance_profile(InstanceProfileName="CountedProfile")
    iam.attach_user_policy(UserName="Counted", PolicyArn=arn)
    after = iam.get_account_summary()["SummaryMap"]
    for key in ("Users", "Groups", "Roles", "Policies", "InstanceProfiles", "PolicyVersionsInUse"):
        assert after[key] == before[key] + 1, key


def test_account_authorization_details(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="DetailUser", Tags=[{"Key": "k", "Value": "v"}], PermissionsBoundary=READ)
    iam.put_user_policy(UserName="DetailUser", PolicyName="up", PolicyDocument=policy(allow("s3:GetObject")))
    iam.create_group(GroupName="DetailGroup")
    iam.add_user_to_group(GroupName="DetailGroup", UserName="DetailUser")
    iam.put_group_policy(GroupName="DetailGroup", PolicyName="gp", PolicyDocument=policy(allow("s3:ListBucket")))
    iam.create_role(RoleName="DetailRole", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="DetailRole", PolicyName="rp", PolicyDocument=policy(allow("ec2:*")))
    iam.attach_role_policy(RoleName="DetailRole", PolicyArn=ADMIN)
    iam.create_instance_profile(InstanceProfileName="DetailProfile")
    iam.add_role_to_instance_profile(InstanceProfileName="DetailProfile", RoleName="DetailRole")
    local = iam.create_policy(PolicyName="DetailPolicy", PolicyDocument=policy(allow("sqs:*")))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="DetailGroup", PolicyArn=local)

    details = iam.get_account_authorization_details()
    assert details["IsTruncated"] is False
    user = next(u for u in details["UserDetailList"] if u["UserName"] == "DetailUser")
    assert user["UserPolicyList"] == [{"PolicyName": "up", "PolicyDocument": json.loads(policy(allow("s3:GetObject")))}]
    assert user["GroupList"] == ["DetailGroup"] and user["Tags"] == [{"Key": "k", "Value": "v"}]
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ
    group = next(g for g in details["GroupDetailList"] if g["GroupName"] == "DetailGroup")
    assert group["GroupPolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == "s3:ListBucket"
    assert group["AttachedManagedPolicies"] == [{"PolicyName": "DetailPolicy", "PolicyArn": local}]
    role = next(r for r in details["RoleDetailList"] if r["RoleName"] == "DetailRole")
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert role["RolePolicyList"][0]["PolicyName"] == "rp"
    assert role["AttachedManagedPolicies"] == [{"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN}]
    assert [p["InstanceProfileName"] for p in role["InstanceProfileList"]] == ["DetailProfile"]
    assert role["InstanceProfileList"][0]["Roles"][0]["RoleName"] == "DetailRole"
    policies = {p["Arn"]: p for p in details["Policies"]}
    assert local in policies and ADMIN in policies  # AWS managed policies: only attached ones
    assert READ not in policies  # a boundary is not an attachment
    versions = policies[local]["PolicyVersionList"]
    assert versions[0]["Document"] == json.loads(policy(allow("sqs:*"))) and versions[0]["IsDefaultVersion"] is True

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["Policies"] == [] and only_roles["RoleDetailList"]
    total = sum(len(details[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
    pages = list(iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == (total + 1) // 2
    assert all(
        sum(len(p[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")) <= 2 for p in pages
    )
    assert [u["UserName"] for p in pages for u in p["UserDetailList"]] == [
        u["UserName"] for u in details["UserDetailList"]
    ]
    with pytest.raises(ClientError) as e:
        iam.get_account_authorization_details(Marker="not-a-marker")
    assert failure(e) == (400, "ValidationError", "Invalid Marker.")
