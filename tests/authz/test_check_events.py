"""The trail events of an authorization's checks travel as one compact object (``CheckEvents``) to
the audit writer, which expands them into one CloudTrail-shaped event per check
(docs/authorization-api.md, "The trail"). What is stored must be what one event per check was."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

from iamd.api.audit_writer import build_events, kept
from iamd.audit import CallEvent, CheckEvents
from iamd.audit_budget import ReadSampling
from iamd.authz.operation import _why
from iamd.policy import (
    Decision,
    DocumentKind,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    build_context,
    evaluate,
    parse_policy,
)

ARN = "arn:aws:iam::111122223333:user/alice"


def _decision(resource: str) -> Decision:
    principal = Principal.from_arn(ARN)
    text = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"widgets:GetWidget","Resource":"*"}]}'
    policy = Policy("p", PolicyType.IDENTITY, parse_policy(text, DocumentKind.IDENTITY))
    request = Request(principal, "widgets:GetWidget", resource, build_context(principal, []), "111122223333")
    return evaluate(request, PolicySet.of([policy]))


def _events() -> CheckEvents:
    when = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    identity = {"type": "IAMUser", "arn": ARN, "accountId": "111122223333"}
    checks = (
        ("GetWidget", "arn:aws:widgets:us-east-1:111122223333:widget/w1", "111122223333", None, None,
         _decision("arn:aws:widgets:us-east-1:111122223333:widget/w1"), None),
        ("DeleteWidget", "arn:aws:widgets:us-east-1:111122223333:widget/w2", "111122223333", "AccessDenied",
         "User: … is not authorized", None, "203.0.113.9"),
    )  # fmt: skip
    return CheckEvents("req-1", when, "widgets.amazonaws.com", "us-east-1", "127.0.0.1", "sdk/1", identity,
                       "arn:aws:iam::111122223333:user/widgets-service", checks, ("ev-1", "ev-2"))  # fmt: skip


def test_one_event_per_check_with_the_shared_parts_and_its_own() -> None:
    events = _events().events()
    assert [e.event_name for e in events] == ["GetWidget", "DeleteWidget"]
    assert all(isinstance(e, CallEvent) and e.request_id == "req-1" for e in events)
    assert [e.event_id for e in events] == ["ev-1", "ev-2"]
    assert [e.source_ip for e in events] == ["127.0.0.1", "203.0.113.9"]  # the check's aws:SourceIp wins
    record = events[1].record()
    assert record["errorCode"] == "AccessDenied" and record["readOnly"] is False
    assert record["requestParameters"] == {
        "resource": "arn:aws:widgets:us-east-1:111122223333:widget/w2",
        "iamdAuthorizedBy": {"arn": "arn:aws:iam::111122223333:user/widgets-service", "requestId": "req-1"},
    }
    assert events[0].record()["iamdDecision"]["decision"] == "allowed"


def test_pickled_for_the_writer_process_the_records_are_the_same() -> None:
    original = _events()
    travelled = pickle.loads(pickle.dumps(original))
    assert [e.record() for e in travelled.events()] == [e.record() for e in original.events()]
    assert len(build_events([travelled])) == 2


def test_read_sampling_leaves_out_only_successful_reads() -> None:
    never = ReadSampling(0)
    sampled = kept(never, _events())
    assert isinstance(sampled, CheckEvents)
    assert [c[0] for c in sampled.checks] == ["DeleteWidget"] and sampled.event_ids == ("ev-2",)
    only_reads = CheckEvents(*[getattr(_events(), f) for f in ("request_id", "event_time", "event_source",
                             "aws_region", "source_ip", "user_agent", "user_identity", "authorized_by")],
                             _events().checks[:1], ("ev-1",))  # fmt: skip
    assert kept(never, only_reads) is None
    assert kept(ReadSampling(1), _events()) is not None


def test_one_id_drawn_per_call_gives_each_check_its_own_uuid4_the_same_each_time() -> None:
    import uuid

    from iamd.ids import new_uuid4

    first = new_uuid4()
    many = CheckEvents(*[getattr(_events(), f) for f in ("request_id", "event_time", "event_source", "aws_region",
                       "source_ip", "user_agent", "user_identity", "authorized_by")],
                       _events().checks * 500, first)  # fmt: skip
    ids = [e.event_id for e in many.events()]
    assert ids[0] == first and len(set(ids)) == 1000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 and str(uuid.UUID(i)) == i
               for i in ids)  # fmt: skip
    # Built again (the server storing a batch the writer process may have stored), and after the
    # trip to the writer process: the same ids, so the events stored already are recognised.
    assert [e.event_id for e in many.events()] == ids
    assert [e.event_id for e in pickle.loads(pickle.dumps(many)).events()] == ids
    sampled = kept(ReadSampling(0), many)
    assert isinstance(sampled, CheckEvents)
    assert [e.event_id for e in sampled.events()] == ids[1::2]  # the denied checks keep their ids


def test_checks_decided_alike_travel_as_one_summary() -> None:
    base = _events()
    principal = Principal.from_arn(ARN)
    text = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"widgets:GetWidget","Resource":"*"}]}'
    policies = PolicySet.of([Policy("p", PolicyType.IDENTITY, parse_policy(text, DocumentKind.IDENTITY))])
    context = build_context(principal, [])

    def decided(resource: str) -> Decision:
        return evaluate(Request(principal, "widgets:GetWidget", resource, context, "111122223333"), policies)

    alike = tuple(
        ("GetWidget", f"arn:aws:widgets:us-east-1:111122223333:widget/w{i}", "111122223333", None, None,
         decided(f"arn:aws:widgets:us-east-1:111122223333:widget/w{i}"), None)
        for i in range(6)
    )  # fmt: skip
    events = CheckEvents(*[getattr(base, f) for f in ("request_id", "event_time", "event_source", "aws_region",
                         "source_ip", "user_agent", "user_identity", "authorized_by")], alike,
                         tuple(f"ev-{i}" for i in range(6)))  # fmt: skip
    travelled = pickle.loads(pickle.dumps(events))
    assert [e.record() for e in travelled.events()] == [e.record() for e in events.events()]
    assert [e.record()["iamdDecision"]["resource"] for e in travelled.events()] == [c[1] for c in alike]
    # As the Authorize operation gives them: one summary, without the resource, for the checks
    # decided alike (pickled once); each event's record the same as from the decision itself.
    summaries = [_why(c[5])[1] for c in alike]  # type: ignore[arg-type]
    assert all(s is summaries[0] for s in summaries) and "widget/w" not in str(summaries[0])
    compact = dataclasses.replace(
        events, checks=tuple((*c[:5], s, c[6]) for c, s in zip(alike, summaries, strict=True))
    )
    assert [e.record() for e in pickle.loads(pickle.dumps(compact)).events()] == [e.record() for e in events.events()]
    assert len(pickle.dumps(compact)) < len(pickle.dumps(events))


def _general(item: CheckEvents, memo: dict[object, object] | None) -> list[object]:
    from iamd.store.audit_codec import compact_call_event

    return [compact_call_event(e, memo) for e in item.events()]


def test_the_writer_builds_each_checks_stored_event_as_the_general_way_does() -> None:
    from iamd.store.audit_codec import compact_check_events

    base = _events()
    odd = (
        ("GetWidget", "arn:aws:widgets:us-east-1:111122223333:widget/wé\u2603", "111122223333", None, None,
         _decision("arn:aws:widgets:us-east-1:111122223333:widget/wé\u2603"), None),  # not ASCII
        ("GetWidget", "arn:aws:widgets:us-east-1:111122223333:widget/\udcff", "111122223333", None, None,
         _decision("arn:aws:widgets:us-east-1:111122223333:widget/\udcff"), None),  # a lone surrogate: whole
        ("GetWidget", "arn:x", "111122223333", "AccessDenied", "m" * 2000, None, "bad\x00ip"),  # NUL in the address
    )  # fmt: skip
    cases = [
        base,
        pickle.loads(pickle.dumps(base)),  # summaries without the resource, as the writer process gets them
        dataclasses.replace(base, checks=base.checks + odd, event_ids="6f1c1c5e-93c4-4d27-9a4f-3b0f5e8f2a11"),
        dataclasses.replace(base, user_identity={**base.user_identity, "sessionContext": {"a": {"b": "c"}}}),
        dataclasses.replace(base, user_agent="agent \u00e9", request_id="req \u2603"),
    ]
    for item in cases:
        for memo in (None, {}):
            built = compact_check_events(item, memo)
            assert built == _general(item, None if memo is None else {}), item
            assert build_events([item]) == built


def test_an_authorizations_events_are_stored_without_redacting_what_has_nothing_to_hide(monkeypatch: object) -> None:
    """The check events' parameters and the Authorize event's (already lowerCamelCase, no secret)
    are written as JSON as they are: no ``redact`` copy of them per event (the writer's CPU)."""
    import pytest

    import iamd.store.audit_codec as codec
    from iamd.audit import redact

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    authorize = CallEvent(
        "req-1", datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC), "iamd.amazonaws.com", "Authorize", "us-east-1",
        "127.0.0.1", "sdk/1", {"type": "IAMUser", "arn": ARN, "accountId": "111122223333"}, "111122223333",
        {"service": "widgets", "request": {"method": "GET", "path": "/widget/w1"},
         "checks": [{"action": "widgets:GetWidget", "resource": "arn:aws:widgets:us-east-1:111122223333:widget/w1"}]},
        None, None, None, None, None, "ev-0",
    )  # fmt: skip
    expected = build_events([authorize, _events()])
    calls: list[object] = []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return redact(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "redact", counted)
    assert build_events([authorize, _events()]) == expected
    assert not [c for c in calls if isinstance(c, dict) and ("checks" in c or "iamdAuthorizedBy" in c)]
    # What has something to rename or hide is still redacted.
    secret = dataclasses.replace(authorize, request_parameters={"request": {"Password": "x"}}, event_id="ev-9")
    (event,) = build_events([secret])
    assert "x" not in (event.params or "") and event.redacted
