"""``POST /iamd/authorize``: iamd authorizes requests to your own services (docs/authorization-api.md).

A door of the application core like ``POST /iamd/explain``: the body is JSON (the forwarded
request and the checks), signed with SigV4 by the calling service with its own credentials
(service name ``iamd``, any region iamd accepts); decode and authenticate here, then
:meth:`iamd.core.Core.invoke` (service ``iamd``, operation ``Authorize``;
:mod:`iamd.authz.operation`), which authorizes ``iamd:Authorize``, verifies the client's
signature, answers every check and records the audit events. Errors of the call have AWS's JSON
shape, ``{"__type": code, "message": …}``, with AWS's status codes; a refused *client*
signature is not one of them but a denied result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.api.pipeline import refused_at_the_door
from iamd.auth import SignedRequest, SigV4Verifier
from iamd.authz.operation import MAX_BODY, read_body
from iamd.core import CallContext
from iamd.ids import new_uuid4
from iamd.service.call import Caller

__all__ = ["authorize_endpoint"]


def authorize_endpoint(backend: Backend) -> Callable[[HttpRequest], Awaitable[Response]]:
    """The route's endpoint for ``backend`` (with its own verifier: service name ``iamd``)."""
    verifier = SigV4Verifier({"iamd": backend.partition.accepted})

    async def endpoint(request: HttpRequest) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                break
        scope = request.scope
        signed = SignedRequest(
            request.method,
            (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0],
            scope.get("query_string", b"").decode("latin-1"),
            tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            body,
        )
        ip = request.client.host if request.client else "127.0.0.1"
        return await run_in_threadpool(answer, backend, verifier, signed, ip, request.url.scheme == "https")

    return endpoint


def answer(backend: Backend, verifier: SigV4Verifier, signed: SignedRequest, source_ip: str, secure: bool) -> Response:
    """Decode → authenticate the service → invoke the core → encode."""
    request_id = new_uuid4()
    user_agent = (signed.header_values("user-agent") or ("",))[0]
    context = CallContext(request_id, backend.clock(), source_ip, user_agent, secure, backend.partition.iam_region)
    caller: Caller | None = None
    data: dict[str, Any] | None = None
    try:
        if len(signed.body) > MAX_BODY:
            raise aws.ValidationError(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        verified = verifier.verify(signed, now=context.now, lookup=backend.lookup, service="iamd")
        caller = verified.principal
        assert backend.audit is not None
        if not verified.access_key_id.startswith("ASIA"):
            backend.audit.key_used(verified.access_key_id, context.now, "iamd", verified.region)
        data = read_body(signed.body)
    except Exception as error:
        failure = refused_at_the_door(backend, "iamd", "Authorize", context, error, caller, None)
        return _error(failure, request_id)
    outcome = backend.core.invoke(caller, "iamd", "Authorize", data, context)
    if outcome.error is not None:
        return _error(outcome.error, request_id)
    return JSONResponse({"RequestId": request_id, **(outcome.result or {})}, headers={"x-amzn-RequestId": request_id})


def _error(error: aws.AwsError, request_id: str) -> Response:
    return JSONResponse(
        {"__type": error.code, "message": error.message, "RequestId": request_id},
        status_code=error.status,
        headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code},
    )
