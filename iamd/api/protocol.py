"""The HTTP protocol ``iamd serve`` runs under uvicorn: a direct path for the Query API.

uvicorn's httptools protocol turns every request into an ASGI cycle: a scope, an asyncio
task, ``receive``/``send`` coroutines and two socket writes (status and headers, then the
body). The Query API needs none of that: the pipeline is synchronous and answers from
memory in steady state. :class:`QueryProtocol` is that protocol with one change: a
``GET`` or ``POST`` to ``/`` is answered from the parser's callbacks, by
:meth:`iamd.api.app.IamdApp.query`, and written with one ``transport.write``. Everything
else (other paths and methods, ``Expect: 100-continue``, upgrades, requests carrying
proxy headers, a request pipelined behind one still running through ASGI) takes
uvicorn's own path unchanged, so the bytes on the wire, keep-alive, pipelining order,
timeouts, flow control and graceful shutdown stay uvicorn's.

Measured with ``python -m bench.server``: see bench/README.md. The protocol subclasses
uvicorn internals (``HttpToolsProtocol``), so pyproject.toml bounds uvicorn's version and
tests/api/test_protocol.py checks the wire behaviour through real sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from iamd.api.app import IamdApp
from iamd.api.pipeline import MAX_BODY, HttpRequest
from iamd.protocol.errors import WireResponse

__all__ = ["UVICORN_OPTIONS", "QueryProtocol"]

log = logging.getLogger("iamd.http")

_INTERNAL_ERROR = (
    b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
    b"<Message>The request processing has failed because of an unknown error.</Message></Error></ErrorResponse>"
)


# HttpToolsProtocol's per-connection state the direct path reads (uvicorn 0.50 to 0.54).
_UVICORN_STATE = ("parser", "headers", "cycle", "expect_100_continue", "server_state", "flow", "pipeline", "client")


def _endpoint(app: Any) -> IamdApp | None:
    """The :class:`IamdApp` under uvicorn's middleware (each keeps the next as ``.app``)."""
    for _ in range(8):
        if isinstance(app, IamdApp):
            return app
        app = getattr(app, "app", None)
    return None


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
        self._paused_for_writing = False

    # -- parser callbacks ----------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        if self._endpoint is not None and self._takes_direct():
            parsed = httptools.parse_url(self.url)
            if parsed.path == b"/":
                self._direct = True
                self._answered = False
                self._method = self.parser.get_method().decode("ascii")
                self._query = parsed.query or b""
                self._keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
                self._body = bytearray()
                return
        self._direct = False
        super().on_headers_complete()

    def _takes_direct(self) -> bool:
        method = self.parser.get_method()
        if method != b"POST" and method != b"GET":
            return False
        if self.expect_100_continue or self.parser.should_upgrade():
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # an ASGI request is still running: keep the order, queue behind it
        # uvicorn's proxy-headers middleware may rewrite the client and scheme: leave those to it.
        return not any(name.startswith(b"x-forwarded-") or name == b"forwarded" for name, _ in self.headers)

    def on_body(self, body: bytes) -> None:
        if not self._direct:
            super().on_body(body)
            return
        if self._answered:
            return  # the rest of a body too large to read: parsed and dropped
        self._body += body
        if len(self._body) > MAX_BODY:
            self._answer()  # the pipeline refuses it (ValidationError) without waiting for the rest
            self._answered = True

    def on_message_complete(self) -> None:
        if not self._direct:
            super().on_message_complete()
            return
        self._direct = False
        if not self._answered:
            self._answer()
        if not self._keep_alive:
            self.transport.close()
        self.on_response_complete()
        if self.flow.write_paused and not self._paused_for_writing:
            # The client is not reading its answers: stop reading its requests until it does.
            self._paused_for_writing = True
            self.flow.pause_reading()

    def _answer(self) -> None:
        assert self._endpoint is not None
        client = self.client
        request = HttpRequest(
            method=self._method,
            path="/",
            query=self._query.decode("latin-1"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.headers),
            body=bytes(self._body),
            client_ip=client[0] if client else "127.0.0.1",
            secure=self.scheme == "https",
        )
        try:
            wire = self._endpoint.query(request)
        except Exception:  # handle() answers every error itself; this is the last line
            log.exception("the Query API failed")
            wire = WireResponse(500, (("Content-Type", "text/xml"),), _INTERNAL_ERROR)
        self._write(wire)

    def _write(self, wire: WireResponse) -> None:
        parts = [STATUS_LINE[wire.status]]
        for name, value in self.server_state.default_headers:
            parts += (name, b": ", value, b"\r\n")
        for text_name, text_value in wire.headers:
            parts += (text_name.lower().encode("latin-1"), b": ", text_value.encode("latin-1"), b"\r\n")
        parts += (b"content-length: ", str(len(wire.body)).encode("ascii"), b"\r\n")
        if not self._keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", wire.body)
        self.transport.write(b"".join(parts))

    # -- connection events ---------------------------------------------------------------------

    def shutdown(self) -> None:
        if self._direct:  # mid-request: answer it, then close
            self._keep_alive = False
            return
        super().shutdown()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._paused_for_writing:
            self._paused_for_writing = False
            self.flow.resume_reading()


# How iamd runs under uvicorn (``iamd serve``, its workers, the tests' real server):
# this protocol, the lifespan (it closes the audit writer), and only warnings logged.
UVICORN_OPTIONS: dict[str, Any] = {"http": QueryProtocol, "lifespan": "on", "log_level": "warning"}
