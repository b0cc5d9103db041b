"""Every call is authorized by the real engine, with AWS's denial texts (AWS "Troubleshoot access denied error
messages", AWS "Policy evaluation logic").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, deny, failure, policy

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
TRUST = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})


def implicit(user_arn: str, action: str, display: str, kind: str = "identity-based policy") -> str:
    return (
        f"User: {user_arn} is not authorized to perform: iam:{action} on resource: {display} "
        f"because no {kind} allows the iam:{action} action"
    )


def denied(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as e:
        call()
    status, code, message = failure(e)
    assert (status, code) == (403, "AccessDenied"), message
    return message


@pytest.fixture(scope="module")
def targets(iam: BaseClient) -> None:
    iam.create_user(UserName="Target", Path="/people/", Tags=[{"Key": "team", "Value": "red"}])
    iam.create_user(UserName="Other", Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_group(GroupName="Crew", Path="/g/")
    iam.create_role(RoleName="Worker", Path="/svc/", AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName="Box")
    iam.create_policy(PolicyName="Local", PolicyDocument=policy(allow("s3:*")))


def test_no_policies_means_implicit_denial_with_aws_display_forms(
    user_client: UserClient, iam: BaseClient, acct: str, targets: None
) -> None:
    nobody = user_client("Nobody", path="/staff/")
    me = f"arn:aws:iam::{acct}:user/staff/Nobody"
    local = f"arn:aws:iam::{acct}:policy/Local"
    cases: list[tuple[str, Callable[[], Any], str]] = [
        ("GetUser", lambda: nobody.get_user(UserName="Target"), "user Target"),
        ("GetUser", lambda: nobody.get_user(), "user Nobody"),
        ("DeleteUser", lambda: nobody.delete_user(UserName="Target"), "user Target"),
        ("GetRole", lambda: nobody.get_role(RoleName="Worker"), "role Worker"),
        ("GetPolicy", lambda: nobody.get_policy(PolicyArn=local), f"policy {local}"),
        ("GetPolicy", lambda: nobody.get_policy(PolicyArn=ADMIN), f"policy {ADMIN}"),
        ("CreateUser", lambda: nobody.create_user(UserName="New", Path="/p/"), f"arn:aws:iam::{acct}:user/p/New"),
        ("CreateRole", lambda: nobody.create_role(RoleName="R", AssumeRolePolicyDocument=TRUST),
         f"arn:aws:iam::{acct}:role/R"),
        ("ListUsers", lambda: nobody.list_users(), f"arn:aws:iam::{acct}:user/"),
        ("ListUsers", lambda: nobody.list_users(PathPrefix="/people/"), f"arn:aws:iam::{acct}:user/people/"),
        ("ListRoles", lambda: nobody.list_roles(), f"arn:aws:iam::{acct}:role/"),
        ("ListPolicies", lambda: nobody.list_policies(), "policy path /"),
        ("GetAccountSummary", lambda: nobody.get_account_summary(), "*"),
        ("ListAccountAliases", lambda: nobody.list_account_aliases(), "*"),
        ("GetGroup", lambda: nobody.get_group(GroupName="Crew"), f"arn:aws:iam::{acct}:group/g/Crew"),
        ("GetInstanceProfile", lambda: nobody.get_instance_profile(InstanceProfileName="Box"),
         f"arn:aws:iam::{acct}:instance-profile/Box"),
        ("ListAccessKeys", lambda: nobody.list_access_keys(), "user Nobody"),
    ]  # fmt: skip
    for action, call, display in cases:
        assert denied(call) == implicit(me, action, display), action
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/p/")["Users"]] == []  # nothing created


def test_a_create_of_a_taken_name_is_authorized_against_the_entity_as_stored(
    user_client: UserClient, iam: BaseClient, acct: str, targets: None
) -> None:
    """A create whose name is taken in another spelling or path: a Deny on the entity as stored
    answers AccessDenied, before EntityAlreadyExists or any other error of the create (the
    entity is authorized in the write's transaction once the create failed, no longer read
    before every create: docs/architecture.md, "Session 13: the taken name authorized when the
    create fails")."""
    target = f"arn:aws:iam::{acct}:user/people/Target"
    guarded = user_client(
        "Guarded",
        policy(allow("iam:*"), deny("iam:Create*", target), deny("iam:Create*", f"arn:aws:iam::{acct}:group/g/Crew")),
    )
    assert target in denied(lambda: guarded.create_user(UserName="TARGET"))
    assert target in denied(lambda: guarded.create_user(UserName="target", Path="/people/"))
    assert "group/g/Crew" in denied(lambda: guarded.create_group(GroupName="crew"))
    missing = f"arn:aws:iam::{acct}:policy/Missing"  # the create fails before its statement: NoSuchEntity
    assert target in denied(lambda: guarded.create_user(UserName="Target", PermissionsBoundary=missing))
    free = user_client("Free", policy(allow("iam:*")))
    with pytest.raises(ClientError) as taken:
        free.create_user(UserName="TARGET")
    assert failure(taken)[1] == "EntityAlreadyExists"
    assert guarded.create_user(UserName="Fresh")["User"]["Arn"] == f"arn:aws:iam::{acct}:user/Fresh"
    guarded.delete_user(UserName="Fresh")
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/people/")["Users"]] == ["Target"]


def test_explicit_deny_wins_over_allow(user_client: UserClient, acct: str, targets: None) -> None:
    client = user_client("Denied", policy(allow("iam:*"), deny("iam:DeleteUser", f"arn:aws:iam::{acct}:user/*")))
    assert client.get_user(UserName="Target")["User"]["UserName"] == "Target"
    assert denied(lambda: client.delete_user(UserName="Target")) == (
        f"User: arn:aws:iam::{acct}:user/Denied is not authorized to perform: iam:DeleteUser on resource: "
        "user Target with an explicit deny in an identity-based policy"
    )


def test_group_policies_and_managed_policies_grant(user_client: UserClient, iam: BaseClient, targets: None) -> None:
    client = user_client("Grouped")
    denied(lambda: client.list_roles())
    iam.put_group_policy(GroupName="Crew", PolicyName="roles", PolicyDocument=policy(allow("iam:ListRoles")))
    iam.add_user_to_group(GroupName="Crew", UserName="Grouped")
    assert [r["RoleName"] for r in client.list_roles()["Roles"]] == ["Worker"]
    denied(lambda: client.get_account_summary())
    iam.attach_group_policy(GroupName="Crew", PolicyArn=READ)
    assert client.get_account_summary()["SummaryMap"]["Users"] >= 3
    iam.remove_user_from_group(GroupName="Crew", UserName="Grouped")
    denied(lambda: client.list_roles())  # policy changes apply at once


def test_permissions_boundary_limits_what_policies_allow(user_client: UserClient, iam: BaseClient, acct: str) -> None:
    client = user_client("Bounded", policy(allow("iam:*")))
    iam.put_user_permissions_boundary(UserName="Bounded", PermissionsBoundary=READ)
    assert client.list_users()["Users"]  # IAMReadOnlyAccess allows List*
    message = denied(lambda: client.create_user(UserName="ByBounded"))
    assert message == implicit(
        f"arn:aws:iam::{acct}:user/Bounded", "CreateUser", f"arn:aws:iam::{acct}:user/ByBounded",
        "permissions boundary",
    )  # fmt: skip
    iam.delete_user_permissions_boundary(UserName="Bounded")
    client.create_user(UserName="ByBounded")


def test_request_tags_and_tag_keys_on_create_user(user_client: UserClient, iam: BaseClient, acct: str) -> None:
    red_only = allow(
        ["iam:CreateUser", "iam:TagUser"],
        **{"StringEquals": {"aws:RequestTag/team": "red"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
    )
    client = user_client("Tagger", policy(red_only))
    me = f"arn:aws:iam::{acct}:user/Tagger"
    created = client.create_user(UserName="RedOne", Tags=[{"Key": "team", "Value": "red"}])["User"]
    assert created["Tags"] == [{"Key": "team", "Value": "red"}]
    for tags in ([{"Key": "team", "Value": "blue"}], [{"Key": "team", "Value": "red"}, {"Key": "x", "Value": "y"}]):
        message = denied(lambda tags=tags: client.create_user(UserName="NotRed", Tags=tags))
        assert message == implicit(me, "CreateUser", f"arn:aws:iam::{acct}:user/NotRed")
    denied(lambda: client.create_user(UserName="NotRed"))  # no tag: the condition's key is missing
    # Creating with tags also needs iam:TagUser (AWS "Tags for AWS Identity and Access Management resources")
    create_only = user_client("CreateOnly", policy(allow("iam:CreateUser")))
    create_only.create_user(UserName="Untagged")
    message = denied(lambda: create_only.create_user(UserName="Tagged", Tags=[{"Key": "a", "Value": "b"}]))
    assert message == implicit(f"arn:aws:iam::{acct}:user/CreateOnly", "TagUser", f"arn:aws:iam::{acct}:user/Tagged")
    with pytest.raises(ClientError):
        iam.get_user(UserName="Tagged")


def test_policy_arn_condition_on_attach(user_client: UserClient, acct: str, targets: None) -> None:
    client = user_client("Attacher", policy(allow("iam:AttachUserPolicy", **{"ArnEquals": {"iam:PolicyARN": READ}})))
    client.attach_user_policy(UserName="Other", PolicyArn=READ)
    assert denied(lambda: client.attach_user_policy(UserName="Other", PolicyArn=ADMIN)) == implicit(
        f"arn:aws:iam::{acct}:user/Attacher", "AttachUserPolicy", "user Other"
    )


def test_resource_tag_of_the_target_user(user_client: UserClient, acct: str, targets: None) -> None:
    client = user_client(
        "TeamReader", policy(allow("iam:GetUser", **{"StringEquals": {"aws:ResourceTag/team": "red"}}))
    )
    assert client.get_user(UserName="Target")["User"]["UserName"] == "Target"
    assert denied(lambda: client.get_user(UserName="Other")) == implicit(
        f"arn:aws:iam::{acct}:user/TeamReader", "GetUser", "user Other"
    )


def test_a_write_decided_by_the_target_s_stored_tags(user_client: UserClient, iam: BaseClient, acct: str) -> None:
    """A write's target tags are read only when a statement reads a condition key (iamd.service.authorize,
    ``_tagged_context``): a Deny on them still decides, against the tags as stored when the write runs."""
    iam.create_user(UserName="RedDoomed", Tags=[{"Key": "team", "Value": "red"}])
    iam.create_user(UserName="BlueDoomed", Tags=[{"Key": "team", "Value": "blue"}])
    red_deny = {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "red"}}}  # fmt: skip
    client = user_client("Cleaner", policy(allow("iam:DeleteUser"), red_deny))
    client.delete_user(UserName="BlueDoomed")
    message = denied(lambda: client.delete_user(UserName="RedDoomed"))
    assert message.startswith(f"User: arn:aws:iam::{acct}:user/Cleaner is not authorized to perform: iam:DeleteUser")
    assert "with an explicit deny" in message
    assert iam.get_user(UserName="RedDoomed")["User"]["UserName"] == "RedDoomed"
    iam.tag_user(UserName="RedDoomed", Tags=[{"Key": "team", "Value": "blue"}])  # as stored now: blue
    client.delete_user(UserName="RedDoomed")
    with pytest.raises(ClientError):
        iam.get_user(UserName="RedDoomed")


def test_resource_tag_of_a_managed_policy(user_client: UserClient, iam: BaseClient, acct: str) -> None:
    tagged = iam.create_policy(
        PolicyName="TeamPolicy", PolicyDocument=policy(allow("s3:*")), Tags=[{"Key": "team", "Value": "red"}]
    )["Policy"]["Arn"]
    untagged = iam.create_policy(PolicyName="PlainPolicy", PolicyDocument=policy(allow("s3:*")))["Policy"]["Arn"]
    client = user_client(
        "PolicyReader", policy(allow("iam:GetPolicy", **{"StringEquals": {"iam:ResourceTag/team": "red"}}))
    )
    assert client.get_policy(PolicyArn=tagged)["Policy"]["PolicyName"] == "TeamPolicy"
    assert denied(lambda: client.get_policy(PolicyArn=untagged)) == implicit(
        f"arn:aws:iam::{acct}:user/PolicyReader", "GetPolicy", f"policy {untagged}"
    )


def test_source_ip_and_current_time(user_client: UserClient, acct: str) -> None:
    client = user_client(
        "Conditional",
        policy(
            allow("iam:ListUsers", **{"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
            allow("iam:ListRoles", **{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            allow("iam:ListGroups", **{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
            allow("iam:ListPolicies", **{"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
        ),
    )
    client.list_users()
    client.list_groups()
    me = f"arn:aws:iam::{acct}:user/Conditional"
    assert denied(lambda: client.list_roles()) == implicit(me, "ListRoles", f"arn:aws:iam::{acct}:role/")
    assert denied(lambda: client.list_policies()) == implicit(me, "ListPolicies", "policy path /")


def test_rename_needs_permission_on_the_new_name_too(user_client: UserClient, iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="Renamable")
    client = user_client("Renamer", policy(allow("iam:UpdateUser", f"arn:aws:iam::{acct}:user/Renamable")))
    message = denied(lambda: client.update_user(UserName="Renamable", NewUserName="Renamed"))
    assert message == implicit(f"arn:aws:iam::{acct}:user/Renamer", "UpdateUser", "user Renamed")
    iam.get_user(UserName="Renamable")  # unchanged
    iam.put_user_policy(
        UserName="Renamer", PolicyName="inline",
        PolicyDocument=policy(allow("iam:UpdateUser", f"arn:aws:iam::{acct}:user/Renam*")),
    )  # fmt: skip
    client.update_user(UserName="Renamable", NewUserName="Renamed")
    assert iam.get_user(UserName="Renamed")["User"]["UserName"] == "Renamed"


def test_group_rename_needs_permission_on_the_new_arn(user_client: UserClient, iam: BaseClient, acct: str) -> None:
    iam.create_group(GroupName="OldCrew")
    client = user_client("GroupRenamer", policy(allow("iam:UpdateGroup", f"arn:aws:iam::{acct}:group/OldCrew")))
    message = denied(lambda: client.update_group(GroupName="OldCrew", NewGroupName="NewCrew"))
    assert message == implicit(
        f"arn:aws:iam::{acct}:user/GroupRenamer", "UpdateGroup", f"arn:aws:iam::{acct}:group/NewCrew"
    )
    assert iam.get_group(GroupName="OldCrew")["Group"]["GroupName"] == "OldCrew"


def test_root_is_never_denied_by_policies(iam: BaseClient) -> None:
    iam.create_user(UserName="RootMade")
    iam.delete_user(UserName="RootMade")
