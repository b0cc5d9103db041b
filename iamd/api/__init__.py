"""The HTTP edge: the ASGI app, the request pipeline, the audit writer."""

from iamd.api.app import create_app
from iamd.api.backend import Backend

__all__ = ["Backend", "create_app"]
