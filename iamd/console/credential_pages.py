"""My security credentials: placeholder."""

from __future__ import annotations

from starlette.routing import BaseRoute

from iamd.console.web import Console

__all__ = ["credential_routes"]


def credential_routes(console: Console) -> list[BaseRoute]:
    return []
