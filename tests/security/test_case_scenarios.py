"""The exact ways a Deny was sidestepped by spelling a name in another case (docs/security.md)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import NO_RETRY, UserClient, allow, deny, failure, policy
from tests.api.server import RunningServer


def _denied(call: object, **params: object) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**params)  # type: ignore[operator]
    status, code, message = failure(excinfo)
    assert (status, code) == (403, "AccessDenied"), message
    return message


def _sts(server: RunningServer, client: BaseClient) -> BaseClient:
    creds = client._request_signer._credentials  # the same user's key, for STS
    return boto3.client(
        "sts", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key, config=NO_RETRY,
    )  # fmt: skip


def test_no_access_key_for_admin_by_spelling_it_admin(iam: BaseClient, acct: str, user_client: UserClient) -> None:
    iam.create_user(UserName="Admin")
    hank = user_client(
        "hank",
        policy(
            allow(["iam:CreateAccessKey", "iam:CreateLoginProfile"], f"arn:aws:iam::{acct}:user/*"),
            deny("iam:*", f"arn:aws:iam::{acct}:user/Admin"),
        ),
    )
    for name in ("Admin", "admin", "ADMIN", "aDMIN"):
        message = _denied(hank.create_access_key, UserName=name)
        assert "on resource: user Admin with an explicit deny" in message
        _denied(hank.create_login_profile, UserName=name, Password="Pa55word!Pa55word!")
    assert iam.list_access_keys(UserName="Admin")["AccessKeyMetadata"] == []
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_login_profile(UserName="Admin")


def test_no_assume_role_after_rewriting_a_denied_roles_trust(
    iam: BaseClient, acct: str, user_client: UserClient, api_server: RunningServer
) -> None:
    nobody = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    iam.create_role(RoleName="Vault", Path="/sec/", AssumeRolePolicyDocument=policy(nobody))
    vault = f"arn:aws:iam::{acct}:role/sec/Vault"
    carl = user_client("carl", policy(allow(["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]), deny("iam:*", vault)))
    carl_arn = f"arn:aws:iam::{acct}:user/carl"
    trusting = policy({"Effect": "Allow", "Principal": {"AWS": carl_arn}, "Action": "sts:AssumeRole"})
    for name in ("vault", "VAULT", "vAULT"):
        _denied(carl.update_assume_role_policy, RoleName=name, PolicyDocument=trusting)
    assert json.loads(json.dumps(iam.get_role(RoleName="Vault")["Role"]["AssumeRolePolicyDocument"])) == json.loads(
        policy(nobody)
    )
    sts = _sts(api_server, carl)
    for arn in (vault, vault.replace("Vault", "vault"), f"arn:aws:iam::{acct}:role/Vault"):
        _denied(sts.assume_role, RoleArn=arn, RoleSessionName="s1")


def test_assume_role_is_authorized_on_the_stored_role_arn(
    iam: BaseClient, acct: str, user_client: UserClient, api_server: RunningServer
) -> None:
    """The role trusts dora, whose identity policy denies assuming it: no spelling gets through."""
    keep = f"arn:aws:iam::{acct}:role/sec/Keep"
    dora = user_client("dora", policy(allow("sts:AssumeRole"), deny("sts:AssumeRole", keep)))
    dora_arn = f"arn:aws:iam::{acct}:user/dora"
    trust = policy({"Effect": "Allow", "Principal": {"AWS": dora_arn}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="Keep", Path="/sec/", AssumeRolePolicyDocument=trust)
    sts = _sts(api_server, dora)
    variants = (keep, keep.replace("Keep", "keep"), keep.replace("Keep", "KEEP"),
                f"arn:aws:iam::{acct}:role/Keep", f"arn:aws:iam::{acct}:role/SEC/Keep")  # fmt: skip
    for arn in variants:
        _denied(sts.assume_role, RoleArn=arn, RoleSessionName="s1")


def test_no_joining_a_denied_group_by_case(iam: BaseClient, acct: str, user_client: UserClient) -> None:
    iam.create_group(GroupName="Admins")
    erin = user_client("erin", policy(allow("iam:AddUserToGroup"), deny("iam:*", f"arn:aws:iam::{acct}:group/Admins")))
    for name in ("admins", "ADMINS", "aDMINS"):
        _denied(erin.add_user_to_group, GroupName=name, UserName="erin")
    assert iam.get_group(GroupName="Admins")["Users"] == []


def test_no_rewriting_ones_own_boundary_by_case(iam: BaseClient, acct: str, user_client: UserClient) -> None:
    narrow = policy(allow(["iam:CreatePolicyVersion", "iam:PutUserPermissionsBoundary", "iam:GetUser"]))
    arn = iam.create_policy(PolicyName="FrankBoundary", Path="/b/", PolicyDocument=narrow)["Policy"]["Arn"]
    frank = user_client("frank", policy(allow("*"), deny("iam:*", [arn, f"arn:aws:iam::{acct}:user/Admin2"])))
    iam.put_user_permissions_boundary(UserName="frank", PermissionsBoundary=arn)
    iam.create_user(UserName="Admin2")
    everything = policy(allow("*"))
    for spelling in (arn.replace("FrankBoundary", "frankboundary"), arn.replace("FrankBoundary", "FRANKBOUNDARY")):
        _denied(frank.create_policy_version, PolicyArn=spelling, PolicyDocument=everything, SetAsDefault=True)
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1
    for name in ("admin2", "ADMIN2"):
        _denied(frank.put_user_permissions_boundary, UserName=name, PermissionsBoundary=arn)
    assert "PermissionsBoundary" not in iam.get_user(UserName="Admin2")["User"]


def test_renames_are_authorized_on_the_stored_and_the_new_arn(
    iam: BaseClient, acct: str, user_client: UserClient
) -> None:
    iam.create_user(UserName="Root2", Path="/p/")
    iam.create_user(UserName="bob")
    gail = user_client("gail", policy(allow("iam:UpdateUser"), deny("iam:*", [f"arn:aws:iam::{acct}:user/p/Root2"])))
    _denied(gail.update_user, UserName="root2", NewUserName="x1")  # the old (stored) ARN
    _denied(gail.update_user, UserName="bob", NewUserName="ROOT2")  # another entity's spelling
    assert iam.get_user(UserName="Root2")["User"]["Path"] == "/p/"
    assert iam.get_user(UserName="bob")["User"]["UserName"] == "bob"


def test_policy_arn_condition_keys_name_the_stored_policy(iam: BaseClient, acct: str, user_client: UserClient) -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.create_user(UserName="target3")
    harry = user_client(
        "harry",
        policy(
            allow(["iam:AttachUserPolicy", "iam:PutUserPermissionsBoundary"]),
            {
                "Effect": "Deny",
                "Action": "iam:AttachUserPolicy",
                "Resource": "*",
                "Condition": {"ArnEquals": {"iam:PolicyARN": admin}},
            },
            {
                "Effect": "Deny",
                "Action": "iam:PutUserPermissionsBoundary",
                "Resource": "*",
                "Condition": {"ArnEquals": {"iam:PermissionsBoundary": admin}},
            },
        ),
    )
    for spelling in ("arn:aws:iam::aws:policy/administratoraccess", "arn:aws:iam::aws:policy/ADMINISTRATORACCESS"):
        _denied(harry.attach_user_policy, UserName="target3", PolicyArn=spelling)
        _denied(harry.put_user_permissions_boundary, UserName="target3", PermissionsBoundary=spelling)
    assert iam.list_attached_user_policies(UserName="target3")["AttachedPolicies"] == []
