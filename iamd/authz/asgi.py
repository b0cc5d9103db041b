"""ASGI middleware: every request to your service is authorized by iamd before it reaches it.

    app = AuthorizationMiddleware(app, HttpAuthorizationClient(...), resolve, service="widgets")

For each HTTP request the middleware builds the :class:`ForwardedRequest` from the ASGI scope
(the raw path, the raw query string, every header), asks ``resolve(scope, body)`` which checks
the request needs (an action on a resource; ``body`` is the buffered body when the middleware
had to hash it, else None), has the :class:`Authorizer` answer them, and then either passes the
request on, with the :class:`Answer` in ``scope["state"]["iamd"]`` (and ``scope["iamd.answer"]``),
or answers the denial itself: by default an AWS JSON error (``{"__type": code, "message": …}``,
403 or the status of the signature error), or whatever ``on_deny(answer, scope)`` returns: a
``(status, headers, body)`` tuple or an ASGI application (a Starlette ``Response``), possibly
awaitable (S3 answers XML).

The body is never buffered to be forwarded: iamd needs only its hash, which SigV4 clients of
S3-like services send in ``x-amz-content-sha256`` (checking that the body matches it is the
service's job, as S3 does). Only a signed request without that header has its body read here
(at most ``max_buffered_body`` bytes, else 413), hashed, and replayed to the application.

Fail closed: no checks, an error of the authorization call (iamd unreachable, the service's
credentials refused) or of ``resolve``'s result: the request does not reach the application
(503 for an unreachable iamd, 403 otherwise). A non-HTTP scope other than ``lifespan`` (a
websocket) is refused too.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from .client import Answer, AuthorizationError, Authorizer, Check, ForwardedRequest

__all__ = ["AuthorizationMiddleware", "DenyResponse", "Scope", "default_denial", "signed"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DenyResponse = tuple[int, Sequence[tuple[str, str]], bytes]
Resolve = Callable[[Scope, bytes | None], Sequence[Check] | Awaitable[Sequence[Check]]]
OnDeny = Callable[[Answer, Scope], Any]  # -> DenyResponse | ASGIApp, or an awaitable of either

MAX_BUFFERED_BODY = 1 << 20


def signed(headers: Sequence[tuple[str, str]], query: str) -> bool:
    """Whether the request carries a SigV4 signature (header or presigned query)."""
    return signed_in_header(headers) or "x-amz-signature=" in query.lower()


def signed_in_header(headers: Sequence[tuple[str, str]]) -> bool:
    """Whether the request is signed in its Authorization header: only then does the signature
    cover the body's hash. A presigned URL's payload hash is fixed by the URL (S3's
    ``UNSIGNED-PAYLOAD``, other services' empty body), which iamd derives itself (AWS "Authenticating
    Requests: Using Query Parameters"): the middleware must not hash the body for it."""
    return any(n.lower() == "authorization" for n, _ in headers)


def default_denial(answer: Answer) -> DenyResponse:
    """AWS's JSON error for the first denied result: its error (status and code) and message."""
    denied = answer.denied
    code = (denied.error_code if denied else None) or "AccessDenied"
    status = (denied.error_status if denied else None) or 403
    message = (denied.error_message or denied.message if denied else "") or "Access Denied"
    return _error(status, code, message, answer.request_id)


def _error(status: int, code: str, message: str, request_id: str = "") -> DenyResponse:
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = [("content-type", "application/json"), ("x-amzn-errortype", code)]
    if request_id:
        headers.append(("x-iamd-authorization-request-id", request_id))
    return status, headers, body


class AuthorizationMiddleware:
    """Authorize every HTTP request with iamd before the wrapped ASGI application sees it."""

    def __init__(
        self,
        app: ASGIApp,
        authorizer: Authorizer,
        resolve: Resolve,
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
        on_deny: OnDeny | None = None,
        max_buffered_body: int = MAX_BUFFERED_BODY,
    ) -> None:
        self.app = app
        self.authorizer = authorizer
        self.resolve = resolve
        self.allow_anonymous = allow_anonymous
        self.service = service
        self.on_deny = on_deny
        self.max_buffered_body = max_buffered_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = forwarded_request(scope)
        body: bytes | None = None
        if request.payload_hash is None and signed_in_header(request.headers) and not _declared(request):
            body, complete = await _read_body(receive, self.max_buffered_body)
            if not complete:
                await _send(send, _error(413, "EntityTooLarge", "The request body is too large to authorize."))
                return
            request = ForwardedRequest(
                request.method, request.path, request.query, request.headers, hashlib.sha256(body).hexdigest()
            )
            receive = _replay(body, receive)
        checks = self.resolve(scope, body)
        if inspect.isawaitable(checks):
            checks = await checks
        if not checks:
            await _send(send, _error(403, "AccessDenied", "No authorization checks were given for this request."))
            return
        try:
            answer = await self.authorizer.authorize(
                request, list(checks), allow_anonymous=self.allow_anonymous, service=self.service
            )
        except AuthorizationError as error:
            status = 503 if error.status >= 500 else 403
            await _send(send, _error(status, error.code, "The request could not be authorized: " + error.message))
            return
        scope.setdefault("state", {})["iamd"] = answer
        scope["iamd.answer"] = answer
        if answer.allowed:
            await self.app(scope, receive, send)
            return
        denial: Any = default_denial(answer) if self.on_deny is None else self.on_deny(answer, scope)
        if inspect.isawaitable(denial):
            denial = await denial
        if isinstance(denial, tuple):
            await _send(send, denial)
        else:
            await denial(scope, receive, send)


def forwarded_request(scope: Scope) -> ForwardedRequest:
    """The request as the client sent it: raw path and query (percent-encoded), every header."""
    raw_path = scope.get("raw_path")
    if raw_path:
        path = bytes(raw_path).decode("latin-1").partition("?")[0]
    else:
        from urllib.parse import quote

        path = quote(str(scope.get("root_path", "")) + str(scope.get("path", "/")), safe="/%!$&'()*+,;=:@~")
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    headers = [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1")) for n, v in scope.get("headers", ())]
    return ForwardedRequest(str(scope.get("method", "GET")), path, query, headers)


def _declared(request: ForwardedRequest) -> bool:
    return any(n.lower() == "x-amz-content-sha256" for n, _ in request.headers)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send(send: Send, response: DenyResponse) -> None:
    status, headers, body = response
    raw = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    if not any(n == b"content-length" for n, _ in raw):
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
