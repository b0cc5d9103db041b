"""Every answered request is in the audit trail, even one whose bytes are not UTF-8."""

from __future__ import annotations

import json

import pytest

from bench.fuzz import Target
from tests.security.inprocess import target

__all__ = ["target"]

V = "Version=2010-05-08"


def _stored(target: Target, request_id: str) -> dict[str, object]:
    assert target.backend.audit is not None
    target.backend.audit.flush(timeout=30)
    with target.backend.store.read() as tx:
        rows = tx.find_audit_events(request_id)
    assert len(rows) == 1, f"request {request_id} is not in the audit trail"
    record: dict[str, object] = json.loads(rows[0].record)
    return record


@pytest.mark.parametrize(
    ("method", "query", "body", "event_name"),
    [
        ("POST", "", f"Action=%FF&{V}", "\ufffd"),
        ("POST", "", "Action=Get%C3User&Version=2010-05-08", "Get\ufffdUser"),
        ("POST", "", "Action=GetUser&Version=%FF", "GetUser"),
        ("POST", "", f"Action=GetUser&{V}&User%FFName=x", "GetUser"),
        ("POST", "", f"Action=GetUser&{V}&UserName=%ED%A0%80", "GetUser"),
        ("GET", f"Action=%FF&{V}", "", "\ufffd"),
        ("GET", f"Action=GetUser&{V}&UserName=a%FFb", "", "GetUser"),
        ("POST", "Action=%FE", V, "\ufffd"),
        ("POST", "", f"Action=%00&{V}", "\ufffd"),
    ],
)
@pytest.mark.parametrize("identity", ["root", "none"])
def test_bytes_that_are_not_utf8_are_answered_with_a_4xx_and_audited(
    target: Target, method: str, query: str, body: str, event_name: str, identity: str
) -> None:
    wire = target.app.query(target.request(identity, "iam", method, query, body.encode()))
    assert 400 <= wire.status < 500
    request_id = dict(wire.headers)["x-amzn-RequestId"]
    record = _stored(target, request_id)
    assert record["eventName"] == event_name
    assert record["errorCode"]
