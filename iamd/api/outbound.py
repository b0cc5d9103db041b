"""The OpenID Connect discovery documents of outbound web identity federation, served by iamd
at the paths AWS documents under each account's issuer URL (docs/federation.md, "Outbound"):
``/outbound/<issuer id>/.well-known/openid-configuration`` and ``…/.well-known/jwks.json``.
Unauthenticated, as relying parties fetch them; an unknown issuer is 404."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from iamd.service.outbound import DEFAULT_PUBLIC_URL, discovery_document, jwks_document

if TYPE_CHECKING:
    from iamd.api.backend import Backend

__all__ = ["ENDPOINT_FILE", "outbound_routes", "public_url"]

ENDPOINT_FILE = "endpoint"  # where ``iamd serve`` records its address (iamd.cli.client)
_MAX_ID = 64


def public_url(environ: Mapping[str, str], data_dir: Path | None) -> str:
    """The URL relying parties reach this server at: ``IAMD_PUBLIC_URL``, else the address
    ``iamd serve`` recorded in its data directory, else the default listen address."""
    configured = environ.get("IAMD_PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if data_dir is not None:
        try:
            recorded = (data_dir / ENDPOINT_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            recorded = ""
        if recorded:
            return recorded.rstrip("/")
    return DEFAULT_PUBLIC_URL


def outbound_routes(backend: Backend) -> list[BaseRoute]:
    def _found(issuer_id: str) -> bool:
        if not issuer_id or len(issuer_id) > _MAX_ID:
            return False
        with backend.store.read() as tx:
            return tx.find_outbound_issuer(issuer_id) is not None

    def _headers() -> dict[str, str]:
        return {"Cache-Control": "max-age=300"}

    async def configuration(request: Request) -> Response:
        issuer_id = str(request.path_params["issuer_id"])
        if not _found(issuer_id):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(discovery_document(backend.public_url(), issuer_id), headers=_headers())

    async def jwks(request: Request) -> Response:
        with backend.store.read() as tx:
            issuer_id = str(request.path_params["issuer_id"])
            state = tx.find_outbound_issuer(issuer_id) if 0 < len(issuer_id) <= _MAX_ID else None
            if state is None:
                return JSONResponse({"message": "Not Found"}, status_code=404)
            keys = tx.list_web_identity_keys(state.account_id)
        return JSONResponse(jwks_document(keys), headers=_headers())

    return [
        Route("/outbound/{issuer_id}/.well-known/openid-configuration", configuration, methods=["GET"]),
        Route("/outbound/{issuer_id}/.well-known/jwks.json", jwks, methods=["GET"]),
    ]
