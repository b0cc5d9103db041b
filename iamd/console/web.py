"""What every console page shares: templates, security headers, cookies, forms, the signed-in caller."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.console import actions
from iamd.console.sessions import ConsoleSessions, WebSession, csrf_matches
from iamd.policy import Principal
from iamd.service.call import Caller
from iamd.service.sessions import principal_for_session
from iamd.sessions import SessionClaims, SessionKind
from iamd.store import NotFound, ReadTx, TagTarget

__all__ = ["Console", "FormError", "SECURITY_HEADERS"]

SESSION_COOKIE = "iamd-console"
PENDING_COOKIE = "iamd-console-mfa"
PRE_COOKIE = "iamd-console-pre"  # the signed-out browser's CSRF nonce (sign-in form)
MAX_FORM = 64 * 1024
MAX_FIELDS = 64

# Strict: only this server's stylesheet, QR codes as data: images, forms posting here, no frames, no scripts.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class FormError(Exception):
    """A form that cannot be accepted (too large, malformed, or without its CSRF token)."""


@dataclass(frozen=True, slots=True)
class Signed:
    """The signed-in browser of one request: its session token, session and IAM caller."""

    token: str
    session: WebSession
    caller: Caller  # who the pages act as: the role switched to, or the signed-in user
    user_caller: Caller | None = None  # the signed-in user (or root) itself, when a role is active

    @property
    def me(self) -> Caller:
        """The signed-in identity (never the role): what Switch Role assumes roles as."""
        return self.user_caller or self.caller

    def owns(self, record: Mapping[str, Any]) -> bool:
        """Whether a trail record is one this browser may see (decision, docs/console.md "Why?"): the
        root user, any of the account's; a user, their own, as themselves and as the role sessions
        they switched to (a role session's ARN names the user's session)."""
        signin = self.session.signin
        arn = record.get("userIdentity", {}).get("arn")
        return signin.root or arn in (signin.user_arn, self.caller.principal.arn)

    def own_records(
        self, tx: ReadTx, scan: int, *, event_name: str | None = None, errors_only: bool = False
    ) -> list[dict[str, Any]]:
        """The trail records this browser owns (:meth:`owns`) among the newest ``scan`` that match,
        newest first; a user's own are looked for by user name, a role session's among the account's."""
        signin = self.session.signin
        by_name = None if signin.root or self.session.role is not None else signin.user_name
        page = tx.list_audit_events(signin.account_id, user_name=by_name, event_name=event_name,
                                    errors_only=errors_only, max_items=scan)  # fmt: skip
        return [r for r in (json.loads(e.record) for e in page.items) if self.owns(r)]


FormAction = Callable[[Request, "Signed", dict[str, str]], Response]
"""A form handler, run on a worker thread once the session and its CSRF token are checked."""
SessionOf = Callable[[Request], Awaitable["Signed | Response"]]


class Console:
    """The console's state: the backend, the sessions and the templates."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.sessions = ConsoleSessions(
            backend.store, lambda: backend.clock()
        )  # the clock the backend has now (tests move it)
        self._pre_key = secrets.token_bytes(32)
        self.templates = Environment(
            loader=PackageLoader("iamd.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
        )
        self.static_dir = Path(__file__).parent / "static"
        self.stylesheet = (self.static_dir / "console.css").read_bytes()

    # -- responses -------------------------------------------------------------------------
    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        signed = values.pop("signed", None)
        failed = request.query_params.get("failed", "")[:64]
        if failed:  # a form's call failed (first, before what the page itself met): its request id leads to "Why?"
            values.update(error="The change was not made. Its request ID leads to why.", request_id=failed)
        html = self.templates.get_template(template).render(
            signed=signed, session=signed.session.signin if signed else None,
            csrf=signed.session.csrf if signed else values.pop("csrf", ""), account=self.backend.account_id,
            **values,
        )  # fmt: skip
        return secure(HTMLResponse(html, status_code=status))

    # -- cookies ---------------------------------------------------------------------------
    def set_cookie(self, request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/console", httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip

    def clear_cookie(self, request: Request, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path="/console", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )

    # -- the signed-out browser's CSRF token (sign-in form) ---------------------------------
    def pre_token(self, nonce: str) -> str:
        return hmac.new(self._pre_key, nonce.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def pre_csrf(self, request: Request) -> tuple[str, str | None]:
        """(the form's token, a new nonce to set as a cookie or None when the browser has one)."""
        nonce = request.cookies.get(PRE_COOKIE)
        if nonce and 20 <= len(nonce) <= 64:
            return self.pre_token(nonce), None
        nonce = secrets.token_urlsafe(32)
        return self.pre_token(nonce), nonce

    def pre_csrf_ok(self, request: Request, form: Mapping[str, str]) -> bool:
        nonce = request.cookies.get(PRE_COOKIE)
        return bool(nonce) and csrf_matches(self.pre_token(nonce or ""), form.get("csrf"))

    # -- the signed-in caller --------------------------------------------------------------
    def signed(self, request: Request) -> Signed | None:
        token = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(token)
        if token is None or session is None:
            return None
        caller = self.caller_of(session)
        if caller is None:  # the user was deleted (or recreated) since: the session ends
            self.sessions.revoke(token)
            return None
        if session.role is not None:
            role_caller = self.role_caller(session)
            if role_caller is not None:
                return Signed(token, session, role_caller, caller)
            session = replace(session, role=None)  # the role session expired: back to the user
            self.sessions.update(token, session)
        return Signed(token, session, caller)

    def role_caller(self, session: WebSession) -> Caller | None:
        """The caller of the role session a console session switched to, opened from its token; None once
        expired. Console-originated: ``sessionCredentialFromConsole``, and the sign-in's MFA (docs/console.md)."""
        role = session.role
        if role is None or self.backend.clock() >= role.expires:
            return None
        credential = self.backend.lookup(role.access_key_id, role.session_token)
        if credential is None or credential.principal.session is None:
            return None
        caller = credential.principal
        claims = caller.session
        assert claims is not None
        signin = session.signin
        mfa_time = claims.mfa_time or (signin.created if signin.mfa_used else None)
        extra = {**claims.extra, "sessionCredentialFromConsole": "true"}
        claims = replace(claims, mfa=claims.mfa or signin.mfa_used, mfa_time=mfa_time, extra=extra)
        return Caller(caller.account_id, principal_for_session(claims), caller.access_key_id, None, claims)

    async def page_session(self, request: Request) -> Signed | Response:
        """The signed-in session of a page, or where to go instead: the sign-in page without
        one, the password page while only the forced change is allowed."""
        signed = await run_in_threadpool(self.signed, request)
        if signed is None:
            return redirect("/console")
        if signed.session.signin.password_change_only:
            return redirect("/console/password")
        return signed

    def posted(self, action: FormAction, session: SessionOf | None = None) -> Callable[[Request], Awaitable[Response]]:
        """A form's endpoint: the page's session (``session``, or :meth:`page_session`), a bounded
        form, the session's CSRF token, then ``action`` on a worker thread. The form is read
        before the session is judged, so a malformed body is refused the same way signed in or not."""
        session_of = session or self.page_session

        async def endpoint(request: Request) -> Response:
            signed = await session_of(request)
            try:
                form = await read_form(request)
            except FormError:
                return self.page(request, "refused.html", 400, title="Request refused", error="Malformed form.")
            if isinstance(signed, Response):
                return signed
            if not csrf_matches(signed.session.csrf, form.get("csrf")):
                return self.page(request, "refused.html", 403, title="Request refused",
                                 error="This form has expired. Reload the page and try again.")  # fmt: skip
            return await run_in_threadpool(action, request, signed, form)

        return endpoint

    def caller_of(self, session: WebSession) -> Caller | None:
        """The IAM caller of a console session, read as stored now (tags included).

        With MFA at sign-in the caller carries an MFA session (``aws:MultiFactorAuthPresent``
        true, ``aws:MultiFactorAuthAge`` from the sign-in, ``aws:TokenIssueTime``); without,
        the MFA keys are absent, as for long-term credentials (docs/console.md).
        """
        signin = session.signin
        account = signin.account_id
        if signin.root:
            return Caller(
                account, Principal.from_arn(f"arn:{self.backend.partition.name}:iam::{account}:root"), None, None
            )
        try:
            with self.backend.store.read() as tx:
                user = tx.get_user(account, signin.user_name)
                tags = [(t.key, t.value) for t in tx.list_tags(TagTarget.USER, account, user.name)]
        except NotFound:
            return None
        if user.id != signin.user_id:
            return None
        if signin.mfa_used:
            claims = SessionClaims(
                SessionKind.USER, account, signin.created, signin.expires, "", user_arn=user.arn, user_id=user.id,
                user_name=user.name, mfa=True, mfa_time=signin.created,
                extra={"sessionCredentialFromConsole": "true"},
            )  # fmt: skip
            return Caller(account, principal_for_session(claims, tags), None, user, claims)
        return Caller(account, Principal.from_arn(user.arn, unique_id=user.id, tags=tags), None, user)

    def run(self, request: Request, signed: Signed, operation: str, **params: str) -> actions.Outcome:
        """IAM ``operation`` as the page's caller: the role switched to, or the signed-in user."""
        return self.call(request, signed, operation, params)

    def run_user(self, request: Request, signed: Signed, operation: str, **params: str) -> actions.Outcome:
        """IAM ``operation`` as the signed-in user even while a role is active (own credentials, password)."""
        return self.call(request, signed, operation, params, as_user=True)

    def explain(self, request: Request, signed: Signed, request_id: str) -> actions.Outcome:
        """The troubleshooter's answer for one request id (``iamd:Explain``), as the page's caller."""
        if not signed.session.signin.allows("iamd:Explain"):
            return actions.Outcome(
                "", None, aws.AccessDenied("You must change your password before you can do anything else.")
            )
        return actions.run_json(
            self.backend, signed.caller, "iamd", "Explain", {"RequestId": request_id}, client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:1024], secure=request.url.scheme == "https",
        )  # fmt: skip

    def call(
        self, request: Request, signed: Signed, operation: str, params: Mapping[str, str], *, service: str = "iam",
        as_user: bool = False,
    ) -> actions.Outcome:  # fmt: skip
        """``actions.run``; a password-change-only session may do only that."""
        if not signed.session.signin.allows(f"{service}:{operation}"):
            message = "You must change your password before you can do anything else."
            return actions.Outcome("", None, aws.AccessDenied(message))
        return actions.run(
            self.backend, signed.me if as_user else signed.caller, operation, params, client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:1024], secure=request.url.scheme == "https",
            service=service,
        )  # fmt: skip


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def redirect(url: str) -> Response:
    return secure(RedirectResponse(url, status_code=303))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, bounded in size and fields (last value wins)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError("form too large")
    if not body:
        return {}
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise FormError("unsupported form encoding")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as e:
        raise FormError("malformed form") from e
    return dict(pairs)
