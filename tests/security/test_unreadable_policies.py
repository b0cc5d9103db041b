"""A stored policy that no longer parses denies everything (docs/evaluation-semantics.md, unreadable policies).

Each test stores a policy with a Deny, damages the stored document directly in the database
(as a stricter validator after an upgrade, an imported document or a damaged row would
leave it) and shows the Deny still holds — in fact everything is denied — with the
unreadable policy named in the decision's errors and in the log.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from sqlalchemy import Table, select, update

from iamd.policy import PolicySet, Principal, Request, build_context, evaluate
from iamd.service.sts.assume import _trust_policy
from iamd.store import schema
from tests.api.conftest import NO_RETRY, UserClient, allow, deny, failure, policy
from tests.api.server import RunningServer

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
DAMAGED = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:CreateUser"'  # cut short


def _damage(server: RunningServer, table: Table, where: Any) -> None:
    """Overwrite a stored document behind iamd's back, then drop its caches (as another process's write does)."""
    column = "assume_role_policy" if table is schema.roles else "document"
    with server.backend.store.engine.begin() as conn:
        assert conn.execute(update(table).where(where).values({column: DAMAGED})).rowcount == 1
    server.backend.changed()


def _denied(call: Any, **params: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    assert failure(excinfo)[:2] == (403, "AccessDenied")


def _user_decision_errors(server: RunningServer, acct: str, name: str, action: str) -> tuple[str, ...]:
    backend = server.backend
    with backend.store.read() as tx:
        user = tx.get_user(acct, name)
        policies = backend.policies.for_user(tx, user)
    principal = Principal.from_arn(user.arn)
    decision = evaluate(Request(principal, action, "*", build_context(principal, [])), policies)
    assert not decision.allowed
    return decision.errors


def _entity_id(server: RunningServer, table: Table, acct: str, name: str) -> str:
    with server.backend.store.engine.connect() as conn:
        row = conn.execute(select(table.c.id).where(table.c.account_id == acct, table.c.name == name)).one()
    return str(row.id)


def test_an_unreadable_inline_deny_denies_everything(
    iam: BaseClient, acct: str, user_client: UserClient, api_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    ivan = user_client("ivan")
    iam.attach_user_policy(UserName="ivan", PolicyArn=ADMIN)
    iam.put_user_policy(UserName="ivan", PolicyName="no-new-users", PolicyDocument=policy(deny("iam:CreateUser")))
    _denied(ivan.create_user, UserName="by-ivan")
    ivan.list_users()  # AdministratorAccess allows the rest

    table = schema.user_inline_policies
    _damage(api_server, table, (table.c.entity_id == _entity_id(api_server, schema.users, acct, "ivan")))
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        _denied(ivan.create_user, UserName="by-ivan")
        _denied(ivan.list_users)
    assert "inline policy no-new-users of user ivan cannot be read" in caplog.text
    errors = _user_decision_errors(api_server, acct, "ivan", "iam:ListUsers")
    assert any("inline policy no-new-users of user ivan cannot be read" in e for e in errors), errors
    assert iam.list_users(PathPrefix="/")["Users"] and "by-ivan" not in str(iam.list_users())


def test_an_unreadable_managed_policy_of_a_group_denies_everything(
    iam: BaseClient, acct: str, user_client: UserClient, api_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    judy = user_client("judy")
    iam.attach_user_policy(UserName="judy", PolicyArn=ADMIN)
    arn = iam.create_policy(PolicyName="GroupDeny", PolicyDocument=policy(deny("iam:CreateUser")))["Policy"]["Arn"]
    iam.create_group(GroupName="Guarded")
    iam.attach_group_policy(GroupName="Guarded", PolicyArn=arn)
    iam.add_user_to_group(GroupName="Guarded", UserName="judy")
    _denied(judy.create_user, UserName="by-judy")
    judy.list_groups()

    versions = schema.policy_versions
    policy_id = _entity_id(api_server, schema.policies, acct, "GroupDeny")
    _damage(api_server, versions, (versions.c.policy_id == policy_id))
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        _denied(judy.create_user, UserName="by-judy")
        _denied(judy.list_groups)
    named = f"managed policy {arn} version v1 cannot be read"
    assert named in caplog.text
    assert any(named in e for e in _user_decision_errors(api_server, acct, "judy", "iam:ListGroups"))


def test_an_unreadable_trust_policy_trusts_nobody(
    iam: BaseClient, acct: str, user_client: UserClient, api_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    karl = user_client("karl", policy(allow("sts:AssumeRole")))
    trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/karl"}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:TagSession"},
    )
    role_arn = iam.create_role(RoleName="Fragile", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    creds = karl._request_signer._credentials
    sts = boto3.client(
        "sts", endpoint_url=api_server.endpoint, region_name="us-east-1", aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key, config=NO_RETRY,
    )  # fmt: skip
    sts.assume_role(RoleArn=role_arn, RoleSessionName="before")

    roles = schema.roles
    _damage(api_server, roles, (roles.c.id == _entity_id(api_server, roles, acct, "Fragile")))
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        _denied(sts.assume_role, RoleArn=role_arn, RoleSessionName="after")
    named = f"trust policy of role {role_arn} cannot be read"
    assert named in caplog.text
    with api_server.backend.store.read() as tx:
        trust_policy = _trust_policy(tx.get_role(acct, "Fragile"))
    karl_principal = Principal.from_arn(f"arn:aws:iam::{acct}:user/karl")
    request = Request(karl_principal, "sts:AssumeRole", role_arn, build_context(karl_principal, []), acct)
    decision = evaluate(request, PolicySet.of(resource=trust_policy))
    assert decision.verdict.value == "explicitDeny"
    assert any(named in e for e in decision.errors)
