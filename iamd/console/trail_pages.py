"""The trail as a table (filtered by user, event and error) and the policy simulator as a form.

The trail page reads the audit trail like "Why?" does: your own requests (as the user and as
the role sessions you switched to), the whole account's for root (docs/console.md,
"Administration and \"Why?\""). The simulator is ``iam:SimulatePrincipalPolicy`` through the application core as
the page's caller, so the console's simulator answers exactly what the API's does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.console.web import Console, Signed
from iamd.store import InvalidMarker

__all__ = ["trail_routes"]

PAGE_SIZE = 50
SCAN = 1000  # the most recent events a non-root page filters by caller
MAX_LINES = 20  # actions, resources and context entries a simulation takes from the form
_EVENT = re.compile(r"[A-Za-z0-9]{1,64}")
_USER = re.compile(r"[\w+=,.@-]{1,64}")


def trail_routes(console: Console) -> list[BaseRoute]:
    pages = _TrailPages(console)
    return [
        Route("/console/trail", pages.trail, methods=["GET"]),
        Route("/console/simulate", pages.simulate_form, methods=["GET"]),
        Route("/console/simulate", console.posted(pages.simulate), methods=["POST"]),
    ]


def _lines(text: str) -> list[str]:
    """Non-empty lines (or comma-separated items) of a form field, at most :data:`MAX_LINES`."""
    items = [item.strip() for line in text.splitlines() for item in line.split(",")]
    return [item[:2048] for item in items if item][:MAX_LINES]


class _TrailPages:
    def __init__(self, console: Console) -> None:
        self.c = console

    # -- the trail -------------------------------------------------------------------------
    async def trail(self, request: Request) -> Response:
        signed = await self.c.page_session(request)
        if isinstance(signed, Response):
            return signed
        return await run_in_threadpool(self._trail, request, signed)

    def _trail(self, request: Request, signed: Signed) -> Response:
        q = request.query_params
        event = q.get("event", "").strip()[:64]
        user = q.get("user", "").strip()[:64]
        errors = q.get("errors", "") == "on"
        marker = q.get("marker", "")[:1024] or None
        error = ""
        if event and not _EVENT.fullmatch(event):
            error, event = "An event name has letters and digits only (e.g. CreateUser).", ""
        if user and not _USER.fullmatch(user):
            error, user = "A user name has letters, digits and +=,.@_- only.", ""
        signin = signed.session.signin
        rows: list[dict[str, Any]]
        next_marker = None
        with self.c.backend.store.read() as tx:
            if signin.root:
                try:
                    page = tx.list_audit_events(signin.account_id, user_name=user or None, event_name=event or None,
                                                errors_only=errors, marker=marker, max_items=PAGE_SIZE)  # fmt: skip
                except InvalidMarker:  # a link edited by hand, or of another listing: from the newest again
                    error = "That page link is not valid (any more): showing the newest requests."
                    page = tx.list_audit_events(signin.account_id, user_name=user or None, event_name=event or None,
                                                errors_only=errors, max_items=PAGE_SIZE)  # fmt: skip
                rows, next_marker = [json.loads(e.record) for e in page.items], page.marker
            else:
                rows = signed.own_records(tx, SCAN, event_name=event or None, errors_only=errors)[:PAGE_SIZE]
        return self.c.page(request, "trail.html", title="Trail", signed=signed, rows=rows, event_field=event,
                           user_field=user, errors_field=errors, next_marker=next_marker, error=error or None,
                           scan=SCAN)  # fmt: skip

    # -- the simulator ---------------------------------------------------------------------
    async def simulate_form(self, request: Request) -> Response:
        signed = await self.c.page_session(request)
        if isinstance(signed, Response):
            return signed
        return self._page(request, signed, source=signed.caller.principal.arn)

    def _page(self, request: Request, signed: Signed, status: int = 200, **values: Any) -> Response:
        defaults = {"source": "", "actions": "", "resources": "", "context": "", "results": None}
        return self.c.page(request, "simulate.html", status, title="Policy simulator", signed=signed,
                           **{**defaults, **values})  # fmt: skip

    def simulate(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        fields = {k: form.get(k, "")[:20_000] for k in ("source", "actions", "resources", "context")}
        params: dict[str, str] = {"PolicySourceArn": fields["source"].strip()}
        for n, action in enumerate(_lines(fields["actions"]), start=1):
            params[f"ActionNames.member.{n}"] = action
        for n, resource in enumerate(_lines(fields["resources"]), start=1):
            params[f"ResourceArns.member.{n}"] = resource
        entries = [line.partition("=") for line in fields["context"].splitlines() if line.strip()][:MAX_LINES]
        for n, (key, _, value) in enumerate(entries, start=1):
            params[f"ContextEntries.member.{n}.ContextKeyName"] = key.strip()
            params[f"ContextEntries.member.{n}.ContextKeyValues.member.1"] = value.strip()
            params[f"ContextEntries.member.{n}.ContextKeyType"] = "string"
        outcome = self.c.call(request, signed, "SimulatePrincipalPolicy", params)
        if outcome.result is None:
            failure = outcome.failure or {}
            return self._page(request, signed, outcome.error.status if outcome.error else 400,
                              error=failure.get("message"), request_id=failure.get("request_id"), **fields)  # fmt: skip
        results = [
            {
                "action": r.get("EvalActionName", ""),
                "resource": r.get("EvalResourceName", ""),
                "decision": r.get("EvalDecision", ""),
                "statements": [s.get("SourcePolicyId", "") for s in r.get("MatchedStatements") or []],
                "missing": list(r.get("MissingContextValues") or []),
            }
            for r in outcome.result.get("EvaluationResults") or []
        ]
        return self._page(request, signed, 200, results=results, **fields)
