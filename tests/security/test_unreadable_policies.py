"""A stored policy that no longer parses denies everything (docs/evaluation-semantics.md, unreadable policies).

Each test stores a policy with a Deny, damages the stored document directly in the database
(as a stricter validator after an upgrade, an imported document or a damaged row would
leave it) and shows the Deny still holds — in fact everything is denied — with the
unreadable policy named in the decision's errors and in the log. Every policy type is read
by the one policy loader (iamd.service.policy_loader), so one implementation answers them all.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from sqlalchemy import Table, select, update

from iamd.policy import PolicyType, Principal, Request, build_context, evaluate
from iamd.service.call import Caller
from iamd.service.policy_loader import PolicyLoader
from iamd.sessions import SessionClaims, SessionKind
from iamd.store import NotFound, schema
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
        trust_policy = api_server.backend.policies.loader.trust(tx.get_role(acct, "Fragile"))
    karl_principal = Principal.from_arn(f"arn:aws:iam::{acct}:user/karl")
    request = Request(karl_principal, "sts:AssumeRole", role_arn, build_context(karl_principal, []), acct)
    decision = evaluate(request, PolicyLoader.build(resource=trust_policy))
    assert decision.verdict.value == "explicitDeny"
    assert any(named in e for e in decision.errors)


def _role_session_errors(
    server: RunningServer, acct: str, role_name: str, action: str, *, policy: str | None = None,
    policy_arns: tuple[str, ...] = (),
) -> tuple[str, ...]:  # fmt: skip
    """The errors of a decision for a session of ``role_name`` with the given session policies."""
    backend = server.backend
    with backend.store.read() as tx:
        role = tx.get_role(acct, role_name)
        now = datetime(2026, 1, 1, tzinfo=UTC)  # policies are evaluated without a clock here
        claims = SessionClaims(
            kind=SessionKind.ASSUMED_ROLE, account=acct, issued_at=now, expires_at=now + timedelta(hours=1),
            secret_access_key="", session_name="s", role_arn=role.arn, role_id=role.id, policy=policy,
            policy_arns=policy_arns,
        )  # fmt: skip
        principal = Principal.from_arn(claims.arn)
        caller = Caller(acct, principal, None, None, claims)
        policies = backend.policies.for_caller(tx, caller)
    decision = evaluate(Request(principal, action, "*", build_context(principal, []), acct), policies)
    assert not decision.allowed
    return decision.errors


def test_an_unreadable_permissions_boundary_denies_everything(
    iam: BaseClient, acct: str, user_client: UserClient, api_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    lena = user_client("lena")
    iam.attach_user_policy(UserName="lena", PolicyArn=ADMIN)
    arn = iam.create_policy(PolicyName="LenaBounds", PolicyDocument=policy(allow("iam:*"), deny("iam:CreateUser")))[
        "Policy"
    ]["Arn"]
    iam.put_user_permissions_boundary(UserName="lena", PermissionsBoundary=arn)
    _denied(lena.create_user, UserName="by-lena")
    lena.list_users()

    versions = schema.policy_versions
    _damage(api_server, versions, (versions.c.policy_id == _entity_id(api_server, schema.policies, acct, "LenaBounds")))
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        _denied(lena.create_user, UserName="by-lena")
        _denied(lena.list_users)
    named = f"managed policy {arn} version v1 cannot be read"
    assert named in caplog.text
    assert any(named in e for e in _user_decision_errors(api_server, acct, "lena", "iam:ListUsers"))


class _NoPolicies:
    """A read transaction in which no managed policy exists."""

    def get_policy(self, arn: str) -> Any:
        raise NotFound("policy", arn)


def test_a_missing_permissions_boundary_denies_everything_and_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """IAM refuses to delete a policy in use as a boundary; if one is gone anyway, nothing is allowed."""
    missing = "arn:aws:iam::123456789012:policy/Gone"
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        boundary = PolicyLoader().boundary(_NoPolicies(), missing, "user mona")  # type: ignore[arg-type]
    named = f"permissions boundary {missing} of user mona cannot be read"
    assert named in caplog.text
    principal = Principal.from_arn("arn:aws:iam::123456789012:user/mona")
    admin = PolicyLoader().stored(policy(allow("*")), PolicyType.IDENTITY, "admin", "admin")
    request = Request(principal, "iam:ListUsers", "*", build_context(principal, []), "123456789012")
    decision = evaluate(request, PolicyLoader.build([admin], boundary))
    assert not decision.allowed
    assert any(named in e for e in decision.errors), decision.errors


def test_an_unreadable_managed_session_policy_denies_everything(
    iam: BaseClient, acct: str, api_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="Narrowed", AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName="Narrowed", PolicyArn=ADMIN)
    arn = iam.create_policy(PolicyName="SessionScope", PolicyDocument=policy(allow("iam:*")))["Policy"]["Arn"]
    versions = schema.policy_versions
    _damage(
        api_server, versions, (versions.c.policy_id == _entity_id(api_server, schema.policies, acct, "SessionScope"))
    )
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        errors = _role_session_errors(api_server, acct, "Narrowed", "iam:ListUsers", policy_arns=(arn,))
    named = f"managed policy {arn} version v1 cannot be read"
    assert named in caplog.text
    assert any(named in e for e in errors), errors


def test_an_unreadable_inline_session_policy_denies_everything_and_is_named(
    iam: BaseClient, acct: str, api_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A session policy is sealed in the token; one a newer validator rejects is named, not silently dropped."""
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="Sealed", AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName="Sealed", PolicyArn=ADMIN)
    with caplog.at_level(logging.ERROR, logger="iamd.authorize"):
        errors = _role_session_errors(api_server, acct, "Sealed", "iam:ListUsers", policy=DAMAGED)
    named = f"session policy of arn:aws:sts::{acct}:assumed-role/Sealed/s cannot be read"
    assert named in caplog.text
    assert any(named in e for e in errors), errors
