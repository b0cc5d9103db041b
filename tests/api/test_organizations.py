"""AWS Organizations over the JSON 1.1 protocol: unmodified boto3 ``organizations`` clients against a real server.

One organization per module (the server's account is its management account); the tests
run in file order and build on it: the organization, OUs, accounts made by CreateAccount
(real accounts with OrganizationAccountAccessRole), policies and attachments, tags, and the
protocol's errors.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.protocol import Catalog
from iamd.service.organizations import OPERATIONS
from tests.api.conftest import NO_RETRY, RAW, signed_request
from tests.api.server import RunningServer

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
DENY_CREATE_USER = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}
)


def client(server: RunningServer, service: str, key: str, secret: str, token: str | None = None, **kw: Any) -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name=kw.pop("region", "us-east-1"), aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token, config=kw.pop("config", NO_RETRY),
    )  # fmt: skip


@pytest.fixture(scope="module")
def orgs(api_server: RunningServer) -> Any:
    return client(api_server, "organizations", api_server.root_key, api_server.root_secret)


@pytest.fixture(scope="module")
def raw_orgs(api_server: RunningServer) -> Any:
    return client(api_server, "organizations", api_server.root_key, api_server.root_secret, config=RAW)


@pytest.fixture(scope="module")
def org(orgs: Any) -> dict[str, Any]:
    return orgs.create_organization(FeatureSet="ALL")["Organization"]


@pytest.fixture(scope="module")
def root_id(orgs: Any, org: dict[str, Any]) -> str:
    return str(orgs.list_roots()["Roots"][0]["Id"])


def error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, str | None]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response.get("Reason")


def new_account(orgs: Any, name: str, **kw: Any) -> str:
    status = orgs.create_account(Email=f"{name}@example.com", AccountName=name, **kw)["CreateAccountStatus"]
    assert status["State"] == "IN_PROGRESS" and status["Id"].startswith("car-")
    done = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert done["State"] == "SUCCEEDED", done
    return str(done["AccountId"])


def test_an_account_in_no_organization_is_told_so(orgs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        orgs.describe_organization()
    assert error(excinfo)[:2] == (
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_create_organization(orgs: Any, org: dict[str, Any], acct: str) -> None:
    assert org["Id"].startswith("o-") and len(org["Id"]) == 12
    assert org["Arn"] == f"arn:aws:organizations::{acct}:organization/{org['Id']}"
    assert org["MasterAccountId"] == acct and org["FeatureSet"] == "ALL"
    assert org["AvailablePolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    assert orgs.describe_organization()["Organization"] == org
    with pytest.raises(ClientError) as excinfo:
        orgs.create_organization()
    assert error(excinfo)[0] == "AlreadyInOrganizationException"


def test_the_root_has_scps_enabled_and_full_aws_access(orgs: Any, org: dict[str, Any], root_id: str, acct: str) -> None:
    roots = orgs.list_roots()["Roots"]
    assert roots == [{"Id": root_id, "Arn": f"arn:aws:organizations::{acct}:root/{org['Id']}/{root_id}",
                      "Name": "Root", "PolicyTypes": [{"Type": SCP, "Status": "ENABLED"}]}]  # fmt: skip
    assert len(root_id) == 6
    attached = orgs.list_policies_for_target(TargetId=root_id, Filter=SCP)["Policies"]
    assert attached == [{
        "Id": "p-FullAWSAccess", "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
        "Name": "FullAWSAccess", "Description": "Allows access to every operation", "Type": SCP, "AwsManaged": True,
    }]  # fmt: skip
    management = orgs.describe_account(AccountId=acct)["Account"]
    assert management["JoinedMethod"] == "INVITED" and management["Status"] == "ACTIVE"
    assert orgs.list_policies_for_target(TargetId=acct, Filter=SCP)["Policies"] == attached


def test_organizational_units(orgs: Any, org: dict[str, Any], root_id: str, acct: str) -> None:
    prod = orgs.create_organizational_unit(ParentId=root_id, Name="Prod")["OrganizationalUnit"]
    assert prod["Id"].startswith(f"ou-{root_id[2:]}-") and len(prod["Id"]) == len(root_id) + 10
    assert prod["Arn"] == f"arn:aws:organizations::{acct}:ou/{org['Id']}/{prod['Id']}"
    assert prod["Path"] == f"{org['Id']}/{root_id}/{prod['Id']}/"
    web = orgs.create_organizational_unit(ParentId=prod["Id"], Name="Web")["OrganizationalUnit"]
    assert orgs.describe_organizational_unit(OrganizationalUnitId=web["Id"])["OrganizationalUnit"] == web
    with pytest.raises(ClientError) as excinfo:
        orgs.create_organizational_unit(ParentId=root_id, Name="Prod")
    assert error(excinfo)[0] == "DuplicateOrganizationalUnitException"
    renamed = orgs.update_organizational_unit(OrganizationalUnitId=web["Id"], Name="Frontend")["OrganizationalUnit"]
    assert renamed == {**web, "Name": "Frontend"}
    children = orgs.list_children(ParentId=root_id, ChildType="ORGANIZATIONAL_UNIT")["Children"]
    assert children == [{"Id": prod["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert orgs.list_organizational_units_for_parent(ParentId=prod["Id"])["OrganizationalUnits"] == [renamed]
    assert orgs.list_parents(ChildId=web["Id"])["Parents"] == [{"Id": prod["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert orgs.list_parents(ChildId=acct)["Parents"] == [{"Id": root_id, "Type": "ROOT"}]
    # a new OU gets FullAWSAccess
    assert [p["Id"] for p in orgs.list_policies_for_target(TargetId=web["Id"], Filter=SCP)["Policies"]] == [
        "p-FullAWSAccess"
    ]
    with pytest.raises(ClientError) as excinfo:
        orgs.delete_organizational_unit(OrganizationalUnitId=prod["Id"])
    assert error(excinfo)[0] == "OrganizationalUnitNotEmptyException"
    orgs.delete_organizational_unit(OrganizationalUnitId=web["Id"])
    with pytest.raises(ClientError) as excinfo:
        orgs.describe_organizational_unit(OrganizationalUnitId=web["Id"])
    assert error(excinfo)[0] == "OrganizationalUnitNotFoundException"


def test_ou_depth_is_limited_to_five(orgs: Any, root_id: str) -> None:
    parent = root_id
    made = []
    for depth in range(5):
        parent = orgs.create_organizational_unit(ParentId=parent, Name=f"Deep{depth}")["OrganizationalUnit"]["Id"]
        made.append(parent)
    with pytest.raises(ClientError) as excinfo:
        orgs.create_organizational_unit(ParentId=parent, Name="TooDeep")
    assert error(excinfo)[0] == "ConstraintViolationException" and error(excinfo)[2] == "OU_DEPTH_LIMIT_EXCEEDED"
    for unit in reversed(made):
        orgs.delete_organizational_unit(OrganizationalUnitId=unit)


def test_create_account_makes_a_real_account_with_its_access_role(
    api_server: RunningServer, orgs: Any, org: dict[str, Any], root_id: str, acct: str
) -> None:
    member = new_account(orgs, "dev", Tags=[{"Key": "team", "Value": "red"}])
    assert member != acct and len(member) == 12 and member.isdigit()
    account = orgs.describe_account(AccountId=member)["Account"]
    assert account["Arn"] == f"arn:aws:organizations::{acct}:account/{org['Id']}/{member}"
    assert account["Email"] == "dev@example.com" and account["Name"] == "dev" and account["JoinedMethod"] == "CREATED"
    assert account["Paths"] == [f"{org['Id']}/{root_id}/{member}/"]
    assert orgs.list_tags_for_resource(ResourceId=member)["Tags"] == [{"Key": "team", "Value": "red"}]
    assert {a["Id"] for a in orgs.list_accounts()["Accounts"]} == {acct, member}
    assert [a["Id"] for a in orgs.list_accounts_for_parent(ParentId=root_id)["Accounts"]] == sorted([acct, member])
    # The management account's root user cannot assume a role; an administrator of the management
    # account assumes OrganizationAccountAccessRole and administers the member account.
    admin = _admin(api_server, "org-admin")
    sts = client(api_server, "sts", *admin)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole",
                            RoleSessionName="admin")["Credentials"]  # fmt: skip
    member_sts = client(api_server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert member_sts.get_caller_identity()["Account"] == member
    member_iam = client(api_server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    role = member_iam.get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{acct}:root"}
    assert member_iam.list_role_policies(RoleName="OrganizationAccountAccessRole")["PolicyNames"] == [
        "AdministratorAccess"
    ]


def test_the_access_role_name_can_be_chosen(orgs: Any) -> None:
    member = new_account(orgs, "named", RoleName="OrgAdmin")
    assert member
    with pytest.raises(ClientError) as excinfo:
        orgs.create_account(Email="x@example.com", AccountName="x", RoleName="AWSServiceRoleForX")
    assert error(excinfo)[0] == "InvalidInputException" and error(excinfo)[2] == "INVALID_ROLE_NAME"


def test_an_email_already_used_fails_the_request(orgs: Any) -> None:
    status = orgs.create_account(Email="dev@example.com", AccountName="again")["CreateAccountStatus"]
    done = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert done["State"] == "FAILED" and done["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    failed = orgs.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
    assert [s["Id"] for s in failed] == [status["Id"]]
    with pytest.raises(ClientError) as excinfo:
        orgs.describe_create_account_status(CreateAccountRequestId="car-0123456789abcdef")
    assert error(excinfo)[0] == "CreateAccountStatusNotFoundException"


def _admin(server: RunningServer, name: str, account_iam: BaseClient | None = None) -> tuple[str, str]:
    iam = account_iam or client(server, "iam", server.root_key, server.root_secret)
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _member_admin(server: RunningServer, member: str, name: str) -> tuple[str, str]:
    """An IAM user with AdministratorAccess in the member account, made through its access role."""
    admin = _admin(server, f"{name}-boss")
    creds = client(server, "sts", *admin).assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    member_iam = client(server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    return _admin(server, name, member_iam)


def test_policies_crud(orgs: Any, org: dict[str, Any], acct: str) -> None:
    created = orgs.create_policy(Content=DENY_CREATE_USER, Description="no users", Name="NoUsers", Type=SCP)["Policy"]
    summary = created["PolicySummary"]
    assert summary["Id"].startswith("p-") and len(summary["Id"]) == 10 and summary["AwsManaged"] is False
    assert summary["Arn"] == f"arn:aws:organizations::{acct}:policy/{org['Id']}/service_control_policy/{summary['Id']}"
    assert created["Content"] == DENY_CREATE_USER
    assert orgs.describe_policy(PolicyId=summary["Id"])["Policy"] == created
    with pytest.raises(ClientError) as excinfo:
        orgs.create_policy(Content=DENY_CREATE_USER, Description="", Name="NoUsers", Type=SCP)
    assert error(excinfo)[0] == "DuplicatePolicyException"
    updated = orgs.update_policy(PolicyId=summary["Id"], Description="still no users")["Policy"]
    assert updated["PolicySummary"]["Description"] == "still no users" and updated["Content"] == DENY_CREATE_USER
    listed = orgs.list_policies(Filter=SCP)["Policies"]
    assert [p["Name"] for p in listed] == ["FullAWSAccess", "NoUsers"]
    orgs.delete_policy(PolicyId=summary["Id"])
    with pytest.raises(ClientError) as excinfo:
        orgs.describe_policy(PolicyId=summary["Id"])
    assert error(excinfo)[0] == "PolicyNotFoundException"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}',
    ],
)
def test_a_malformed_scp_is_refused_with_aws_text(orgs: Any, org: dict[str, Any], content: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        orgs.create_policy(Content=content, Description="", Name="Bad", Type=SCP)
    assert error(excinfo)[:2] == (
        "MalformedPolicyDocumentException",
        "The provided policy document does not meet the requirements of the specified policy type.",
    )


def test_an_scp_over_5120_characters_is_refused(orgs: Any, org: dict[str, Any]) -> None:
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "S" * 5100, "Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]})  # fmt: skip
    with pytest.raises(ClientError) as excinfo:
        orgs.create_policy(Content=big, Description="", Name="Big", Type=SCP)
    assert error(excinfo)[0] == "ConstraintViolationException" and error(excinfo)[2] == "POLICY_CONTENT_LIMIT_EXCEEDED"


def test_aws_managed_policies_cannot_change(orgs: Any, org: dict[str, Any]) -> None:
    for call in (lambda: orgs.update_policy(PolicyId="p-FullAWSAccess", Name="Mine"),
                 lambda: orgs.delete_policy(PolicyId="p-FullAWSAccess")):  # fmt: skip
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error(excinfo)[0] == "InvalidInputException" and error(excinfo)[2] == "IMMUTABLE_POLICY"


def test_attach_and_detach_rules(orgs: Any, org: dict[str, Any], root_id: str) -> None:
    unit = orgs.create_organizational_unit(ParentId=root_id, Name="Rules")["OrganizationalUnit"]["Id"]
    ids = [
        orgs.create_policy(Content=DENY_CREATE_USER, Description="", Name=f"Rule{n}", Type=SCP)["Policy"][
            "PolicySummary"
        ]["Id"]
        for n in range(5)
    ]
    for policy_id in ids[:4]:
        orgs.attach_policy(PolicyId=policy_id, TargetId=unit)
    with pytest.raises(ClientError) as excinfo:
        orgs.attach_policy(PolicyId=ids[0], TargetId=unit)
    assert error(excinfo)[0] == "DuplicatePolicyAttachmentException"
    with pytest.raises(ClientError) as excinfo:
        orgs.attach_policy(PolicyId=ids[4], TargetId=unit)  # FullAWSAccess + 4 = 5 already
    assert error(excinfo) == (
        "ConstraintViolationException",
        "You have attached the maximum number of policies to the specified target.",
        "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
    )
    targets = orgs.list_targets_for_policy(PolicyId=ids[0])["Targets"]
    assert [(t["TargetId"], t["Name"], t["Type"]) for t in targets] == [(unit, "Rules", "ORGANIZATIONAL_UNIT")]
    with pytest.raises(ClientError) as excinfo:
        orgs.delete_policy(PolicyId=ids[0])
    assert error(excinfo)[0] == "PolicyInUseException"
    with pytest.raises(ClientError) as excinfo:
        orgs.detach_policy(PolicyId=ids[4], TargetId=unit)
    assert error(excinfo)[0] == "PolicyNotAttachedException"
    for policy_id in ids[:4]:
        orgs.detach_policy(PolicyId=policy_id, TargetId=unit)
    with pytest.raises(ClientError) as excinfo:
        orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=unit)
    assert error(excinfo)[0] == "ConstraintViolationException"
    assert error(excinfo)[2] == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    with pytest.raises(ClientError) as excinfo:
        orgs.attach_policy(PolicyId=ids[0], TargetId="ou-zzzz-zzzzzzzz")
    assert error(excinfo)[0] == "TargetNotFoundException"
    for policy_id in ids:
        orgs.delete_policy(PolicyId=policy_id)
    orgs.delete_organizational_unit(OrganizationalUnitId=unit)


def test_rcps_enable_attach_rcp_full_aws_access_everywhere(orgs: Any, org: dict[str, Any], root_id: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        orgs.create_policy(Content="{}", Description="", Name="R", Type=RCP)
    assert error(excinfo)[0] == "MalformedPolicyDocumentException"
    root = orgs.enable_policy_type(RootId=root_id, PolicyType=RCP)["Root"]
    assert {t["Type"] for t in root["PolicyTypes"]} == {SCP, RCP}
    with pytest.raises(ClientError) as excinfo:
        orgs.enable_policy_type(RootId=root_id, PolicyType=RCP)
    assert error(excinfo)[0] == "PolicyTypeAlreadyEnabledException"
    for account in orgs.list_accounts()["Accounts"]:
        found = orgs.list_policies_for_target(TargetId=account["Id"], Filter=RCP)["Policies"]
        assert [p["Id"] for p in found] == ["p-RCPFullAWSAccess"]
    with pytest.raises(ClientError) as excinfo:
        orgs.detach_policy(PolicyId="p-RCPFullAWSAccess", TargetId=root_id)
    assert error(excinfo)[2] == "NON_DETACHABLE_POLICY"
    orgs.disable_policy_type(RootId=root_id, PolicyType=RCP)
    assert orgs.list_policies_for_target(TargetId=root_id, Filter=RCP)["Policies"] == []
    with pytest.raises(ClientError) as excinfo:
        orgs.disable_policy_type(RootId=root_id, PolicyType=RCP)
    assert error(excinfo)[0] == "PolicyTypeNotEnabledException"
    with pytest.raises(ClientError) as excinfo:
        orgs.enable_policy_type(RootId="r-zzzz", PolicyType=RCP)
    assert error(excinfo)[0] == "RootNotFoundException"


def test_tags(orgs: Any, root_id: str) -> None:
    orgs.tag_resource(ResourceId=root_id, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    orgs.untag_resource(ResourceId=root_id, TagKeys=["a"])
    assert orgs.list_tags_for_resource(ResourceId=root_id)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as excinfo:
        orgs.tag_resource(ResourceId=root_id, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert error(excinfo)[2] == "INVALID_SYSTEM_TAGS_PARAMETER"
    with pytest.raises(ClientError) as excinfo:
        orgs.tag_resource(ResourceId=root_id, Tags=[{"Key": f"k{n}", "Value": ""} for n in range(50)])
    assert error(excinfo)[2] == "MAX_TAG_LIMIT_EXCEEDED"


def test_scp_deny_on_an_ou_blocks_a_member_accounts_admin_until_detached(
    api_server: RunningServer, orgs: Any, root_id: str
) -> None:
    member = new_account(orgs, "governed")
    key, secret = _member_admin(api_server, member, "member-admin")
    member_iam = client(api_server, "iam", key, secret)
    member_iam.create_user(UserName="before")  # allowed: FullAWSAccess only
    unit = orgs.create_organizational_unit(ParentId=root_id, Name="Locked")["OrganizationalUnit"]["Id"]
    orgs.move_account(AccountId=member, SourceParentId=root_id, DestinationParentId=unit)
    summary = orgs.create_policy(Content=DENY_CREATE_USER, Description="", Name="DenyCreateUser", Type=SCP)["Policy"][
        "PolicySummary"
    ]
    policy_id = summary["Id"]
    orgs.attach_policy(PolicyId=policy_id, TargetId=unit)
    with pytest.raises(ClientError) as excinfo:
        member_iam.create_user(UserName="during")
    code, message, _ = error(excinfo)
    assert code == "AccessDenied"
    assert message == (
        f"User: arn:aws:iam::{member}:user/member-admin is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{member}:user/during with an explicit deny in a service control policy: {summary['Arn']}"
    )
    member_iam.get_user(UserName="before")  # other actions still allowed
    # the management account is never restricted by SCPs, even attached to it
    mgmt = client(api_server, "iam", *_admin(api_server, "mgmt-admin"))
    orgs.attach_policy(PolicyId=policy_id, TargetId=root_id)
    mgmt.create_user(UserName="mgmt-made")
    orgs.detach_policy(PolicyId=policy_id, TargetId=root_id)
    # moving the account out of the OU lifts the denial on the next request; back in, it holds again
    orgs.move_account(AccountId=member, SourceParentId=unit, DestinationParentId=root_id)
    member_iam.create_user(UserName="moved-out")
    orgs.move_account(AccountId=member, SourceParentId=root_id, DestinationParentId=unit)
    with pytest.raises(ClientError):
        member_iam.create_user(UserName="moved-back")
    orgs.detach_policy(PolicyId=policy_id, TargetId=unit)
    member_iam.create_user(UserName="after")


def test_member_accounts_may_not_call_management_operations(api_server: RunningServer, orgs: Any) -> None:
    member = new_account(orgs, "curious")
    key, secret = _member_admin(api_server, member, "curious-admin")
    member_orgs = client(api_server, "organizations", key, secret)
    assert (
        member_orgs.describe_organization()["Organization"]["Id"] == orgs.describe_organization()["Organization"]["Id"]
    )
    with pytest.raises(ClientError) as excinfo:
        member_orgs.list_roots()
    assert error(excinfo)[:2] == ("AccessDeniedException", "You don't have permissions to access this resource.")


def test_organizations_calls_are_authorized_by_the_engine(api_server: RunningServer, orgs: Any, acct: str) -> None:
    iam = client(api_server, "iam", api_server.root_key, api_server.root_secret)
    iam.create_user(UserName="reader")
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "organizations:Describe*", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = client(api_server, "organizations", key["AccessKeyId"], key["SecretAccessKey"])
    reader.describe_organization()
    with pytest.raises(ClientError) as excinfo:
        reader.list_accounts()
    code, message, _ = error(excinfo)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{acct}:user/reader is not authorized to perform: organizations:ListAccounts on "
        "resource: * because no identity-based policy allows the organizations:ListAccounts action"
    )


def test_remove_account_and_move_errors(orgs: Any, root_id: str, acct: str) -> None:
    member = new_account(orgs, "leaving")
    with pytest.raises(ClientError) as excinfo:
        orgs.move_account(AccountId=member, SourceParentId=root_id, DestinationParentId=root_id)
    assert error(excinfo)[0] == "DuplicateAccountException"
    with pytest.raises(ClientError) as excinfo:
        orgs.move_account(AccountId=member, SourceParentId="ou-zzzz-zzzzzzzz", DestinationParentId=root_id)
    assert error(excinfo)[0] == "SourceParentNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        orgs.remove_account_from_organization(AccountId=acct)
    assert error(excinfo)[0] == "MasterCannotLeaveOrganizationException"
    orgs.remove_account_from_organization(AccountId=member)
    with pytest.raises(ClientError) as excinfo:
        orgs.describe_account(AccountId=member)
    assert error(excinfo)[0] == "AccountNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        orgs.delete_organization()
    assert error(excinfo)[0] == "OrganizationNotEmptyException"


def test_paging(orgs: Any) -> None:
    first = orgs.list_accounts(MaxResults=1)
    assert len(first["Accounts"]) == 1 and "NextToken" in first
    every = [a["Id"] for page in orgs.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 1})
             for a in page["Accounts"]]  # fmt: skip
    assert every == [a["Id"] for a in orgs.list_accounts()["Accounts"]]
    with pytest.raises(ClientError) as excinfo:
        orgs.list_accounts(NextToken="garbage")
    assert error(excinfo)[0] == "InvalidInputException" and error(excinfo)[2] == "INVALID_NEXT_TOKEN"


# -- the protocol ------------------------------------------------------------------------------
def test_input_is_validated_against_the_model(raw_orgs: Any, org: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        raw_orgs.describe_account(AccountId="12345")
    code, message, reason = error(excinfo)
    assert (code, reason) == ("InvalidInputException", "INVALID_PATTERN")
    assert message == (
        "1 validation error detected: Value '12345' at 'accountId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^\\d{12}$"
    )
    with pytest.raises(ClientError) as excinfo:
        raw_orgs.create_account(AccountName="x")
    assert error(excinfo)[0] == "InvalidInputException" and error(excinfo)[2] == "INPUT_REQUIRED"


def test_a_hostile_email_is_refused_at_once(raw_orgs: Any, org: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        raw_orgs.create_account(Email="a@" + "a." * 50_000 + " ", AccountName="x")
    assert error(excinfo)[0] == "InvalidInputException"


def test_wire_shapes(api_server: RunningServer, org: dict[str, Any]) -> None:
    headers = {"X-Amz-Target": "AWSOrganizationsV20161128.DescribeOrganization",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    ok = signed_request(api_server, b"{}", headers=headers, service="organizations", region="eu-west-1")
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-amz-json-1.1"
    assert ok.headers["x-amzn-requestid"]
    assert json.loads(ok.content)["Organization"]["Id"] == org["Id"]
    bad = signed_request(api_server, b"[1]", headers=headers, service="organizations")
    assert bad.status_code == 400 and json.loads(bad.content)["__type"] == "SerializationException"
    describe = {**headers, "X-Amz-Target": "AWSOrganizationsV20161128.DescribeAccount"}
    wrong_type = signed_request(api_server, b'{"AccountId": 5}', service="organizations", headers=describe)
    assert json.loads(wrong_type.content)["__type"] == "SerializationException"
    unknown = signed_request(api_server, b"{}", service="organizations",
                             headers={**headers, "X-Amz-Target": "AWSOrganizationsV20161128.Nope"})  # fmt: skip
    assert unknown.status_code == 400 and json.loads(unknown.content)["__type"] == "UnknownOperationException"
    unsigned = httpx.post(api_server.endpoint + "/", content=b"{}", headers=headers)
    assert (
        unsigned.status_code == 400 and json.loads(unsigned.content)["__type"] == "MissingAuthenticationTokenException"
    )


def test_operations_iamd_does_not_implement_answer_json_not_implemented(orgs: Any, org: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        orgs.list_handshakes_for_organization()
    assert excinfo.value.response["Error"]["Code"] == "NotImplemented"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "does not implement" in excinfo.value.response["Error"]["Message"]


def test_calls_are_audited(api_server: RunningServer, orgs: Any, org: dict[str, Any], acct: str) -> None:
    with pytest.raises(ClientError):
        orgs.describe_account(AccountId="000000000000")
    backend = api_server.backend
    assert backend.audit is not None
    backend.audit.flush()
    with backend.store.read() as tx:
        events = tx.list_audit_events(acct, max_items=1000).items
    mine = [e for e in events if e.event_source == "organizations.amazonaws.com"]
    names = {e.event_name for e in mine}
    assert {"CreateOrganization", "CreateAccount", "AttachPolicy", "DescribeOrganization"} <= names
    assert any(e.event_name == "DescribeAccount" and e.error_code == "AccountNotFoundException" for e in mine)


def test_every_model_operation_answers_json_and_never_a_500(api_server: RunningServer, org: dict[str, Any]) -> None:
    """The coverage of the model: each operation works, refuses its input, or says iamd does not implement it."""
    model = Catalog().organizations
    not_implemented = []
    for name in sorted(model.operation_names):
        headers = {"X-Amz-Target": f"AWSOrganizationsV20161128.{name}", "Content-Type": "application/x-amz-json-1.1"}
        response = signed_request(api_server, b"{}", headers=headers, service="organizations")
        assert response.headers["content-type"] == "application/x-amz-json-1.1", name
        body = json.loads(response.content)
        if response.status_code == 200:
            continue
        assert "__type" in body and "Message" in body, (name, body)
        if body["__type"] == "NotImplemented":
            assert response.status_code == 501 and name not in OPERATIONS, name
            not_implemented.append(name)
        else:
            assert response.status_code < 500, (name, body)
    assert len(model.operation_names) - len(not_implemented) == len(OPERATIONS)


def _in_member(server: RunningServer, member: str, boss: tuple[str, str]) -> Any:
    """An IAM client in ``member`` through its OrganizationAccountAccessRole, assumed by ``boss``."""
    creds = client(server, "sts", *boss).assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    return client(server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def test_cross_account_assume_role_needs_both_sides(api_server: RunningServer, orgs: Any, acct: str) -> None:
    member = new_account(orgs, "both-sides")
    boss = _admin(api_server, "both-boss")
    member_iam = _in_member(api_server, member, boss)
    iam = client(api_server, "iam", api_server.root_key, api_server.root_secret)
    iam.create_user(UserName="crosser")
    key = iam.create_access_key(UserName="crosser")["AccessKey"]
    crosser = client(api_server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{acct}:user/crosser"}}]}  # fmt: skip
    member_iam.create_role(RoleName="Shared", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = f"arn:aws:iam::{member}:role/Shared"
    with pytest.raises(ClientError) as excinfo:  # the trust policy allows; the caller's own account does not
        crosser.assume_role(RoleArn=role_arn, RoleSessionName="ss")
    assert error(excinfo)[0] == "AccessDenied"
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }
    iam.put_user_policy(UserName="crosser", PolicyName="assume", PolicyDocument=json.dumps(allow))
    assumed = crosser.assume_role(RoleArn=role_arn, RoleSessionName="ss")["AssumedRoleUser"]
    assert assumed["Arn"] == f"arn:aws:sts::{member}:assumed-role/Shared/ss"
    nobody = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
              "Principal": {"AWS": f"arn:aws:iam::{member}:root"}}]}  # fmt: skip
    member_iam.update_assume_role_policy(RoleName="Shared", PolicyDocument=json.dumps(nobody))
    with pytest.raises(ClientError) as excinfo:  # the caller's account allows; the trust policy does not
        crosser.assume_role(RoleArn=role_arn, RoleSessionName="ss")
    assert error(excinfo)[0] == "AccessDenied"


def test_an_rcp_denies_assuming_a_member_accounts_role(api_server: RunningServer, orgs: Any, root_id: str) -> None:
    member = new_account(orgs, "rcp-guarded")
    boss = _admin(api_server, "rcp-boss")
    member_iam = _in_member(api_server, member, boss)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{api_server.account_id}:root"}}]}  # fmt: skip
    member_iam.create_role(RoleName="LockedVault", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = f"arn:aws:iam::{member}:role/LockedVault"
    sts = client(api_server, "sts", *boss)
    sts.assume_role(RoleArn=role_arn, RoleSessionName="before")
    orgs.enable_policy_type(RootId=root_id, PolicyType=RCP)
    try:
        content = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                              "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/Locked*"}]})  # fmt: skip
        rcp = orgs.create_policy(Content=content, Description="", Name="NoLocked", Type=RCP)["Policy"]
        orgs.attach_policy(PolicyId=rcp["PolicySummary"]["Id"], TargetId=member)
        with pytest.raises(ClientError) as excinfo:
            sts.assume_role(RoleArn=role_arn, RoleSessionName="during")
        code, message, _ = error(excinfo)
        # the caller is of the organization: AWS names the denying RCP
        assert code == "AccessDenied"
        assert message.endswith(f"with an explicit deny in a resource control policy: {rcp['PolicySummary']['Arn']}")
        # the management account's own roles are never governed by RCPs
        iam = client(api_server, "iam", api_server.root_key, api_server.root_secret)
        own = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
               "Principal": {"AWS": f"arn:aws:iam::{api_server.account_id}:root"}}]}  # fmt: skip
        iam.create_role(RoleName="LockedHome", AssumeRolePolicyDocument=json.dumps(own))
        orgs.attach_policy(PolicyId=rcp["PolicySummary"]["Id"], TargetId=root_id)
        sts.assume_role(RoleArn=f"arn:aws:iam::{api_server.account_id}:role/LockedHome", RoleSessionName="home")
        orgs.detach_policy(PolicyId=rcp["PolicySummary"]["Id"], TargetId=root_id)
        orgs.detach_policy(PolicyId=rcp["PolicySummary"]["Id"], TargetId=member)
        sts.assume_role(RoleArn=role_arn, RoleSessionName="after")
    finally:
        orgs.disable_policy_type(RootId=root_id, PolicyType=RCP)


def test_a_member_account_leaves_and_the_management_account_cannot(api_server: RunningServer, orgs: Any) -> None:
    member = new_account(orgs, "leaver")
    key, secret = _member_admin(api_server, member, "leaver-admin")
    member_orgs = client(api_server, "organizations", key, secret)
    member_orgs.leave_organization()
    with pytest.raises(ClientError) as excinfo:
        member_orgs.describe_organization()
    assert error(excinfo)[0] == "AWSOrganizationsNotInUseException"
    assert member not in {a["Id"] for a in orgs.list_accounts()["Accounts"]}
    with pytest.raises(ClientError) as excinfo:
        orgs.leave_organization()
    assert error(excinfo)[0] == "MasterCannotLeaveOrganizationException"
