"""Ask iamd whether a request to your own service is allowed (docs/authorization-api.md).

A service forwards what it received from its client (method, raw path, raw query, every
header, the payload hash: :class:`ForwardedRequest`) and the checks it wants answered (an
action on a resource, with the resource's policy, account, tags and the context keys only the
service knows: :class:`Check`). iamd verifies the client's SigV4 signature, resolves who the
client is and evaluates every policy that applies, and answers an :class:`Answer`: who asked,
and one :class:`Result` per check (Allow or Deny, AWS's message, the why).

Two implementations of the :class:`Authorizer` protocol give the same answers:

* :class:`HttpAuthorizationClient`: ``POST /iamd/authorize`` of an iamd server, signed with the
  service's own credentials (SigV4, service name ``iamd``), over kept-alive connections;
* :class:`LocalAuthorizationClient`: the same operation through the application core of this
  process (:meth:`iamd.core.Core.invoke`), with no HTTP.

Nothing is cached: every answer is iamd's decision at the time of the call, so a change in iamd
(a policy, a key made inactive, a session revoked) applies to the very next request
(docs/authorization-api.md, "Caching").
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import anyio.to_thread

if TYPE_CHECKING:
    from iamd.api.backend import Backend
    from iamd.service.call import Caller

__all__ = [
    "Answer",
    "AuthorizationError",
    "Authorizer",
    "Check",
    "ForwardedRequest",
    "HttpAuthorizationClient",
    "LocalAuthorizationClient",
    "Result",
    "answer_from_json",
    "request_to_json",
]

PATH = "/iamd/authorize"


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """The client's request as the service received it.

    ``path`` and ``query`` are exactly as sent (still percent-encoded; the query without ``?``);
    ``headers`` every header in order, names in any case. ``payload_hash`` is the SHA-256 (hex) of
    the body when the client did not send ``x-amz-content-sha256`` (None: that header's value,
    or the hash of an empty body).
    """

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    payload_hash: str | None = None

    def __repr__(self) -> str:  # header values may carry signatures and session tokens
        names = sorted({name.lower() for name, _ in self.headers})
        return f"ForwardedRequest(method={self.method!r}, path={self.path!r}, headers={names!r})"


@dataclass(frozen=True, slots=True)
class Check:
    """One question: may the client perform ``action`` on ``resource``?

    ``resource_policy`` is the resource's policy document (JSON text) when it has one;
    ``resource_account`` the account that owns the resource (default: the ARN's account, else
    the service's own account); ``resource_tags`` its tags (``aws:ResourceTag/*``); ``context``
    the condition keys only the service knows (``aws:SourceIp``, ``aws:SecureTransport``,
    ``s3:prefix``…), a string or a list of strings each.
    """

    action: str
    resource: str
    resource_policy: str | None = None
    resource_account: str | None = None
    resource_tags: Mapping[str, str] | None = None
    context: Mapping[str, str | list[str]] | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """The answer to one :class:`Check`.

    ``message`` is AWS's access-denied text for a denial (empty for an Allow); ``why`` iamd's
    explanation (the blocking policy type, the deciding statements, missing keys). A request
    whose signature iamd refused is denied with ``error_code`` / ``error_message`` /
    ``error_status``: the AWS error the service should answer (``SignatureDoesNotMatch``,
    ``InvalidAccessKeyId``, ``ExpiredToken``, ``RequestTimeTooSkewed``…); a policy denial
    carries ``AccessDenied`` there.
    """

    action: str
    resource: str
    decision: str  # "Allow" | "Deny"
    message: str
    why: Mapping[str, Any]
    error_code: str | None = None
    error_message: str | None = None
    error_status: int | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "Allow"


@dataclass(frozen=True, slots=True)
class Answer:
    """iamd's answer: the request id of the authorization call, the client as CloudTrail names it
    (``userIdentity``), one result per check, and the context keys iamd resolved."""

    request_id: str
    principal: Mapping[str, Any]
    results: list[Result]
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """Every check allowed (and there was at least one: fail closed)."""
        return bool(self.results) and all(r.allowed for r in self.results)

    @property
    def denied(self) -> Result | None:
        """The first denied result, if any."""
        return next((r for r in self.results if not r.allowed), None)


class AuthorizationError(Exception):
    """The authorization call itself failed (bad input, iamd refused the service, iamd
    unreachable): no decision was made, and the service must not let the request through."""

    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@runtime_checkable
class Authorizer(Protocol):
    """What the middleware asks: the same question, async or sync."""

    async def authorize(
        self,
        request: ForwardedRequest,
        checks: Sequence[Check],
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer: ...

    def authorize_sync(
        self,
        request: ForwardedRequest,
        checks: Sequence[Check],
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer: ...


# -- the wire format (docs/authorization-api.md) ------------------------------------------------


def request_to_json(
    request: ForwardedRequest | str,
    checks: Sequence[Check],
    *,
    allow_anonymous: bool = False,
    service: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /iamd/authorize``; ``request`` may be a presigned URL."""
    body: dict[str, Any] = {}
    if isinstance(request, str):
        body["PresignedUrl"] = request
    else:
        forwarded: dict[str, Any] = {
            "Method": request.method,
            "Path": request.path,
            "Query": request.query,
            "Headers": [[name, value] for name, value in request.headers],
        }
        if request.payload_hash is not None:
            forwarded["PayloadHash"] = request.payload_hash
        body["Request"] = forwarded
    body["Checks"] = [_check_json(c) for c in checks]
    if allow_anonymous:
        body["AllowAnonymous"] = True
    if service is not None:
        body["Service"] = service
    return body


def _check_json(check: Check) -> dict[str, Any]:
    out: dict[str, Any] = {"Action": check.action, "Resource": check.resource}
    if check.resource_policy is not None:
        out["ResourcePolicy"] = check.resource_policy
    if check.resource_account is not None:
        out["ResourceAccount"] = check.resource_account
    if check.resource_tags is not None:
        out["ResourceTags"] = dict(check.resource_tags)
    if check.context is not None:
        out["Context"] = {k: (list(v) if isinstance(v, list) else v) for k, v in check.context.items()}
    return out


def answer_from_json(data: Mapping[str, Any]) -> Answer:
    """An :class:`Answer` from the JSON iamd answered."""
    results = []
    for item in data.get("Results") or ():
        error = item.get("Error") or {}
        results.append(
            Result(
                str(item.get("Action", "")),
                str(item.get("Resource", "")),
                "Allow" if item.get("Decision") == "Allow" else "Deny",
                str(item.get("Message", "")),
                item.get("Why") or {},
                error.get("Code"),
                error.get("Message"),
                error.get("Status"),
            )
        )
    return Answer(str(data.get("RequestId", "")), data.get("Principal") or {}, results, data.get("Context") or {})


# -- over HTTP ----------------------------------------------------------------------------------


class HttpAuthorizationClient:
    """``POST /iamd/authorize`` on an iamd server, SigV4-signed with the service's own credentials.

    Connections are kept alive and reused (a small pool, one connection per concurrent call);
    the async :meth:`authorize` runs the call on a worker thread. A failed call raises
    :class:`AuthorizationError` (the middleware then refuses the request: fail closed).
    """

    def __init__(
        self,
        endpoint_url: str,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        region: str = "us-east-1",
        *,
        timeout: float = 10.0,
        max_connections: int = 32,
    ) -> None:
        from botocore.credentials import Credentials  # type: ignore[import-untyped]

        url = urlsplit(endpoint_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint_url must be an http:// or https:// URL, not {endpoint_url!r}")
        self.endpoint_url = endpoint_url.rstrip("/")
        self._url = url
        self._region = region
        self._credentials = Credentials(access_key_id, secret_access_key, session_token)
        self._timeout = timeout
        self._idle: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue(max_connections)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpAuthorizationClient({self.endpoint_url!r}, access_key_id={self._credentials.access_key!r})"

    async def authorize(
        self,
        request: ForwardedRequest | str,
        checks: Sequence[Check],
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer:
        def run() -> Answer:
            return self.authorize_sync(request, checks, allow_anonymous=allow_anonymous, service=service)

        return await anyio.to_thread.run_sync(run)

    def authorize_sync(
        self,
        request: ForwardedRequest | str,
        checks: Sequence[Check],
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer:
        body = request_to_json(request, checks, allow_anonymous=allow_anonymous, service=service)
        return answer_from_json(self.call(body))

    def call(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send one raw request body; the JSON answered, or :class:`AuthorizationError`."""
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

        payload = json.dumps(body, separators=(",", ":")).encode()
        aws_request = AWSRequest(
            "POST", self.endpoint_url + PATH, data=payload, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(self._credentials, "iamd", self._region).add_auth(aws_request)
        headers = {k: v for k, v in aws_request.headers.items()}
        status, data = self._send(payload, headers)
        try:
            answer = json.loads(data)
        except ValueError:
            raise AuthorizationError("InternalFailure", f"iamd answered HTTP {status} without JSON.", 500) from None
        if status != 200 or not isinstance(answer, dict):
            error = answer if isinstance(answer, dict) else {}
            raise AuthorizationError(
                str(error.get("__type", "InternalFailure")), str(error.get("message", f"HTTP {status}")), status
            )
        return answer

    def _send(self, payload: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):  # a kept-alive connection the server closed meanwhile: once more on a new one
            connection = self._connection(fresh=attempt > 0)
            try:
                connection.request("POST", PATH, body=payload, headers=dict(headers))
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if attempt:
                    raise AuthorizationError("ServiceUnavailable", f"iamd could not be reached: {error}", 503) from None
                continue
            if response.will_close:
                connection.close()
            else:
                try:
                    self._idle.put_nowait(connection)
                except queue.Full:
                    connection.close()
            return response.status, data
        raise AssertionError("unreachable")

    def _connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        if not fresh:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
        host, port = self._url.hostname or "", self._url.port
        if self._url.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self._timeout)
        return http.client.HTTPConnection(host, port, timeout=self._timeout)

    def __enter__(self) -> HttpAuthorizationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# -- in process ---------------------------------------------------------------------------------


INLINE_CHECKS = 25  # at most this many checks are tried on the event loop (about a millisecond)


class LocalAuthorizationClient:
    """The same operation through the application core of this process (no HTTP).

    ``caller`` is the service's own principal (an iamd ``Caller``: a user of the account, or the
    root); the call is authorized (``iamd:Authorize``) and audited exactly as over HTTP.
    """

    def __init__(self, backend: Backend, caller: Caller, *, user_agent: str = "iamd-authz-local") -> None:
        self._backend = backend
        self._caller = caller
        self._user_agent = user_agent

    async def authorize(
        self,
        request: ForwardedRequest | str,
        checks: Sequence[Check],
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer:
        def run() -> Answer:
            return self.authorize_sync(request, checks, allow_anonymous=allow_anonymous, service=service)

        from iamd.store.guard import NeedsDatabase, no_database

        if len(checks) <= INLINE_CHECKS:
            # Answered here on the event loop when it needs no database (the keys and policies are
            # cached), as iamd's own HTTP door does; else run again, from the start, on a thread.
            try:
                with no_database():
                    return run()
            except NeedsDatabase:
                pass
        return await anyio.to_thread.run_sync(run)

    def authorize_sync(
        self,
        request: ForwardedRequest | str,
        checks: Sequence[Check],
        *,
        allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer:
        from iamd.authz.operation import invoke_local

        body = request_to_json(request, checks, allow_anonymous=allow_anonymous, service=service)
        return answer_from_json(invoke_local(self._backend, self._caller, body, self._user_agent))
