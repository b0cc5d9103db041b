"""An Organizations write reaches the very next request of every principal it concerns, and only
those (docs/organizations.md, "Caches"; another process: tests/store/test_several_processes.py).

The store names the organization a write changes (and the account that joins, moves or leaves);
the cache drops what was built from them: the SCP levels in the sets of the organization's
member accounts' users, roles, sessions and root, the RCP levels of their resources, and the
organization keys. Everything else stays: the management account's sets (SCPs never restrict
it), the credentials, the entities, the compiled managed policies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.server import RunningServer
from tests.api.test_organizations import RCP, SCP, _admin, _in_member, client, new_account

DENY_READS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": ["iam:GetUser", "iam:ListRoles"], "Resource": "*"}]})  # fmt: skip


@pytest.fixture(scope="module")
def orgs(api_server: RunningServer) -> Any:
    """The module server's account as the management account of an organization."""
    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    orgs.create_organization()
    return orgs


def _code(call: Callable[[], object]) -> str:
    try:
        call()
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "ok"


def test_an_organizations_write_reaches_the_next_request_of_every_principal_it_governs(
    api_server: RunningServer, orgs: Any
) -> None:
    policies = api_server.backend.policies
    org_id = orgs.describe_organization()["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    unit = orgs.create_organizational_unit(ParentId=root, Name="Governed")["OrganizationalUnit"]["Id"]
    member = new_account(orgs, "governed")
    boss = _admin(api_server, "boss")
    member_iam = _in_member(api_server, member, boss)  # a role session of the member account
    user = client(api_server, "iam", *_admin(api_server, "worker", member_iam))  # an IAM user of it
    mgmt = client(api_server, "iam", *boss)
    here = f"{org_id}/{root}/{unit}/"
    keyed = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
             "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalOrgPaths": here}}}]}  # fmt: skip
    member_iam.create_user(UserName="pathfinder")  # allowed by its place in the organization only
    member_iam.put_user_policy(UserName="pathfinder", PolicyName="keyed", PolicyDocument=json.dumps(keyed))
    key = member_iam.create_access_key(UserName="pathfinder")["AccessKey"]
    pathfinder = client(api_server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{api_server.account_id}:root"}}]}  # fmt: skip
    member_iam.create_role(RoleName="Vault", AssumeRolePolicyDocument=json.dumps(trust))
    sts = client(api_server, "sts", *boss)
    assume = lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{member}:role/Vault", RoleSessionName="s1")
    warm: dict[str, Callable[[], object]] = {
        "user": lambda: user.get_user(),
        "session": lambda: member_iam.list_roles(),
        "mgmt": lambda: mgmt.get_user(),
        "keys": lambda: pathfinder.list_users(),
        "rcp": assume,
    }

    def outcomes() -> dict[str, str]:
        return {name: _code(call) for name, call in warm.items()}

    assert outcomes() == {"user": "ok", "session": "ok", "mgmt": "ok", "keys": "AccessDenied", "rcp": "ok"}
    # each write below is followed by the very next request of each principal (every one cached)
    orgs.move_account(AccountId=member, SourceParentId=root, DestinationParentId=unit)
    assert outcomes() == {"user": "ok", "session": "ok", "mgmt": "ok", "keys": "ok", "rcp": "ok"}
    scp = orgs.create_policy(Content=DENY_READS, Description="", Name="NoReads", Type=SCP)["Policy"]["PolicySummary"]
    mgmt.get_user()
    builds = policies.builds
    orgs.attach_policy(PolicyId=scp["Id"], TargetId=unit)
    mgmt.get_user()
    assert policies.builds == builds  # the management account's set was not dropped
    assert outcomes() == {"user": "AccessDenied", "session": "AccessDenied", "mgmt": "ok", "keys": "ok", "rcp": "ok"}
    orgs.enable_policy_type(RootId=root, PolicyType=RCP)
    content = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                          "Action": "sts:AssumeRole", "Resource": "*"}]})  # fmt: skip
    rcp = orgs.create_policy(Content=content, Description="", Name="NoAssume", Type=RCP)["Policy"]["PolicySummary"]
    orgs.attach_policy(PolicyId=rcp["Id"], TargetId=unit)
    assert outcomes()["rcp"] == "AccessDenied"
    # the account leaves the OU: no SCP, no RCP of the OU, and its paths changed
    orgs.move_account(AccountId=member, SourceParentId=unit, DestinationParentId=root)
    assert outcomes() == {"user": "ok", "session": "ok", "mgmt": "ok", "keys": "AccessDenied", "rcp": "ok"}
    orgs.move_account(AccountId=member, SourceParentId=root, DestinationParentId=unit)
    assert outcomes() == {"user": "AccessDenied", "session": "AccessDenied", "mgmt": "ok", "keys": "ok",
                          "rcp": "AccessDenied"}  # fmt: skip
    # a policy's new content
    orgs.update_policy(PolicyId=scp["Id"], Content=DENY_READS.replace("iam:GetUser", "iam:GetGroup"))
    assert outcomes()["user"] == "ok" and outcomes()["session"] == "AccessDenied"
    orgs.detach_policy(PolicyId=scp["Id"], TargetId=unit)
    orgs.disable_policy_type(RootId=root, PolicyType=RCP)
    assert outcomes() == {"user": "ok", "session": "ok", "mgmt": "ok", "keys": "ok", "rcp": "ok"}


def test_the_organization_keys_follow_an_account_out_of_its_organization(api_server: RunningServer, orgs: Any) -> None:
    member = new_account(orgs, "drifter")
    member_iam = _in_member(api_server, member, _admin(api_server, "drifter-boss"))
    alone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
             "Condition": {"Null": {"aws:PrincipalOrgID": "true"}}}]}  # fmt: skip
    member_iam.create_user(UserName="drifter")
    member_iam.put_user_policy(UserName="drifter", PolicyName="alone", PolicyDocument=json.dumps(alone))
    key = member_iam.create_access_key(UserName="drifter")["AccessKey"]
    drifter: Any = client(api_server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert _code(drifter.get_user) == "AccessDenied"
    orgs.remove_account_from_organization(AccountId=member)
    assert _code(drifter.get_user) == "ok"


def test_a_new_caller_of_a_governed_account_sees_its_levels_as_they_are_now(
    api_server: RunningServer, orgs: Any
) -> None:
    """An account's SCP levels are cached per account (a new caller of it reads no Organizations
    table): a write drops them, and the next new caller's first request sees the write."""
    member = new_account(orgs, "newcomers")
    member_iam = _in_member(api_server, member, _admin(api_server, "newcomers-boss"))

    def first_request(name: str) -> str:
        caller: Any = client(api_server, "iam", *_admin(api_server, name, member_iam))
        return _code(caller.get_user)

    assert first_request("early") == "ok"
    scp = orgs.create_policy(Content=DENY_READS, Description="", Name="NoNewcomerReads", Type=SCP)
    scp_id = scp["Policy"]["PolicySummary"]["Id"]
    assert first_request("before-attach") == "ok"
    orgs.attach_policy(PolicyId=scp_id, TargetId=member)
    assert first_request("late") == "AccessDenied"
    orgs.detach_policy(PolicyId=scp_id, TargetId=member)
    assert first_request("later") == "ok"
