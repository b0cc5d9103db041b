"""The HTTP protocol ``iamd serve`` runs under uvicorn: a direct path for the Query API.

uvicorn's httptools protocol turns every request into an ASGI cycle: a scope, an asyncio
task, ``receive``/``send`` coroutines and two socket writes (status and headers, then the
body). The Query API needs none of that: the pipeline is synchronous and answers from
memory in steady state. :class:`QueryProtocol` is that protocol with one change: a
``GET`` or ``POST`` to ``/``, and a ``POST`` to ``/iamd/authorize`` (the authorization API,
docs/authorization-api.md), is answered from the parser's callbacks, by
:meth:`iamd.api.app.IamdApp.query`, and written with one ``transport.write``. Everything
else (other paths and methods, ``Expect: 100-continue``, requests carrying proxy headers,
a request pipelined behind one still running through ASGI) takes uvicorn's own path,
so the bytes on the wire, keep-alive, pipelining order, flow control and graceful
shutdown stay uvicorn's.

What this protocol adds to uvicorn's (docs/security.md): limits on every request's head
(size and number of headers: 431), a deadline for the head (from the connection's start or
the request's first byte) and one for the body (408), the idle keep-alive timeout and the
connection limit (uvicorn's ``timeout_keep_alive`` and ``limit_concurrency``: 503), and
``Upgrade`` requests answered as plain HTTP/1.1 (never switched; the connection then
closes). A request that is not cheap (``IamdApp.inline``) is answered on a worker thread,
which hands the answer back to the loop itself (``IamdApp.answer_off_loop``: no task); the
connection keeps a request/response cycle meanwhile (``_OffLoopCycle``: the state of uvicorn's
that the connection reads), so the requests pipelined behind it wait in order, as behind any ASGI
request.

Measured with ``python -m bench.server``: see bench/README.md. The protocol subclasses
uvicorn internals (``HttpToolsProtocol``), so pyproject.toml bounds uvicorn's version and
tests/api/test_protocol.py checks the wire behaviour through real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import math
import operator
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from iamd.api.app import AUTHORIZE, INTERNAL_ERROR, IamdApp
from iamd.api.pipeline import MAX_BODY, HttpRequest
from iamd.authz.input import MAX_BODY as AUTHORIZE_MAX_BODY
from iamd.frozen import maker
from iamd.limits import HttpLimits
from iamd.protocol.errors import WireResponse

__all__ = ["UVICORN_OPTIONS", "QueryProtocol", "uvicorn_options"]

log = logging.getLogger("iamd.http")


# HttpToolsProtocol's per-connection state the direct path reads (uvicorn 0.50 to 0.54).
_UVICORN_STATE = ("parser", "headers", "cycle", "expect_100_continue", "server_state", "flow", "pipeline", "client",
                  "connections", "tasks", "limit_concurrency", "scope")  # fmt: skip

# What a connection is waiting for, for the deadline sweep (``_sweep``): nothing, a request's head,
# its body, or (idle between requests) the next request before the keep-alive timeout.
_NOTHING, _HEAD, _BODY, _IDLE = 0, 1, 2, 3
AUTHORIZE_PATH = b"/iamd/authorize"  # the authorization API takes the direct path too (docs/authorization-api.md)
_LINGER = 1.0  # seconds a refused connection stays open (not read) so that the client can read why
# Seconds an idle TLS connection closed at shutdown waits for the client's close_notify before it is
# dropped. asyncio waits up to 30 s for it, and a client idling on a keep-alive connection (an SDK's
# pool) sends it only when it next reads: a stop would otherwise take 30 s (docs/console.md, "TLS").
_TLS_CLOSE_WAIT = 1.0
_SWEEP = "iamd_deadline_sweep"  # the ServerState attribute holding the sweep's timer
_fields = itertools.chain.from_iterable  # a head's (name, value) pairs as one run of fields
_name = operator.itemgetter(0)
# Every direct request's HttpRequest, made without type.__call__ and its __init__: 0.9 against 2.1 µs
# (bench/README.md, "Session 17: the event loop's share of a write").
_new_request = maker(HttpRequest)


@functools.lru_cache(maxsize=64)
def _field_start(name: str) -> bytes:
    """``name: `` as an answer's header line begins, encoded once per name (iamd's own few names)."""
    return name.lower().encode("latin-1") + b": "


class _Refusal(Exception):
    """Raised in a parser callback: answer ``status`` with ``reason`` and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _endpoint(app: Any) -> IamdApp | None:
    """The :class:`IamdApp` under uvicorn's middleware (each keeps the next as ``.app``)."""
    for _ in range(8):
        if isinstance(app, IamdApp):
            return app
        app = getattr(app, "app", None)
    return None


class _NoEvent:
    """The ``message_event`` of an :class:`_OffLoopCycle`: uvicorn's ``connection_lost`` sets the
    cycle's event to wake an ASGI app waiting in ``receive``; a request answered off the loop has
    no app waiting (its whole body was read), so there is nobody to wake."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT = _NoEvent()


class _OffLoopCycle:
    """The connection's cycle while a direct Query request runs on a worker thread, in place of
    uvicorn's ``RequestResponseCycle`` (whose scope, transport, loggers, body buffer and
    ``asyncio.Event`` serve an ASGI task this request does not have). It holds the state the
    connection reads while the request runs, under uvicorn's names: ``keep_alive`` (cleared by
    ``shutdown`` or a deadline: the answer then closes the connection), ``disconnected`` (set by
    ``connection_lost``: the answer is dropped), ``response_started``/``response_complete`` (the
    requests pipelined behind it wait until it is complete: ``_takes_direct``, uvicorn's
    ``on_headers_complete``) and ``more_body`` (``on_response_complete``).
    bench/README.md, "Session 17: the event loop's share of a write"."""

    __slots__ = ("disconnected", "keep_alive", "more_body", "response_complete", "response_started")
    message_event = _NO_EVENT

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.more_body = False


class QueryProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # Without the uvicorn internals this relies on, every request takes uvicorn's own path.
        self._endpoint = _endpoint(self.app) if all(hasattr(self, a) for a in _UVICORN_STATE) else None
        self._direct = False  # the request being parsed is answered here, not through ASGI
        self._answered = False  # ... and has been answered already (its body was too large)
        self._keep_alive = True
        self._method = ""
        self._query = b""
        self._body = bytearray()  # amortized appends, however small the chunks a client sends
        self._path = "/"  # the direct request's path: the Query API's, or the authorization API's
        self._max_body = MAX_BODY
        self._paused_for_writing = False
        self._limits = self._endpoint.limits if self._endpoint is not None else HttpLimits()
        self._in_head = False  # a request's head has begun and is not complete yet
        self._began = False  # ... and it began in the chunk being parsed
        self._head_bytes = 0  # bytes received while the head was incomplete (before the chunk it began in)
        self._waiting = _NOTHING  # what the deadline is for
        self._deadline = math.inf  # loop time
        self._closing = False  # refused, timed out or upgraded: nothing more is read or parsed
        self._proxied = False  # the request's head carries proxy headers (uvicorn's middleware rewrites them)
        self._defaults: tuple[object, bytes] = (None, b"")  # the server's default headers, encoded once a second

    # -- parser callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        # uvicorn's, but for its ASGI scope (a dict of nine entries, a nested one and a copy of the
        # app's state per request): made by ``_asgi_scope`` only for a request that needs one (one
        # that takes uvicorn's path, or the authorization API's off-loop task), not for one the
        # direct path answers (bench/README.md, "Session 17: the event loop's share of a write").
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._in_head = True
        self._began = True
        self._head_bytes = 0
        if self._waiting != _HEAD:  # a new connection's deadline runs from its start
            self._waiting = _HEAD
            self._deadline = self.loop.time() + self._limits.header_timeout

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        upgrade = parser.should_upgrade()
        self._check_head(upgrade)
        self._waiting = _BODY
        self._deadline = self.loop.time() + self._limits.body_timeout
        method = parser.get_method()  # once: each parser call is a C call from Python (bench/README.md, "Session 17")
        if self._endpoint is not None and self._takes_direct(method):
            parsed = httptools.parse_url(self.url)
            path = parsed.path
            if path == b"/" or (path == AUTHORIZE_PATH and method == b"POST"):
                self._direct = True
                self._path = path.decode("ascii")
                self._max_body = AUTHORIZE_MAX_BODY if path == AUTHORIZE_PATH else MAX_BODY
                self._answered = False
                self._method = method.decode("ascii")
                self._query = parsed.query or b""
                self._keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive() and not upgrade
                self._body = bytearray()
                return
        self._direct = False
        self._asgi_scope()
        super().on_headers_complete()
        if upgrade and self.cycle is not None:  # answered as HTTP/1.1; nothing after it is parsed: close
            self.cycle.keep_alive = False
        if self.pipeline:  # queued behind a request in progress, reading paused: its body waits too
            self._waiting = _NOTHING
            self._deadline = math.inf

    def _asgi_scope(self) -> None:
        """The request's ASGI scope, made by uvicorn's own ``on_message_begin`` now that it is
        needed (the scope is uvicorn's, whatever its version), keeping what the head's callbacks
        have gathered since the message began: its URL, its headers and ``Expect``."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers

    def _check_head(self, upgrade: bool) -> None:
        """Refuse a head over the limits, or an upgrade whose body the parser would not read; note
        whether it carries proxy headers (``_takes_direct``)."""
        limits = self._limits
        headers = self.headers
        if len(headers) > limits.max_headers:
            raise _Refusal(431, f"Request Header Fields Too Large: at most {limits.max_headers} header fields.")
        # The sizes summed and the names searched in C, not by a Python loop over the headers: a
        # name holding "forwarded" is rare, and only then are the names compared one by one.
        size = len(self.url) + sum(map(len, _fields(headers)))
        self._proxied = b"forwarded" in b"\n".join(map(_name, headers)) and any(
            name == b"forwarded" or name.startswith(b"x-forwarded-") for name, _ in headers
        )
        if size > limits.max_header_bytes:
            raise _Refusal(431, f"Request Header Fields Too Large: at most {limits.max_header_bytes} bytes.")
        if upgrade and any(
            (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding"
            for name, value in headers
        ):
            raise _Refusal(400, "Protocol upgrades are not supported: send the request without Upgrade.")

    def _takes_direct(self, method: bytes) -> bool:
        if method != b"POST" and method != b"GET":
            return False
        if self.expect_100_continue:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # an ASGI request is still running: keep the order, queue behind it
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            return False  # uvicorn answers it: 503
        # uvicorn's proxy-headers middleware may rewrite the client and scheme: leave those to it
        # (_check_head looked for the headers).
        return not self._proxied

    def on_body(self, body: bytes) -> None:
        if not self._direct:
            super().on_body(body)
            return
        if self._answered:
            return  # the rest of a body too large to read: parsed and dropped
        self._body += body
        if len(self._body) > self._max_body:
            self._answer(self._request())  # refused (ValidationError) at once, inline: no waiting for the rest
            self._answered = True

    def on_message_complete(self) -> None:
        self._waiting = _NOTHING
        self._deadline = math.inf
        if not self._direct:
            super().on_message_complete()
            return
        self._direct = False
        if not self._answered:
            request = self._request()
            assert self._endpoint is not None
            # Scanned once, for both; the authorization API's is None (IamdApp.action_of), not asked for.
            action = None if self._path == AUTHORIZE else self._endpoint.action_of(request)
            if not self._answer_inline(request, action):
                self._answer_off_loop(request, action)
                return
        if not self._keep_alive:
            self.transport.close()
        self.on_response_complete()
        if self.flow.write_paused and not self._paused_for_writing:
            # The client is not reading its answers: stop reading its requests until it does.
            self._paused_for_writing = True
            self.flow.pause_reading()

    def _request(self) -> HttpRequest:
        client = self.client
        return _new_request(  # HttpRequest(...), made as a plain call (iamd.frozen.maker)
            method=self._method,
            path=self._path,
            query=self._query.decode("latin-1"),
            headers=tuple([(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers]),
            body=bytes(self._body),
            client_ip=client[0] if client else "127.0.0.1",
            secure=self.scheme == "https",
        )

    def _answer(self, request: HttpRequest) -> None:
        assert self._endpoint is not None
        try:
            wire = self._endpoint.query(request)
        except Exception:  # handle() answers every error itself; this is the last line
            log.exception("the Query API failed")
            wire = WireResponse(500, (("Content-Type", "text/xml"),), INTERNAL_ERROR)
        self._write(wire)

    def _answer_inline(self, request: HttpRequest, action: str | None) -> bool:
        """Answer a cheap request here (``IamdApp.answer_inline``); False if it is not cheap."""
        assert self._endpoint is not None
        try:
            wire = self._endpoint.answer_inline(request, action)
        except Exception:  # as in _answer
            log.exception("the Query API failed")
            wire = WireResponse(500, (("Content-Type", "text/xml"),), INTERNAL_ERROR)
        if wire is None:
            return False
        self._write(wire)
        return True

    def _answer_off_loop(self, request: HttpRequest, action: str | None) -> None:
        """Answer on a worker thread. The connection keeps a cycle for it meanwhile: the requests
        pipelined behind it queue behind it (``_takes_direct``), and the cycle's state keeps
        keep-alive and graceful shutdown as for any ASGI request (``_answered_off_loop``). A Query
        request's is an :class:`_OffLoopCycle` (no ASGI task to serve); the authorization API's
        off-loop path runs as an ASGI task, under uvicorn's own cycle."""
        if request.path == AUTHORIZE:  # the authorization API's own off-loop path (iamd.api.authorize)
            self._asgi_scope()
            scope = self.scope
            scope["method"] = self._method
            scope["path"] = request.path
            scope["raw_path"] = request.path.encode("ascii")
            scope["query_string"] = self._query
            cycle = RequestResponseCycle(
                scope=scope, transport=self.transport, flow=self.flow, logger=self.logger,
                access_logger=self.access_logger, access_log=self.access_log,
                default_headers=self.server_state.default_headers, message_event=asyncio.Event(),
                expect_100_continue=False, keep_alive=self._keep_alive, on_response=self.on_response_complete,
            )  # fmt: skip
            cycle.more_body = False
            self.cycle = cycle
            self._start_asgi_task(cycle, functools.partial(self._run_off_loop, request))
            return
        assert self._endpoint is not None
        off_loop = _OffLoopCycle(self._keep_alive)
        self.cycle = off_loop  # type: ignore[assignment]  # duck-typed: the fields uvicorn and this class read
        self._endpoint.answer_off_loop(request, action, functools.partial(self._answered_off_loop, off_loop), self.loop)

    def _answered_off_loop(self, cycle: _OffLoopCycle, wire: WireResponse) -> None:
        """The answer of a request run on a worker thread, back on the loop: written as the
        cycle's ``send`` would (no task, no coroutines: bench/README.md, "A lighter hop to the
        read lane"), then the requests pipelined behind it go on (``on_response_complete``)."""
        if cycle.disconnected or cycle.response_complete:  # the client went away meanwhile
            return
        cycle.response_started = cycle.response_complete = True
        self._write(wire, keep_alive=cycle.keep_alive)  # False if shutdown() or a deadline closed it meanwhile
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()
        if self.flow.write_paused and not self._paused_for_writing:  # as for an answer written inline
            self._paused_for_writing = True
            self.flow.pause_reading()

    async def _run_off_loop(self, request: HttpRequest, scope: Any, receive: Any, send: Any) -> None:
        assert self._endpoint is not None
        try:
            wire = await self._endpoint.query_async(request, inline=False)  # the loop was tried
        except Exception:  # as in _answer
            log.exception("the Query API failed")
            wire = WireResponse(500, (("Content-Type", "text/xml"),), INTERNAL_ERROR)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in wire.headers]
        headers.append((b"content-length", str(len(wire.body)).encode("ascii")))
        await send({"type": "http.response.start", "status": wire.status, "headers": headers})
        await send({"type": "http.response.body", "body": wire.body})

    def _write(self, wire: WireResponse, *, keep_alive: bool | None = None) -> None:
        parts = [STATUS_LINE[wire.status], self._default_headers()]
        for text_name, text_value in wire.headers:
            parts += (_field_start(text_name), text_value.encode("latin-1"), b"\r\n")
        parts += (b"content-length: ", str(len(wire.body)).encode("ascii"), b"\r\n")
        if not (self._keep_alive if keep_alive is None else keep_alive):
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", wire.body)
        self.transport.write(b"".join(parts))

    def _default_headers(self) -> bytes:
        """The server's default headers (``date``, ``server``) as bytes: uvicorn replaces their
        list once a second (the date), so they are encoded once per list, not per answer."""
        defaults = self.server_state.default_headers
        cached_list, encoded = self._defaults
        if cached_list is not defaults:
            encoded = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
            self._defaults = (defaults, encoded)
        return encoded

    # -- connection events ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait(_HEAD, self._limits.header_timeout)  # a silent connection is closed too
        if getattr(self.server_state, _SWEEP, None) is None:
            self._schedule_sweep()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self.timeout_keep_alive_task is not None:  # uvicorn's timer (never armed by on_response_complete)
            self._unset_keepalive_if_required()
        self._began = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, _Refusal):
                self._refuse(error.__context__.status, error.__context__.reason)
            else:
                self._invalid()
            return
        except httptools.HttpParserError:
            self._invalid()
            return
        except httptools.HttpParserUpgrade:
            # Never switched (iamd speaks HTTP/1.1 only): the request was answered as such,
            # and the connection closes once it is; what follows is not parsed.
            self._closing = True
            self.flow.pause_reading()
            return
        if self._in_head:
            if not self._began:  # the whole chunk is head; the chunk it began in is checked when complete
                self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_header_bytes:
                self._refuse(431, f"Request Header Fields Too Large: at most {self._limits.max_header_bytes} bytes.")

    def _invalid(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` and close: stop reading, and linger a moment so the client can
        read the answer before the close (unread data would make the kernel reset it)."""
        self._closing = True
        self._waiting = _NOTHING
        self._deadline = math.inf
        if self.transport.is_closing():
            return
        body = reason.encode("ascii")
        parts = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"content-type: text/plain; charset=utf-8\r\ncontent-length: ", str(len(body)).encode("ascii"),
                  b"\r\nconnection: close\r\n\r\n", body)  # fmt: skip
        self.transport.write(b"".join(parts))
        self.flow.pause_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER, self.transport.close)

    # -- deadlines -----------------------------------------------------------------------------

    def _wait(self, what: int, seconds: float) -> None:
        self._waiting = what
        self._deadline = self.loop.time() + seconds

    def _schedule_sweep(self) -> None:
        limits = self._limits
        interval = min(max(min(limits.header_timeout, limits.body_timeout, limits.keep_alive_timeout) / 4, 0.05), 1.0)
        handle = self.loop.call_later(interval, self._sweep_all, self.connections, self.server_state, interval)
        setattr(self.server_state, _SWEEP, handle)

    @staticmethod
    def _sweep_all(connections: set[Any], server_state: ServerState, interval: float) -> None:
        """Every ``interval`` seconds while there are connections: expire the late ones.

        One timer for the server instead of one per request: a request only stores its
        deadline (a float), so the deadlines cost the request path nothing measurable.
        """
        setattr(server_state, _SWEEP, None)
        if not connections:
            return
        now = math.inf
        for connection in list(connections):
            if isinstance(connection, QueryProtocol):
                if now == math.inf:
                    now = connection.loop.time()
                if connection._deadline <= now:
                    connection._expire()
        for connection in connections:
            if isinstance(connection, QueryProtocol):
                connection._schedule_sweep()
                break

    def _expire(self) -> None:
        """The head or the body did not arrive in time."""
        waiting = self._waiting
        self._waiting = _NOTHING
        self._deadline = math.inf
        if self.transport.is_closing():
            return
        cycle = self.cycle
        in_progress = cycle is not None and not cycle.response_complete
        if waiting in (_HEAD, _IDLE) and not self._in_head and not in_progress:
            self.transport.close()  # nothing was sent (or nothing more, idle): nobody to answer
        elif in_progress and (waiting == _HEAD or cycle.response_started):
            cycle.keep_alive = False  # an answer is on its way: send it, then close
            self._closing = True
            self.flow.pause_reading()
        else:
            self._refuse(408, "Request Timeout: the request was not received in time.")

    def on_response_complete(self) -> None:
        # uvicorn's, but for the keep-alive timeout: not a timer armed per answer (``call_later``)
        # and cancelled by the next request's first bytes, but the idle deadline of the sweep
        # (``_IDLE``: a float stored), as the head's and the body's are (bench/README.md, "Session 13").
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.timeout_keep_alive_task is not None:
            self._unset_keepalive_if_required()
        flow = self.flow
        if flow.read_paused:  # each call from here is a Python call per answer (bench/README.md, "Session 17")
            flow.resume_reading()
        if self.pipeline:  # a request pipelined behind the one answered: it runs now
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        if self._waiting != _NOTHING or self.pipeline:
            return
        cycle = self.cycle  # the request the parser is at, if uvicorn has just started it
        if cycle is None or cycle.response_complete:
            self._waiting = _IDLE
            self._deadline = self.loop.time() + self.timeout_keep_alive
        elif cycle.more_body:
            self._wait(_BODY, self._limits.body_timeout)

    def shutdown(self) -> None:
        if self._direct:  # mid-request: answer it, then close
            self._keep_alive = False
            return
        super().shutdown()
        if self.transport.is_closing() and self.transport.get_extra_info("sslcontext") is not None:
            self.loop.call_later(_TLS_CLOSE_WAIT, self._drop)

    def _drop(self) -> None:
        """Drop a TLS connection whose client did not answer our close_notify (see _TLS_CLOSE_WAIT)."""
        with contextlib.suppress(Exception):  # closed meanwhile: nothing to do
            self.transport.abort()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._paused_for_writing:
            self._paused_for_writing = False
            self.flow.resume_reading()


def uvicorn_options(limits: HttpLimits | None = None) -> dict[str, Any]:
    """How iamd runs under uvicorn (``iamd serve``, its workers, the tests' real server):
    this protocol, the lifespan (it closes the audit writer), only warnings logged, no
    WebSocket, and uvicorn's own limits from ``limits`` (the others are the app's)."""
    limits = limits or HttpLimits()
    return {
        "http": QueryProtocol, "lifespan": "on", "log_level": "warning", "ws": "none",
        "timeout_keep_alive": limits.keep_alive_timeout, "limit_concurrency": limits.max_connections,
    }  # fmt: skip


UVICORN_OPTIONS: dict[str, Any] = uvicorn_options()
