"""Roles and instance profiles over the wire with boto3 (IAM API "CreateRole", "UpdateRole", "DeleteRole"; AWS "Use
instance profiles").
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.policy import DocumentKind, PolicyValidationError, parse_policy
from tests.api.conftest import allow, failure, policy, signed_request
from tests.api.server import RunningServer

EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
TRUST = json.dumps(EC2_TRUST)
READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def engine_message(text: str) -> str:
    try:
        parse_policy(text, DocumentKind.TRUST)
    except PolicyValidationError as e:
        return e.message
    raise AssertionError("the engine accepts this trust policy")


def test_create_role_shape_and_trust_policy_round_trip(iam: BaseClient, acct: str) -> None:
    document = '{ "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'  # noqa: E501
    role = iam.create_role(
        RoleName="App", Path="/svc/", AssumeRolePolicyDocument=document, Description="app role",
        Tags=[{"Key": "tier", "Value": "web"}],
    )["Role"]  # fmt: skip
    assert role["RoleId"].startswith("AROA") and role["Arn"] == f"arn:aws:iam::{acct}:role/svc/App"
    assert role["AssumeRolePolicyDocument"] == json.loads(document)  # boto3 decoded the URL-encoding
    assert role["MaxSessionDuration"] == 3600 and role["Description"] == "app role"
    assert role["Tags"] == [{"Key": "tier", "Value": "web"}]
    got = iam.get_role(RoleName="app")["Role"]
    assert got["RoleLastUsed"] == {} and got["Tags"] == role["Tags"] and got["RoleId"] == role["RoleId"]
    iam.get_waiter("role_exists").wait(RoleName="App", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="APP", AssumeRolePolicyDocument=TRUST)
    assert failure(e) == (409, "EntityAlreadyExists", "Role with name APP already exists.")
    assert "PermissionsBoundary" not in role and "RoleLastUsed" not in role


def test_create_role_answers_the_boundary_it_set(iam: BaseClient) -> None:
    """CreateRole's Role carries PermissionsBoundary when one was set, as AWS answers it."""
    role = iam.create_role(RoleName="Bounded", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=READ)["Role"]
    assert role["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                                           "PermissionsBoundaryArn": READ}  # fmt: skip
    assert iam.get_role(RoleName="Bounded")["Role"]["PermissionsBoundary"] == role["PermissionsBoundary"]


def test_trust_policy_travels_url_encoded_and_keeps_whitespace(api_server: RunningServer, iam: BaseClient) -> None:
    document = '{"Version":"2012-10-17",  "Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'  # noqa: E501
    iam.create_role(RoleName="Encoded", AssumeRolePolicyDocument=document)
    raw = signed_request(api_server, "Action=GetRole&Version=2010-05-08&RoleName=Encoded").text
    encoded = raw.split("<AssumeRolePolicyDocument>")[1].split("</AssumeRolePolicyDocument>")[0]
    assert encoded.startswith("%7B%22Version%22%3A%222012-10-17%22") and unquote(encoded) == document


@pytest.mark.parametrize(
    "document",
    [
        policy({"Effect": "Allow", "Action": "sts:AssumeRole"}),  # no Principal
        policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}),
        "not json",
    ],
    ids=["no-principal", "identity-policy", "syntax"],
)
def test_trust_policy_is_validated_as_a_trust_policy(iam: BaseClient, document: str) -> None:
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Malformed", AssumeRolePolicyDocument=document)
    assert failure(e) == (400, "MalformedPolicyDocument", engine_message(document))
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="Malformed")  # nothing half-written
    assert failure(e) == (404, "NoSuchEntity", "The role with name Malformed cannot be found.")


def test_trust_policy_principals_must_exist(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="Elsewhere", Path="/right/")
    for arn in (
        f"arn:aws:iam::{acct}:user/ghost",
        f"arn:aws:iam::{acct}:role/nested/ghost-role",
        f"arn:aws:iam::{acct}:user/wrong/Elsewhere",  # exists, but not at that path
    ):
        document = policy({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"})
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName="Haunted", AssumeRolePolicyDocument=document)
        assert failure(e) == (400, "MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{arn}"')
    iam.create_user(UserName="Truster", Path="/t/")
    document = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/t/Truster"}, "Action": "sts:AssumeRole"}
    )
    iam.create_role(RoleName="Trusting", AssumeRolePolicyDocument=document)
    statement = iam.get_role(RoleName="Trusting")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{acct}:user/t/Truster"}
    # principals of accounts this server does not hold cannot be checked, and are accepted
    foreign = policy(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:role/Deployer"}, "Action": "sts:AssumeRole"}
    )
    iam.create_role(RoleName="CrossAccount", AssumeRolePolicyDocument=foreign)


def test_trust_policy_size_quota(iam: BaseClient) -> None:
    big = dict(EC2_TRUST)
    big["Statement"] = [
        {"Effect": "Allow", "Principal": {"Service": f"s{i:04}.amazonaws.com"}, "Action": "sts:AssumeRole"}
        for i in range(40)
    ]
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="TooTrusting", AssumeRolePolicyDocument=json.dumps(big))
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048")


def test_max_session_duration_bounds(iam: BaseClient, raw_iam: BaseClient) -> None:
    assert (
        iam.create_role(RoleName="Long", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=43200)["Role"][
            "MaxSessionDuration"
        ]
        == 43200
    )
    for value, phrase in ((100, "greater than or equal to 3600"), (50000, "less than or equal to 43200")):
        with pytest.raises(ClientError) as e:
            raw_iam.create_role(RoleName="Bad", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=value)
        assert failure(e) == (
            400, "ValidationError",
            f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to satisfy constraint: "
            f"Member must have value {phrase}",
        )  # fmt: skip
        with pytest.raises(ClientError) as e:
            raw_iam.update_role(RoleName="Long", MaxSessionDuration=value)
        assert failure(e)[:2] == (400, "ValidationError")


def test_update_role_returns_an_empty_result(iam: BaseClient) -> None:
    iam.create_role(RoleName="Updatable", AssumeRolePolicyDocument=TRUST)
    response = iam.update_role(RoleName="Updatable", Description="now described", MaxSessionDuration=7200)
    assert set(response) == {"ResponseMetadata"}
    role = iam.get_role(RoleName="Updatable")["Role"]
    assert role["Description"] == "now described" and role["MaxSessionDuration"] == 7200
    described = iam.update_role_description(RoleName="Updatable", Description="again")["Role"]
    assert described["Description"] == "again" and described["RoleName"] == "Updatable"
    with pytest.raises(ClientError) as e:
        iam.update_role(RoleName="NoRole", Description="x")
    assert failure(e) == (404, "NoSuchEntity", "The role with name NoRole cannot be found.")


def test_update_assume_role_policy_validates_and_replaces(iam: BaseClient, acct: str) -> None:
    iam.create_role(RoleName="Retrust", AssumeRolePolicyDocument=TRUST)
    lambda_trust = policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    assert set(iam.update_assume_role_policy(RoleName="Retrust", PolicyDocument=lambda_trust)) == {"ResponseMetadata"}
    assert iam.get_role(RoleName="Retrust")["Role"]["AssumeRolePolicyDocument"] == json.loads(lambda_trust)
    ghost = f"arn:aws:iam::{acct}:role/ghost"
    with pytest.raises(ClientError) as e:
        iam.update_assume_role_policy(
            RoleName="Retrust",
            PolicyDocument=policy({"Effect": "Allow", "Principal": {"AWS": ghost}, "Action": "sts:AssumeRole"}),
        )
    assert failure(e) == (400, "MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{ghost}"')
    assert iam.get_role(RoleName="Retrust")["Role"]["AssumeRolePolicyDocument"] == json.loads(lambda_trust)


def test_list_roles_pages_and_omits_details(iam: BaseClient) -> None:
    for name in ("lr-b", "lr-a", "lr-c"):
        iam.create_role(
            RoleName=name, Path="/listed/", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "k", "Value": "v"}],
            PermissionsBoundary=READ,
        )  # fmt: skip
    first = iam.list_roles(PathPrefix="/listed/", MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["lr-a", "lr-b"] and first["IsTruncated"] is True
    rest = iam.list_roles(PathPrefix="/listed/", Marker=first["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == ["lr-c"] and rest["IsTruncated"] is False
    for role in first["Roles"] + rest["Roles"]:
        assert "Tags" not in role and "PermissionsBoundary" not in role and "RoleLastUsed" not in role
        assert role["AssumeRolePolicyDocument"] == EC2_TRUST
    assert iam.get_role(RoleName="lr-a")["Role"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": READ,
    }


def test_role_tags(iam: BaseClient) -> None:
    iam.create_role(RoleName="TagRole", AssumeRolePolicyDocument=TRUST)
    iam.tag_role(RoleName="TagRole", Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "x", "Value": "1"}])
    iam.tag_role(RoleName="TagRole", Tags=[{"Key": "env", "Value": "prod"}])
    assert iam.list_role_tags(RoleName="TagRole")["Tags"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "x", "Value": "1"},
    ]
    page = iam.list_role_tags(RoleName="TagRole", MaxItems=1)
    assert page["IsTruncated"] is True and len(page["Tags"]) == 1
    iam.untag_role(RoleName="TagRole", TagKeys=["X"])
    assert iam.list_role_tags(RoleName="TagRole")["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(ClientError) as e:
        iam.tag_role(RoleName="TagRole", Tags=[{"Key": f"t{i}", "Value": ""} for i in range(50)])
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for TagsPerRole: 50")


def test_delete_role_conflicts(iam: BaseClient) -> None:
    iam.create_role(RoleName="Attached", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="Attached", PolicyName="inline", PolicyDocument=policy(allow("s3:*")))
    iam.attach_role_policy(RoleName="Attached", PolicyArn=READ)
    iam.create_instance_profile(InstanceProfileName="AttachedProfile")
    iam.add_role_to_instance_profile(InstanceProfileName="AttachedProfile", RoleName="Attached")
    fixes = {
        "Cannot delete entity, must delete policies first.":
            lambda: iam.delete_role_policy(RoleName="Attached", PolicyName="inline"),
        "Cannot delete entity, must detach all policies first.":
            lambda: iam.detach_role_policy(RoleName="Attached", PolicyArn=READ),
        "Cannot delete entity, must remove roles from instance profile first.":
            lambda: iam.remove_role_from_instance_profile(InstanceProfileName="AttachedProfile", RoleName="Attached"),
    }  # fmt: skip
    while fixes:
        with pytest.raises(ClientError) as e:
            iam.delete_role(RoleName="Attached")
        status, code, message = failure(e)
        assert (status, code) == (409, "DeleteConflict") and message in fixes
        fixes.pop(message)()
    iam.delete_role(RoleName="Attached")
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName="Attached")
    assert failure(e) == (404, "NoSuchEntity", "The role with name Attached cannot be found.")


def test_service_linked_and_reserved_roles_are_protected(api_server: RunningServer, iam: BaseClient) -> None:
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Sneaky", Path="/aws-service-role/x.amazonaws.com/", AssumeRolePolicyDocument=TRUST)
    assert failure(e)[:2] == (400, "InvalidInput")
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="Sneaky", Path="/aws-reserved/sso.amazonaws.com/", AssumeRolePolicyDocument=TRUST)
    assert failure(e)[:2] == (400, "InvalidInput")
    name = "AWSServiceRoleForTesting"
    with api_server.backend.store.transaction() as tx:  # as CreateServiceLinkedRole would
        tx.create_role(
            api_server.account_id, name, assume_role_policy=TRUST, path="/aws-service-role/testing.amazonaws.com/"
        )
    api_server.backend.changed()
    protected = f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    attempts = {
        "UpdateRole": lambda: iam.update_role(RoleName=name, Description="x"),
        "UpdateAssumeRolePolicy": lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=TRUST),
        "PutRolePolicy": lambda: iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(allow("*"))),
        "AttachRolePolicy": lambda: iam.attach_role_policy(RoleName=name, PolicyArn=READ),
        "PutRolePermissionsBoundary": lambda: iam.put_role_permissions_boundary(
            RoleName=name, PermissionsBoundary=READ
        ),
        "DeleteRole": lambda: iam.delete_role(RoleName=name),
        "DeleteRolePolicy": lambda: iam.delete_role_policy(RoleName=name, PolicyName="p"),
        "DetachRolePolicy": lambda: iam.detach_role_policy(RoleName=name, PolicyArn=READ),
        "DeleteRolePermissionsBoundary": lambda: iam.delete_role_permissions_boundary(RoleName=name),
        "TagRole": lambda: iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}]),
    }
    for operation, attempt in attempts.items():
        with pytest.raises(ClientError) as e:
            attempt()
        assert failure(e) == (400, "UnmodifiableEntity", protected), operation
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == "/aws-service-role/testing.amazonaws.com/" and "Description" not in role
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    assert iam.list_role_tags(RoleName=name)["Tags"] == []
    # the description of a service-linked role may change (IAM API "CreateRole", "UpdateRole", "DeleteRole")
    assert iam.update_role_description(RoleName=name, Description="ok")["Role"]["Description"] == "ok"


# -- instance profiles ----------------------------------------------------------------------
def test_instance_profile_lifecycle(iam: BaseClient, acct: str) -> None:
    profile = iam.create_instance_profile(
        InstanceProfileName="Web", Path="/web/", Tags=[{"Key": "Cost", "Value": "1"}]
    )["InstanceProfile"]
    assert profile["InstanceProfileId"].startswith("AIPA") and profile["Roles"] == []
    assert profile["Arn"] == f"arn:aws:iam::{acct}:instance-profile/web/Web"
    assert profile["Tags"] == [{"Key": "Cost", "Value": "1"}]
    iam.get_waiter("instance_profile_exists").wait(InstanceProfileName="Web", WaiterConfig={"Delay": 1})
    iam.create_role(RoleName="WebRole", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="OtherRole", AssumeRolePolicyDocument=TRUST)
    iam.add_role_to_instance_profile(InstanceProfileName="Web", RoleName="WebRole")
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName="Web", RoleName="OtherRole")
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName="Web", RoleName="WebRole")
    assert failure(e)[:2] == (409, "EntityAlreadyExists")
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["WebRole"]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == EC2_TRUST
    listed = iam.list_instance_profiles_for_role(RoleName="WebRole")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == ["Web"]
    assert iam.list_instance_profiles_for_role(RoleName="OtherRole")["InstanceProfiles"] == []
    with pytest.raises(ClientError) as e:
        iam.delete_instance_profile(InstanceProfileName="Web")
    assert failure(e) == (409, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")
    with pytest.raises(ClientError) as e:
        iam.remove_role_from_instance_profile(InstanceProfileName="Web", RoleName="OtherRole")
    assert failure(e)[:2] == (404, "NoSuchEntity")
    iam.remove_role_from_instance_profile(InstanceProfileName="Web", RoleName="WebRole")
    iam.delete_instance_profile(InstanceProfileName="Web")
    with pytest.raises(ClientError) as e:
        iam.get_instance_profile(InstanceProfileName="Web")
    assert failure(e) == (404, "NoSuchEntity", "Instance Profile Web cannot be found.")


def test_instance_profile_listing_and_tags(iam: BaseClient) -> None:
    for name in ("ip-b", "ip-a", "ip-c"):
        iam.create_instance_profile(InstanceProfileName=name, Path="/ips/")
    first = iam.list_instance_profiles(PathPrefix="/ips/", MaxItems=2)
    assert [p["InstanceProfileName"] for p in first["InstanceProfiles"]] == ["ip-a", "ip-b"]
    rest = iam.list_instance_profiles(PathPrefix="/ips/", Marker=first["Marker"])
    assert [p["InstanceProfileName"] for p in rest["InstanceProfiles"]] == ["ip-c"]
    # instance profile tag keys are case-sensitive (AWS "IAM identifiers" (friendly names and paths))
    iam.tag_instance_profile(InstanceProfileName="ip-a", Tags=[{"Key": "Cost", "Value": "1"}])
    iam.tag_instance_profile(InstanceProfileName="ip-a", Tags=[{"Key": "cost", "Value": "2"}])
    assert {t["Key"] for t in iam.list_instance_profile_tags(InstanceProfileName="ip-a")["Tags"]} == {"Cost", "cost"}
    iam.untag_instance_profile(InstanceProfileName="ip-a", TagKeys=["Cost"])
    assert iam.list_instance_profile_tags(InstanceProfileName="ip-a")["Tags"] == [{"Key": "cost", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        iam.create_instance_profile(InstanceProfileName="IP-A")
    assert failure(e)[:2] == (409, "EntityAlreadyExists")
