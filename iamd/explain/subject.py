"""What ``iamd explain`` is asked about: one request, from whichever form it was given in.

* an audit record (iamd's trail, looked up by request id, or a CloudTrail event from iamd or
  from AWS: one JSON event, or a ``{"Records": [...]}`` file);
* an access-denied message pasted from any tool (:mod:`iamd.explain.message`);
* a hypothetical request: principal, action, resource, context.

Each becomes a :class:`Subject`. Sizes are bounded: an event file of at most
:data:`MAX_EVENT_BYTES`, at most :data:`MAX_RECORDS` records explained from one file.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .message import MessageError, ParsedDenial, parse_denial

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_RECORDS",
    "InputError",
    "Subject",
    "from_event",
    "from_message",
    "hypothetical",
    "decompressed",
    "read_events",
]

MAX_EVENT_BYTES = 4 * 1024 * 1024
MAX_RECORDS = 100
_MAX_CONTEXT = 64  # context keys of a hypothetical request
_MAX_TEXT = 2048  # an ARN, an action, a key or a value


class InputError(ValueError):
    """The input cannot be explained (AWS's ValidationError on the API)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """One request to explain, and what its source recorded about it."""

    source: str  # request-id | message | event | hypothetical
    principal: str | None  # the caller's ARN
    action: str | None
    resource: str | None  # an ARN, "*", or IAM's display form ("user Bob") from a message
    context: tuple[tuple[str, str | tuple[str, ...]], ...] = ()  # given keys (hypothetical requests)
    event_time: datetime | None = None
    request_id: str | None = None
    event_source: str | None = None  # iam.amazonaws.com, sts.amazonaws.com, s3.amazonaws.com…
    event_name: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    user_identity: Mapping[str, Any] = field(default_factory=dict)
    request_parameters: Mapping[str, Any] = field(default_factory=dict)
    recorded: Mapping[str, Any] | None = None  # iamd's iamdDecision
    authentication: Mapping[str, Any] | None = None  # iamd's iamdAuthentication
    denial: ParsedDenial | None = None  # what an access-denied message said
    sequence: int | None = None  # the trail's order of the event (request ids looked up in the trail)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
        }
        if self.context:
            out["context"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.context}
        if self.request_id:
            out["requestId"] = self.request_id
        if self.event_time is not None:
            out["eventTime"] = self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.error_code:
            out["errorCode"] = self.error_code
        if self.denial is not None:
            out["message"] = self.denial.to_json()
        return out


def as_mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (events come from anywhere)."""
    return value if isinstance(value, Mapping) else {}


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise InputError(f"{what} must be a string of 1 to {_MAX_TEXT} characters")
    return value


def from_message(text: str) -> Subject:
    try:
        denial = parse_denial(text)
    except MessageError as e:
        raise InputError(str(e)) from None
    return Subject("message", denial.principal, denial.action, denial.resource, denial=denial)


def hypothetical(
    principal: str, action: str, resource: str = "*", context: Sequence[tuple[str, str | Sequence[str]]] = ()
) -> Subject:
    principal = _text(principal, "principal")
    action = _text(action, "action")
    resource = _text(resource, "resource")
    if action.count(":") != 1:
        raise InputError("action must be of the form service:Action, e.g. s3:GetObject")
    if len(context) > _MAX_CONTEXT:
        raise InputError(f"at most {_MAX_CONTEXT} context keys")
    items: list[tuple[str, str | tuple[str, ...]]] = []
    for key, value in context:
        key = _text(key, "a context key")
        if isinstance(value, str):
            items.append((key, _text(value, f"the value of {key}") if value else ""))
        else:
            items.append((key, tuple(_text(v, f"a value of {key}") for v in value)))
    return Subject("hypothetical", principal, action, resource, tuple(items))


def _when(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _service_prefix(event_source: str) -> str:
    """``s3.amazonaws.com`` -> ``s3`` (CloudTrail's eventSource is the service's endpoint name)."""
    return event_source.split(".", 1)[0]


def from_event(record: Mapping[str, Any], source: str = "event") -> Subject:
    """A CloudTrail record (iamd's, with its ``iamdDecision``/``iamdAuthentication``, or AWS's)."""
    if not isinstance(record, Mapping) or "eventName" not in record:
        raise InputError("a CloudTrail event is a JSON object with eventName, eventSource, userIdentity…")
    identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), Mapping) else {}
    assert isinstance(identity, Mapping)
    recorded = record.get("iamdDecision") if isinstance(record.get("iamdDecision"), Mapping) else None
    authentication = record.get("iamdAuthentication")
    event_source = record.get("eventSource") if isinstance(record.get("eventSource"), str) else ""
    event_name = record.get("eventName") if isinstance(record.get("eventName"), str) else ""
    error_message = record.get("errorMessage") if isinstance(record.get("errorMessage"), str) else None
    denial: ParsedDenial | None = None
    if error_message is not None:
        try:
            denial = parse_denial(error_message)
        except MessageError:
            denial = None
    # What was asked: iamd recorded it exactly; otherwise AWS's message names it, else the event does.
    action: str | None = None
    resource: str | None = None
    if recorded is not None:
        recorded_action, recorded_resource = recorded.get("action"), recorded.get("resource")
        if isinstance(recorded_action, str) and isinstance(recorded_resource, str):
            action, resource = recorded_action, recorded_resource
    if action is None and denial is not None:
        action, resource = denial.action, denial.resource
    if action is None and event_source and event_name and ":" not in event_name:
        action = f"{_service_prefix(event_source)}:{event_name}"
    if resource is None:
        listed = record.get("resources")
        arns = [r["ARN"] for r in listed if isinstance(r, Mapping) and isinstance(r.get("ARN"), str)] if isinstance(
            listed, list) else []  # fmt: skip
        resource = arns[0] if arns else None
    principal = identity.get("arn") if isinstance(identity.get("arn"), str) else None
    if principal is None and denial is not None:
        principal = denial.principal
    params = record.get("requestParameters")
    return Subject(
        source,
        principal,
        action if isinstance(action, str) else None,
        resource if isinstance(resource, str) else None,
        event_time=_when(record.get("eventTime")),
        request_id=record.get("requestID") if isinstance(record.get("requestID"), str) else None,
        event_source=event_source or None,
        event_name=event_name or None,
        error_code=record.get("errorCode") if isinstance(record.get("errorCode"), str) else None,
        error_message=error_message,
        source_ip=record.get("sourceIPAddress") if isinstance(record.get("sourceIPAddress"), str) else None,
        user_agent=record.get("userAgent") if isinstance(record.get("userAgent"), str) else None,
        user_identity=identity,
        request_parameters=params if isinstance(params, Mapping) else {},
        recorded=recorded,
        authentication=authentication if isinstance(authentication, Mapping) else None,
        denial=denial,
    )


def decompressed(data: bytes) -> bytes:
    """``data`` itself, or its content if it is gzip (``iamd trail export --to FILE.gz``, the
    trail's archive), at most :data:`MAX_EVENT_BYTES` of it."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            content = f.read(MAX_EVENT_BYTES + 1)
    except (OSError, EOFError) as e:
        raise InputError(f"not a readable gzip file: {e}") from None
    if len(content) > MAX_EVENT_BYTES:
        raise InputError(f"the event file is larger than {MAX_EVENT_BYTES} bytes")
    return content


def read_events(text: str | bytes) -> list[dict[str, Any]]:
    """The records of a CloudTrail JSON text: one event, a ``{"Records": [...]}`` file, or a
    list; several one-per-line events (``iamd trail --json``, ``iamd trail export``) too, gzip or not."""
    if isinstance(text, bytes):
        text = decompressed(text)
    if len(text) > MAX_EVENT_BYTES:
        raise InputError(f"the event file is larger than {MAX_EVENT_BYTES} bytes")
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    try:
        parsed: object = json.loads(raw)
        items: list[object] = [parsed]
    except json.JSONDecodeError:
        try:
            items = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    records: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("Records"), list):
            records += [r for r in item["Records"] if isinstance(r, dict) and "eventName" in r]
        elif isinstance(item, list):
            records += [r for r in item if isinstance(r, dict) and "eventName" in r]
        elif isinstance(item, dict) and "eventName" in item:
            records.append(item)
    if not records:
        raise InputError("no CloudTrail event in the input")
    if len(records) > MAX_RECORDS:
        # the failed ones are what a person asks about; keep those first
        failed = [r for r in records if r.get("errorCode")]
        records = (failed or records)[:MAX_RECORDS]
    return records
