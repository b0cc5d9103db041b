"""The troubleshooter as an operation of the application core: ``iamd`` service, ``Explain``.

The door (``POST /iamd/explain``, :mod:`iamd.api.explain`) authenticates and reads the JSON
body (:func:`read_body`); the core (:meth:`iamd.core.Core.invoke`) completes the caller,
opens a read snapshot, runs :func:`explain_operation` and records the audit event, as for every
other call. The handler authorizes ``iamd:Explain`` on the ARN of each principal it explains,
of the caller's own account only (docs/troubleshooting.md, the API), and keeps each decision
on the call so that the audit event carries it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from iamd import errors as aws
from iamd.policy import Decision, Request, build_context, evaluate
from iamd.service.call import Call
from iamd.service.sessions import session_context_items
from iamd.store import ReadTx

from .service import Explainer, subjects_for_request_id
from .subject import InputError, Subject, from_event, from_message, hypothetical, read_events

__all__ = ["ACTION", "API_REQUEST_ID_REACH", "MAX_BODY", "explain_operation", "read_body"]

ACTION = "iamd:Explain"
MAX_BODY = 4 * 1024 * 1024  # a CloudTrail Records object; read_events bounds the records explained
# A request id whose events are all successful reads is not in the request id's index: the API looks
# for it among this many of the newest events, a bounded walk of the table's key (about 10 ms on
# SQLite), so no caller can make the server read a whole trail per call (docs/audit.md, "Indexes").
API_REQUEST_ID_REACH = 100_000
_MEMBERS = frozenset({"RequestId", "Message", "Event", "Principal", "Action", "Resource", "Context", "Trace"})


def read_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, with exactly one input (ValidationError otherwise)."""
    if len(body) > MAX_BODY:
        raise aws.ValidationError(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise aws.ValidationError("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise aws.ValidationError("The body must be a JSON object.")
    inputs = [k for k in ("RequestId", "Message", "Event", "Principal") if k in data]
    if len(inputs) != 1:
        raise aws.ValidationError("Give exactly one of RequestId, Message, Event, or Principal with Action.")
    unknown = set(data) - _MEMBERS
    if unknown:
        raise aws.ValidationError(f"Unknown members: {', '.join(sorted(unknown))}.")
    return data


def explain_operation(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Explain the request(s) ``call.params`` names; the answer of ``iamd explain --json``."""
    data = call.params
    subjects = _subjects(tx, data, call.account)
    for subject in subjects:
        call.decisions.append(_authorize(call, tx, subject))
    explainer = Explainer(call.env.policies.loader)
    answers = [explainer.explain(tx, s, call.now).to_json() for s in subjects]
    if not data.get("Trace"):
        for answer in answers:
            answer.pop("trace", None)
    return answers[0] if len(answers) == 1 else {"Explanations": answers}


def _subjects(tx: ReadTx, data: Mapping[str, Any], account: str) -> list[Subject]:
    try:
        if "RequestId" in data:
            if not isinstance(data["RequestId"], str):
                raise InputError("RequestId must be a string")
            found = subjects_for_request_id(tx, data["RequestId"], account, reach=API_REQUEST_ID_REACH)
            if not found:
                raise aws.NoSuchEntity(
                    f"No audit event with the request id {data['RequestId'][:128]}: failures, denials and writes"
                    f" are found in the whole trail, a request of successful reads only among the newest"
                    f" {API_REQUEST_ID_REACH:,} events (iamd explain on the server looks further)."
                )
            return found
        if "Message" in data:
            if not isinstance(data["Message"], str):
                raise InputError("Message must be a string")
            return [from_message(data["Message"])]
        if "Event" in data:
            event = data["Event"]
            return [from_event(r) for r in read_events(json.dumps(event))]
        context = data.get("Context") or {}
        if not isinstance(context, Mapping):
            raise InputError("Context must be an object of key: value or key: [values]")
        pairs = [(str(k), v if isinstance(v, str) else [str(x) for x in v] if isinstance(v, list) else str(v))
                 for k, v in context.items()]  # fmt: skip
        principal, action = data.get("Principal"), data.get("Action")
        if not isinstance(principal, str) or not isinstance(action, str):
            raise InputError("Principal and Action must be strings")
        resource = data.get("Resource", "*")
        return [hypothetical(principal, action, resource if isinstance(resource, str) else "", pairs)]
    except InputError as e:
        raise aws.ValidationError(str(e)) from None


def _authorize(call: Call, tx: ReadTx, subject: Subject) -> Decision:
    """``iamd:Explain`` on the explained principal's ARN, of the caller's own account only."""
    caller = call.caller
    target = subject.principal or "*"
    parts = target.split(":", 5)
    if len(parts) == 6 and parts[4] not in (caller.account_id, ""):
        raise aws.AccessDenied(f"User: {caller.principal.arn} is not authorized to perform: {ACTION} on resource: "
                               f"{target} because it is in another account")  # fmt: skip
    moment: datetime = call.now.astimezone(UTC)
    items: list[tuple[str, Any]] = [
        ("aws:CurrentTime", moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("aws:EpochTime", str(int(moment.timestamp()))),
        ("aws:SecureTransport", "true" if call.secure else "false"),
        ("aws:SourceIp", call.source_ip),
        *session_context_items(caller, moment),
    ]
    org = call.env.policies.org_membership(tx, caller.account_id)
    context = build_context(caller.principal, items, resource_account=caller.account_id, principal_org=org,
                            resource_org=org)  # fmt: skip
    request = Request(caller.principal, ACTION, target, context, caller.account_id)
    decision = evaluate(request, call.env.policies.for_caller(tx, caller))
    if not decision.allowed:
        raise aws.AccessDenied(decision.message or "Access denied", decision)
    return decision
