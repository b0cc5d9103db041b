"""The compact trail gives every reader the very JSON the trail stored before (docs/audit.md).

A corpus of real calls against a real server — IAM, STS and Organizations; allowed, denied and
failed; a refused credential; role sessions; a federated user; console sign-ins — and for each
event, the JSON text the trail stored before it was compact (the record of the call's event,
as ``audit_event_from_record`` serialized it) is compared with what the store gives back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.audit import CallEvent
from iamd.service.signin import SigninAttempt
from iamd.store import AuditEvent, CompactEvent, audit_event_from_record
from iamd.store import audit as store_audit
from iamd.store.audit_codec import WHOLE
from tests.api.conftest import NO_RETRY, UserClient, allow, client_for, deny, policy
from tests.api.server import RunningServer


class Captured:
    def __init__(self) -> None:
        self.old: dict[str, str] = {}  # event id -> the JSON text the trail stored before
        self.kept_whole: list[str] = []  # event names of records that were not taken apart


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    seen = Captured()
    compact_call = store_audit.compact_call_event
    compact_stored = store_audit.compact_stored_event

    def from_call(event: CallEvent, memo: dict[object, object] | None = None) -> CompactEvent:
        seen.old[event.event_id] = audit_event_from_record(event.record(), event_time=event.event_time).record
        return compact_call(event, memo)

    def from_stored(event: AuditEvent) -> CompactEvent:
        seen.old[event.event_id] = event.record
        compact = compact_stored(event)
        if compact.flags & WHOLE:
            seen.kept_whole.append(event.event_name)
        return compact

    monkeypatch.setattr(store_audit, "compact_call_event", from_call)
    monkeypatch.setattr(store_audit, "compact_stored_event", from_stored)
    yield seen


def _client(server: RunningServer, service: str, creds: dict[str, str] | tuple[str, str]) -> Any:
    if isinstance(creds, tuple):
        creds = {"AccessKeyId": creds[0], "SecretAccessKey": creds[1]}
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds.get("SessionToken"), config=NO_RETRY,
    )  # fmt: skip


def _calls(server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str) -> None:
    """One of each kind of event the trail keeps."""
    iam.create_user(UserName="Corpus")
    iam.get_user(UserName="Corpus")
    iam.list_users()
    iam.create_access_key(UserName="Corpus")  # a response with a secret: redacted
    iam.create_login_profile(UserName="Corpus", Password="C0rpus-Passw0rd!")
    with pytest.raises(ClientError):
        iam.get_user(UserName="NotThere")  # failed
    with pytest.raises(ClientError):
        iam.create_user(UserName="bad name!")  # failed validation
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="CorpusRole", AssumeRolePolicyDocument=trust)["Role"]
    role_policy = policy(allow("iam:GetRole"), deny("iam:ListUsers"))
    iam.put_role_policy(RoleName="CorpusRole", PolicyName="p", PolicyDocument=role_policy)
    caller = user_client("CorpusCaller", policy(allow(["iam:GetUser", "sts:AssumeRole", "sts:GetFederationToken",
                                                       "iam:GetRole"]), deny("iam:DeleteUser")))  # fmt: skip
    caller.get_user()  # allowed read: the deciding statement
    with pytest.raises(ClientError):
        caller.delete_user(UserName="Corpus")  # denied
    with pytest.raises(ClientError):
        client_for(server, "AKIAIOSFODNN7UNKNOWN", "x" * 40).get_user()  # refused credential
    creds = caller._request_signer._credentials  # the signed client's key
    sts = _client(server, "sts", (creds.access_key, creds.secret_key))
    sts.get_caller_identity()
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="corpus-session")["Credentials"]
    as_role = _client(server, "iam", session)
    as_role.get_role(RoleName="CorpusRole")  # a role session's allowed read
    with pytest.raises(ClientError):
        as_role.list_users()  # a role session denied
    _client(server, "sts", session).get_caller_identity()
    federated = sts.get_federation_token(Name="corpus-fed", Policy=policy(allow("iam:GetUser")))["Credentials"]
    with pytest.raises(ClientError):
        _client(server, "iam", federated).get_user(UserName="Corpus")
    _client(server, "sts", federated).get_caller_identity()
    sts.get_session_token()
    orgs = _client(server, "organizations", (server.root_key, server.root_secret))
    with contextlib.suppress(ClientError):  # already made by another test of the module: still an event
        orgs.create_organization(FeatureSet="ALL")
    orgs.describe_organization()
    orgs.list_roots()
    with pytest.raises(ClientError):
        orgs.describe_account(AccountId="999999999999")
    assert server.backend.sign_in(SigninAttempt(acct, "Corpus", "C0rpus-Passw0rd!", user_agent="corpus")).session
    assert not server.backend.sign_in(SigninAttempt(acct, "Corpus", "wrong", user_agent="corpus")).session
    assert not server.backend.sign_in(SigninAttempt(acct, "Nobody", "wrong", user_agent="corpus")).session


def test_every_reader_gets_the_json_the_trail_stored_before(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str, captured: Captured
) -> None:
    _calls(api_server, iam, user_client, acct)
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    with api_server.backend.store.read() as tx:
        trail: dict[str, AuditEvent] = {}
        after = 0
        while batch := tx.scan_audit_events(after=after):
            trail.update((e.event_id, e) for e in batch)
            after = batch[-1].sequence or 0
        by_request = {e.event_id: tx.find_audit_events(e.request_id)[0] for e in trail.values() if e.request_id}
    names = set()
    for event_id, old in captured.old.items():
        assert trail[event_id].record == old, trail[event_id].event_name
        if event_id in by_request:
            assert by_request[event_id].record == old
        record = json.loads(old)
        names.add((record["eventSource"].split(".")[0], record["eventName"], record.get("errorCode")))
    kinds = {(record["userIdentity"].get("type"), "iamdAuthentication" in record, "iamdDecision" in record)
             for record in (json.loads(o) for o in captured.old.values())}  # fmt: skip
    assert {"Root", "IAMUser", "AssumedRole", "FederatedUser", "Unknown"} <= {k[0] for k in kinds}
    assert any(k[1] for k in kinds) and any(k[2] for k in kinds)
    assert {s for s, _, _ in names} >= {"iam", "sts", "organizations", "signin"}
    assert ("iam", "DeleteUser", "AccessDenied") in names and ("iam", "GetUser", "NoSuchEntity") in names
    assert ("signin", "ConsoleLogin", None) in names
    assert captured.kept_whole == []  # every record of the corpus was stored compact
    assert len(captured.old) >= 30
