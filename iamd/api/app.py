"""The ASGI application: the Query endpoint at ``/``, health and metrics.

``create_app(backend)`` wires everything from arguments; tests build their own. The
pipeline runs inline on the event loop: a request is a few hundred microseconds of CPU
and SQLite work, cheaper than a hop to a thread pool.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


def create_app(backend: Backend) -> Starlette:
    metrics = Metrics(backend)
    known = backend.catalog.iam.operation_names | backend.catalog.sts.operation_names

    async def query(request: Request) -> Response:
        started = time.perf_counter()
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                break
        client = request.client
        http = HttpRequest(
            method=request.method,
            path=request.url.path,
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]),
            body=body,
            client_ip=client.host if client else "127.0.0.1",
            secure=request.url.scheme == "https",
        )
        wire = handle(backend, http)
        action = _action(body, http.query, known)
        metrics.requests.labels(action, str(wire.status)).inc()
        metrics.latency.labels(action).observe(time.perf_counter() - started)
        return Response(wire.body, status_code=wire.status, headers=dict(wire.headers))

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
        if backend.audit is not None:
            backend.audit.flush()

    return Starlette(
        routes=[
            Route("/", query, methods=["GET", "POST"]),
            Route("/_iamd/health", health, methods=["GET"]),
            Route("/_iamd/reset", reset, methods=["POST"]),
            Route("/moto-api/reset", reset, methods=["POST"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _action(body: bytes, query: str, known: frozenset[str]) -> str:
    """The Action, for metrics labels only: names outside the models fold into one label."""
    for source in (body[:4096].decode("latin-1"), query):
        for part in source.split("&"):
            if part.startswith("Action="):
                name = part[7:]
                return name if name in known else "unknown"
    return "none"
