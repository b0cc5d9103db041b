"""The troubleshooter where an organization's policies decide: a real denial by an SCP or an RCP,
explained by request id (docs/troubleshooting.md; docs/organizations.md, enforcement).

Two defects these guard against: an AssumeRole explained without the RCPs of the role's account
(the server denied, the explanation said "allowed now"), and "as it was" rebuilt without the SCPs
and RCPs (a false "outcome changed" for every denial an SCP decided).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.server import RunningServer
from tests.api.test_explain import both, denied, explain, findings, next_second, one
from tests.api.test_organizations import RCP, SCP, _admin, _in_member, client, new_account


@pytest.fixture(scope="module")
def orgs(api_server: RunningServer) -> Any:
    organizations = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    organizations.create_organization(FeatureSet="ALL")
    return organizations


@pytest.fixture(scope="module")
def root_id(orgs: Any) -> str:
    return str(orgs.list_roots()["Roots"][0]["Id"])


def _deny(action: str, resource: str = "*", principal: bool = False) -> str:
    statement: dict[str, Any] = {"Effect": "Deny", "Action": action, "Resource": resource}
    if principal:
        statement["Principal"] = "*"
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_an_assume_role_denied_by_the_role_accounts_rcp(api_server: RunningServer, orgs: Any, root_id: str) -> None:
    member = new_account(orgs, "explain-rcp")
    boss = _admin(api_server, "explain-rcp-boss")
    member_iam = _in_member(api_server, member, boss)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{api_server.account_id}:root"}}]}  # fmt: skip
    member_iam.create_role(RoleName="VaultRole", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = f"arn:aws:iam::{member}:role/VaultRole"
    orgs.enable_policy_type(RootId=root_id, PolicyType=RCP)
    try:
        rcp = orgs.create_policy(Content=_deny("sts:AssumeRole", "arn:aws:iam::*:role/Vault*", principal=True),
                                 Description="", Name="NoVault", Type=RCP)["Policy"]["PolicySummary"]  # fmt: skip
        orgs.attach_policy(PolicyId=rcp["Id"], TargetId=member)
        sts = client(api_server, "sts", *boss)
        error = denied(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="ss"))
        by_id, _ = both(api_server, error)
        # AWS denies because the RCP of the role's account denies: the explanation agrees, now and as it was
        assert by_id["recorded"]["decision"] == "explicitDeny"
        assert by_id["now"]["decision"] == "explicitDeny", by_id["verdict"]
        assert not findings(by_id, "outcome-changed") and not findings(by_id, "replay-differs")
        assert one(by_id, "narrowed-by")["evidence"]["policyType"] == "rcp"
        assert rcp["Arn"] in json.dumps(one(by_id, "deciding-statement"))
    finally:
        orgs.disable_policy_type(RootId=root_id, PolicyType=RCP)


def test_as_it_was_keeps_the_scp_that_denied(api_server: RunningServer, orgs: Any, root_id: str) -> None:
    member = new_account(orgs, "explain-scp")
    boss = _admin(api_server, "explain-scp-boss")
    member_iam = _in_member(api_server, member, boss)
    member_iam.create_user(UserName="scp-denied")
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]}
    member_iam.put_user_policy(UserName="scp-denied", PolicyName="list", PolicyDocument=json.dumps(allow))
    key = member_iam.create_access_key(UserName="scp-denied")["AccessKey"]
    member_admin = _admin(api_server, "explain-scp-admin", member_iam)  # explains its own account's events
    scp = orgs.create_policy(Content=_deny("iam:ListRoles"), Description="", Name="NoListRoles",
                             Type=SCP)["Policy"]["PolicySummary"]  # fmt: skip
    orgs.attach_policy(PolicyId=scp["Id"], TargetId=member)
    try:
        user_iam = client(api_server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
        error = denied(user_iam.list_roles)
        next_second()  # the event lies after every write above: it is replayed "as it was"
        assert api_server.backend.audit is not None
        api_server.backend.audit.flush()
        answer = explain(api_server, {"RequestId": error.response["ResponseMetadata"]["RequestId"]}, *member_admin)
        assert answer.status_code == 200, answer.text
        by_id = answer.json()
        assert by_id["recorded"]["decision"] == "explicitDeny"
        assert by_id["now"]["decision"] == "explicitDeny"
        # as it was: the user's policies then, with the organization's SCPs (today's: their history is not kept)
        assert by_id["asItWas"]["decision"] == "explicitDeny"
        assert not findings(by_id, "outcome-changed") and not findings(by_id, "replay-differs")
        assert any("SCPs and RCPs as they are now" in n for n in by_id["notes"])
    finally:
        orgs.detach_policy(PolicyId=scp["Id"], TargetId=member)
