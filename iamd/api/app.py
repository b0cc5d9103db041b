"""The application: the Query endpoint at ``/``, health and metrics.

``create_app(backend)`` wires everything from arguments; tests build their own.

Where a request runs (docs/architecture.md, "Threads"; docs/security.md, "What runs where"):
the cheap ones — a single-entity read (GetUser, GetRole, GetPolicy, ...) signed with a key
whose credential is cached, and requests that fail before authentication — are tried inline
on the event loop, where no database work is allowed (``iamd.store.guard``): a warm read is a
few hundred microseconds, cheaper than a hop to a thread, and one that turns out to need the
database (not cached, or a failure to store) is run again on a worker thread. Everything
else runs on bounded worker threads in two lanes (``iamd.api.lanes``): reads (lists,
Simulate*, GetAccountAuthorizationDetails, the credential report, STS, large bodies, keys not
yet cached) on the read lane, writes on the write lane, so that no write — however slow, or
however many — holds up the event loop, the health endpoint, or the reads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from iamd.api import pipeline
from iamd.api.audit_process import AuditProcessWriter
from iamd.api.authorize import authorize_endpoint
from iamd.api.backend import Backend
from iamd.api.explain import explain_route
from iamd.api.lanes import Lanes
from iamd.api.outbound import outbound_routes
from iamd.api.pipeline import MAX_BODY, HttpRequest, receive_request
from iamd.console import console_routes
from iamd.limits import HttpLimits
from iamd.protocol.errors import WireResponse
from iamd.store.guard import NeedsDatabase, no_database

__all__ = ["INTERNAL_ERROR", "IamdApp", "create_app"]

log = logging.getLogger("iamd.http")

INTERNAL_ERROR = (
    b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
    b"<Message>The request processing has failed because of an unknown error.</Message></Error></ErrorResponse>"
)


class _Decisions(Collector):
    """Exports the authorization decision counts kept by the backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("iamd_decisions", "Authorization decisions by result", labels=["decision"])
        for verdict, count in sorted(self._backend.decisions.counts.items()):
            family.add_metric([verdict], count)
        yield family


class RequestMetrics(Collector):
    """Requests by action and status code, and their latency, kept in plain dictionaries.

    The request path adds to two dictionaries (no locks, no labelled children); the
    Prometheus families are built when ``/metrics`` is read. Requests are counted on the
    event loop's thread only (those run on a worker thread are counted when their answer is
    back on the loop), so the counts need no lock.
    """

    def __init__(self, known: frozenset[str]) -> None:
        self._known = known
        self._counts: dict[tuple[str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # per action: a count per bucket + overflow, then the sum

    def observe(self, body: bytes, query: str, status: int, seconds: float) -> None:
        self.observe_action(_action(body, query, self._known), status, seconds)

    def observe_action(self, action: str, status: int, seconds: float) -> None:
        key = (action, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        row = self._latency.get(action)
        if row is None:
            row = self._latency[action] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        row[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "iamd_requests", "API requests by action and result code", labels=["action", "code"]
        )
        for (action, status), count in sorted(self._counts.items()):
            requests.add_metric([action, str(status)], count)
        yield requests
        latency = HistogramMetricFamily("iamd_request_seconds", "API request latency", labels=["action"])
        for action, row in sorted(self._latency.items()):
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, in_bucket in zip(_BUCKET_LABELS, row[:-1], strict=True):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            latency.add_metric([action], buckets, row[-1])
        yield latency


LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_BUCKET_LABELS = (*(repr(b) for b in LATENCY_BUCKETS), "+Inf")  # Prometheus's ``le`` spelling


class IamdApp:
    """The ASGI application, plus :meth:`query`: the Query endpoint as a plain function.

    ``iamd serve`` runs it under uvicorn with :class:`iamd.api.protocol.QueryProtocol`,
    which calls :meth:`query` straight from the HTTP parser (no ASGI round trip); every
    other route, and any ASGI server or test client, goes through ``__call__``.
    """

    def __init__(self, backend: Backend, limits: HttpLimits | None = None) -> None:
        self.backend = backend
        self.limits = limits or HttpLimits()
        self._known = backend.catalog.iam.operation_names | backend.catalog.sts.operation_names
        self.metrics = RequestMetrics(self._known)
        # Bounded: at most this many requests off the loop at once, per lane; the others wait their
        # turn (how many can wait is bounded by the connection limit: one request per connection).
        # Made on first use, shut down at the end of the lifespan (which may run again).
        self.lanes = Lanes(backend, self.limits.request_threads, self.limits.write_threads)
        self.inline_retries = 0  # requests tried on the loop that needed the database (run again off it)
        self._no_auth_action_count = float("inf")  # moto's INITIAL_NO_AUTH_ACTION_COUNT (kept, never applied)
        registry = CollectorRegistry()
        registry.register(_Decisions(backend))
        registry.register(self.metrics)
        self._registry = registry
        self._authorize = authorize_endpoint(backend)
        self._starlette = Starlette(
            routes=[
                Route("/", self._query_route, methods=["GET", "POST"]),
                Route("/_iamd/health", self._health, methods=["GET"]),
                Route("/_iamd/reset", self._reset, methods=["POST"]),
                Route("/moto-api/reset", self._reset, methods=["POST"]),
                Route("/moto-api/reset-auth", self._reset_auth, methods=["GET", "POST"]),
                Route("/metrics", self._metrics, methods=["GET"]),
                Route("/iamd/explain", self._explain, methods=["POST"]),  # the troubleshooter (iamd/api/explain.py)
                Route("/iamd/authorize", self._authorize, methods=["POST"]),  # docs/authorization-api.md
                *console_routes(backend),  # the web console (docs/console.md)
                *outbound_routes(backend),  # outbound federation's discovery documents (iamd/api/outbound.py)
            ],
            lifespan=self._lifespan,
        )

    def query(self, http: HttpRequest, action: str | None = None) -> WireResponse:
        """Answer one Query API request (IAM or STS) here, on this thread, and count it.

        ``action``: the request's Action if the caller scanned for it already (``_plain_action``),
        so that the body is not scanned again for the metrics label."""
        if http.path == AUTHORIZE:
            return self._authorize.answer_now(http)
        started = time.perf_counter()
        wire = pipeline.handle(self.backend, http)
        self._observe(http, action, wire.status, time.perf_counter() - started)
        return wire

    def inline(self, http: HttpRequest) -> bool:
        """Whether ``http`` is cheap enough to answer on the event loop (see the module doc)."""
        return self._inline(http, _plain_action(http.body, http.query))

    def action_of(self, http: HttpRequest) -> str | None:
        """The Action ``http`` plainly names (``_plain_action``), scanned once for the inline try,
        the lane and the metrics label; None for a body too large to be tried inline, and for the
        authorization API (not a Query request: ``answer_inline`` and ``answer_off_loop`` ignore it)."""
        if http.path == AUTHORIZE or len(http.body) > INLINE_BODY:
            return None
        return _plain_action(http.body, http.query)

    def answer_inline(self, http: HttpRequest, action: str | None) -> WireResponse | None:
        """Answer ``http`` here if it is cheap (``inline``) and needs no database; else None (then
        answer it with ``answer_off_loop``). ``action``: ``action_of(http)``."""
        if http.path == AUTHORIZE:
            return self._authorize.inline(http)
        if not self._inline(http, action):
            return None
        return self._try_inline(http, action)

    def _try_inline(self, http: HttpRequest, action: str | None) -> WireResponse | None:
        """The answer, if it needed no database (``iamd.store.guard``); else None, nothing done."""
        started = time.perf_counter()
        try:
            with no_database():
                wire = pipeline.handle(self.backend, http)
        except NeedsDatabase:
            self.inline_retries += 1
            return None
        self._observe(http, action, wire.status, time.perf_counter() - started)
        return wire

    def _inline(self, http: HttpRequest, action: str | None) -> bool:
        if action is None or len(http.body) > INLINE_BODY or len(http.query) > INLINE_BODY:
            return False
        cheap = action in INLINE_ACTIONS
        if not cheap and action and action in self._known:
            # A known Action that is not cheap (a write, a list): told before the header's look,
            # which the lane's choice makes again (bench/README.md, "Session 17: the event loop's
            # share of a write").
            return False
        if http.header("x-amz-target"):  # the JSON protocol (Organizations): on a worker thread
            return False
        if not cheap:
            return True  # refused before authentication (MissingAction, InvalidAction)
        key_id = http.access_key_id()
        return key_id is None or key_id.startswith("ASIA") or self.backend.knows_key(key_id)

    def _observe(self, http: HttpRequest, action: str | None, status: int, seconds: float) -> None:
        if action is None:  # not scanned yet, or not plainly written
            self.metrics.observe(http.body, http.query, status, seconds)
        else:
            self.metrics.observe_action(_label(action, self._known), status, seconds)

    def answer_off_loop(
        self,
        http: HttpRequest,
        action: str | None,
        deliver: Callable[[WireResponse], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Answer ``http`` on a worker thread of its lane, then ``deliver(wire)`` on ``loop`` (the event loop's).

        The direct path's hop (``iamd.api.protocol``): one job on the lane's pool, whose thread
        hands the answer back with one ``call_soon_threadsafe`` (no asyncio future chained to
        the pool's, no task): bench/README.md, "A lighter hop to the read lane". The loop only
        queues the job; the answer is counted on the loop when it is back, as ``query_async``'s.
        ``action``: ``action_of(http)``, as the inline try was given it (not scanned again)."""
        pool = self.lanes.for_request(http, action)
        started = time.perf_counter()

        def back(wire: WireResponse) -> None:  # on the loop
            self._observe(http, action, wire.status, time.perf_counter() - started)
            deliver(wire)

        def job() -> Callable[[], None]:  # on the lane's thread
            try:
                wire = pipeline.handle(self.backend, http)
            except Exception:  # handle() answers every error itself; this is the last line
                log.exception("the Query API failed")
                wire = WireResponse(500, (("Content-Type", "text/xml"),), INTERNAL_ERROR)

            def hand_back() -> None:  # on the lane's thread, once it is idle again (Lane.post)
                with suppress(RuntimeError):  # the loop is closed: the server is gone, nobody to answer
                    loop.call_soon_threadsafe(back, wire)

            return hand_back

        pool.post(job)

    async def query_async(self, http: HttpRequest, *, inline: bool = True) -> WireResponse:
        """Answer one Query API request: inline if it is cheap and needs no database, else on a
        worker thread of its lane (``inline=False``: the loop was tried already)."""
        if http.path == AUTHORIZE:  # a read: the read lane
            return await self._authorize.off_loop(http, self.lanes.read)
        action = self.action_of(http)
        if inline and self._inline(http, action):
            wire_inline = self._try_inline(http, action)
            if wire_inline is not None:
                return wire_inline
        pool = self.lanes.for_request(http, action)
        started = time.perf_counter()
        wire = await asyncio.get_running_loop().run_in_executor(pool, pipeline.handle, self.backend, http)
        self._observe(http, action, wire.status, time.perf_counter() - started)
        return wire

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("POST", "GET"):
            await self._query_asgi(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == "/iamd/authorize" and scope["method"] == "POST":
            await self._authorize(scope, receive, send)  # docs/authorization-api.md (raw ASGI, as the Query API)
        else:
            await self._starlette(scope, receive, send)

    async def _query_asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The API endpoint as a raw ASGI handler: no routing, request or response objects."""
        http = await receive_request(scope, receive, MAX_BODY)
        if http is None:
            return
        wire = await self.query_async(http)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in wire.headers]
        headers.append((b"content-length", str(len(wire.body)).encode()))
        await send({"type": "http.response.start", "status": wire.status, "headers": headers})
        await send({"type": "http.response.body", "body": wire.body})

    async def _query_route(self, request: Request) -> Response:
        """``/`` through Starlette: methods the raw handler leaves to it (HEAD)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                break
        wire = await self.query_async(HttpRequest.of_scope(request.scope, body))
        return Response(wire.body, status_code=wire.status, headers=dict(wire.headers))

    async def _reset(self, request: Request) -> Response:
        """moto's ``POST /moto-api/reset`` (and ``/_iamd/reset``): wipe everything, --dev only."""
        if not self.backend.dev:
            return JSONResponse({"error": "reset is available only when the server runs with --dev"}, 404)
        self.backend.reset()
        return JSONResponse({"status": "ok"})

    async def _reset_auth(self, request: Request) -> Response:
        """moto's ``/moto-api/reset-auth``, answered as moto answers it, --dev only. moto lets the
        first N requests through unauthenticated (N: the body, a number); iamd always
        authenticates and authorizes, so it only keeps the number (docs/iam-api.md, "--dev mode")."""
        if not self.backend.dev:
            return JSONResponse({"error": "reset-auth is available only when the server runs with --dev"}, 404)
        if request.method != "POST":
            return JSONResponse({"Error": "Need to POST to reset Moto Auth"}, 400)
        body = (await request.body())[:64]
        try:
            count = float(body.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return JSONResponse({"Error": "The body must be a number: the requests moto lets through unauthenticated"},
                                400)  # fmt: skip
        previous, self._no_auth_action_count = self._no_auth_action_count, count
        return JSONResponse({"status": "ok", "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": str(previous)})

    async def _explain(self, request: Request) -> Response:
        return await explain_route(self.backend, request)

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "accountId": self.backend.account_id})

    async def _metrics(self, request: Request) -> Response:
        return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if isinstance(self.backend.audit, AuditProcessWriter):  # its batches shipped from the loop
            self.backend.audit.attach(asyncio.get_running_loop())
        yield
        self.lanes.shutdown()  # uvicorn has waited for the requests in progress already
        # Shutdown: store every queued audit event and stop the writer (thread or child
        # process) here, not only after uvicorn returns: on SIGTERM uvicorn re-raises the
        # signal once it has shut down, which ends the process before any later cleanup.
        if self.backend.audit is not None:
            self.backend.audit.close()


def create_app(backend: Backend, limits: HttpLimits | None = None) -> IamdApp:
    return IamdApp(backend, limits)


# The reads of one entity by name that the cache answers (iamd/core/reads.py): once warm, no
# database. Everything else, however small, reads what is not cached (inline policies, policy
# versions, login profiles, last-used times), lists, writes, hashes, simulates or calls out (STS).
AUTHORIZE = "/iamd/authorize"  # the authorization API, also answered on the direct path (iamd/api/protocol.py)
INLINE_ACTIONS = frozenset({"GetUser", "GetRole", "GetPolicy", "GetInstanceProfile", "GetCallerIdentity"})
INLINE_BODY = 8 * 1024  # a larger request is a policy or a simulation: off the loop


def _plain_action(body: bytes, query: str) -> str | None:
    """The one Action a request names ("" for none), or None if it cannot be told cheaply.

    Every parameter is looked at, as the pipeline reads them all: a name or an Action
    written with percent-escapes or ``+`` (which the form decoding would turn into an
    Action), or two different Actions, make it None (not inline).
    """
    found = ""
    for source in (query, body.decode("latin-1")):
        if not source:
            continue
        for part in source.split("&"):
            name, _, value = part.partition("=")
            if name == "Action":
                if "%" in value or "+" in value or (found and value != found):
                    return None
                found = value
            elif "%" in name or "+" in name:
                return None
    return found


def _label(action: str, known: frozenset[str]) -> str:
    """The metrics label of a plainly written Action (``_plain_action``)."""
    if not action:
        return "none"
    return action if action in known else "unknown"


def _action(body: bytes, query: str, known: frozenset[str]) -> str:
    """The Action, for metrics labels only: names outside the models fold into one label."""
    for source in (body[:4096].decode("latin-1"), query):
        for part in source.split("&"):
            if part.startswith("Action="):
                name = part[7:]
                return name if name in known else "unknown"
    return "none"
