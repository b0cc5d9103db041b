"""Accounts and audit events."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from iamd.store import AlreadyExists, AuditEvent, NotFound, Store, audit_event_from_record
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT, START, all_pages


def test_accounts(store: Store) -> None:
    with store.transaction() as tx:
        created = tx.create_account(ACCOUNT, alias="my-company")
        tx.create_account(OTHER_ACCOUNT)
        with pytest.raises(AlreadyExists):
            tx.create_account(ACCOUNT)
    assert (created.id, created.alias, created.password_policy) == (ACCOUNT, "my-company", None)
    with store.read() as r:
        assert r.get_account(ACCOUNT) == created
        assert [a.id for a in r.list_accounts()] == [ACCOUNT, OTHER_ACCOUNT]  # the "aws" owner is hidden
        with pytest.raises(NotFound):
            r.get_account("aws")
        with pytest.raises(NotFound):
            r.get_account("000000000000")
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.set_account_alias(OTHER_ACCOUNT, "my-company")  # aliases are globally unique
    with store.transaction() as tx:
        assert tx.set_account_alias(ACCOUNT, "my-company").alias == "my-company"  # same owner: fine
        assert tx.set_account_alias(ACCOUNT, None).alias is None
        assert tx.set_account_alias(OTHER_ACCOUNT, "my-company").alias == "my-company"
        policy = json.dumps({"MinimumPasswordLength": 12, "RequireSymbols": True})
        assert tx.set_password_policy(ACCOUNT, policy).password_policy == policy
        assert tx.set_password_policy(ACCOUNT, None).password_policy is None
        with pytest.raises(NotFound):
            tx.set_password_policy("000000000000", policy)


def _event(n: int, *, user: str | None = "alice", name: str = "CreateUser", error: str | None = None) -> AuditEvent:
    record = {
        "eventVersion": "1.08",
        "eventTime": (START + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "eventID": f"00000000-0000-0000-0000-{n:012d}",
        "requestID": f"req-{n}",
        "readOnly": name.startswith(("Get", "List")),
        "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "IAMUser", "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}"}
        | ({"userName": user} if user else {}),
    } | ({"errorCode": error, "errorMessage": "nope"} if error else {})
    return audit_event_from_record(record)


def test_audit_event_from_record() -> None:
    event = _event(3, error="NoSuchEntity", name="GetUser")
    assert event.event_time == START + timedelta(minutes=3)
    assert (event.event_name, event.user_name, event.error_code, event.request_id) == (
        "GetUser",
        "alice",
        "NoSuchEntity",
        "req-3",
    )
    assert event.read_only and event.account_id == ACCOUNT and event.event_source == "iam.amazonaws.com"
    assert json.loads(event.record)["eventID"] == event.event_id and event.sequence is None


def test_audit_events_go_with_their_transaction(store: Store, account: str) -> None:
    before = store.generation()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.create_user(account, "alice")
        tx.add_audit_event(_event(1))
        raise RuntimeError("the request failed after all")
    with store.read() as r:
        assert r.list_audit_events(account).items == ()
    with store.transaction() as tx:
        tx.create_user(account, "alice")
        seq = tx.add_audit_event(_event(1))
    stored = dataclasses.replace(_event(1), sequence=seq)
    assert store.generation() == before + 1
    appended = store.append_audit_event(_event(2, error="AccessDenied"))
    assert store.generation() == before + 1  # audit alone bumps nothing
    with store.read() as r:
        assert r.list_audit_events(account).items == (appended, stored)


def test_audit_queries(store: Store, account: str) -> None:
    events = [
        _event(0),
        _event(1, user="bob"),
        _event(2, name="GetUser"),
        _event(3, error="NoSuchEntity", name="GetUser"),
        _event(4, user=None, name="AssumeRole"),
        _event(5, user="bob", error="AccessDenied"),
    ]
    for event in events:
        store.append_audit_event(event)
    other = _event(6)
    store.append_audit_event(dataclasses.replace(other, account_id=OTHER_ACCOUNT))

    def ids(**filters: object) -> list[int]:
        with store.read() as r:
            page = r.list_audit_events(account, **filters)  # type: ignore[arg-type]
        return [int(e.event_id[-12:]) for e in page.items]

    assert ids() == [5, 4, 3, 2, 1, 0]  # newest first, other accounts excluded
    assert ids(user_name="bob") == [5, 1]
    assert ids(event_name="GetUser") == [3, 2]
    assert ids(errors_only=True) == [5, 3]
    assert ids(start=START + timedelta(minutes=2), end=START + timedelta(minutes=4)) == [3, 2]
    assert ids(user_name="alice", event_name="GetUser", errors_only=True) == [3]
    with store.read() as r:
        paged, pages = all_pages(lambda m: r.list_audit_events(account, marker=m, max_items=4))
        assert [e.event_id for e in paged] == [e.event_id for e in reversed(events)] and pages == 2
        # events at the same second still page deterministically
        for n in range(3):
            store.append_audit_event(dataclasses.replace(_event(9), event_id=f"same-{n}"))
        same, _ = all_pages(lambda m: r.list_audit_events(account, event_name="CreateUser", marker=m, max_items=1))
    assert len(same) == len({e.event_id for e in same})
