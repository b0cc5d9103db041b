"""The web console at ``/console``: sign-in, your own credentials, IAM administration (docs/console.md).

Server-rendered HTML (Jinja2, autoescaped), no scripts; every IAM action goes through
:func:`iamd.console.actions.run`, authorized and audited as the API's requests are.

The console's pages, their templates and Jinja2 are loaded on the first request to a
``/console`` path, not when the app is made: most servers answer the API only, and the
console's imports were a tenth of a start's (bench/README.md, "Start-up").
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from iamd.api.backend import Backend

__all__ = ["ConsoleRoute", "console_routes"]

PREFIX = "/console"


def console_routes(backend: Backend) -> list[BaseRoute]:
    """The console's routes, as one route that loads them on its first request."""
    return [ConsoleRoute(backend)]


class ConsoleRoute(BaseRoute):
    """Every ``/console`` path: the console's own router, built (and its modules imported) when
    the first such request arrives. It answers as the pages' routes did in the app's router (the
    same matching, 405 for a known page with another method, the console's 404 page)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._router: Router | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # as starlette's routes read a mounted app's path
            path = path[len(root) :]
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.router.url_path_for(name, **path_params)

    @property
    def router(self) -> Router:
        if self._router is None:  # the event loop's thread only: no lock needed
            self._router = Router(routes=page_routes(self._backend))
        return self._router

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router(scope, receive, send)


def page_routes(backend: Backend) -> list[BaseRoute]:
    from iamd.console.admin_pages import admin_routes
    from iamd.console.credential_pages import credential_routes
    from iamd.console.entity_pages import entity_routes
    from iamd.console.manage_pages import manage_routes
    from iamd.console.role_pages import role_routes
    from iamd.console.signin_pages import signin_routes
    from iamd.console.trail_pages import trail_routes
    from iamd.console.web import Console

    console = Console(backend)

    async def not_found(request: Request) -> Response:
        return console.page(request, "refused.html", 404, title="Page not found")

    pages = [
        *manage_routes(console),
        *signin_routes(console),
        *credential_routes(console),
        *admin_routes(console),
        *entity_routes(console),
        *role_routes(console),
        *trail_routes(console),
    ]
    return [*pages, Route("/console/{rest:path}", not_found, methods=["GET", "POST"])]
