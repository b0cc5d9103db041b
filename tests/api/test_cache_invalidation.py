"""Every kind of write is visible to the very next request, though caches are dropped selectively.

AWS fact encoded (AWS "Policy evaluation logic"; IAM is eventually consistent in AWS, iamd promises
more): a grant or a revoke made through IAM applies to the caller's next request — via its
own policies, its groups, a managed policy's new default version, its permissions boundary,
its tags (``aws:PrincipalTag``) and the state of its access key. And writes unrelated to a
caller do not recompile that caller's policies (the selective part, checked through
``PolicyCache.builds``).
"""

from __future__ import annotations

import json

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, client_for, deny, policy
from tests.api.server import RunningServer


def denied(call: object) -> str:
    assert callable(call)
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_unrelated_writes_do_not_recompile_the_callers_policies(
    api_server: RunningServer, user_client: UserClient
) -> None:
    admin = user_client("ci-admin", policy(allow("iam:*")))
    admin.get_user(UserName="ci-admin")
    builds = api_server.backend.policies.builds
    for i in range(3):
        admin.create_user(UserName=f"ci-made-{i}")
        admin.get_user(UserName=f"ci-made-{i}")
    admin.tag_user(UserName="ci-made-0", Tags=[{"Key": "k", "Value": "v"}])
    admin.create_group(GroupName="ci-unrelated")
    admin.put_group_policy(GroupName="ci-unrelated", PolicyName="p", PolicyDocument=policy(allow("iam:Get*")))
    admin.get_user(UserName="ci-admin")
    assert api_server.backend.policies.builds == builds
    admin.put_user_policy(UserName="ci-admin", PolicyName="more", PolicyDocument=policy(allow("s3:*")))
    admin.get_user(UserName="ci-admin")
    assert api_server.backend.policies.builds == builds + 1


def test_inline_grant_and_revoke(iam: BaseClient, user_client: UserClient) -> None:
    user = user_client("ci-inline")
    assert denied(lambda: user.get_user(UserName="ci-inline")) == "AccessDenied"
    iam.put_user_policy(UserName="ci-inline", PolicyName="g", PolicyDocument=policy(allow("iam:GetUser")))
    assert user.get_user(UserName="ci-inline")["User"]["UserName"] == "ci-inline"
    iam.delete_user_policy(UserName="ci-inline", PolicyName="g")
    assert denied(lambda: user.get_user(UserName="ci-inline")) == "AccessDenied"


def test_grant_and_revoke_through_groups(iam: BaseClient, user_client: UserClient) -> None:
    user = user_client("ci-member")
    iam.create_group(GroupName="ci-readers")
    iam.add_user_to_group(GroupName="ci-readers", UserName="ci-member")
    assert denied(lambda: user.get_user(UserName="ci-member")) == "AccessDenied"
    iam.put_group_policy(GroupName="ci-readers", PolicyName="g", PolicyDocument=policy(allow("iam:GetUser")))
    user.get_user(UserName="ci-member")
    iam.delete_group_policy(GroupName="ci-readers", PolicyName="g")
    assert denied(lambda: user.get_user(UserName="ci-member")) == "AccessDenied"
    arn = iam.create_policy(PolicyName="ci-group-managed", PolicyDocument=policy(allow("iam:GetUser")))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="ci-readers", PolicyArn=arn)
    user.get_user(UserName="ci-member")
    iam.remove_user_from_group(GroupName="ci-readers", UserName="ci-member")
    assert denied(lambda: user.get_user(UserName="ci-member")) == "AccessDenied"
    iam.add_user_to_group(GroupName="ci-readers", UserName="ci-member")
    user.get_user(UserName="ci-member")
    iam.detach_group_policy(GroupName="ci-readers", PolicyArn=arn)
    assert denied(lambda: user.get_user(UserName="ci-member")) == "AccessDenied"


def test_managed_policy_versions_apply_at_once(iam: BaseClient, user_client: UserClient) -> None:
    user = user_client("ci-versions")
    arn = iam.create_policy(PolicyName="ci-versioned", PolicyDocument=policy(allow("iam:GetUser")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ci-versions", PolicyArn=arn)
    user.get_user(UserName="ci-versions")
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("iam:ListUsers")), SetAsDefault=True)
    assert denied(lambda: user.get_user(UserName="ci-versions")) == "AccessDenied"
    user.list_users()
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    user.get_user(UserName="ci-versions")
    assert denied(lambda: user.list_users()) == "AccessDenied"
    iam.detach_user_policy(UserName="ci-versions", PolicyArn=arn)
    assert denied(lambda: user.get_user(UserName="ci-versions")) == "AccessDenied"


def test_permissions_boundary_changes_apply_at_once(iam: BaseClient, user_client: UserClient) -> None:
    user = user_client("ci-bounded", policy(allow("iam:GetUser"), allow("iam:ListUsers")))
    arn = iam.create_policy(PolicyName="ci-boundary", PolicyDocument=policy(allow("iam:ListUsers")))["Policy"]["Arn"]
    user.get_user(UserName="ci-bounded")
    iam.put_user_permissions_boundary(UserName="ci-bounded", PermissionsBoundary=arn)
    assert denied(lambda: user.get_user(UserName="ci-bounded")) == "AccessDenied"
    user.list_users()
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("iam:GetUser")), SetAsDefault=True)
    user.get_user(UserName="ci-bounded")
    assert denied(lambda: user.list_users()) == "AccessDenied"
    iam.delete_user_permissions_boundary(UserName="ci-bounded")
    user.list_users()


def test_key_deactivation_and_deletion_apply_at_once(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="ci-keyed")
    iam.put_user_policy(UserName="ci-keyed", PolicyName="g", PolicyDocument=policy(allow("iam:GetUser")))
    key = iam.create_access_key(UserName="ci-keyed")["AccessKey"]
    user = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    user.get_user(UserName="ci-keyed")
    iam.update_access_key(UserName="ci-keyed", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert denied(lambda: user.get_user(UserName="ci-keyed")) == "InvalidClientTokenId"
    iam.update_access_key(UserName="ci-keyed", AccessKeyId=key["AccessKeyId"], Status="Active")
    user.get_user(UserName="ci-keyed")
    iam.delete_access_key(UserName="ci-keyed", AccessKeyId=key["AccessKeyId"])
    assert denied(lambda: user.get_user(UserName="ci-keyed")) == "InvalidClientTokenId"


def test_a_user_deactivating_its_own_key(api_server: RunningServer, iam: BaseClient) -> None:
    """UpdateAccessKey without UserName acts on the caller's own key."""
    iam.create_user(UserName="ci-self")
    iam.put_user_policy(UserName="ci-self", PolicyName="g", PolicyDocument=policy(allow("iam:*AccessKey*")))
    key = iam.create_access_key(UserName="ci-self")["AccessKey"]
    user = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    user.list_access_keys()
    user.update_access_key(AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert denied(lambda: user.list_access_keys()) == "InvalidClientTokenId"


def test_principal_tags_refresh_at_once(iam: BaseClient, user_client: UserClient) -> None:
    condition = {"StringEquals": {"aws:PrincipalTag/team": "red"}}
    user = user_client("ci-tagged", policy(allow("iam:GetUser", **condition)))
    assert denied(lambda: user.get_user(UserName="ci-tagged")) == "AccessDenied"
    iam.tag_user(UserName="ci-tagged", Tags=[{"Key": "team", "Value": "red"}])
    user.get_user(UserName="ci-tagged")
    iam.tag_user(UserName="ci-tagged", Tags=[{"Key": "team", "Value": "blue"}])
    assert denied(lambda: user.get_user(UserName="ci-tagged")) == "AccessDenied"
    iam.tag_user(UserName="ci-tagged", Tags=[{"Key": "team", "Value": "red"}])
    user.get_user(UserName="ci-tagged")
    iam.untag_user(UserName="ci-tagged", TagKeys=["team"])
    assert denied(lambda: user.get_user(UserName="ci-tagged")) == "AccessDenied"


def test_entities_read_before_a_write_are_read_again(iam: BaseClient) -> None:
    """Cached reads, "no such entity" included and in any letter case, follow every write."""
    assert denied(lambda: iam.get_user(UserName="CI-Late")) == "NoSuchEntity"
    iam.create_user(UserName="ci-late")
    assert iam.get_user(UserName="CI-Late")["User"]["UserName"] == "ci-late"
    iam.update_user(UserName="ci-late", NewPath="/moved/")
    assert iam.get_user(UserName="ci-late")["User"]["Path"] == "/moved/"
    iam.update_user(UserName="ci-late", NewUserName="ci-renamed")
    assert denied(lambda: iam.get_user(UserName="ci-late")) == "NoSuchEntity"
    assert iam.get_user(UserName="ci-renamed")["User"]["Path"] == "/moved/"
    trust = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="ci-role", AssumeRolePolicyDocument=trust)
    iam.create_instance_profile(InstanceProfileName="ci-profile")
    assert iam.get_instance_profile(InstanceProfileName="ci-profile")["InstanceProfile"]["Roles"] == []
    iam.add_role_to_instance_profile(InstanceProfileName="ci-profile", RoleName="ci-role")
    iam.get_role(RoleName="ci-role")
    iam.update_role_description(RoleName="ci-role", Description="now described")
    assert iam.get_role(RoleName="ci-role")["Role"]["Description"] == "now described"
    roles = iam.get_instance_profile(InstanceProfileName="ci-profile")["InstanceProfile"]["Roles"]
    assert [r["RoleName"] for r in roles] == ["ci-role"]
    new_trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    iam.update_assume_role_policy(RoleName="ci-role", PolicyDocument=new_trust)
    roles = iam.get_instance_profile(InstanceProfileName="ci-profile")["InstanceProfile"]["Roles"]
    assert json.dumps(roles[0]["AssumeRolePolicyDocument"]).count("lambda.amazonaws.com") == 1


def test_resource_tags_of_a_target_follow_tag_writes(iam: BaseClient, user_client: UserClient) -> None:
    condition = {"StringEquals": {"aws:ResourceTag/open": "yes"}}
    reader = user_client("ci-rt-reader", policy(allow("iam:GetUser", **condition)))
    iam.create_user(UserName="ci-rt-target")
    assert denied(lambda: reader.get_user(UserName="ci-rt-target")) == "AccessDenied"
    iam.tag_user(UserName="ci-rt-target", Tags=[{"Key": "open", "Value": "yes"}])
    reader.get_user(UserName="ci-rt-target")
    iam.untag_user(UserName="ci-rt-target", TagKeys=["open"])
    assert denied(lambda: reader.get_user(UserName="ci-rt-target")) == "AccessDenied"


def test_the_callers_own_record_and_tags_as_a_resource_follow_writes(iam: BaseClient, user_client: UserClient) -> None:
    """The user and tags a caller's credential read are also its entity lookups' answers
    (iamd/api/credentials.py): a write to the caller drops them with the credential."""
    condition = {"StringEquals": {"aws:ResourceTag/open": "yes"}}
    user = user_client("ci-self-rt", policy(allow("iam:GetUser", **condition)))
    iam.tag_user(UserName="ci-self-rt", Tags=[{"Key": "open", "Value": "no"}])
    assert denied(lambda: user.get_user()) == "AccessDenied"  # its first request
    iam.tag_user(UserName="ci-self-rt", Tags=[{"Key": "open", "Value": "yes"}])
    assert user.get_user()["User"]["Tags"] == [{"Key": "open", "Value": "yes"}]
    iam.update_user(UserName="ci-self-rt", NewPath="/moved/")
    assert user.get_user()["User"]["Path"] == "/moved/"
    iam.untag_user(UserName="ci-self-rt", TagKeys=["open"])
    assert denied(lambda: user.get_user()) == "AccessDenied"


def test_a_deny_added_by_one_request_holds_on_the_very_next(iam: BaseClient, user_client: UserClient) -> None:
    admin = user_client("ci-denied", policy(allow("iam:*")))
    admin.get_user(UserName="ci-denied")
    admin.put_user_policy(UserName="ci-denied", PolicyName="no", PolicyDocument=policy(deny("iam:GetUser")))
    assert denied(lambda: admin.get_user(UserName="ci-denied")) == "AccessDenied"


def test_writes_that_change_no_cached_thing_recompile_nothing(
    api_server: RunningServer, user_client: UserClient
) -> None:
    """Login profiles, MFA devices, providers and the account alias are nothing a cached set,
    credential or entity is built from: their changes drop none of them (every write of an
    operation nobody had listed used to drop every cache)."""
    admin = user_client("ci-quiet", policy(allow("iam:*")))
    admin.get_user(UserName="ci-quiet")
    builds = api_server.backend.policies.builds
    admin.create_login_profile(UserName="ci-quiet", Password="Correct-Horse-9-battery")
    admin.create_virtual_mfa_device(VirtualMFADeviceName="ci-quiet-mfa")
    admin.create_open_id_connect_provider(Url="https://ci-quiet.example.com", ClientIDList=["c"])
    admin.create_account_alias(AccountAlias="ci-quiet-alias")
    admin.get_user(UserName="ci-quiet")
    assert api_server.backend.policies.builds == builds


def test_a_renamed_user_is_found_under_its_new_name_only(iam: BaseClient, user_client: UserClient) -> None:
    reader = user_client("ci-reader", policy(allow("iam:GetUser")))
    iam.create_user(UserName="ci-old-name")
    reader.get_user(UserName="ci-old-name")
    assert denied(lambda: reader.get_user(UserName="ci-new-name")) == "NoSuchEntity"  # cached: not found
    iam.update_user(UserName="ci-old-name", NewUserName="ci-new-name")
    assert reader.get_user(UserName="ci-new-name")["User"]["UserName"] == "ci-new-name"
    assert denied(lambda: reader.get_user(UserName="ci-old-name")) == "NoSuchEntity"


def test_a_renamed_caller_keeps_its_key_under_its_new_name(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="ci-mover")
    iam.put_user_policy(UserName="ci-mover", PolicyName="g", PolicyDocument=policy(allow("iam:GetUser")))
    key = iam.create_access_key(UserName="ci-mover")["AccessKey"]
    user = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    assert user.get_user()["User"]["UserName"] == "ci-mover"
    iam.update_user(UserName="ci-mover", NewUserName="ci-moved")
    assert user.get_user()["User"]["UserName"] == "ci-moved"


def test_a_key_a_user_creates_for_itself_works_at_once(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="ci-own-key")
    iam.put_user_policy(UserName="ci-own-key", PolicyName="g", PolicyDocument=policy(allow("iam:*AccessKey*")))
    first = iam.create_access_key(UserName="ci-own-key")["AccessKey"]
    user = client_for(api_server, first["AccessKeyId"], first["SecretAccessKey"])
    made = user.create_access_key()["AccessKey"]  # no UserName: its own
    second = client_for(api_server, made["AccessKeyId"], made["SecretAccessKey"])
    assert len(second.list_access_keys()["AccessKeyMetadata"]) == 2
    second.delete_access_key(AccessKeyId=first["AccessKeyId"])
    assert denied(lambda: user.list_access_keys()) == "InvalidClientTokenId"


def test_deleting_a_policy_version_and_the_policy(iam: BaseClient, user_client: UserClient) -> None:
    reader = user_client("ci-pv-reader", policy(allow("iam:GetPolicy*")))
    arn = iam.create_policy(PolicyName="ci-pv", PolicyDocument=policy(allow("s3:*")))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("ec2:*")))
    assert reader.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["VersionId"] == "v2"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert denied(lambda: reader.get_policy_version(PolicyArn=arn, VersionId="v2")) == "NoSuchEntity"
    assert reader.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    iam.delete_policy(PolicyArn=arn)
    assert denied(lambda: reader.get_policy(PolicyArn=arn)) == "NoSuchEntity"
