"""The application core in process: ``Core.invoke`` without HTTP, and the doors built on it.

A call that is not HTTP gets the same authorization, the same audit event and the same cache
invalidation (docs/architecture.md, "The core").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamd import errors as aws
from iamd.api import Backend
from iamd.cli import main
from iamd.core import CallContext, Core, Operation, Registry, ServiceDef, builtin_registry
from iamd.core.local import LocalClient, caller_for_user, root_caller
from iamd.ids import new_uuid4
from iamd.refs import ref
from iamd.service.authorize import authorize_action
from iamd.service.call import Call, Caller
from iamd.store import AuditEvent, ReadTx

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ALLOW_ASSUME = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Sid": "MayAssume", "Effect": "Allow", "Action": "sts:AssumeRole",
                                             "Resource": "*"}]}
)  # fmt: skip


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    opened, _ = Backend.open(f"sqlite:///{tmp_path / 'iamd.db'}", tmp_path, dev=True, env=env)
    try:
        yield opened
    finally:
        opened.close()


def context(region: str = "us-east-1") -> CallContext:
    return CallContext(new_uuid4(), datetime.now(UTC), "192.0.2.7", "core-test", True, region)


def root(backend: Backend) -> LocalClient:
    return LocalClient(backend.core, backend.catalog, root_caller(backend.account_id), user_agent="core-test")


def as_user(backend: Backend, name: str) -> LocalClient:
    with backend.store.read() as tx:
        caller = caller_for_user(tx, backend.account_id, name)
    return LocalClient(backend.core, backend.catalog, caller, user_agent="core-test")


def record(backend: Backend, request_id: str) -> dict[str, Any]:
    """The stored CloudTrail record of one call (queued events flushed first)."""
    assert backend.audit is not None
    backend.audit.flush()
    found: list[AuditEvent] = []
    with backend.store.read() as tx:
        marker = None
        while True:
            page = tx.list_audit_events(backend.account_id, marker=marker, max_items=1000)
            found += page.items
            if page.marker is None:
                break
            marker = page.marker
    [event] = [e for e in found if e.request_id == request_id]
    parsed: dict[str, Any] = json.loads(event.record)
    return parsed


def test_an_allowed_write_returns_its_result_decision_changes_and_event(backend: Backend) -> None:
    ctx = context()
    outcome = backend.core.invoke(root_caller(backend.account_id), "iam", "CreateUser", {"UserName": "Ada"}, ctx)
    assert outcome.ok and outcome.error is None
    assert outcome.value()["User"]["UserName"] == "Ada"
    assert outcome.decision is not None and outcome.decision.allowed
    assert outcome.decision.request.action == "iam:CreateUser"
    assert outcome.changes is not None
    assert ref("user", backend.account_id, "Ada") in {r for change in outcome.changes for r in change.refs}
    assert outcome.event is not None and outcome.event.event_name == "CreateUser"
    stored = record(backend, ctx.request_id)  # in the write's own transaction
    assert stored["eventSource"] == "iam.amazonaws.com" and stored["userAgent"] == "core-test"
    assert stored["sourceIPAddress"] == "192.0.2.7" and stored["userIdentity"]["type"] == "Root"
    assert stored["iamdDecision"]["decision"] == "allowed"
    with backend.store.read() as tx:
        assert tx.get_user(backend.account_id, "Ada").name == "Ada"


def test_a_write_drops_the_cached_reads_it_touched(backend: Backend) -> None:
    admin = root(backend)
    admin.call("iam", "CreateUser", UserName="Cached")
    assert admin.call("iam", "GetUser", UserName="Cached")["User"].get("Tags") is None  # now cached
    admin.call("iam", "TagUser", UserName="Cached", Tags=[{"Key": "team", "Value": "red"}])
    assert admin.call("iam", "ListUserTags", UserName="Cached")["Tags"] == [{"Key": "team", "Value": "red"}]


def test_a_denied_call_carries_its_decision_and_is_stored_durably(backend: Backend) -> None:
    admin = root(backend)
    admin.call("iam", "CreateUser", UserName="Nobody")
    nobody = as_user(backend, "Nobody")
    outcome = nobody.invoke("iam", "CreateUser", {"UserName": "Other"})
    assert isinstance(outcome.error, aws.AccessDenied)
    with pytest.raises(aws.AccessDenied):
        outcome.value()
    assert outcome.decision is not None and outcome.decision.verdict.value == "implicitDeny"
    assert outcome.changes is None
    assert outcome.event is not None
    # Stored before invoke returned, in its own transaction (not queued): read it without a flush.
    with backend.store.read() as tx:
        page = tx.list_audit_events(backend.account_id, errors_only=True, max_items=100)
    [event] = [e for e in page.items if e.request_id == outcome.event.request_id]
    stored = json.loads(event.record)
    assert stored["errorCode"] == "AccessDenied" and stored["userIdentity"]["userName"] == "Nobody"
    assert stored["iamdDecision"]["decision"] == "implicitDeny"
    assert stored["iamdDecision"]["blockingPolicyType"] == "identity"
    with backend.store.read() as tx, pytest.raises(Exception, match="Other"):
        tx.get_user(backend.account_id, "Other")


def test_an_allowed_sts_call_carries_the_decision_its_handler_made(backend: Backend) -> None:
    admin = root(backend)
    account = backend.account_id
    admin.call("iam", "CreateUser", UserName="Assumer")
    admin.call("iam", "PutUserPolicy", UserName="Assumer", PolicyName="assume", PolicyDocument=ALLOW_ASSUME)
    trust = {"Version": "2012-10-17", "Statement": [{"Sid": "TrustAssumer", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account}:user/Assumer"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    admin.call("iam", "CreateRole", RoleName="Target", AssumeRolePolicyDocument=json.dumps(trust))
    outcome = as_user(backend, "Assumer").invoke(
        "sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{account}:role/Target", "RoleSessionName": "core-test"}
    )
    assert outcome.ok, outcome.error
    assert outcome.decision is not None and outcome.decision.allowed
    assert outcome.decision.request.action == "sts:AssumeRole"
    assert outcome.event is not None
    stored = record(backend, outcome.event.request_id)
    assert stored["eventSource"] == "sts.amazonaws.com"
    why = stored["iamdDecision"]
    assert why["decision"] == "allowed" and why["action"] == "sts:AssumeRole"
    assert {s["sid"] for s in why["statements"]} == {"MayAssume", "TrustAssumer"}
    assert stored["responseElements"]["credentials"]["sessionToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_an_unknown_operation_is_not_implemented_and_audited(backend: Backend) -> None:
    outcome = backend.core.invoke(root_caller(backend.account_id), "iam", "CreateSSHPublicKey", {}, context())
    assert isinstance(outcome.error, aws.NotImplementedOperation)
    assert outcome.event is not None and outcome.event.error_code == outcome.error.code


def test_input_the_http_door_refuses_is_refused_in_process_and_audited(backend: Backend) -> None:
    outcome = root(backend).invoke("iam", "CreateUser", {"UserName": "bad name!"})
    assert isinstance(outcome.error, aws.ValidationError)
    assert outcome.event is not None
    assert record(backend, outcome.event.request_id)["errorCode"] == "ValidationError"


def _describe(call: Call, tx: ReadTx) -> dict[str, Any]:
    return {"Thing": call.params["Name"], "Account": call.account}


def _thing_rule(call: Call, tx: ReadTx, counter: object) -> Any:
    return authorize_action(call, tx, f"things:{call.operation}", f"arn:aws:things::{call.account}:thing/x")


def test_a_third_service_plugs_in_with_an_operations_table_and_a_rule(backend: Backend) -> None:
    registry: Registry = builtin_registry()
    registry.register(ServiceDef("things", "Things", {"DescribeThing": Operation(_describe, False)}, _thing_rule))
    core = Core(backend, registry)
    root_user = root_caller(backend.account_id)
    outcome = core.invoke(root_user, "things", "DescribeThing", {"Name": "x"}, context())
    assert outcome.value() == {"Thing": "x", "Account": backend.account_id}
    assert outcome.decision is not None and outcome.decision.request.action == "things:DescribeThing"
    assert outcome.event is not None and outcome.event.event_source == "things.amazonaws.com"
    root(backend).call("iam", "CreateUser", UserName="Stranger")
    with backend.store.read() as tx:
        stranger: Caller = caller_for_user(tx, backend.account_id, "Stranger")
    denied = core.invoke(stranger, "things", "DescribeThing", {"Name": "x"}, context())
    assert isinstance(denied.error, aws.AccessDenied) and denied.decision is not None
    with pytest.raises(ValueError, match="registered already"):
        registry.register(ServiceDef("things", "Things", {}, None))


def test_iamd_admin_call_uses_the_core(tmp_path: Path, backend: Backend) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    made = runner.invoke(main, ["admin", "call", "iam", "CreateUser", '{"UserName": "cli-ada"}', *data])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["User"]["UserName"] == "cli-ada"
    denied = runner.invoke(main, ["admin", "call", "iam", "ListUsers", "--as", "cli-ada", *data])
    assert denied.exit_code == 1 and "AccessDenied" in denied.output
    who = runner.invoke(main, ["admin", "call", "sts", "GetCallerIdentity", "--as", "cli-ada", *data])
    assert who.exit_code == 0 and json.loads(who.output)["Arn"].endswith(":user/cli-ada")
    with backend.store.read() as tx:
        page = tx.list_audit_events(backend.account_id, max_items=100)
    cli_events = {(e.event_name, e.error_code) for e in page.items if "iamd-cli/" in e.record}
    assert ("CreateUser", None) in cli_events and ("ListUsers", "AccessDenied") in cli_events


def test_a_call_its_event_and_its_outcome_are_made_without_their_init(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Core.invoke makes them by iamd.frozen.maker (no __init__ through type.__call__ per call,
    bench/README.md "Session 17: the single check's steps"): the same objects, on a read and on a write."""
    from iamd.audit import CallEvent
    from iamd.core import Outcome

    def refused(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"{type(self).__name__}.__init__ called")

    for cls in (Call, CallEvent, Outcome):
        monkeypatch.setattr(cls, "__init__", refused)
    caller = root_caller(backend.account_id)
    written = backend.core.invoke(caller, "iam", "CreateUser", {"UserName": "Made"}, context())
    read = backend.core.invoke(caller, "iam", "GetUser", {"UserName": "Made"}, context())
    for outcome in (written, read):
        assert type(outcome) is Outcome and outcome.ok and type(outcome.event) is CallEvent
        assert outcome.event.event_id and outcome.event.user_identity["type"] == "Root"
    assert read.value()["User"]["UserName"] == "Made"


def test_a_users_identity_has_cloudtrails_members_in_their_order(backend: Backend) -> None:
    """An IAM user's userIdentity (two per authorization, one per IAM call, made as one literal
    since session 17) is the general path's: the same members, in the same order (the audit
    records and the Authorize answer are encoded in it)."""
    from dataclasses import replace

    root(backend).call("iam", "CreateUser", UserName="Ida")
    with backend.store.read() as tx:
        caller = caller_for_user(tx, backend.account_id, "Ida")
    assert caller.user is not None
    keyed = replace(caller, access_key_id="AKIAEXAMPLEIDA000000")
    assert list(keyed.user_identity().items()) == [
        ("accountId", backend.account_id), ("arn", caller.principal.arn), ("accessKeyId", "AKIAEXAMPLEIDA000000"),
        ("type", "IAMUser"), ("principalId", caller.user.id), ("userName", "Ida"),
    ]  # fmt: skip
    assert list(caller.user_identity().items()) == [
        ("accountId", backend.account_id), ("arn", caller.principal.arn), ("type", "IAMUser"),
        ("principalId", caller.user.id), ("userName", "Ida"),
    ]  # fmt: skip
    assert keyed.user_identity() is not keyed.user_identity()  # made anew each time (callers may change it)
