"""The ASGI application: the Query endpoint at ``/``, health and metrics.

``create_app(backend)`` wires everything from arguments; tests build their own. The
pipeline runs inline on the event loop: a request is a few hundred microseconds of CPU
and SQLite work, cheaper than a hop to a thread pool.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from iamd.api.backend import Backend
from iamd.api.pipeline import MAX_BODY, HttpRequest, handle

__all__ = ["create_app"]


class _Decisions(Collector):
    """Exports the authorization decision counts kept by the backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("iamd_decisions", "Authorization decisions by result", labels=["decision"])
        for verdict, count in sorted(self._backend.decisions.counts.items()):
            family.add_metric([verdict], count)
        yield family


class Metrics:
    def __init__(self, backend: Backend) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Decisions(backend))
        self.requests = Counter(
            "iamd_requests", "API requests by action and result code", ["action", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "iamd_request_seconds", "API request latency", ["action"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )  # fmt: skip


def create_app(backend: Backend) -> ASGIApp:
    metrics = Metrics(backend)
    known = backend.catalog.iam.operation_names | backend.catalog.sts.operation_names

    requests: dict[tuple[str, str], Any] = {}  # labelled children, looked up once each
    latencies: dict[str, Any] = {}

    def observe(body: bytes, query_string: str, status: int, started: float) -> None:
        action = _action(body, query_string, known)
        counter = requests.get((action, str(status)))
        if counter is None:
            counter = requests[(action, str(status))] = metrics.requests.labels(action, str(status))
        histogram = latencies.get(action)
        if histogram is None:
            histogram = latencies[action] = metrics.latency.labels(action)
        counter.inc()
        histogram.observe(time.perf_counter() - started)

    async def query(request: Request) -> Response:
        """``/`` through Starlette: methods the raw handler leaves to it (HEAD)."""
        started = time.perf_counter()
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                break
        client = request.client
        query_string = request.scope.get("query_string", b"").decode("latin-1")
        http = HttpRequest(
            method=request.method,
            path=request.url.path,
            query=query_string,
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]),
            body=body,
            client_ip=client.host if client else "127.0.0.1",
            secure=request.url.scheme == "https",
        )
        wire = handle(backend, http)
        observe(body, query_string, wire.status, started)
        return Response(wire.body, status_code=wire.status, headers=dict(wire.headers))

    async def query_asgi(scope: Scope, receive: Receive, send: Send) -> None:
        """The API endpoint as a raw ASGI handler: no routing, request or response objects.

        Same bytes on the wire as the Starlette route (lower-case header names, a
        Content-Length), about 25 µs less CPU per request.
        """
        started = time.perf_counter()
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                return
            body += message.get("body", b"")
            if not message.get("more_body", False) or len(body) > MAX_BODY:
                break
        client = scope.get("client")
        query_string = scope.get("query_string", b"").decode("latin-1")
        http = HttpRequest(
            method=scope["method"],
            path=scope["path"],
            query=query_string,
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            body=body,
            client_ip=client[0] if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        wire = handle(backend, http)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in wire.headers]
        headers.append((b"content-length", str(len(wire.body)).encode()))
        await send({"type": "http.response.start", "status": wire.status, "headers": headers})
        await send({"type": "http.response.body", "body": wire.body})
        observe(body, query_string, wire.status, started)

    async def reset(request: Request) -> Response:
        """moto's ``POST /moto-api/reset`` (and ``/_iamd/reset``): wipe everything, --dev only."""
        if not backend.dev:
            return JSONResponse({"error": "reset is available only when the server runs with --dev"}, 404)
        backend.reset()
        return JSONResponse({"status": "ok"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "accountId": backend.account_id})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Shutdown: store every queued audit event and stop the writer (thread or child
        # process) here, not only after uvicorn returns: on SIGTERM uvicorn re-raises the
        # signal once it has shut down, which ends the process before any later cleanup.
        if backend.audit is not None:
            backend.audit.close()

    starlette = Starlette(
        routes=[
            Route("/", query, methods=["GET", "POST"]),
            Route("/_iamd/health", health, methods=["GET"]),
            Route("/_iamd/reset", reset, methods=["POST"]),
            Route("/moto-api/reset", reset, methods=["POST"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("POST", "GET"):
            await query_asgi(scope, receive, send)
        else:
            await starlette(scope, receive, send)

    return app


def _action(body: bytes, query: str, known: frozenset[str]) -> str:
    """The Action, for metrics labels only: names outside the models fold into one label."""
    for source in (body[:4096].decode("latin-1"), query):
        for part in source.split("&"):
            if part.startswith("Action="):
                name = part[7:]
                return name if name in known else "unknown"
    return "none"
