"""The web console at ``/console``: sign-in, your own credentials, IAM administration (docs/console.md).

Server-rendered HTML (Jinja2, autoescaped), no scripts; every IAM action goes through
:func:`iamd.console.actions.run`, authorized and audited as the API's requests are.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.api.backend import Backend

__all__ = ["console_routes"]


def console_routes(backend: Backend) -> list[BaseRoute]:
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
