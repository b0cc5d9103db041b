"""Switch Role, as AWS's console offers it: account, role (path and name), display name, color; the
history of roles used; back to the signed-in user (docs/console.md, "Switch role").

The switch is ``sts:AssumeRole`` through the application core, always as the signed-in
identity (never chained from the role in use), with the user name as the session name. The
console keeps the role session's key id and token (not its secret) in the server-side
session; the pages then act as that role session until "Back", its expiry or sign-out.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.console.sessions import RoleSwitch
from iamd.console.web import Console, Signed, redirect

__all__ = ["COLORS", "role_routes"]

HISTORY_COOKIE = "iamd-console-roles"
HISTORY_SIZE = 5  # AWS's console is commonly reported to keep the last five
COLORS = ("red", "orange", "yellow", "green", "blue", "purple")
INVALID = "Invalid information in one or more fields. Check your information or contact your administrator."
ROOT_REFUSED = "The root user cannot switch roles. Sign in as an IAM user to switch roles."
DEFAULT_DURATION = 3600  # the role session's default; never longer than what is left of the sign-in
_ROLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-")
_ACCOUNT = re.compile(r"[0-9]{12}")


def _role_ok(role: str) -> bool:
    """Path and name (at most 64 characters, as AWS's cookie allows), IAM's characters, no empty part;
    checked character by character (no regular expression on input)."""
    parts = role.split("/")
    return 0 < len(role) <= 64 and all(p and set(p) <= _ROLE_CHARS for p in parts)


def role_routes(console: Console) -> list[BaseRoute]:
    pages = _RolePages(console)
    return [
        Route("/console/switchrole", pages.form, methods=["GET"]),
        Route("/console/switchrole", console.posted(pages.switch), methods=["POST"]),
        Route("/console/switchrole/back", console.posted(pages.back), methods=["POST"]),
    ]


def read_history(request: Request) -> list[dict[str, str]]:
    """The roles used recently in this browser (a cookie, as AWS keeps it), each field checked again."""
    raw = request.cookies.get(HISTORY_COOKIE, "")
    try:
        items = json.loads(base64.urlsafe_b64decode(raw.encode() + b"==")) if raw and len(raw) < 4096 else []
    except ValueError:
        return []
    history = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        entry = {k: str(item.get(k, ""))[:64] for k in ("account", "role", "display", "color")}
        if _ACCOUNT.fullmatch(entry["account"]) and _role_ok(entry["role"]) and entry["color"] in COLORS:
            history.append(entry)
    return history[:HISTORY_SIZE]


def _history_cookie(history: list[dict[str, str]]) -> str:
    return base64.urlsafe_b64encode(json.dumps(history[:HISTORY_SIZE]).encode()).decode().rstrip("=")


class _RolePages:
    def __init__(self, console: Console) -> None:
        self.c = console

    def _page(self, request: Request, signed: Signed, status: int = 200, **values: Any) -> Response:
        q = request.query_params
        fields = {
            "account_field": q.get("account", "")[:63], "role_field": q.get("roleName", "")[:64],
            "display_field": q.get("displayName", "")[:64],
            "color_field": q.get("color", "") if q.get("color", "") in COLORS else "",
        }  # fmt: skip
        return self.c.page(request, "switchrole.html", status, title="Switch role", signed=signed, colors=COLORS,
                           history=read_history(request), **{**fields, **values})  # fmt: skip

    async def form(self, request: Request) -> Response:
        signed = await self.c.page_session(request)
        if isinstance(signed, Response):
            return signed
        return self._page(request, signed)

    def switch(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        signin = signed.session.signin
        account = form.get("account", "").strip()[:63]
        if re.fullmatch(r"[0-9]{4}-[0-9]{4}-[0-9]{4}", account):
            account = account.replace("-", "")
        role_name = form.get("role", "").strip().strip("/")[:64]
        display = form.get("display", "").strip()[:64]
        color = form.get("color", "") if form.get("color", "") in COLORS else COLORS[4]
        again = {"account_field": account, "role_field": role_name, "display_field": display, "color_field": color}
        if signin.root:
            return self._page(request, signed, 403, error=ROOT_REFUSED, **again)
        account_id = self._account_id(account)
        if account_id is None or not _role_ok(role_name):
            return self._page(request, signed, 400, error=INVALID, **again)
        role_arn = f"arn:{self.c.backend.partition.name}:iam::{account_id}:role/{role_name}"
        left = int((signin.expires - self.c.backend.clock()).total_seconds())
        duration = max(900, min(DEFAULT_DURATION, left))
        params = {"RoleArn": role_arn, "RoleSessionName": signin.user_name[:64], "DurationSeconds": str(duration)}
        outcome = self.c.call(request, signed, "AssumeRole", params, service="sts", as_user=True)
        if outcome.result is None:
            assert outcome.error is not None
            return self._page(request, signed, outcome.error.status, error=INVALID, request_id=outcome.request_id,
                              **again)  # fmt: skip
        credentials = outcome.result["Credentials"]
        expires = credentials["Expiration"]
        switch = RoleSwitch(
            account_id, role_name, role_arn, display or f"{role_name.rsplit('/', 1)[-1]} @ {account_id}", color,
            credentials["AccessKeyId"], credentials["SessionToken"],
            expires if isinstance(expires, datetime) else datetime.fromisoformat(str(expires)),
        )  # fmt: skip
        self.c.sessions.update(signed.token, replace(signed.session, role=switch))
        entry = {"account": account_id, "role": role_name, "display": switch.display_name, "color": color}
        history = [entry, *(h for h in read_history(request) if (h["account"], h["role"]) != (account_id, role_name))]
        response = redirect("/console/home")
        self.c.set_cookie(request, response, HISTORY_COOKIE, _history_cookie(history), 400 * 24 * 3600)
        return response

    def _account_id(self, account: str) -> str | None:
        if _ACCOUNT.fullmatch(account):
            return account
        with self.c.backend.store.read() as tx:
            return next((a.id for a in tx.list_accounts() if account and a.alias == account), None)

    def back(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        if signed.session.role is not None:
            self.c.sessions.update(signed.token, replace(signed.session, role=None))
        return redirect("/console/home")
