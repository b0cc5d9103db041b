"""Users, groups and membership over the wire with boto3 (IAM API "CreateUser", "UpdateUser", "DeleteUser"; IAM API
"CreateGroup", "UpdateGroup", "DeleteGroup", the Errors of each operation in the IAM API Reference).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, failure, policy

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


# -- users ----------------------------------------------------------------------------------
def test_create_user_returns_aws_shape_with_path_tags_and_boundary(iam: BaseClient, acct: str) -> None:
    user = iam.create_user(
        UserName="Bob", Path="/eng/", Tags=[{"Key": "team", "Value": "red"}], PermissionsBoundary=ADMIN
    )["User"]
    assert user["UserName"] == "Bob" and user["Path"] == "/eng/"
    assert user["Arn"] == f"arn:aws:iam::{acct}:user/eng/Bob"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert isinstance(user["CreateDate"], datetime) and user["CreateDate"].tzinfo is not None
    assert user["Tags"] == [{"Key": "team", "Value": "red"}]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": ADMIN,
    }
    plain = iam.create_user(UserName="plain")["User"]
    assert plain["Path"] == "/" and "Tags" not in plain and "PermissionsBoundary" not in plain


def test_user_names_are_unique_case_insensitively(iam: BaseClient) -> None:
    iam.create_user(UserName="Dup")
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="dUP")
    assert failure(e) == (409, "EntityAlreadyExists", "User with name dUP already exists.")
    assert iam.get_user(UserName="DUP")["User"]["UserName"] == "Dup"  # case preserved, lookup folded


def test_create_user_with_an_unknown_boundary_creates_nothing(iam: BaseClient, acct: str) -> None:
    arn = f"arn:aws:iam::{acct}:policy/NoSuchBoundary"
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="Unbounded", PermissionsBoundary=arn)
    assert failure(e) == (404, "NoSuchEntity", f"Scope ARN: {arn} does not exist or is not attachable.")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="Unbounded")
    assert failure(e) == (404, "NoSuchEntity", "The user with name Unbounded cannot be found.")


def test_get_user_has_tags_and_boundary_and_waiter_works(iam: BaseClient) -> None:
    iam.create_user(UserName="Getter", Tags=[{"Key": "k", "Value": "v"}], PermissionsBoundary=ADMIN)
    user = iam.get_user(UserName="getter")["User"]
    assert user["Tags"] == [{"Key": "k", "Value": "v"}]
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == ADMIN
    iam.get_waiter("user_exists").wait(UserName="Getter", WaiterConfig={"Delay": 1, "MaxAttempts": 2})


def test_get_user_without_name_is_the_caller(user_client: UserClient, acct: str) -> None:
    me = user_client("Self", policy(allow("iam:GetUser", f"arn:aws:iam::{acct}:user/team/Self")), path="/team/")
    user = me.get_user()["User"]
    assert user["UserName"] == "Self" and user["Arn"] == f"arn:aws:iam::{acct}:user/team/Self"


def test_get_user_as_root_without_name_is_the_root_identity(iam: BaseClient, acct: str) -> None:
    user = iam.get_user()["User"]
    assert user["UserId"] == acct and user["Arn"] == f"arn:aws:iam::{acct}:root"
    assert isinstance(user["CreateDate"], datetime)
    assert "UserName" not in user and "Path" not in user


def test_list_users_pages_with_path_prefix_marker_and_max_items(iam: BaseClient) -> None:
    names = ["pg-c", "PG-a", "pg-e", "pg-B", "pg-d"]
    for name in names:
        iam.create_user(UserName=name, Path="/paged/", Tags=[{"Key": "x", "Value": "y"}])
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs = {"PathPrefix": "/paged/", "MaxItems": 2} | ({"Marker": marker} if marker else {})
        page = iam.list_users(**kwargs)
        pages += 1
        assert len(page["Users"]) <= 2
        for user in page["Users"]:
            assert set(user) == {"Path", "UserName", "UserId", "Arn", "CreateDate"}  # no Tags in listings
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert pages == 3
    assert seen == sorted(names, key=str.lower)  # ordered by lower-cased name
    by_paginator = [
        u["UserName"]
        for p in iam.get_paginator("list_users").paginate(PathPrefix="/paged/", PaginationConfig={"PageSize": 3})
        for u in p["Users"]
    ]
    assert by_paginator == seen
    assert iam.list_users(PathPrefix="/nothing-here/")["Users"] == []


def test_list_users_with_a_foreign_marker_is_a_validation_error(iam: BaseClient) -> None:
    for name in ("mk-1", "mk-2"):
        iam.create_group(GroupName=name)
    marker = iam.list_groups(MaxItems=1)["Marker"]
    for bad in ("garbage", marker):
        with pytest.raises(ClientError) as e:
            iam.list_users(Marker=bad)
        assert failure(e) == (400, "ValidationError", "Invalid Marker.")


def test_update_user_renames_and_moves_keeping_id_and_relations(iam: BaseClient, acct: str) -> None:
    created = iam.create_user(UserName="Old")["User"]
    iam.create_group(GroupName="RenameGroup")
    iam.add_user_to_group(GroupName="RenameGroup", UserName="Old")
    iam.put_user_policy(UserName="Old", PolicyName="p", PolicyDocument=policy(allow("s3:GetObject")))
    key = iam.create_access_key(UserName="Old")["AccessKey"]["AccessKeyId"]
    assert iam.update_user(UserName="Old", NewUserName="New", NewPath="/moved/")["ResponseMetadata"]
    user = iam.get_user(UserName="New")["User"]
    assert user["UserId"] == created["UserId"] and user["Arn"] == f"arn:aws:iam::{acct}:user/moved/New"
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="New")["Groups"]] == ["RenameGroup"]
    assert iam.list_user_policies(UserName="New")["PolicyNames"] == ["p"]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="New")["AccessKeyMetadata"]] == [key]
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="Old")
    assert failure(e) == (404, "NoSuchEntity", "The user with name Old cannot be found.")
    iam.update_user(UserName="New", NewPath="/")  # move only
    assert iam.get_user(UserName="New")["User"]["Path"] == "/"


def test_update_user_rename_conflicts_and_missing(iam: BaseClient) -> None:
    iam.create_user(UserName="Taken1")
    iam.create_user(UserName="Taken2")
    with pytest.raises(ClientError) as e:
        iam.update_user(UserName="Taken1", NewUserName="TAKEN2")
    assert failure(e) == (409, "EntityAlreadyExists", "User with name TAKEN2 already exists.")
    with pytest.raises(ClientError) as e:
        iam.update_user(UserName="Ghost", NewUserName="Ghost2")
    assert failure(e) == (404, "NoSuchEntity", "The user with name Ghost cannot be found.")


def test_delete_user_reports_every_conflict_in_aws_words(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="Busy")
    key = iam.create_access_key(UserName="Busy")["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(UserName="Busy", PolicyName="inline", PolicyDocument=policy(allow("s3:*")))
    iam.attach_user_policy(UserName="Busy", PolicyArn=ADMIN)
    iam.create_group(GroupName="BusyGroup")
    iam.add_user_to_group(GroupName="BusyGroup", UserName="Busy")

    def conflict() -> str:
        with pytest.raises(ClientError) as e:
            iam.delete_user(UserName="Busy")
        status, code, message = failure(e)
        assert (status, code) == (409, "DeleteConflict")
        return message

    messages = set()
    steps = [
        lambda: iam.delete_access_key(UserName="Busy", AccessKeyId=key),
        lambda: iam.delete_user_policy(UserName="Busy", PolicyName="inline"),
        lambda: iam.detach_user_policy(UserName="Busy", PolicyArn=ADMIN),
        lambda: iam.remove_user_from_group(GroupName="BusyGroup", UserName="Busy"),
    ]
    for step in steps:
        messages.add(conflict())
        step()
    assert messages == {
        "Cannot delete entity, must delete access keys first.",
        "Cannot delete entity, must delete policies first.",
        "Cannot delete entity, must detach all policies first.",
        "Cannot delete entity, must remove users from group first.",
    }
    iam.delete_user(UserName="Busy")
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="Busy")
    assert failure(e) == (404, "NoSuchEntity", "The user with name Busy cannot be found.")


def test_user_tags_are_case_insensitive_and_limited_to_50(iam: BaseClient) -> None:
    iam.create_user(UserName="Tagged", Tags=[{"Key": "Team", "Value": "red"}])
    iam.tag_user(UserName="Tagged", Tags=[{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": ""}])
    assert iam.list_user_tags(UserName="Tagged")["Tags"] == [
        {"Key": "env", "Value": ""},
        {"Key": "team", "Value": "blue"},
    ]
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName="Tagged", Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert failure(e) == (
        400, "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )  # fmt: skip
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName="Tagged", Tags=[{"Key": "aws:reserved", "Value": "1"}])
    assert failure(e)[:2] == (400, "InvalidInput")
    iam.tag_user(UserName="Tagged", Tags=[{"Key": f"k{i:02}", "Value": "v"} for i in range(48)])
    with pytest.raises(ClientError) as e:  # 51 in all: refused as a whole
        iam.tag_user(UserName="Tagged", Tags=[{"Key": "one", "Value": "1"}, {"Key": "two", "Value": "2"}])
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for TagsPerUser: 50")
    iam.tag_user(UserName="Tagged", Tags=[{"Key": "TEAM", "Value": "green"}])  # overwrite still fits
    tags = iam.list_user_tags(UserName="Tagged", MaxItems=20)
    assert len(tags["Tags"]) == 20 and tags["IsTruncated"] is True
    rest = iam.list_user_tags(UserName="Tagged", Marker=tags["Marker"], MaxItems=100)
    assert len(rest["Tags"]) == 30 and rest["IsTruncated"] is False
    assert {"Key": "TEAM", "Value": "green"} in tags["Tags"] + rest["Tags"]
    iam.untag_user(UserName="Tagged", TagKeys=["team", "never-there"])
    keys = [t["Key"] for t in iam.list_user_tags(UserName="Tagged")["Tags"]]
    assert "TEAM" not in keys and len(keys) == 49
    with pytest.raises(ClientError) as e:
        iam.list_user_tags(UserName="Nobody")
    assert failure(e) == (404, "NoSuchEntity", "The user with name Nobody cannot be found.")


# -- groups ---------------------------------------------------------------------------------
def test_group_lifecycle_and_shapes(iam: BaseClient, acct: str) -> None:
    group = iam.create_group(GroupName="Devs", Path="/eng/")["Group"]
    assert group["GroupId"].startswith("AGPA") and group["Arn"] == f"arn:aws:iam::{acct}:group/eng/Devs"
    assert set(group) == {"Path", "GroupName", "GroupId", "Arn", "CreateDate"}
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName="devs")
    assert failure(e) == (409, "EntityAlreadyExists", "Group with name devs already exists.")
    assert [g["GroupName"] for g in iam.list_groups(PathPrefix="/eng/")["Groups"]] == ["Devs"]
    iam.update_group(GroupName="Devs", NewGroupName="Developers", NewPath="/people/")
    moved = iam.get_group(GroupName="developers")["Group"]
    assert moved["GroupId"] == group["GroupId"] and moved["Arn"] == f"arn:aws:iam::{acct}:group/people/Developers"
    with pytest.raises(ClientError) as e:
        iam.get_group(GroupName="Devs")
    assert failure(e) == (404, "NoSuchEntity", "The group with name Devs cannot be found.")
    iam.delete_group(GroupName="Developers")
    assert iam.list_groups(PathPrefix="/people/")["Groups"] == []


def test_membership_is_idempotent_and_paged(iam: BaseClient) -> None:
    iam.create_group(GroupName="Members")
    for name in ("m-a", "m-b", "m-c"):
        iam.create_user(UserName=name)
        iam.add_user_to_group(GroupName="Members", UserName=name)
    iam.add_user_to_group(GroupName="Members", UserName="m-a")  # already a member: no error
    first = iam.get_group(GroupName="Members", MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == ["m-a", "m-b"] and first["IsTruncated"] is True
    rest = iam.get_group(GroupName="Members", Marker=first["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["m-c"] and rest["IsTruncated"] is False
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="m-b")["Groups"]] == ["Members"]
    iam.remove_user_from_group(GroupName="Members", UserName="m-b")
    assert iam.list_groups_for_user(UserName="m-b")["Groups"] == []
    with pytest.raises(ClientError) as e:
        iam.remove_user_from_group(GroupName="Members", UserName="m-b")
    assert failure(e)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName="Members", UserName="ghost")
    assert failure(e) == (404, "NoSuchEntity", "The user with name ghost cannot be found.")
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName="NoGroup", UserName="m-a")
    assert failure(e) == (404, "NoSuchEntity", "The group with name NoGroup cannot be found.")


def test_a_user_belongs_to_at_most_10_groups(iam: BaseClient) -> None:
    iam.create_user(UserName="Joiner")
    for i in range(11):
        iam.create_group(GroupName=f"quota-{i}")
    for i in range(10):
        iam.add_user_to_group(GroupName=f"quota-{i}", UserName="Joiner")
    with pytest.raises(ClientError) as e:
        iam.add_user_to_group(GroupName="quota-10", UserName="Joiner")
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10")
    iam.add_user_to_group(GroupName="quota-3", UserName="Joiner")  # re-adding at the quota is fine
    assert len(iam.list_groups_for_user(UserName="Joiner")["Groups"]) == 10


def test_delete_group_conflicts(iam: BaseClient) -> None:
    iam.create_group(GroupName="Full")
    iam.create_user(UserName="InFull")
    iam.add_user_to_group(GroupName="Full", UserName="InFull")
    iam.put_group_policy(GroupName="Full", PolicyName="gp", PolicyDocument=policy(allow("s3:*")))
    iam.attach_group_policy(GroupName="Full", PolicyArn=ADMIN)
    expected = [
        ("Cannot delete entity, must remove users from group first.",
         lambda: iam.remove_user_from_group(GroupName="Full", UserName="InFull")),
        ("Cannot delete entity, must delete policies first.",
         lambda: iam.delete_group_policy(GroupName="Full", PolicyName="gp")),
        ("Cannot delete entity, must detach all policies first.",
         lambda: iam.detach_group_policy(GroupName="Full", PolicyArn=ADMIN)),
    ]  # fmt: skip
    found = set()
    for _, fix in expected:
        with pytest.raises(ClientError) as e:
            iam.delete_group(GroupName="Full")
        status, code, message = failure(e)
        assert (status, code) == (409, "DeleteConflict")
        found.add(message)
        fix()
    assert found == {message for message, _ in expected}
    iam.delete_group(GroupName="Full")
