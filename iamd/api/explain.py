"""``POST /iamd/explain``: the troubleshooter as an API operation, for the console and other tools.

An iamd operation, not an AWS one (docs/troubleshooting.md, the API): a JSON body naming one
input — ``{"RequestId": …}``, ``{"Message": …}``, ``{"Event": {…}}`` (one CloudTrail event or
a ``{"Records": […]}`` object) or ``{"Principal": …, "Action": …, "Resource": …, "Context":
{…}}`` — signed with SigV4 like every other request (service ``iam``), answered with the same
JSON as ``iamd explain --json``.

A door of the application core like the Query endpoint: decode and authenticate here, then
:meth:`iamd.core.Core.invoke` (service ``iamd``, operation ``Explain``;
:mod:`iamd.explain.operation`), which authorizes ``iamd:Explain`` on the ARN of the principal
whose request is explained (so ``"Resource": "arn:aws:iam::*:user/${aws:username}"`` lets
users explain their own denials; only principals of the caller's own account are explained)
and records the audit event (``eventSource`` ``iamd.amazonaws.com``, ``eventName``
``Explain``). Errors have AWS's JSON shape, ``{"__type": code, "message": …}``, with AWS's
status codes.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.api.pipeline import authenticate, refused_at_the_door
from iamd.auth import SignedRequest
from iamd.core import CallContext
from iamd.explain.operation import ACTION, MAX_BODY, read_body
from iamd.ids import new_uuid4
from iamd.service.call import Caller

__all__ = ["ACTION", "MAX_BODY", "answer", "explain_route"]


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
    """Decode → authenticate → invoke the core → encode (module doc)."""
    request_id = new_uuid4()
    user_agent = signed.first_value("user-agent")
    context = CallContext(request_id, backend.clock(), source_ip, user_agent, secure, backend.partition.iam_region)
    caller: Caller | None = None
    data: dict[str, Any] | None = None
    try:
        if len(signed.body) > MAX_BODY:
            raise aws.ValidationError(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        caller, _ = authenticate(backend, signed, context.now, "iam")
        data = read_body(signed.body)
    except Exception as error:
        failure = refused_at_the_door(backend, "iamd", "Explain", context, error, caller, data)
        return _error(failure, request_id)
    outcome = backend.core.invoke(caller, "iamd", "Explain", data, context)
    if outcome.error is not None:
        return _error(outcome.error, request_id)
    return JSONResponse({"RequestId": request_id, **(outcome.result or {})}, headers={"x-amzn-RequestId": request_id})


def _error(error: aws.AwsError, request_id: str) -> Response:
    return JSONResponse(
        {"__type": error.code, "message": error.message, "RequestId": request_id},
        status_code=error.status,
        headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code},
    )
