"""AWS Organizations end to end with boto3 against a real server (docs/organizations.md).

One organization, two OUs, three member accounts: an SCP at one OU denies an action and every
Region but us-east-1; a user of a member account in that OU is denied with AWS's message while
the same-named user of the management account is not, and moving the account out of the OU
lifts the denial on the very next request. An RCP lets only principals of the organization
(``aws:PrincipalOrgID``) assume a member account's role. The organization condition keys carry
the account's place in the tree, and are absent for an account in no organization. The policy
simulator reports ``OrganizationsDecisionDetail``. The AWS CLI runs the same story in
tests/e2e/test_aws_cli_organizations.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.server import RunningServer
from tests.api.test_organizations import RCP, SCP, _admin, _in_member, client, error, new_account

GUARDRAILS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "NoNewUsers", "Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"},
        {"Sid": "OnlyUsEast1", "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}},
    ],
}  # fmt: skip


def _allow(action: str, condition: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*",
                       "Condition": condition}]})  # fmt: skip


def _user(server: RunningServer, account_iam: Any, name: str, policy: str) -> tuple[str, str]:
    account_iam.create_user(UserName=name)
    account_iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=policy)
    key = account_iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _denied(call: Any, **kw: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as excinfo:
        call(**kw)
    code, message, _ = error(excinfo)
    return code, message


def test_an_organization_governs_its_member_accounts(api_server: RunningServer) -> None:
    mgmt = api_server.account_id
    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    workloads = orgs.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    sandbox = orgs.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]
    dev, prod, outsider = (new_account(orgs, name) for name in ("dev", "prod", "outsider"))
    orgs.move_account(AccountId=dev, SourceParentId=root, DestinationParentId=workloads)
    orgs.move_account(AccountId=prod, SourceParentId=root, DestinationParentId=sandbox)

    boss = _admin(api_server, "boss")  # administers the member accounts through their access roles
    dev_iam, prod_iam, outsider_iam = (_in_member(api_server, a, boss) for a in (dev, prod, outsider))
    alice = {"mgmt": _admin(api_server, "alice"), "dev": _admin(api_server, "alice", dev_iam)}

    # -- the condition keys: the account's organization and its parent's path --------------------
    here = f"{org_id}/{root}/{workloads}/"
    placed = _allow("iam:GetUser", {
        "StringEquals": {"aws:PrincipalOrgID": org_id, "aws:ResourceOrgID": org_id, "aws:ResourceAccount": dev},
        "ForAnyValue:StringEquals": {"aws:PrincipalOrgPaths": here, "aws:ResourceOrgPaths": here},
    })  # fmt: skip
    pathfinder = client(api_server, "iam", *_user(api_server, dev_iam, "pathfinder", placed))
    assert pathfinder.get_user()["User"]["UserName"] == "pathfinder"
    loner_policy = _allow("iam:GetUser", {"Null": {"aws:PrincipalOrgID": "true", "aws:PrincipalOrgPaths": "true",
                                                   "aws:ResourceOrgID": "true"}})  # fmt: skip
    loner = client(api_server, "iam", *_user(api_server, outsider_iam, "loner", loner_policy))
    assert _denied(loner.get_user)[0] == "AccessDenied"  # in the organization: the keys are there
    visitor = _admin(api_server, "visitor", outsider_iam)
    orgs.remove_account_from_organization(AccountId=outsider)
    assert loner.get_user()["User"]["UserName"] == "loner"  # out of it: they are absent (not empty)

    # -- an SCP at the Workloads OU ------------------------------------------------------------
    scp = orgs.create_policy(Content=json.dumps(GUARDRAILS), Description="", Name="Guardrails", Type=SCP)["Policy"]
    scp_arn = scp["PolicySummary"]["Arn"]
    assert scp_arn.startswith(f"arn:aws:organizations::{mgmt}:policy/{org_id}/service_control_policy/p-")
    orgs.attach_policy(PolicyId=scp["PolicySummary"]["Id"], TargetId=workloads)
    dev_alice_iam = client(api_server, "iam", *alice["dev"])
    code, message = _denied(dev_alice_iam.create_user, UserName="bob")
    assert (code, message) == ("AccessDenied", (
        f"User: arn:aws:iam::{dev}:user/alice is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{dev}:user/bob with an explicit deny in a service control policy: {scp_arn}"
    ))  # fmt: skip
    dev_alice_away = client(api_server, "sts", *alice["dev"], region="eu-west-1")
    code, message = _denied(dev_alice_away.get_federation_token, Name="trip")
    assert code == "AccessDenied"
    assert message.startswith(f"User: arn:aws:iam::{dev}:user/alice is not authorized to perform: "
                              "sts:GetFederationToken on resource: ")  # fmt: skip
    assert message.endswith(f" with an explicit deny in a service control policy: {scp_arn}")
    client(api_server, "sts", *alice["dev"]).get_federation_token(Name="home")  # us-east-1: allowed
    # the same-named user of the management account: SCPs never restrict it
    client(api_server, "iam", *alice["mgmt"]).create_user(UserName="bob")
    client(api_server, "sts", *alice["mgmt"], region="eu-west-1").get_federation_token(Name="trip")

    # the simulator says Organizations denied it, for the member account's user only
    def simulated(iam: Any, account: str) -> list[dict[str, Any]]:
        out = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{account}:user/alice",
                                            ActionNames=["iam:CreateUser", "iam:GetUser"])  # fmt: skip
        return [{k: r.get(k) for k in ("EvalActionName", "EvalDecision", "OrganizationsDecisionDetail")}
                for r in out["EvaluationResults"]]  # fmt: skip

    assert simulated(dev_alice_iam, dev) == [
        {"EvalActionName": "iam:CreateUser", "EvalDecision": "explicitDeny",
         "OrganizationsDecisionDetail": {"AllowedByOrganizations": False}},
        {"EvalActionName": "iam:GetUser", "EvalDecision": "allowed",
         "OrganizationsDecisionDetail": {"AllowedByOrganizations": True}},
    ]  # fmt: skip
    assert simulated(client(api_server, "iam", *alice["mgmt"]), mgmt)[0] == {
        "EvalActionName": "iam:CreateUser", "EvalDecision": "allowed",
        "OrganizationsDecisionDetail": {"AllowedByOrganizations": True},
    }  # fmt: skip

    # -- moving the account out of the OU: the next request is evaluated without the SCP -------
    orgs.move_account(AccountId=dev, SourceParentId=workloads, DestinationParentId=sandbox)
    dev_alice_iam.create_user(UserName="bob")
    dev_alice_away.get_federation_token(Name="trip")
    # and the paths moved with it: pathfinder's condition names the old OU
    assert _denied(pathfinder.get_user)[0] == "AccessDenied"

    # -- an RCP: only principals of the organization may assume a member account's roles -------
    orgs.enable_policy_type(RootId=root, PolicyType=RCP)
    org_only = {"Version": "2012-10-17", "Statement": [{"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*",
                "Action": "sts:AssumeRole", "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id}}}]}  # fmt: skip
    rcp = orgs.create_policy(Content=json.dumps(org_only), Description="", Name="OrgOnly", Type=RCP)["Policy"]
    orgs.attach_policy(PolicyId=rcp["PolicySummary"]["Id"], TargetId=root)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {
             "AWS": [f"arn:aws:iam::{a}:root" for a in (mgmt, dev, outsider)]}}]}  # fmt: skip
    prod_iam.create_role(RoleName="Shared", AssumeRolePolicyDocument=json.dumps(trust))
    shared = f"arn:aws:iam::{prod}:role/Shared"
    code, message = _denied(client(api_server, "sts", *visitor).assume_role, RoleArn=shared, RoleSessionName="visit")
    assert (code, message) == ("AccessDenied", (
        f"User: arn:aws:iam::{outsider}:user/visitor is not authorized to perform: sts:AssumeRole on resource: "
        f"{shared} with an explicit deny in a resource control policy"  # another organization: no policy ARN
    ))  # fmt: skip
    client(api_server, "sts", *boss).assume_role(RoleArn=shared, RoleSessionName="boss")  # the management account
    client(api_server, "sts", *alice["dev"]).assume_role(RoleArn=shared, RoleSessionName="alice")  # a member
