"""``POST /iamd/explain``: the troubleshooter as an API operation, for the console and other tools.

An iamd operation, not an AWS one (docs/troubleshooting.md, the API): a JSON body naming one
input — ``{"RequestId": …}``, ``{"Message": …}``, ``{"Event": {…}}`` (one CloudTrail event or
a ``{"Records": […]}`` object) or ``{"Principal": …, "Action": …, "Resource": …, "Context":
{…}}`` — signed with SigV4 like every other request (service ``iam``), answered with the same
JSON as ``iamd explain --json``.

Authorization: the caller needs ``iamd:Explain`` on the ARN of the principal whose request is
explained (so ``"Resource": "arn:aws:iam::*:user/${aws:username}"`` lets users explain their
own denials), and only principals of the caller's own account are explained. Errors have
AWS's JSON shape, ``{"__type": code, "message": …}``, with AWS's status codes; every call is
in the audit trail (``eventSource`` ``iamd.amazonaws.com``, ``eventName`` ``Explain``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.audit import CallEvent
from iamd.auth import SignedRequest
from iamd.explain import (
    Explainer,
    InputError,
    Subject,
    from_event,
    from_message,
    hypothetical,
    read_events,
    subjects_for_request_id,
)
from iamd.ids import new_uuid4
from iamd.policy import Decision, Request, build_context, evaluate
from iamd.service.call import Caller
from iamd.service.sessions import check_iam_allowed, resolve_caller, session_context_items
from iamd.store import ReadTx, stored_audit_event

__all__ = ["ACTION", "MAX_BODY", "explain_route"]

log = logging.getLogger("iamd.api")

ACTION = "iamd:Explain"
MAX_BODY = 4 * 1024 * 1024  # a CloudTrail Records object; read_events bounds the records explained
_SOURCE = "iamd.amazonaws.com"


async def explain_route(backend: Backend, request: HttpRequest) -> Response:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            break
    client = request.client
    scope = request.scope
    signed = SignedRequest(
        request.method,
        (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0],
        scope.get("query_string", b"").decode("latin-1"),
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
        body,
    )
    ip = client.host if client else "127.0.0.1"
    return await run_in_threadpool(answer, backend, signed, ip, request.url.scheme == "https")


def answer(backend: Backend, signed: SignedRequest, source_ip: str, secure: bool) -> Response:
    """Authenticate, read the input, authorize ``iamd:Explain``, explain (module doc)."""
    request_id = new_uuid4()
    now = backend.clock()
    caller: Caller | None = None
    decision: Decision | None = None
    params: dict[str, Any] | None = None
    try:
        if len(signed.body) > MAX_BODY:
            raise aws.ValidationError(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        verified = backend.verifier.verify(signed, now=now, lookup=backend.lookup, service="iam")
        caller = verified.principal
        check_iam_allowed(caller)
        data = _body(signed.body)
        params = {k: v for k, v in data.items() if k != "Event"}
        explainer = Explainer(backend.policies.loader)
        with backend.store.read() as tx:
            caller = resolve_caller(caller, tx)
            subjects = _subjects(tx, data, caller.account_id)
            for subject in subjects:
                decision = _authorize(backend, tx, caller, subject, source_ip, secure, now)
            answers = [explainer.explain(tx, s, now).to_json() for s in subjects]
        for a in answers:
            if not data.get("Trace"):
                a.pop("trace", None)
        payload: dict[str, Any] = {"RequestId": request_id}
        payload.update(answers[0] if len(answers) == 1 else {"Explanations": answers})
        _audit(backend, request_id, now, source_ip, signed, caller, params, None, decision)
        return JSONResponse(payload, headers={"x-amzn-RequestId": request_id})
    except Exception as error:
        if not isinstance(error, aws.AwsError):
            log.exception("explain request %s failed", request_id)
            error = aws.InternalFailure("internal failure")
        _audit(backend, request_id, now, source_ip, signed, caller, params, error, decision)
        return JSONResponse(
            {"__type": error.code, "message": error.message, "RequestId": request_id},
            status_code=error.status,
            headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code},
        )


def _body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise aws.ValidationError("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise aws.ValidationError("The body must be a JSON object.")
    inputs = [k for k in ("RequestId", "Message", "Event", "Principal") if k in data]
    if len(inputs) != 1:
        raise aws.ValidationError("Give exactly one of RequestId, Message, Event, or Principal with Action.")
    unknown = set(data) - {"RequestId", "Message", "Event", "Principal", "Action", "Resource", "Context", "Trace"}
    if unknown:
        raise aws.ValidationError(f"Unknown members: {', '.join(sorted(unknown))}.")
    return data


def _subjects(tx: ReadTx, data: Mapping[str, Any], account: str) -> list[Subject]:
    try:
        if "RequestId" in data:
            if not isinstance(data["RequestId"], str):
                raise InputError("RequestId must be a string")
            found = subjects_for_request_id(tx, data["RequestId"], account)
            if not found:
                raise aws.NoSuchEntity(f"No audit event with the request id {data['RequestId'][:128]}.")
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


def _authorize(
    backend: Backend, tx: ReadTx, caller: Caller, subject: Subject, source_ip: str, secure: bool, now: Any
) -> Decision:
    """``iamd:Explain`` on the explained principal's ARN, of the caller's own account only."""
    target = subject.principal or "*"
    parts = target.split(":", 5)
    if len(parts) == 6 and parts[4] not in (caller.account_id, ""):
        raise aws.AccessDenied(f"User: {caller.principal.arn} is not authorized to perform: {ACTION} on resource: "
                               f"{target} because it is in another account")  # fmt: skip
    moment = now.astimezone(UTC)
    items: list[tuple[str, Any]] = [
        ("aws:CurrentTime", moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("aws:EpochTime", str(int(moment.timestamp()))),
        ("aws:SecureTransport", "true" if secure else "false"),
        ("aws:SourceIp", source_ip),
        *session_context_items(caller, moment),
    ]
    context = build_context(caller.principal, items, resource_account=caller.account_id)
    request = Request(caller.principal, ACTION, target, context, caller.account_id)
    decision = evaluate(request, backend.policies.for_caller(tx, caller))
    if not decision.allowed:
        raise aws.AccessDenied(decision.message or "Access denied", decision)
    return decision


def _audit(
    backend: Backend,
    request_id: str,
    now: Any,
    source_ip: str,
    signed: SignedRequest,
    caller: Caller | None,
    params: Mapping[str, Any] | None,
    error: aws.AwsError | None,
    decision: Decision | None,
) -> None:
    """One event per call, like every API call; a failed one stored before the answer."""
    if error is not None and isinstance(getattr(error, "decision", None), Decision):
        decision = error.decision  # type: ignore[attr-defined]
    event = CallEvent(
        request_id, now.astimezone(UTC).replace(microsecond=0), _SOURCE, "Explain", "us-east-1", source_ip,
        (signed.header_values("user-agent") or ("",))[0],
        caller.user_identity() if caller is not None else {"type": "Unknown"},
        caller.account_id if caller is not None else backend.account_id,
        dict(params) if params else None, None,
        error.code if error else None, error.message if error else None, decision,
    )  # fmt: skip
    try:
        if error is None:
            assert backend.audit is not None
            backend.audit.submit(event)
        else:
            backend.store.append_audit_event(stored_audit_event(event, untrusted=True))
    except Exception:
        log.exception("could not record the audit event of explain request %s", request_id)
