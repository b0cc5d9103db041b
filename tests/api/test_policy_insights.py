"""GetContextKeysForCustomPolicy / GetContextKeysForPrincipalPolicy,
ListPoliciesGrantingServiceAccess and SetSecurityTokenServicePreferences against a real
server, with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, failure, policy

# AWS CLI documentation's example for get-context-keys-for-custom-policy, and its answer
CUSTOM = json.dumps({
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow", "Action": "dynamodb:*",
        "Resource": "arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2015-08-16T12:00:00Z"}},
    },
})  # fmt: skip


def test_context_keys_of_custom_policies(iam: BaseClient) -> None:
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[CUSTOM])["ContextKeyNames"] == [
        "aws:username", "aws:CurrentTime",
    ]  # fmt: skip
    second = policy(
        allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
              StringEquals={"aws:username": "x", "s3:prefix": "${aws:userid}"}),
        allow("ec2:*", "*", **{"ForAnyValue:StringLike": {"aws:TagKeys": ["a*"]}}),
    )  # fmt: skip
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[CUSTOM, second])["ContextKeyNames"]
    assert keys == ["aws:username", "aws:CurrentTime", "aws:PrincipalTag/team", "s3:prefix", "aws:userid",
                    "aws:TagKeys"]  # fmt: skip


def test_an_invalid_policy_is_invalid_input(iam: BaseClient) -> None:
    with pytest.raises(ClientError) as e:
        iam.get_context_keys_for_custom_policy(PolicyInputList=['{"Version": "2012-10-17"}'])
    status, code, _ = failure(e)
    assert (status, code) == (400, "InvalidInput")


def test_context_keys_of_a_principal_include_its_groups_and_given_policies(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="ck-user")
    iam.create_group(GroupName="ck-group")
    iam.add_user_to_group(GroupName="ck-group", UserName="ck-user")
    iam.put_user_policy(
        UserName="ck-user",
        PolicyName="own",
        PolicyDocument=policy(allow("s3:*", "*", Bool={"aws:MultiFactorAuthPresent": "true"})),
    )
    managed = iam.create_policy(PolicyName="ck-managed", PolicyDocument=policy(
        allow("ec2:*", "*", StringEquals={"ec2:Region": "eu-west-1"})))["Policy"]["Arn"]  # fmt: skip
    iam.attach_group_policy(GroupName="ck-group", PolicyArn=managed)
    user_arn = f"arn:aws:iam::{acct}:user/ck-user"
    keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=user_arn)["ContextKeyNames"]
    assert sorted(keys) == ["aws:MultiFactorAuthPresent", "ec2:Region"]
    extra = policy(allow("sqs:*", "*", IpAddress={"aws:SourceIp": "10.0.0.0/8"}))
    keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=user_arn, PolicyInputList=[extra])
    assert sorted(keys["ContextKeyNames"]) == ["aws:MultiFactorAuthPresent", "aws:SourceIp", "ec2:Region"]
    group_keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=f"arn:aws:iam::{acct}:group/ck-group")
    assert group_keys["ContextKeyNames"] == ["ec2:Region"]
    with pytest.raises(ClientError) as e:
        iam.get_context_keys_for_principal_policy(PolicySourceArn=f"arn:aws:iam::{acct}:user/nobody")
    assert failure(e) == (404, "NoSuchEntity", "The user with name nobody cannot be found.")


def test_policies_granting_service_access(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="ga-user")
    iam.create_group(GroupName="ga-group")
    iam.add_user_to_group(GroupName="ga-group", UserName="ga-user")
    iam.put_user_policy(UserName="ga-user", PolicyName="s3-read", PolicyDocument=policy(allow("s3:Get*")))
    iam.put_user_policy(
        UserName="ga-user",
        PolicyName="deny-only",
        PolicyDocument=policy({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}),
    )
    iam.put_group_policy(
        GroupName="ga-group",
        PolicyName="all-but-iam",
        PolicyDocument=policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    )
    managed = iam.create_policy(PolicyName="ga-iam", PolicyDocument=policy(allow("iam:List*")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ga-user", PolicyArn=managed)
    answer = iam.list_policies_granting_service_access(
        Arn=f"arn:aws:iam::{acct}:user/ga-user", ServiceNamespaces=["s3", "iam", "ec2"]
    )
    by_service = {e["ServiceNamespace"]: e["Policies"] for e in answer["PoliciesGrantingServiceAccess"]}
    inline_s3 = {"PolicyName": "s3-read", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": "ga-user"}
    group = {"PolicyName": "all-but-iam", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": "ga-group"}
    assert by_service == {
        "s3": [inline_s3, group],
        "iam": [{"PolicyName": "ga-iam", "PolicyType": "MANAGED", "PolicyArn": managed}],
        "ec2": [group],
    }
    assert answer["IsTruncated"] is False
    with pytest.raises(ClientError) as e:
        iam.list_policies_granting_service_access(Arn=f"arn:aws:iam::{acct}:role/none", ServiceNamespaces=["s3"])
    assert failure(e) == (404, "NoSuchEntity", "The role with name none cannot be found.")


def test_granting_access_is_authorized_on_the_entity(user_client: UserClient, acct: str, iam: BaseClient) -> None:
    iam.create_user(UserName="ga-other")
    me = user_client("ga-asker", policy(allow("iam:ListPoliciesGrantingServiceAccess",
                                              f"arn:aws:iam::{acct}:user/ga-asker")))  # fmt: skip
    assert (
        me.list_policies_granting_service_access(Arn=f"arn:aws:iam::{acct}:user/ga-asker", ServiceNamespaces=["iam"])[
            "PoliciesGrantingServiceAccess"
        ][0]["Policies"][0]["PolicyName"]
        == "inline"
    )
    with pytest.raises(ClientError) as e:
        me.list_policies_granting_service_access(Arn=f"arn:aws:iam::{acct}:user/ga-other", ServiceNamespaces=["s3"])
    assert failure(e)[1] == "AccessDenied"
    assert f"on resource: arn:aws:iam::{acct}:user/ga-other" in failure(e)[2]


def test_sts_preferences_show_in_the_account_summary(iam: BaseClient) -> None:
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
