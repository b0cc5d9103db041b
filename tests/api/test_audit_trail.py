"""The audit trail: one CloudTrail-shaped record per call, tied to its RequestId, no secrets."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.api.audit_writer import AuditWriter
from iamd.store import AuditEvent
from tests.api.conftest import UserClient, allow, client_for, policy
from tests.api.server import RunningServer


def events(server: RunningServer) -> list[AuditEvent]:
    assert server.backend.audit is not None
    server.backend.audit.flush()
    found: list[AuditEvent] = []
    marker = None
    with server.backend.store.read() as tx:
        while True:
            page = tx.list_audit_events(server.account_id, marker=marker, max_items=1000)
            found += page.items
            if page.marker is None:
                return found
            marker = page.marker


def request_id(outcome: dict[str, Any] | ClientError) -> str:
    response = outcome.response if isinstance(outcome, ClientError) else outcome
    rid = response["ResponseMetadata"]["RequestId"]
    assert isinstance(rid, str) and len(rid) == 36
    return rid


def test_one_record_per_call_with_the_response_request_id(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient
) -> None:
    outcomes: dict[str, tuple[str, str | None, str]] = {}  # request id -> (event, error code, caller type)
    outcomes[request_id(iam.create_user(UserName="Audited"))] = ("CreateUser", None, "Root")
    outcomes[request_id(iam.get_user(UserName="Audited"))] = ("GetUser", None, "Root")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName="NotThere")
    outcomes[request_id(e.value)] = ("GetUser", "NoSuchEntity", "Root")
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="Audited")
    outcomes[request_id(e.value)] = ("CreateUser", "EntityAlreadyExists", "Root")
    weak = user_client("Weak", policy(allow("iam:GetUser")))
    outcomes[request_id(weak.get_user())] = ("GetUser", None, "IAMUser")
    with pytest.raises(ClientError) as e:
        weak.delete_user(UserName="Audited")
    outcomes[request_id(e.value)] = ("DeleteUser", "AccessDenied", "IAMUser")
    stranger = client_for(api_server, "AKIAIOSFODNN7UNKNOWN", "x" * 40)
    with pytest.raises(ClientError) as e:
        stranger.list_users()
    outcomes[request_id(e.value)] = ("ListUsers", "InvalidClientTokenId", "Unknown")

    by_request: dict[str, list[AuditEvent]] = {}
    for event in events(api_server):
        if event.request_id in outcomes:
            by_request.setdefault(event.request_id, []).append(event)
    assert set(by_request) == set(outcomes)
    for rid, (name, code, caller) in outcomes.items():
        [event] = by_request[rid]  # exactly one record per call
        record = json.loads(event.record)
        assert (event.event_name, event.error_code) == (name, code), rid
        assert record["requestID"] == rid and record["eventName"] == name
        assert record["eventSource"] == "iam.amazonaws.com" and record["awsRegion"] == "us-east-1"
        assert record["userIdentity"]["type"] == caller
        assert record.get("errorCode") == code
        assert record["sourceIPAddress"] == "127.0.0.1"
        assert event.read_only is name.startswith(("Get", "List"))
    denied = json.loads(by_request[next(r for r, o in outcomes.items() if o[1] == "AccessDenied")][0].record)
    assert denied["errorMessage"].startswith("User: arn:aws:iam::") and denied["requestParameters"] == {
        "userName": "Audited"
    }


def test_no_secret_access_key_is_ever_stored(
    api_server: RunningServer, iam: BaseClient, data_dir: Path, user_client: UserClient
) -> None:
    iam.create_user(UserName="Secretive")
    secrets = [iam.create_access_key(UserName="Secretive")["AccessKey"]["SecretAccessKey"] for _ in range(2)]
    root_extra = iam.create_access_key()["AccessKey"]
    secrets.append(root_extra["SecretAccessKey"])
    # use one of them, fail with another, so their requests are audited too
    user = client_for(api_server, iam.list_access_keys(UserName="Secretive")["AccessKeyMetadata"][0]["AccessKeyId"],
                      secrets[0])  # fmt: skip
    with pytest.raises(ClientError):
        user.list_users()
    iam.delete_access_key(AccessKeyId=root_extra["AccessKeyId"])
    recorded = events(api_server)
    creations = [json.loads(e.record) for e in recorded if e.event_name == "CreateAccessKey"]
    assert len(creations) >= 3
    for record in creations:
        assert record["responseElements"]["accessKey"]["secretAccessKey"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    text = "\n".join(e.record for e in recorded)
    for secret in [*secrets, api_server.root_secret]:
        assert secret not in text
    files = sorted(data_dir.glob("iamd.db*"))
    assert files, "no SQLite files found"
    blob = b"".join(f.read_bytes() for f in files)
    for secret in [*secrets, api_server.root_secret]:
        assert secret.encode() not in blob


class _SlowStore:
    """Just enough of a Store for the AuditWriter: slow writes widen the race windows."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.uses: list[str] = []

    def append_audit_event(self, event: AuditEvent) -> AuditEvent:
        time.sleep(0.002)
        self.events.append(event.event_id)
        return event

    def record_access_key_uses(self, uses: Mapping[str, tuple[datetime, str, str]]) -> None:
        time.sleep(0.01)
        self.uses += uses


def test_flush_waits_for_the_batch_the_writer_thread_holds() -> None:
    store = _SlowStore()
    writer = AuditWriter(store, interval=0.001, batch=3)  # type: ignore[arg-type]
    try:
        for round_ in range(20):
            ids = []
            for i in range(5):
                event = AuditEvent(f"e{round_}-{i}", "1", datetime.now(UTC), "GetUser", "iam.amazonaws.com", True, "{}")
                ids.append(event.event_id)
                writer.submit(event)
            writer.key_used(f"AKIA{round_}", datetime.now(UTC), "iam", "us-east-1")
            time.sleep(0.001 * (round_ % 3))  # let the thread take a batch, sometimes
            writer.flush()
            assert set(ids) <= set(store.events), round_
            assert f"AKIA{round_}" in store.uses, round_
    finally:
        writer.close()
    assert len(store.events) == len(set(store.events)) == 100
