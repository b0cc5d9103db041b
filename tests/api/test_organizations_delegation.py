"""Trusted access, delegated administrators and the delegation policy, with boto3 against a real
server (docs/organizations.md, "Delegation").

One organization for the module; its member accounts are made once. A delegated administrator
of any service reads the organization; the delegation policy lets a member account manage
policies, evaluated cross-account (its own policies and the delegation policy must both allow).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iamd.service.organizations import OPERATIONS
from iamd.service.organizations.delegation import DELEGABLE, POLICY_MANAGEMENT, READ_ONLY
from tests.api.server import RunningServer
from tests.api.test_organizations import RCP, SCP, _member_admin, client, error, new_account

NO_PERMISSION = ("AccessDeniedException", "You don't have permissions to access this resource.")
GUARDDUTY = "guardduty.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"


def test_who_may_call_matches_the_delegation_sets() -> None:
    readers = {name for name, op in OPERATIONS.items() if op.who == "reader"}
    delegable = {name for name, op in OPERATIONS.items() if op.who == "delegable"}
    assert readers == READ_ONLY
    assert delegable == POLICY_MANAGEMENT
    assert READ_ONLY | POLICY_MANAGEMENT | {"DescribeOrganization"} == DELEGABLE
    assert all(OPERATIONS[name].writes is False for name in READ_ONLY)


@pytest.fixture(scope="module")
def orgs(api_server: RunningServer) -> Any:
    return client(api_server, "organizations", api_server.root_key, api_server.root_secret)


@pytest.fixture(scope="module")
def org(orgs: Any) -> dict[str, Any]:
    return dict(orgs.create_organization(FeatureSet="ALL")["Organization"])


@pytest.fixture(scope="module")
def members(orgs: Any, org: dict[str, Any]) -> list[str]:
    return [new_account(orgs, f"member{i}") for i in range(5)]


@pytest.fixture(scope="module")
def member_orgs(api_server: RunningServer, members: list[str]) -> Callable[[int], Any]:
    """An Organizations client of an IAM user with AdministratorAccess in member account ``i``."""
    made: dict[int, Any] = {}

    def get(i: int) -> Any:
        if i not in made:
            made[i] = client(api_server, "organizations", *_member_admin(api_server, members[i], f"admin{i}"))
        return made[i]

    return get


def _fails(call: Callable[..., Any], **kw: Any) -> tuple[str, str, str | None]:
    with pytest.raises(ClientError) as excinfo:
        call(**kw)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error(excinfo)


def test_trusted_access(orgs: Any, org: dict[str, Any]) -> None:
    assert orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    code, _, reason = _fails(orgs.enable_aws_service_access, ServicePrincipal="nothing.amazonaws.com")
    assert (code, reason) == ("InvalidInputException", "UNRECOGNIZED_SERVICE_PRINCIPAL")
    orgs.enable_aws_service_access(ServicePrincipal="ram.amazonaws.com")
    orgs.enable_aws_service_access(ServicePrincipal="config.amazonaws.com")
    first = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    orgs.enable_aws_service_access(ServicePrincipal="config.amazonaws.com")  # again: nothing changes
    enabled = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert enabled == first
    assert [e["ServicePrincipal"] for e in enabled] == ["config.amazonaws.com", "ram.amazonaws.com"]
    assert all("DateEnabled" in e for e in enabled)
    orgs.disable_aws_service_access(ServicePrincipal="ram.amazonaws.com")
    orgs.disable_aws_service_access(ServicePrincipal="ram.amazonaws.com")  # not enabled: nothing to do
    enabled = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [e["ServicePrincipal"] for e in enabled] == ["config.amazonaws.com"]


def test_register_refusals_in_order(orgs: Any, org: dict[str, Any], members: list[str], acct: str) -> None:
    member = members[0]

    def register(account: str, principal: str) -> tuple[str, str | None]:
        code, _, reason = _fails(orgs.register_delegated_administrator, AccountId=account, ServicePrincipal=principal)
        return code, reason

    assert register(member, "nothing.amazonaws.com") == ("InvalidInputException", "UNRECOGNIZED_SERVICE_PRINCIPAL")
    # RAM has trusted access but no delegated administrators
    assert register(member, "ram.amazonaws.com") == ("InvalidInputException", "UNRECOGNIZED_SERVICE_PRINCIPAL")
    assert register("000000000000", GUARDDUTY) == ("AccountNotFoundException", None)
    assert register(acct, GUARDDUTY) == (
        "ConstraintViolationException",
        "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
    )
    assert register(member, GUARDDUTY) == ("ConstraintViolationException", "SERVICE_ACCESS_NOT_ENABLED")
    orgs.enable_aws_service_access(ServicePrincipal=GUARDDUTY)
    orgs.register_delegated_administrator(AccountId=member, ServicePrincipal=GUARDDUTY)
    assert register(member, GUARDDUTY) == ("AccountAlreadyRegisteredException", None)
    # GuardDuty takes one delegated administrator, CloudTrail three
    assert register(members[1], GUARDDUTY) == (
        "ConstraintViolationException",
        "DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE",
    )
    orgs.enable_aws_service_access(ServicePrincipal=CLOUDTRAIL)
    for account in members[1:4]:
        orgs.register_delegated_administrator(AccountId=account, ServicePrincipal=CLOUDTRAIL)
    assert register(members[4], CLOUDTRAIL) == (
        "ConstraintViolationException",
        "MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED",
    )
    for account in members[2:4]:
        orgs.deregister_delegated_administrator(AccountId=account, ServicePrincipal=CLOUDTRAIL)


def test_listing_and_deregistering(orgs: Any, org: dict[str, Any], members: list[str], acct: str) -> None:
    listed = orgs.list_delegated_administrators()["DelegatedAdministrators"]
    assert [a["Id"] for a in listed] == sorted(members[:2])
    one = next(a for a in listed if a["Id"] == members[0])
    account = orgs.describe_account(AccountId=members[0])["Account"]
    assert {k: one[k] for k in ("Id", "Arn", "Email", "Name", "Status", "JoinedMethod", "JoinedTimestamp")} == {
        k: account[k] for k in ("Id", "Arn", "Email", "Name", "Status", "JoinedMethod", "JoinedTimestamp")
    }
    assert "DelegationEnabledDate" in one
    by_service = orgs.list_delegated_administrators(ServicePrincipal=CLOUDTRAIL)["DelegatedAdministrators"]
    assert [a["Id"] for a in by_service] == [members[1]]
    services = orgs.list_delegated_services_for_account(AccountId=members[0])["DelegatedServices"]
    assert [s["ServicePrincipal"] for s in services] == [GUARDDUTY] and "DelegationEnabledDate" in services[0]
    assert _fails(orgs.list_delegated_services_for_account, AccountId=members[4])[0] == "AccountNotRegisteredException"
    assert _fails(orgs.list_delegated_services_for_account, AccountId="000000000000")[0] == ("AccountNotFoundException")
    code = _fails(orgs.deregister_delegated_administrator, AccountId=members[4], ServicePrincipal=CLOUDTRAIL)[0]
    assert code == "AccountNotRegisteredException"


def test_a_delegated_administrator_reads_the_organization_and_changes_nothing(
    orgs: Any, org: dict[str, Any], members: list[str], member_orgs: Callable[[int], Any]
) -> None:
    delegated, plain = member_orgs(0), member_orgs(4)  # GuardDuty's delegated administrator; nobody
    root = orgs.list_roots()["Roots"][0]["Id"]
    assert delegated.list_roots()["Roots"][0]["Id"] == root
    assert {a["Id"] for a in delegated.list_accounts()["Accounts"]} == {
        a["Id"] for a in orgs.list_accounts()["Accounts"]
    }
    assert delegated.describe_policy(PolicyId="p-FullAWSAccess")["Policy"]["PolicySummary"]["Name"] == "FullAWSAccess"
    assert delegated.list_policies_for_target(TargetId=root, Filter=SCP)["Policies"]
    assert [a["Id"] for a in delegated.list_delegated_administrators()["DelegatedAdministrators"]] == sorted(
        members[:2]
    )
    assert delegated.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    for call, kw in [
        (delegated.create_policy, {"Content": "{}", "Description": "", "Name": "x", "Type": "TAG_POLICY"}),
        (delegated.create_organizational_unit, {"ParentId": root, "Name": "Mine"}),
        (delegated.create_account, {"Email": "sneaky@example.com", "AccountName": "sneaky"}),
        (delegated.register_delegated_administrator, {"AccountId": members[4], "ServicePrincipal": GUARDDUTY}),
        (delegated.enable_aws_service_access, {"ServicePrincipal": "sso.amazonaws.com"}),
        (delegated.put_resource_policy, {"Content": "{}"}),
        (plain.list_accounts, {}),
        (plain.list_delegated_administrators, {}),
    ]:
        assert _fails(call, **kw)[:2] == NO_PERMISSION, call
    # deregistered, it reads nothing more
    orgs.deregister_delegated_administrator(AccountId=members[0], ServicePrincipal=GUARDDUTY)
    assert _fails(delegated.list_accounts)[:2] == NO_PERMISSION
    orgs.register_delegated_administrator(AccountId=members[0], ServicePrincipal=GUARDDUTY)
    assert delegated.list_roots()["Roots"]


def test_a_delegated_administrator_still_needs_its_own_permissions(
    api_server: RunningServer, orgs: Any, members: list[str], member_orgs: Callable[[int], Any]
) -> None:
    member_orgs(0)  # its admin exists: make a user without permissions beside it
    boss = client(api_server, "iam", *_member_admin(api_server, members[0], "nobody-maker"))
    boss.create_user(UserName="nobody")
    key = boss.create_access_key(UserName="nobody")["AccessKey"]
    nobody = client(api_server, "organizations", key["AccessKeyId"], key["SecretAccessKey"])
    code, message, _ = _fails(nobody.list_accounts)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:iam::{members[0]}:user/nobody is not authorized to perform: organizations:ListAccounts on "
        "resource: * because no identity-based policy allows the organizations:ListAccounts action"
    )


def test_a_delegated_administrator_cannot_leave_or_be_removed(
    orgs: Any, members: list[str], member_orgs: Callable[[int], Any]
) -> None:
    code, _, reason = _fails(orgs.remove_account_from_organization, AccountId=members[0])
    assert (code, reason) == ("ConstraintViolationException", "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG")
    code, _, reason = _fails(member_orgs(0).leave_organization)
    assert (code, reason) == ("ConstraintViolationException", "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG")


def test_disabling_trusted_access_deregisters_the_service(orgs: Any, members: list[str]) -> None:
    assert [a["Id"] for a in orgs.list_delegated_administrators(ServicePrincipal=CLOUDTRAIL)[
        "DelegatedAdministrators"]] == [members[1]]  # fmt: skip
    orgs.disable_aws_service_access(ServicePrincipal=CLOUDTRAIL)
    assert orgs.list_delegated_administrators(ServicePrincipal=CLOUDTRAIL)["DelegatedAdministrators"] == []
    assert _fails(orgs.list_delegated_services_for_account, AccountId=members[1])[0] == (
        "AccountNotRegisteredException"
    )
    code, _, reason = _fails(orgs.register_delegated_administrator, AccountId=members[1], ServicePrincipal=CLOUDTRAIL)
    assert (code, reason) == ("ConstraintViolationException", "SERVICE_ACCESS_NOT_ENABLED")


def _statement(principal: Any, actions: list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*", **extra}


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_the_delegation_policy_is_validated(orgs: Any, org: dict[str, Any], members: list[str]) -> None:
    code, message, _ = _fails(orgs.describe_resource_policy)
    assert (code, message) == (
        "ResourcePolicyNotFoundException",
        "We can't find a resource policy request with the parameter that you specified.",
    )
    assert _fails(orgs.delete_resource_policy)[0] == "ResourcePolicyNotFoundException"
    account = {"AWS": f"arn:aws:iam::{members[2]}:root"}
    roots = ["organizations:ListRoots"]
    bad_principal = {"Effect": "Allow", "Action": roots, "Resource": "*"}
    session = {"AWS": f"arn:aws:sts::{members[2]}:assumed-role/R/s"}
    cases = [
        ("{not json", "INVALID_RESOURCE_POLICY_JSON"),
        (_document({**_statement(account, roots), "Effect": "Maybe"}), "INVALID_RESOURCE_POLICY_JSON"),
        (_document(bad_principal), "INVALID_PRINCIPAL"),  # none
        (_document(_statement("*", roots)), "INVALID_PRINCIPAL"),
        (_document(_statement({"Service": "ram.amazonaws.com"}, roots)), "INVALID_PRINCIPAL"),
        (_document(_statement({"AWS": "arn:aws:iam::123:root"}, roots)), "INVALID_PRINCIPAL"),
        (_document(_statement(session, roots)), "INVALID_PRINCIPAL"),
        (_document(_statement(account, ["organizations:CreateAccount"])), "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"),
        (_document(_statement(account, ["iam:ListUsers"])), "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"),
        (_document(_statement(account, ["organizations:Invite*"])), "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"),
        (
            _document({"Effect": "Allow", "Principal": account, "NotAction": "organizations:X", "Resource": "*"}),
            "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY",
        ),
        (
            _document({**_statement(account, roots), "Resource": "arn:aws:s3:::bucket"}),
            "UNSUPPORTED_RESOURCE_IN_RESOURCE_POLICY",
        ),
        (
            _document({"Effect": "Allow", "Principal": account, "Action": roots, "NotResource": "arn:aws:s3:::b"}),
            "UNSUPPORTED_RESOURCE_IN_RESOURCE_POLICY",
        ),
    ]
    for content, reason in cases:
        code, _, got = _fails(orgs.put_resource_policy, Content=content)
        assert (code, got) == ("InvalidInputException", reason), content
    assert _fails(orgs.describe_resource_policy)[0] == "ResourcePolicyNotFoundException"


def test_put_describe_and_delete_the_delegation_policy(
    orgs: Any, org: dict[str, Any], members: list[str], acct: str
) -> None:
    content = _document(_statement({"AWS": members[2]}, ["organizations:Describe*", "organizations:List*"]))
    made = orgs.put_resource_policy(Content=content, Tags=[{"Key": "team", "Value": "platform"}])["ResourcePolicy"]
    summary = made["ResourcePolicySummary"]
    assert summary["Id"].startswith("rp-") and len(summary["Id"]) == 11
    assert summary["Arn"] == f"arn:aws:organizations::{acct}:resourcepolicy/{org['Id']}/{summary['Id']}"
    assert made["Content"] == content
    assert orgs.describe_resource_policy()["ResourcePolicy"] == made
    assert orgs.list_tags_for_resource(ResourceId=summary["Id"])["Tags"] == [{"Key": "team", "Value": "platform"}]
    replaced = orgs.put_resource_policy(Content=content.replace("Describe*", "DescribeOrganization"))["ResourcePolicy"]
    assert replaced["ResourcePolicySummary"] == summary  # the same policy, new content
    assert orgs.list_tags_for_resource(ResourceId=summary["Id"])["Tags"] == [{"Key": "team", "Value": "platform"}]
    orgs.delete_resource_policy()
    assert _fails(orgs.describe_resource_policy)[0] == "ResourcePolicyNotFoundException"
    assert _fails(orgs.list_tags_for_resource, ResourceId=summary["Id"])[0] == "TargetNotFoundException"


def test_the_delegation_policy_lets_a_member_account_manage_policies(
    api_server: RunningServer, orgs: Any, org: dict[str, Any], members: list[str], member_orgs: Callable[[int], Any]
) -> None:
    """Only what the delegation policy allows, only to whom it names, and both sides must allow."""
    member, delegate = members[2], member_orgs(2)
    root = orgs.list_roots()["Roots"][0]["Id"]
    unit = orgs.create_organizational_unit(ParentId=root, Name="Delegated")["OrganizationalUnit"]["Id"]
    assert _fails(delegate.list_roots)[:2] == NO_PERMISSION  # no registration, no delegation policy
    scps_only = {"StringEquals": {"organizations:PolicyType": SCP}}
    orgs.put_resource_policy(Content=_document(
        _statement({"AWS": f"arn:aws:iam::{member}:root"}, ["organizations:Describe*", "organizations:List*"]),
        _statement({"AWS": f"arn:aws:iam::{member}:user/admin2"},
                   ["organizations:CreatePolicy", "organizations:AttachPolicy", "organizations:DetachPolicy"],
                   Condition=scps_only),
    ))  # fmt: skip
    assert delegate.list_roots()["Roots"][0]["Id"] == root
    assert delegate.describe_resource_policy()["ResourcePolicy"]["ResourcePolicySummary"]["Id"].startswith("rp-")
    deny = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
    scp = delegate.create_policy(Content=deny, Description="by the delegate", Name="NoS3", Type=SCP)["Policy"]
    assert scp["PolicySummary"]["Arn"].startswith(f"arn:aws:organizations::{api_server.account_id}:policy/")
    delegate.attach_policy(PolicyId=scp["PolicySummary"]["Id"], TargetId=unit)
    assert unit in {t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=scp["PolicySummary"]["Id"])["Targets"]}
    delegate.detach_policy(PolicyId=scp["PolicySummary"]["Id"], TargetId=unit)
    # tags on a new policy need organizations:TagResource, which the delegation policy does not give
    tagged = {"Content": deny, "Description": "", "Name": "Tagged", "Type": SCP, "Tags": [{"Key": "k", "Value": "v"}]}
    assert _fails(delegate.create_policy, **tagged)[:2] == NO_PERMISSION
    # not delegated: another policy type, deleting, OUs, accounts, the delegation policy itself
    rcp = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                      "Resource": "*"}]})  # fmt: skip
    for call, kw in [
        (delegate.create_policy, {"Content": rcp, "Description": "", "Name": "R", "Type": RCP}),
        (delegate.delete_policy, {"PolicyId": scp["PolicySummary"]["Id"]}),
        (delegate.create_organizational_unit, {"ParentId": root, "Name": "Mine"}),
        (delegate.move_account, {"AccountId": member, "SourceParentId": root, "DestinationParentId": unit}),
        (delegate.put_resource_policy, {"Content": "{}"}),
        (delegate.delete_resource_policy, {}),
    ]:
        assert _fails(call, **kw)[:2] == NO_PERMISSION, call
    # another administrator of the same account reads, but may not create: the statement names admin2 only
    other = client(api_server, "organizations", *_member_admin(api_server, member, "other-admin"))
    assert other.list_roots()["Roots"]
    assert _fails(other.create_policy, Content=deny, Description="", Name="NoS3-2", Type=SCP)[:2] == NO_PERMISSION
    # an SCP on the delegate's account binds its Organizations calls too
    guard = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "organizations:CreatePolicy", "Resource": "*"}]})  # fmt: skip
    no_create = orgs.create_policy(Content=guard, Description="", Name="NoCreatePolicy", Type=SCP)["Policy"]
    orgs.attach_policy(PolicyId=no_create["PolicySummary"]["Id"], TargetId=member)
    code, message, _ = _fails(delegate.create_policy, Content=deny, Description="", Name="NoS3-3", Type=SCP)
    assert code == "AccessDeniedException" and "explicit deny in a service control policy" in message
    orgs.detach_policy(PolicyId=no_create["PolicySummary"]["Id"], TargetId=member)
    # the delegation policy deleted, nothing is delegated any more
    orgs.delete_resource_policy()
    assert _fails(delegate.list_roots)[:2] == NO_PERMISSION
    assert _fails(delegate.create_policy, Content=deny, Description="", Name="NoS3-4", Type=SCP)[:2] == NO_PERMISSION


def test_the_delegation_is_audited(api_server: RunningServer, orgs: Any, acct: str) -> None:
    backend = api_server.backend
    assert backend.audit is not None
    backend.audit.flush()
    with backend.store.read() as tx:
        events = tx.list_audit_events(acct, max_items=1000).items
    names = {e.event_name for e in events if e.event_source == "organizations.amazonaws.com"}
    assert {"EnableAWSServiceAccess", "RegisterDelegatedAdministrator", "PutResourcePolicy"} <= names
