"""Centralized root access for member accounts against a real server: the IAM feature switches
of an organization and STS AssumeRoot's task-scoped root sessions on member accounts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import failure
from tests.api.server import RunningServer
from tests.api.test_organizations import _admin, _member_admin, client, new_account

AUDIT = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"


@pytest.fixture(scope="module")
def orgs(api_server: RunningServer) -> Any:
    return client(api_server, "organizations", api_server.root_key, api_server.root_secret)


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_features_need_an_organization_in_all_features_mode(api_server: RunningServer, iam: BaseClient,
                                                             orgs: Any) -> None:  # fmt: skip
    with pytest.raises(ClientError) as none:
        iam.list_organizations_features()
    assert failure(none)[:2] == (400, "OrganizationNotFoundException")
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    listed = iam.list_organizations_features()
    assert (listed["OrganizationId"], listed["EnabledFeatures"]) == (org["Id"], [])


def test_enable_and_disable_each_feature(iam: BaseClient) -> None:
    assert iam.enable_organizations_root_sessions()["EnabledFeatures"] == ["RootSessions"]
    both = iam.enable_organizations_root_credentials_management()["EnabledFeatures"]
    assert both == ["RootCredentialsManagement", "RootSessions"]
    assert iam.enable_organizations_root_sessions()["EnabledFeatures"] == both  # enabling twice changes nothing
    assert iam.disable_organizations_root_credentials_management()["EnabledFeatures"] == ["RootSessions"]
    assert iam.list_organizations_features()["EnabledFeatures"] == ["RootSessions"]
    assert iam.enable_organizations_root_credentials_management()["EnabledFeatures"] == both


def test_member_accounts_may_not_manage_the_features(api_server: RunningServer, orgs: Any) -> None:
    member = new_account(orgs, "features-member")
    member_iam = client(api_server, "iam", *_member_admin(api_server, member, "features-admin"))
    with pytest.raises(ClientError) as enabling:
        member_iam.enable_organizations_root_sessions()
    assert _code(enabling) == "CallerIsNotManagementAccountException"
    with pytest.raises(ClientError) as listing:
        member_iam.list_organizations_features()
    assert _code(listing) == "AccountNotManagementOrDelegatedAdministratorException"


def test_assume_root_gives_a_task_scoped_root_session_on_a_member(api_server: RunningServer, iam: BaseClient,
                                                                   orgs: Any, acct: str) -> None:  # fmt: skip
    member = new_account(orgs, "root-task-member")
    sts = client(api_server, "sts", *_admin(api_server, "root-tasker"), region="eu-west-1")
    creds = sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT}, DurationSeconds=600)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    who = client(api_server, "sts", *session).get_caller_identity()
    assert (who["Account"], who["Arn"]) == (member, f"arn:aws:iam::{member}:root")
    member_iam = client(api_server, "iam", *session)
    assert member_iam.list_access_keys()["AccessKeyMetadata"] == []  # the audit task reads root's credentials
    with pytest.raises(ClientError) as outside:
        member_iam.create_user(UserName="not-a-task")
    status, code, message = failure(outside)
    assert (status, code) == (403, "AccessDenied") and "session policy" in message
    by_arn = sts.assume_root(TargetPrincipal=f"arn:aws:iam::{member}:root", TaskPolicyArn={"arn": AUDIT})
    assert by_arn["Credentials"]["AccessKeyId"].startswith("ASIA")  # a root ARN names the account too


def test_assume_root_refusals(api_server: RunningServer, iam: BaseClient, orgs: Any, acct: str) -> None:
    member = new_account(orgs, "refusals-member")
    root_sts = client(api_server, "sts", api_server.root_key, api_server.root_secret)
    with pytest.raises(ClientError) as root:
        root_sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
    assert failure(root)[:2] == (403, "AccessDenied")
    sts = client(api_server, "sts", *_admin(api_server, "refused-tasker"))
    with pytest.raises(ClientError) as not_a_task:
        sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert failure(not_a_task)[:2] == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as itself:
        sts.assume_root(TargetPrincipal=acct, TaskPolicyArn={"arn": AUDIT})
    assert failure(itself)[:2] == (403, "AccessDenied")
    iam.disable_organizations_root_sessions()
    with pytest.raises(ClientError) as off:
        sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
    status, code, message = failure(off)
    assert (status, code) == (403, "AccessDenied") and "root sessions are not enabled" in message
    iam.enable_organizations_root_sessions()
    no_policy = client(api_server, "sts", *_plain_user(iam, "no-assume-root"))
    with pytest.raises(ClientError) as denied:
        no_policy.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
    assert failure(denied)[:2] == (403, "AccessDenied")


def _plain_user(iam: BaseClient, name: str) -> tuple[str, str]:
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_the_delegated_administrator_for_iam(api_server: RunningServer, iam: BaseClient, orgs: Any,
                                             acct: str) -> None:  # fmt: skip
    """Registered for iam.amazonaws.com, a member account lists and disables the features and
    calls AssumeRoot on the other member accounts; it may not enable a feature."""
    delegate, other = new_account(orgs, "iam-delegate"), new_account(orgs, "iam-other")
    admin = _member_admin(api_server, delegate, "iam-delegate-admin")
    delegate_iam, delegate_sts = client(api_server, "iam", *admin), client(api_server, "sts", *admin)
    with pytest.raises(ClientError) as before:
        delegate_sts.assume_root(TargetPrincipal=other, TaskPolicyArn={"arn": AUDIT})
    status, code, message = failure(before)
    assert (status, code) == (403, "AccessDenied") and "nor its delegated administrator for IAM" in message
    orgs.enable_aws_service_access(ServicePrincipal="iam.amazonaws.com")
    orgs.register_delegated_administrator(AccountId=delegate, ServicePrincipal="iam.amazonaws.com")
    assert delegate_iam.list_organizations_features()["EnabledFeatures"] == iam.list_organizations_features()[
        "EnabledFeatures"] == ["RootCredentialsManagement", "RootSessions"]  # fmt: skip
    assert delegate_iam.disable_organizations_root_credentials_management()["EnabledFeatures"] == ["RootSessions"]
    with pytest.raises(ClientError) as enabling:
        delegate_iam.enable_organizations_root_credentials_management()
    assert _code(enabling) == "CallerIsNotManagementAccountException"
    creds = delegate_sts.assume_root(TargetPrincipal=other, TaskPolicyArn={"arn": AUDIT})["Credentials"]
    who = client(api_server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert who.get_caller_identity()["Arn"] == f"arn:aws:iam::{other}:root"
    for target in (acct, delegate):  # never the management account, nor itself
        with pytest.raises(ClientError) as refused:
            delegate_sts.assume_root(TargetPrincipal=target, TaskPolicyArn={"arn": AUDIT})
        status, code, message = failure(refused)
        assert (status, code) == (403, "AccessDenied") and "is not a member account of the organization" in message
    orgs.deregister_delegated_administrator(AccountId=delegate, ServicePrincipal="iam.amazonaws.com")
    with pytest.raises(ClientError) as listing:
        delegate_iam.list_organizations_features()
    assert _code(listing) == "AccountNotManagementOrDelegatedAdministratorException"
