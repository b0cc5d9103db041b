"""The S3-compatible example service as an ASGI application, authorized only by iamd
(docs/s3.md).

``create_s3_app`` stacks three layers:

1. ``Prefetch``: buffers the two small bodies a check depends on (DeleteObjects' keys,
   CreateBucket's Region), bounded, for the resolver;
2. ``iamd.authz.asgi.AuthorizationMiddleware``: asks iamd (over HTTP or in process) the
   checks ``resolve.Resolver`` derives from the request; a denial is shaped by ``on_deny``
   into S3's XML error (``deny.py``);
3. ``S3App``: the operations, on the disk ``Store``. It makes no authorization decision of
   its own: it reads the caller's account from iamd's answer (to own a new bucket, to list
   the caller's buckets) and, for DeleteObjects, which keys iamd allowed.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iamd.authz.asgi import AuthorizationMiddleware
from iamd.authz.client import Answer, Authorizer

from .buckets import BUCKET_HANDLERS
from .deny import access_denied_message, signature_error
from .errors import S3Error
from .multipart import MULTIPART_HANDLERS
from .objects import OBJECT_HANDLERS
from .request import S3Request, S3Settings
from .resolve import BODY_KEY, ERROR_KEY, Resolver, request_headers, route_of
from .route import Route, parse_query
from .store import Store

__all__ = ["S3App", "create_s3_app"]

log = logging.getLogger("iamd.s3")


HANDLERS = {**BUCKET_HANDLERS, **OBJECT_HANDLERS, **MULTIPART_HANDLERS}
_PREFETCH = {"DeleteObjects", "CreateBucket"}


def new_request_id() -> str:
    return secrets.token_hex(8).upper()


def answer_of(scope: Scope) -> Answer | None:
    found = scope.get("iamd.answer")
    return found if isinstance(found, Answer) else None


def has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


class _Tracked:
    """``receive`` that notes whether the whole body was read."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.done = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.done = True
        return message


def error_response(error: S3Error, request_id: str, method: str, *, close: bool = False) -> Response:
    """S3's error; ``close``: the request's body was not read, so the connection cannot carry
    another request (a client that sent ``Expect: 100-continue`` never sends that body)."""
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    if close:
        headers["connection"] = "close"
    if method == "HEAD":  # a HEAD error has no body; clients read the status alone
        return Response(b"", error.status, headers=headers)
    return Response(error.xml(request_id, request_id), error.status, headers=headers, media_type="application/xml")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class S3App:
    """The operations. Behind ``AuthorizationMiddleware`` only (``create_s3_app``)."""

    def __init__(self, store: Store, settings: S3Settings | None = None) -> None:
        self.store = store
        self.settings = settings or S3Settings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        receive = tracked = _Tracked(receive)
        answer = answer_of(scope)
        request_id = answer.request_id if answer is not None and answer.request_id else new_request_id()
        method = str(scope.get("method", "GET"))
        try:
            recorded = scope.get(ERROR_KEY)
            if isinstance(recorded, S3Error):
                raise recorded
            route = route_of(scope)
            request = S3Request(
                dict(scope), receive, route, parse_query(bytes(scope.get("query_string", b"")).decode("latin-1")),
                request_headers(scope), request_id, answer, self.store, self.settings,
            )  # fmt: skip
            response = await HANDLERS[route.operation](request)
        except S3Error as error:
            response = error_response(error, request_id, method)
        except Exception:
            log.exception("S3 request %s failed", request_id)
            response = error_response(S3Error("InternalError"), request_id, method)
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = request_id
        if not tracked.done and has_body(scope):
            response.headers["connection"] = "close"
        await response(scope, receive, send)


class Prefetch:
    """Buffer the small bodies the resolver reads (bounded), and replay them to the service."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if _signature_version_2(scope):
                refused = error_response(S3Error("InvalidRequest", SIGV2_REFUSED), new_request_id(), scope["method"])
                await refused(scope, receive, send)
                return
            _presigned_payload(scope)
            try:
                route: Route | None = route_of(scope)
            except S3Error:
                route = None  # the resolver records the error; the service answers it after authorization
            if route is not None and route.operation in _PREFETCH:
                chunks: list[bytes] = []
                size, more = 0, True
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunk = bytes(message.get("body", b""))
                    size += len(chunk)
                    if size > self.limit:
                        refused = error_response(S3Error("MalformedXML"), new_request_id(), "POST", close=True)
                        await refused(scope, receive, send)
                        return
                    chunks.append(chunk)
                    more = bool(message.get("more_body", False))
                body = b"".join(chunks)
                scope[BODY_KEY] = body
                receive = _replay(body, receive)
        await self.app(scope, receive, send)


SIGV2_REFUSED = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


def _signature_version_2(scope: Scope) -> bool:
    """A request signed with Signature Version 2: an ``Authorization: AWS <key>:<signature>`` header, or a
    presigned URL with ``AWSAccessKeyId`` and ``Signature`` (boto3's S3 default without ``s3v4``). S3 answers
    those in the Regions that accept only Signature Version 4 with 400 ``InvalidRequest`` and this text
    (Amazon S3 API Reference, "Authenticating Requests (AWS Signature Version 4)"); iamd verifies only SigV4
    (docs/s3.md, "Presigned URLs")."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:4] == b"AWS ":
            return True
    query = bytes(scope.get("query_string", b""))
    if b"Signature=" not in query or b"AWSAccessKeyId=" not in query:
        return False
    names = {pair.split(b"=", 1)[0] for pair in query.split(b"&")}
    return b"AWSAccessKeyId" in names and b"Signature" in names


def _presigned_payload(scope: Scope) -> None:
    """A presigned S3 URL signs ``UNSIGNED-PAYLOAD`` as its payload hash (Amazon S3 API
    Reference, "Authenticating Requests: Using Query Parameters"); say so in the request's
    ``x-amz-content-sha256`` (a header the URL's signature does not cover), so that iamd and
    the service both take the body as unsigned."""
    query = bytes(scope.get("query_string", b"")).lower()
    if b"x-amz-signature=" not in query:
        return
    headers = list(scope.get("headers", ()))
    if not any(name == b"x-amz-content-sha256" for name, _ in headers):
        scope["headers"] = [*headers, (b"x-amz-content-sha256", b"UNSIGNED-PAYLOAD")]


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class Denials:
    """``on_deny``: iamd's denial as S3's XML error."""

    def __init__(self, app: S3App) -> None:
        self.app = app

    def __call__(self, answer: Answer, scope: Scope) -> ASGIApp:
        method = str(scope.get("method", "GET"))
        refused = signature_error(answer)
        if refused is not None:
            error = S3Error(str(refused.error_code), refused.error_message or None, status=refused.error_status)
            return error_response(error, answer.request_id or new_request_id(), method, close=has_body(scope))
        route = scope.get("iamd.s3.route")
        if isinstance(route, Route) and route.operation == "DeleteObjects" and any(r.allowed for r in answer.results):
            return self.app  # per-key results: the service deletes what iamd allowed, reports the rest
        if isinstance(route, Route) and _owner_root_locked_out(self.app, answer, route):
            return self.app
        message = access_denied_message(answer.denied)
        denied = S3Error("AccessDenied", message)
        return error_response(denied, answer.request_id or new_request_id(), method, close=has_body(scope))


_POLICY_OPERATIONS = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})


def _owner_root_locked_out(app: S3App, answer: Answer, route: Route) -> bool:
    """The bucket owner's root user may always get, put and delete the bucket policy, even when
    the policy denies it; only SCPs and RCPs can stop it (Amazon S3 API Reference,
    PutBucketPolicy: the root user's lock-out protection). So a denial of such a call whose only
    blocking policies are resource-based policies lets the request through."""
    if route.operation not in _POLICY_OPERATIONS:
        return False
    principal = answer.principal
    bucket = app.store.bucket(route.bucket) if route.bucket else None
    if bucket is None or principal.get("type") != "Root" or principal.get("accountId") != bucket.owner:
        return False
    for result in answer.results:
        if result.allowed:
            continue
        if result.error_code not in (None, "", "AccessDenied"):
            return False
        blocking = result.why.get("blockingPolicyTypes") if isinstance(result.why, dict) else None
        if not blocking or any(not isinstance(b, dict) or b.get("type") != "resource" for b in blocking):
            return False
    return True


def create_s3_app(data_dir: Path, authorizer: Authorizer, settings: S3Settings | None = None) -> ASGIApp:
    """The service on ``data_dir``, every request authorized by ``authorizer`` (iamd)."""
    settings = settings or S3Settings()
    store = Store(data_dir)
    app = S3App(store, settings)
    middleware = AuthorizationMiddleware(
        app, authorizer, Resolver(store, settings.partition), service="s3", on_deny=Denials(app)
    )
    return Prefetch(middleware, settings.max_xml_body)
