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

import asyncio
from concurrent.futures import Executor
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.api.pipeline import HttpRequest, receive_request, refused_at_the_door
from iamd.auth import SignedRequest, SigV4Verifier
from iamd.auth.request import new_signed_request
from iamd.authz.operation import MAX_BODY, read_body
from iamd.core import CallContext
from iamd.frozen import maker
from iamd.ids import new_uuid4
from iamd.protocol.errors import WireResponse
from iamd.service.call import Caller
from iamd.store.guard import NeedsDatabase, no_database

__all__ = ["authorize_endpoint"]


def authorize_endpoint(backend: Backend) -> AuthorizeDoor:
    """The door for ``backend`` (with its own verifier: service name ``iamd``)."""
    return AuthorizeDoor(backend)


class AuthorizeDoor:
    """``POST /iamd/authorize``. Under ``iamd serve`` it is answered on iamd's direct path, as the
    Query API is (iamd/api/protocol.py: :meth:`inline` from the parser's callbacks, else
    :meth:`off_loop` on the read lane); under any other ASGI server it is a raw ASGI application
    (no request or response objects on the way), which the application calls directly for a
    POST (iamd/api/app.py) and Starlette's routing answers 405 for other methods."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.verifier = SigV4Verifier({"iamd": backend.partition.accepted})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = await receive_request(scope, receive, MAX_BODY)
        if http is None:
            return
        response = self._inline(http)
        if response is None:
            response = await run_in_threadpool(self._answer, http)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode("ascii")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    # -- iamd's own HTTP protocol calls these (iamd/api/protocol.py, through IamdApp) -------------
    def inline(self, http: HttpRequest) -> WireResponse | None:
        """The answer, if it could be given here on the event loop (module doc); else None."""
        return self._inline(http)

    def answer_now(self, http: HttpRequest) -> WireResponse:
        """The answer, given on this thread (a body over the limit: refused at once)."""
        return self._answer(http)

    async def off_loop(self, http: HttpRequest, executor: Executor | None) -> WireResponse:
        """The answer, given on a worker thread of ``executor``."""
        return await asyncio.get_running_loop().run_in_executor(executor, self._answer, http)

    def _inline(self, http: HttpRequest) -> WireResponse | None:
        if len(http.body) > INLINE_BODY:
            return None
        signed = new_signed_request("POST", http.path, http.query, http.headers, http.body)
        # A few checks: answered here on the event loop, where no database work is allowed; one
        # that needs the database after all (the service's or a client's key or policies not
        # cached yet, a refusal's audit event stored durably) is run again, from the start, on a
        # worker thread. Nothing is lost by the try: the audit events are submitted after the
        # last database access, and a key not cached is looked up before the signature is
        # computed (the verifier's order), so a first call wastes only the parse of its header.
        # (No look at the key in the cache before the try: it parsed the header once more on
        # every call, for that one saving on a key's first.)
        try:
            with no_database():
                return answer(self.backend, self.verifier, signed, http.client_ip, http.secure)
        except NeedsDatabase:
            return None

    def _answer(self, http: HttpRequest) -> WireResponse:
        signed = new_signed_request("POST", http.path, http.query, http.headers, http.body)
        return answer(self.backend, self.verifier, signed, http.client_ip, http.secure)


_new_context = maker(CallContext)  # CallContext(...) made cheaper (iamd.frozen.maker)

# A body this small carries at most a few dozen checks: at most about a millisecond on the loop.
INLINE_BODY = 4 * 1024


def answer(
    backend: Backend, verifier: SigV4Verifier, signed: SignedRequest, source_ip: str, secure: bool
) -> WireResponse:
    """Decode → authenticate the service → invoke the core → encode."""
    request_id = new_uuid4()
    user_agent = signed.first_value("user-agent")
    context = _new_context(request_id, backend.clock(), source_ip, user_agent, secure, backend.partition.iam_region)
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
    return _json(200, {"RequestId": request_id, **(outcome.result or {})}, (("x-amzn-RequestId", request_id),))


def _error(error: aws.AwsError, request_id: str) -> WireResponse:
    return _json(
        error.status,
        {"__type": error.code, "message": error.message, "RequestId": request_id},
        (("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code)),
    )


def _json(status: int, content: dict[str, Any], headers: tuple[tuple[str, str], ...]) -> WireResponse:
    """A JSON answer, as Starlette's JSONResponse writes one (UTF-8, compact, ``content-type:
    application/json``), encoded by orjson (a batch's answer is tens of kilobytes of small objects)
    and built as the wire answer directly, with no response object to convert. The input was
    checked to be valid Unicode (no lone surrogates: iamd/authz/input.py), so every text in it encodes."""
    return WireResponse(status, (*headers, ("content-type", "application/json")), orjson.dumps(content))
