"""WSGI middleware: the same as :mod:`iamd.authz.asgi`, for WSGI applications (Flask, Django…).

``resolve(environ, body)`` names the checks; on allow the :class:`Answer` is in
``environ["iamd.answer"]``; on deny the middleware answers AWS's JSON error, or what
``on_deny(answer, environ)`` returns: a ``(status, headers, body)`` tuple. The raw path comes
from the server's ``RAW_URI`` / ``REQUEST_URI`` when it gives one (gunicorn, uWSGI, Werkzeug),
else from ``SCRIPT_NAME`` + ``PATH_INFO`` percent-encoded again. Body handling and failing
closed are as for ASGI.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any
from urllib.parse import quote

from .asgi import MAX_BUFFERED_BODY, DenyResponse, _error, default_denial, signed_in_header
from .client import Answer, AuthorizationError, Authorizer, Check, ForwardedRequest

__all__ = ["AuthorizationMiddleware", "forwarded_request"]

Environ = MutableMapping[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Resolve = Callable[[Environ, bytes | None], Sequence[Check]]
OnDeny = Callable[[Answer, Environ], DenyResponse]

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


class AuthorizationMiddleware:
    """Authorize every request with iamd before the wrapped WSGI application sees it."""

    def __init__(
        self,
        app: WSGIApp,
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

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request = forwarded_request(environ)
        body: bytes | None = None
        declared = any(n.lower() == "x-amz-content-sha256" for n, _ in request.headers)
        if signed_in_header(request.headers) and not declared:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > self.max_buffered_body:
                return _respond(start_response, _error(413, "EntityTooLarge", "The request body is too large."))
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            request = ForwardedRequest(
                request.method, request.path, request.query, request.headers, hashlib.sha256(body).hexdigest()
            )
        checks = self.resolve(environ, body)
        if not checks:
            return _respond(start_response, _error(403, "AccessDenied", "No authorization checks were given."))
        try:
            answer = self.authorizer.authorize_sync(
                request, list(checks), allow_anonymous=self.allow_anonymous, service=self.service
            )
        except AuthorizationError as error:
            status = 503 if error.status >= 500 else 403
            message = "The request could not be authorized: " + error.message
            return _respond(start_response, _error(status, error.code, message))
        environ["iamd.answer"] = answer
        if answer.allowed:
            return self.app(environ, start_response)
        denial = default_denial(answer) if self.on_deny is None else self.on_deny(answer, environ)
        return _respond(start_response, denial)


def forwarded_request(environ: Environ) -> ForwardedRequest:
    """The request as the client sent it, from a WSGI environ."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = str(raw).partition("?")[0]
    else:
        text = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "/"))
        path = quote(text.encode("latin-1").decode("utf-8", "surrogateescape"), safe="/%!$&'()*+,;=:@~")
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower(), str(value)))
    return ForwardedRequest(
        str(environ.get("REQUEST_METHOD", "GET")), path, str(environ.get("QUERY_STRING", "")), headers
    )


def _respond(start_response: StartResponse, response: DenyResponse) -> Iterable[bytes]:
    status, headers, body = response
    pairs = list(headers)
    if not any(n.lower() == "content-length" for n, _ in pairs):
        pairs.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_REASONS.get(status, 'Error')}", pairs)
    return [body]
