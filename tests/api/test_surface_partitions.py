"""The newer IAM and STS operations on an ``aws-cn`` server: last-accessed data, outbound web
identity federation, root access; AWS managed policies and MFA serials in the partition's name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import allow, failure, policy
from tests.api.server import RunningServer, running_server
from tests.api.test_regions_partitions import client


@pytest.fixture(scope="module")
def cn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("cn-surface"), partition="aws-cn") as server:
        yield server


def _user(iam: Any, name: str, document: str | None = None) -> tuple[str, str]:
    iam.create_user(UserName=name)
    if document is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_managed_policy_documents_name_the_partition(cn: RunningServer) -> None:
    iam = client(cn, "iam", "cn-north-1")
    arn = "arn:aws-cn:iam::aws:policy/IAMUserChangePassword"
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    assert document["Statement"][0]["Resource"] == ["arn:aws-cn:iam::*:user/${aws:username}"]
    iam.create_user(UserName="wang")
    iam.attach_user_policy(UserName="wang", PolicyArn=arn)
    user_arn = f"arn:aws-cn:iam::{cn.account_id}:user/wang"
    username = [{"ContextKeyName": "aws:username", "ContextKeyValues": ["wang"], "ContextKeyType": "string"}]
    result = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=["iam:ChangePassword"],
                                           ResourceArns=[user_arn], ContextEntries=username)  # fmt: skip
    result = result["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"  # the shipped document as written would match no aws-cn user


def test_mfa_device_names_are_bounded_by_the_partitions_serial(cn: RunningServer) -> None:
    iam = client(cn, "iam", "cn-north-1")
    assert iam.create_virtual_mfa_device(VirtualMFADeviceName="d" * 223)["VirtualMFADevice"]["SerialNumber"] == (
        f"arn:aws-cn:iam::{cn.account_id}:mfa/{'d' * 223}"
    )
    with pytest.raises(ClientError) as long:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="e" * 224)
    assert failure(long) == (400, "ValidationError", f"1 validation error detected: Value '{'e' * 224}' at "
                             "'virtualMFADeviceName' failed to satisfy constraint: Member must have length less "
                             "than or equal to 223")  # fmt: skip


def test_last_accessed_in_aws_cn(cn: RunningServer) -> None:
    iam = client(cn, "iam", "cn-north-1")
    key = _user(iam, "zhao", policy(allow("iam:List*")))
    client(cn, "iam", "cn-northwest-1", *key).list_users()
    cn.backend.audit.flush()
    arn = f"arn:aws-cn:iam::{cn.account_id}:user/zhao"
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity="ACTION_LEVEL")["JobId"]
    [service] = iam.get_service_last_accessed_details(JobId=job)["ServicesLastAccessed"]
    assert (service["ServiceNamespace"], service["LastAuthenticatedEntity"]) == ("iam", arn)
    assert service["LastAuthenticatedRegion"] == "cn-north-1"  # IAM's home region in the partition
    assert service["TrackedActionsLastAccessed"][0]["ActionName"] == "ListUsers"


def test_outbound_tokens_in_aws_cn(cn: RunningServer) -> None:
    iam = client(cn, "iam", "cn-north-1")
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    key = _user(iam, "sun", policy(allow("sts:GetWebIdentityToken")))
    token = client(cn, "sts", "cn-northwest-1", *key).get_web_identity_token(
        Audience=["https://relying.example"], SigningAlgorithm="RS256"
    )["WebIdentityToken"]
    signing = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing.key, algorithms=["RS256"], audience="https://relying.example", issuer=issuer)
    assert claims["sub"] == f"arn:aws-cn:iam::{cn.account_id}:user/sun"
    assert claims["https://sts.amazonaws.com/"]["source_region"] == "cn-northwest-1"
    assert httpx.get(f"{issuer}/.well-known/openid-configuration").json()["issuer"] == issuer


def test_assume_root_in_aws_cn(cn: RunningServer) -> None:
    orgs = client(cn, "organizations", "cn-north-1")
    orgs.create_organization(FeatureSet="ALL")
    status = orgs.create_account(Email="member@example.cn", AccountName="member")["CreateAccountStatus"]
    member = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    iam = client(cn, "iam", "cn-north-1")
    iam.enable_organizations_root_sessions()
    sts = client(cn, "sts", "cn-north-1", *_user(iam, "qian", policy(allow("sts:AssumeRoot"))))
    with pytest.raises(ClientError) as other_partition:
        sts.assume_root(
            TargetPrincipal=member["AccountId"],
            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
        )
    assert failure(other_partition)[:2] == (400, "InvalidParameterValue")
    creds = sts.assume_root(
        TargetPrincipal=member["AccountId"],
        TaskPolicyArn={"arn": "arn:aws-cn:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
    )["Credentials"]
    session = client(cn, "sts", "cn-north-1", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.get_caller_identity()["Arn"] == f"arn:aws-cn:iam::{member['AccountId']}:root"
