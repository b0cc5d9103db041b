"""Two ``iamd serve`` processes on one database: an Organizations write on A governs the next
requests on B within the bound (docs/architecture.md, "Several processes"; docs/organizations.md,
"Caches"). B has cached the member account's principal first; the test asserts that each write
is seen, not how fast (the delay is printed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from tests.api.server import ROOT_KEY, ROOT_SECRET
from tests.store.test_several_processes import NO_RETRY, _client, _outcome, _serve, _until

DENY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*"}]}
)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _boto(service: str, endpoint: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=NO_RETRY)  # fmt: skip


def test_an_organizations_write_on_one_process_governs_the_next_request_on_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    with _serve(tmp_path, url) as a, _serve(tmp_path, url) as b:
        orgs = _boto("organizations", a, ROOT_KEY, ROOT_SECRET)
        orgs.create_organization()
        root = orgs.list_roots()["Roots"][0]["Id"]
        unit = orgs.create_organizational_unit(ParentId=root, Name="Locked")["OrganizationalUnit"]["Id"]
        status = orgs.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]
        member = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"][
            "AccountId"
        ]
        root_iam = _client(a)
        root_iam.create_user(UserName="boss")
        root_iam.attach_user_policy(UserName="boss", PolicyArn=ADMIN)
        boss = root_iam.create_access_key(UserName="boss")["AccessKey"]
        creds = _boto("sts", a, boss["AccessKeyId"], boss["SecretAccessKey"]).assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
        )["Credentials"]
        member_iam = _boto("iam", a, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        member_iam.create_user(UserName="worker")
        member_iam.attach_user_policy(UserName="worker", PolicyArn=ADMIN)
        key = member_iam.create_access_key(UserName="worker")["AccessKey"]
        worker_b = _client(b, key["AccessKeyId"], key["SecretAccessKey"])
        get = lambda: worker_b.get_user(UserName="worker")
        _until(get, "ok")  # B has cached the worker's set (no SCP of the OU yet)
        policy = orgs.create_policy(Content=DENY, Description="", Name="NoGetUser", Type="SERVICE_CONTROL_POLICY")
        policy_id = policy["Policy"]["PolicySummary"]["Id"]
        orgs.attach_policy(PolicyId=policy_id, TargetId=unit)
        assert _outcome(get) == "ok"  # the account is not in the OU
        orgs.move_account(AccountId=member, SourceParentId=root, DestinationParentId=unit)
        _until(get, "AccessDenied")  # a move on A, enforced on B
        orgs.move_account(AccountId=member, SourceParentId=unit, DestinationParentId=root)
        _until(get, "ok")
        orgs.attach_policy(PolicyId=policy_id, TargetId=member)
        _until(get, "AccessDenied")  # an attachment on A
        orgs.detach_policy(PolicyId=policy_id, TargetId=member)
        _until(get, "ok")  # a detachment
