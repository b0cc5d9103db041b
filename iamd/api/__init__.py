"""The HTTP edge: the ASGI app, the request pipeline, the audit writer.

``Backend`` and ``create_app`` are imported on first use: the audit writer's own process
(``iamd.api.audit_process``) imports this package and needs neither the app nor the request
pipeline, whose imports were most of its start-up (bench/README.md, "Start-up").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iamd.api.app import create_app
    from iamd.api.backend import Backend

__all__ = ["Backend", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from iamd.api.app import create_app

        return create_app
    if name == "Backend":
        from iamd.api.backend import Backend

        return Backend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
