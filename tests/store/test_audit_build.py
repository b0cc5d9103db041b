"""What the audit writer does per event to build the stored record, and that doing less gives the
same record (docs/audit.md, "On its way to the writer process"; bench/README.md, "Session 13")."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

import iamd.audit
from iamd.api.audit_writer import build_events
from iamd.audit import CallEvent, CheckEvents
from iamd.store import audit_codec, compact_audit_event
from iamd.store.audit_codec import _clean, _dumps

ACCOUNT = "123456789012"
WHEN = datetime(2026, 12, 7, 8, 0, 0, tzinfo=UTC)


def _identity(name: str) -> dict[str, str]:
    return {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT, "userName": name}


VALUES: list[Any] = [
    "plain", "é\u2028\x00\ud800", "", 0, -1, 2**70, 1.5, -0.0, 1e300, float("inf"), float("nan"), True, None, [], {},
    {"b": 1, "a": [1, "x", None, {"z": False, "y": [[]]}]}, ("a", 1), {"ünï": "cödé", "k": {"n": {"m": 1.25}}},
    {"request": {"method": "GET", "path": "/widget/w04"}, "checks": [{"action": "a:B", "resource": "*"}]},
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_writers_json_is_json_dumps_text(value: Any) -> None:
    assert _dumps(value) == json.dumps(value, separators=(",", ":"), sort_keys=True)


def test_the_json_encoder_is_made_once_not_per_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """``JSONEncoder.encode`` made a C encoder (and a dictionary of the containers it is in) for
    every value: a third of the time of a small dictionary's JSON."""
    import json.encoder

    made: list[object] = []
    real = json.encoder.c_make_encoder
    assert real is not None

    def counted(*args: Any) -> Any:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(json.encoder, "c_make_encoder", counted)
    for value in VALUES[13:]:
        _dumps(value)
    assert made == []
    with pytest.raises(TypeError):
        _dumps({"a": object()})
    with pytest.raises(TypeError):  # keys of mixed types cannot be sorted, as with json.dumps
        _dumps({1: 1, "a": 2})


def test_clean_parameters_are_told_apart_as_before_and_a_key_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _clean({"userName": "a", "tags": [{"key": "k", "value": "v"}], "n": 1, "f": 1.5, "b": True, "x": None})
    assert not _clean({"UserName": "a"})  # to be camel-cased
    assert not _clean({"nested": {"password": "p"}})  # a secret member, to be hidden
    assert not _clean({"list": [{"sessionToken": "t"}]})
    assert not _clean({1: "a"})
    assert not _clean({"when": WHEN})  # not plain JSON
    assert not _clean([b"bytes"])
    assert _clean(("a", ["b", {"c": "d"}]))
    calls: list[str] = []
    real = audit_codec.camel

    def counted(key: str) -> str:
        calls.append(key)
        return real(key)

    monkeypatch.setattr(audit_codec, "camel", counted)
    value = {"checks": [{"action": "a:B", "resource": "r"}], "request": {"method": "GET", "path": "/"}, "srv": "w"}
    for _ in range(5):
        assert _clean(value)
    assert sorted(calls) == sorted(set(calls))  # each key's case once per process, not once per event
    assert not _clean({"srv": {"Srv": 1}})


PARAMS: list[dict[Any, Any]] = [
    {"userName": "a"}, {"userName": "a", "marker": "m"}, {"maxItems": 100, "marker": "m"}, {"durationSeconds": 1.5},
    {"flag": True, "none": None}, {"UserName": "a", "n": 1}, {"password": "p"}, {"password": 5}, {1: "a"}, {2: 3},
    {"checks": [{"action": "a:B", "resource": "r"}], "request": {"method": "GET", "path": "/"}, "service": "w"},
    {"policy": {"Statement": []}}, {"tags": [{"key": "k", "value": "v"}]}, {"nested": {"sessionToken": "t"}},
    {"list": ("a", 1)}, {"when": WHEN}, {"data": b"x"}, {},
]  # fmt: skip


@pytest.mark.parametrize("request_parameters", PARAMS, ids=range(len(PARAMS)))
def test_request_parameters_are_the_redacted_ones_json_and_hidden_paths(request_parameters: dict[Any, Any]) -> None:
    found: list[str] = []
    expected = _dumps(iamd.audit.redact(request_parameters, "requestParameters", found)[0])
    for _ in range(2):  # the second time from the table of flat ones, if kept
        hidden: list[str] = []
        assert audit_codec._params(request_parameters, hidden) == expected
        assert hidden == found


def test_parameters_not_all_text_are_not_looked_up_by_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only flat parameters of text are kept by value: an ``Authorize`` event's (nested) or a
    listing's with a number are not looked up (a tuple hashed, a ``TypeError`` caught per event)."""
    asked: list[object] = []

    class Table(dict[Any, Any]):
        def get(self, key: Any, default: Any = None) -> Any:
            asked.append(key)
            return super().get(key, default)

    monkeypatch.setattr(audit_codec, "_PARAMS", Table())
    authorize = {"checks": [{"action": "a:B", "resource": "r"}], "request": {"method": "GET", "path": "/"}}
    for value in (authorize, {"maxItems": 100}, {"password": 5}):
        audit_codec._params(value, [])
    assert asked == []
    audit_codec._params({"userName": "a"}, [])
    assert asked == [(("userName", "a"),)]


def _checks(count: int) -> list[CheckEvents]:
    """Single-check authorizations decided alike, as the server queues them: each its own summary
    tuple, what blocked and the deciding statements one object each (the engine's caches)."""
    blocking = ({"type": "identity", "effect": "implicit"},)
    statements = ({"policyName": "p", "policyArn": None, "sid": None, "statementIndex": 0, "effect": "Allow"},)
    out = []
    for n in range(count):
        deny = n % 2 == 0
        summary = (
            ("implicitDeny", "widgets:GetWidget", "identity", blocking, (), (), ())
            if deny
            else ("allowed", "widgets:GetWidget", None, (), statements, (), ())
        )
        resource = f"arn:aws:widgets:us-east-1:{ACCOUNT}:widget/w{n}"
        check = (
            "GetWidget",
            resource,
            ACCOUNT,
            "AccessDenied" if deny else None,
            "no" if deny else None,
            summary,
            None,
        )
        svc = f"arn:aws:iam::{ACCOUNT}:user/svc"
        out.append(CheckEvents(f"req-{n}", WHEN, "widgets.amazonaws.com", "us-east-1", "127.0.0.1", "", _identity("c"),
                               svc, (check,), f"00000000-0000-4000-8000-{n:012d}"))  # fmt: skip
    return out


def test_a_batchs_decisions_alike_are_recognised_by_their_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the pipe (one pickle per batch) the checks share what blocked and the statements: the
    writer finds their iamdDecision's JSON by those objects, without a key by value per event; the
    events are those built one by one."""
    shipped = pickle.loads(pickle.dumps(_checks(40)))
    alone = [build_events([item])[0] for item in shipped]
    flat: list[object] = []
    real = audit_codec._flat_text

    def counted(items: Any) -> bool:
        flat.append(items)
        return real(items)

    monkeypatch.setattr(audit_codec, "_flat_text", counted)
    together = build_events(shipped)
    assert together == alone
    assert len(flat) <= 1  # the first denial's, by value; the other 19 by their objects


def test_a_single_checks_event_id_is_the_one_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    item = _checks(1)[0]

    def refused(first: str, index: int) -> str:
        raise AssertionError("derived_uuid4 called for a single check")

    monkeypatch.setattr(iamd.audit, "derived_uuid4", refused)
    assert item.ids() == ("00000000-0000-4000-8000-000000000000",)


def test_an_authorize_events_record_is_the_general_ways() -> None:
    """The call's own event, nested parameters and all, is the record ``CallEvent.record`` describes."""
    decision = ("allowed", "iamd:Authorize", f"arn:aws:iamd::{ACCOUNT}:service/widgets", None, (),
                ({"policyName": "p", "effect": "Allow", "start": {"line": 1, "column": 41}},), (), ())  # fmt: skip
    params = {"request": {"method": "GET", "path": "/widget/é"}, "checks": [{"action": "widgets:GetWidget",
              "resource": "arn:aws:widgets:us-east-1:123456789012:widget/w1"}], "service": "widgets"}  # fmt: skip
    event = CallEvent("req-1", WHEN, "iamd.amazonaws.com", "Authorize", "us-east-1", "127.0.0.1", "sdk",
                      _identity("s"), ACCOUNT, params, None, None, None, decision, None,
                      "00000000-0000-4000-8000-000000000001")  # fmt: skip
    (built,) = build_events(pickle.loads(pickle.dumps([event])))
    assert json.loads(audit_codec.rebuild(built)) == json.loads(json.dumps(event.record()))


def test_an_authorizations_checks_travel_as_a_plain_tuple_and_are_stored_the_same() -> None:
    """The sender ships a ``CheckEvents`` as a plain tuple (no class, no ``__reduce__``, no datetime
    to pickle, no object built again in the writer); the events built from it are the object's."""
    from iamd.api.audit_writer import wire
    from iamd.audit import wire_checks, wired_checks
    from iamd.store.audit_codec import WIRE_CHECKS, compact_check_events

    items = _checks(6)
    several = CheckEvents("req-m", WHEN, "widgets.amazonaws.com", "us-east-1", "127.0.0.1", "sdk", _identity("m"),
                          f"arn:aws:iam::{ACCOUNT}:user/svc", items[0].checks + items[1].checks + items[2].checks,
                          "00000000-0000-4000-8000-00000000abcd")  # fmt: skip
    odd = CheckEvents("req-o", WHEN, "widgets.amazonaws.com", "us-east-1", "127.0.0.1", "a\x00gent", _identity("o"),
                      f"arn:aws:iam::{ACCOUNT}:user/svc", items[3].checks,
                      ("00000000-0000-4000-8000-0000000000ff",))  # fmt: skip
    batch = [*items, several, odd]
    shipped = pickle.loads(pickle.dumps(wire(batch)))
    assert all(type(item) is tuple and len(item) == WIRE_CHECKS for item in shipped)
    assert [wired_checks(wire_checks(item)).ids() for item in batch] == [item.ids() for item in batch]
    expected = [event for item in batch for event in compact_check_events(item)]
    assert build_events(shipped) == expected
    assert len(expected) == 6 + 3 + 1 and len({e.event_id for e in expected}) == len(expected)


def test_a_writes_own_events_one_at_a_time_share_the_callers_decision_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write's own event is compacted alone, in its transaction: what the caller's writes share
    (the statements that allowed them) is summarized once, not at every write; each event is the
    one compacted without anything shared."""
    statements = ({"policyName": "p", "policyArn": None, "sid": None, "statementIndex": 0, "effect": "Allow"},)
    identity = _identity("writer")
    events = [
        CallEvent(f"req-{n}", WHEN, "iam.amazonaws.com", "CreateUser", "us-east-1", "127.0.0.1", "sdk", identity,
                  ACCOUNT, {"UserName": f"u{n}"}, {"User": {"UserName": f"u{n}"}}, None, None,
                  ("allowed", "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/u{n}", None, (), statements, (), ()))
        for n in range(5)
    ]  # fmt: skip
    alone = [audit_codec.compact_call_event(event) for event in events]
    summaries: list[object] = []
    real = audit_codec.decision_summary

    def counted(decision: Any) -> dict[str, Any]:
        summaries.append(decision)
        return real(decision)

    monkeypatch.setattr(audit_codec, "decision_summary", counted)
    assert [compact_audit_event(event) for event in events] == alone
    assert len(summaries) <= 1
