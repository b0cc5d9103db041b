"""The audit trail keeps the why: the engine's decision for a denied call, and for a refused
credential the key id presented and the reason (docs/iam-api.md, audit trail).

Never the secret or the session token: every record checked here is searched for them.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.api.audit_process import AuditProcessWriter
from tests.api.clock import MovableClock
from tests.api.conftest import NO_RETRY, client_for, policy
from tests.api.server import RunningServer, running_server
from tests.api.test_audit_trail import events, request_id
from tests.api.test_sts_assume_role import make_role, trust


def record_of(server: RunningServer, rid: str) -> dict[str, Any]:
    [event] = [e for e in events(server) if e.request_id == rid]
    record: dict[str, Any] = json.loads(event.record)
    return record


def refused(call: Any) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


def sts_for(server: RunningServer, key: str, secret: str, token: str | None = None) -> BaseClient:
    return boto3.client(
        "sts", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token, config=NO_RETRY,
    )  # fmt: skip


@pytest.fixture()
def new_user(iam: BaseClient) -> Iterator[tuple[str, dict[str, str]]]:
    iam.create_user(UserName="Why")
    key = iam.create_access_key(UserName="Why")["AccessKey"]
    yield "Why", key
    for k in iam.list_access_keys(UserName="Why")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="Why", AccessKeyId=k["AccessKeyId"])
    for name in iam.list_user_policies(UserName="Why")["PolicyNames"]:
        iam.delete_user_policy(UserName="Why", PolicyName=name)
    iam.delete_user(UserName="Why")


def test_a_denied_call_names_the_blocking_type_the_statement_and_the_missing_keys(
    api_server: RunningServer, iam: BaseClient, new_user: tuple[str, dict[str, str]]
) -> None:
    name, key = new_user
    document = policy(
        {"Sid": "ReadOnly", "Effect": "Allow", "Action": "iam:Get*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"},
        {
            "Sid": "ListOnlyFromTeam", "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        },
    )  # fmt: skip
    iam.put_user_policy(UserName=name, PolicyName="why-policy", PolicyDocument=document)
    user = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])

    explicit = record_of(api_server, request_id(refused(lambda: user.delete_user(UserName="Nobody"))))
    assert explicit["errorCode"] == "AccessDenied"
    why = explicit["iamdDecision"]
    assert why["decision"] == "explicitDeny" and why["blockingPolicyType"] == "identity"
    assert why["action"] == "iam:DeleteUser"
    [statement] = why["statements"]
    assert statement["policyName"] == "why-policy" and statement["sid"] == "NoDeletes"
    assert statement["statementIndex"] == 1 and statement["effect"] == "Deny" and statement["start"]
    # CloudTrail's own fields keep their AWS shape
    assert explicit["userIdentity"]["type"] == "IAMUser" and explicit["userIdentity"]["userName"] == name

    implicit = record_of(api_server, request_id(refused(lambda: user.list_roles())))
    why = implicit["iamdDecision"]
    assert why["decision"] == "implicitDeny" and why["blockingPolicyType"] == "identity"
    assert [k.lower() for k in why["missingContextKeys"]] == ["aws:principaltag/team"]

    allowed = record_of(api_server, request_id(user.get_user()))
    assert allowed["iamdDecision"]["decision"] == "allowed"
    assert [s["sid"] for s in allowed["iamdDecision"]["statements"]] == ["ReadOnly"]
    for record in (explicit, implicit, allowed):
        assert key["SecretAccessKey"] not in json.dumps(record)


def test_a_denied_assume_role_names_the_trust_policy(
    api_server: RunningServer, iam: BaseClient, new_user: tuple[str, dict[str, str]]
) -> None:
    _, key = new_user
    other = "arn:aws:iam::111122223333:root"
    make_role(iam, "WhyRole", trust(other))
    try:
        sts = sts_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
        role_arn = f"arn:aws:iam::{api_server.account_id}:role/WhyRole"
        error = refused(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="why"))
        why = record_of(api_server, request_id(error))["iamdDecision"]
        assert why["decision"] == "implicitDeny" and why["action"] == "sts:AssumeRole"
        assert "trust" in {b["type"] for b in why["blockingPolicyTypes"]}
    finally:
        iam.delete_role(RoleName="WhyRole")


def test_allowed_sts_calls_keep_the_decision_their_handlers_made(
    api_server: RunningServer, iam: BaseClient, new_user: tuple[str, dict[str, str]]
) -> None:
    name, key = new_user
    user_arn = f"arn:aws:iam::{api_server.account_id}:user/{name}"
    allow = {
        "Sid": "MayUseSts",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:GetAccessKeyInfo"],
        "Resource": "*",
    }
    iam.put_user_policy(UserName=name, PolicyName="sts", PolicyDocument=policy(allow))
    make_role(iam, "WhyAllowed", trust(user_arn))
    try:
        sts = sts_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
        role_arn = f"arn:aws:iam::{api_server.account_id}:role/WhyAllowed"
        assumed = record_of(api_server, request_id(sts.assume_role(RoleArn=role_arn, RoleSessionName="why")))
        why = assumed["iamdDecision"]
        assert why["decision"] == "allowed" and why["action"] == "sts:AssumeRole" and why["resource"] == role_arn
        assert {s["policyType"] for s in why["statements"]} == {"identity", "trust"}
        info = record_of(api_server, request_id(sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])))
        assert info["iamdDecision"]["decision"] == "allowed"
        assert [s["sid"] for s in info["iamdDecision"]["statements"]] == ["MayUseSts"]
    finally:
        iam.delete_role(RoleName="WhyAllowed")


def _assert_refused(
    record: dict[str, Any], key_id: str, code: str, reason: str, secrets: tuple[str, ...]
) -> dict[str, Any]:
    assert record["errorCode"] == code
    assert record["userIdentity"] == {"type": "Unknown", "accessKeyId": key_id}
    why: dict[str, Any] = record["iamdAuthentication"]
    assert why["accessKeyId"] == key_id and why["errorCode"] == code and reason in why["reason"]
    text = json.dumps(record)
    for secret in secrets:
        assert secret not in text
    return why


def test_an_unknown_and_an_inactive_key_leave_the_key_id_and_the_reason(
    api_server: RunningServer, iam: BaseClient, new_user: tuple[str, dict[str, str]]
) -> None:
    stranger = client_for(api_server, "AKIAIOSFODNN7UNKNOWN", "s" * 40)
    record = record_of(api_server, request_id(refused(stranger.list_users)))
    _assert_refused(record, "AKIAIOSFODNN7UNKNOWN", "InvalidClientTokenId", "no such access key", ("s" * 40,))

    name, key = new_user
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    user = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    record = record_of(api_server, request_id(refused(user.get_user)))
    _assert_refused(record, key["AccessKeyId"], "InvalidClientTokenId", "inactive", (key["SecretAccessKey"],))

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    wrong = client_for(api_server, key["AccessKeyId"], "w" * 40)
    record = record_of(api_server, request_id(refused(wrong.get_user)))
    _assert_refused(record, key["AccessKeyId"], "SignatureDoesNotMatch", "signature", ("w" * 40,))


def test_an_expired_and_a_tampered_session_token_leave_the_key_id_and_the_reason(
    api_server: RunningServer, server_clock: MovableClock, new_user: tuple[str, dict[str, str]]
) -> None:
    name, key = new_user
    sts = sts_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    session_key, session_secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    secrets = (session_secret, token, key["SecretAccessKey"])

    with server_clock.moved(timedelta(hours=1)):
        expired = sts_for(api_server, session_key, session_secret, token)
        record = record_of(api_server, request_id(refused(expired.get_caller_identity)))
    why = _assert_refused(record, session_key, "ExpiredToken", "expired", secrets)
    assert why["sessionIssuer"] == f"arn:aws:iam::{api_server.account_id}:user/{name}"
    assert why["sessionExpiration"] == creds["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")

    middle = len(token) // 2
    tampered_token = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    tampered = sts_for(api_server, session_key, session_secret, tampered_token)
    record = record_of(api_server, request_id(refused(tampered.get_caller_identity)))
    why = _assert_refused(record, session_key, "InvalidClientTokenId", "cannot be opened", (*secrets, tampered_token))
    assert "sessionIssuer" not in why


def test_a_denial_is_stored_even_if_the_audit_writer_process_dies(tmp_path: Path) -> None:
    """The writer process is stopped, the denied call's event shipped to it, then the process
    killed: the event is in the database all the same (it was stored before the answer)."""
    with running_server(tmp_path) as server:
        server.backend.audit_in_process(f"sqlite:///{tmp_path / 'iamd.db'}")
        writer = server.backend.audit
        assert isinstance(writer, AuditProcessWriter)
        iam = client_for(server, server.root_key, server.root_secret)
        iam.create_user(UserName="Powerless")
        key = iam.create_access_key(UserName="Powerless")["AccessKey"]
        user = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
        pid = writer._process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            rid = request_id(refused(user.list_users))
            writer._send()  # whatever was queued goes to the stopped process...
        finally:
            os.kill(pid, signal.SIGKILL)  # ...which dies with it
        writer._process.join(timeout=10)
        with server.backend.store.read() as tx:
            stored = [e for e in tx.list_audit_events(server.account_id, max_items=1000).items if e.request_id == rid]
        assert [e.error_code for e in stored] == ["AccessDenied"]
        assert json.loads(stored[0].record)["iamdDecision"]["decision"] == "implicitDeny"
