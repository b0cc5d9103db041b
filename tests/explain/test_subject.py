"""Inputs of the troubleshooter (iamd.explain.subject): CloudTrail files in every shape, AWS's
own records, hypothetical requests; bounded sizes."""

from __future__ import annotations

import json

import pytest

from iamd.explain import InputError, from_event, hypothetical, read_events
from iamd.explain.subject import MAX_EVENT_BYTES, MAX_RECORDS

EVENT = {
    "eventTime": "2026-01-02T03:04:05Z", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
    "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Dev/alice",
                     "accessKeyId": "ASIAEXAMPLE", "sessionContext": {"attributes": {"mfaAuthenticated": "false"}}},
    "errorCode": "Client.UnauthorizedOperation", "requestID": "r-1", "sourceIPAddress": "203.0.113.7",
}  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(EVENT),
        json.dumps({"Records": [EVENT, {**EVENT, "requestID": "r-2"}]}),
        json.dumps([EVENT]),
        json.dumps(EVENT) + "\n" + json.dumps(EVENT) + "\n",  # iamd trail --json: one record a line
    ],
)
def test_every_shape_of_a_cloudtrail_file(text: str) -> None:
    records = read_events(text)
    assert records and all(r["eventName"] == "RunInstances" for r in records)


def test_an_aws_record_without_a_message_names_the_action_from_the_event() -> None:
    subject = from_event(EVENT)
    assert (subject.principal, subject.action, subject.resource) == (
        "arn:aws:sts::111122223333:assumed-role/Dev/alice", "ec2:RunInstances", None,
    )  # fmt: skip
    assert subject.source_ip == "203.0.113.7" and subject.event_time is not None and subject.recorded is None


@pytest.mark.parametrize("text", ["", "not json", "{}", json.dumps({"Records": []}), "[1, 2]"])
def test_what_is_not_an_event(text: str) -> None:
    with pytest.raises(InputError):
        read_events(text)


def test_sizes_are_bounded() -> None:
    with pytest.raises(InputError, match="larger than"):
        read_events(" " * (MAX_EVENT_BYTES + 1))
    many = [{**EVENT, "requestID": str(i), "errorCode": None if i % 2 else "AccessDenied"} for i in range(500)]
    kept = read_events(json.dumps({"Records": many}))
    assert len(kept) == MAX_RECORDS and all(r["errorCode"] == "AccessDenied" for r in kept)


@pytest.mark.parametrize(
    ("principal", "action", "resource", "context"),
    [
        ("", "s3:GetObject", "*", []),
        ("arn:aws:iam::111122223333:user/a", "GetObject", "*", []),
        ("arn:aws:iam::111122223333:user/a", "s3:GetObject", "x" * 5000, []),
        ("arn:aws:iam::111122223333:user/a", "s3:GetObject", "*", [("k", "v")] * 100),
    ],
)
def test_hypothetical_requests_are_checked(
    principal: str, action: str, resource: str, context: list[tuple[str, str]]
) -> None:
    with pytest.raises(InputError):
        hypothetical(principal, action, resource, context)
