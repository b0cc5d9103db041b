"""Sign-in, the MFA step, the password change (forced or by choice) and sign-out.

The flow and its texts are AWS's (docs/console.md, "Sign-in"): one generic message for
every failure of account, user name or password; an MFA step whenever the user has a
device; a password change before anything else when the password must be reset or has
expired. ``Backend.sign_in`` judges each attempt, throttles and writes the ``ConsoleLogin``
event; this module keeps the browser's side.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.console.sessions import PENDING_LIFETIME, csrf_matches
from iamd.console.web import (
    PENDING_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    Console,
    FormError,
    client_ip,
    read_form,
    redirect,
    secure,
)
from iamd.service.passwords import DEFAULT_POLICY
from iamd.service.signin import GENERIC_MESSAGE, SESSION_DURATION, SigninAttempt, SigninFailure, SigninResult

__all__ = ["signin_routes"]

FAILED_TITLE = "Authentication failed"
THROTTLED = "Too many failed sign-in attempts. Wait a few minutes, then try again."
HARD_EXPIRED = "Your password has expired. Only your administrator can reset it."
STALE_FORM = "This form has expired. Reload the page and try again."
NO_PERMISSION = "You don't have permission to change your password. Contact your administrator."
_SPACED_ID = re.compile(r"\d{4}-\d{4}-\d{4}")


def signin_routes(console: Console) -> list[BaseRoute]:
    pages = _SigninPages(console)
    return [
        Route("/console", pages.start, methods=["GET"]),
        Route("/console/signin", pages.signin, methods=["POST"]),
        Route("/console/mfa", pages.mfa_form, methods=["GET"]),
        Route("/console/mfa", pages.mfa, methods=["POST"]),
        Route("/console/password", pages.password_form, methods=["GET"]),
        Route("/console/password", pages.password, methods=["POST"]),
        Route("/console/signout", pages.signout, methods=["POST"]),
        Route("/console/home", pages.home, methods=["GET"]),
        Route("/console/static/console.css", pages.stylesheet, methods=["GET"]),
    ]


def password_rules(wire: dict[str, Any] | None) -> list[str]:
    """The account's password policy (GetAccountPasswordPolicy's shape), or the default one, in words."""
    if wire is None:
        return [
            f"At least {DEFAULT_POLICY.MinimumPasswordLength} characters (at most 128)",
            "At least three of: uppercase letters, lowercase letters, numbers, symbols",
            "Not your account ID or alias",
        ]
    rules = [f"At least {wire.get('MinimumPasswordLength', 6)} characters (at most 128)"]
    for flag, text in (
        ("RequireUppercaseCharacters", "At least one uppercase letter (A-Z)"),
        ("RequireLowercaseCharacters", "At least one lowercase letter (a-z)"),
        ("RequireNumbers", "At least one number (0-9)"),
        ("RequireSymbols", "At least one symbol: ! @ # $ % ^ & * ( ) _ + - = [ ] { } | '"),
    ):
        if wire.get(flag):
            rules.append(text)
    if wire.get("PasswordReusePrevention"):
        rules.append(f"Not one of your previous {wire['PasswordReusePrevention']} passwords")
    if wire.get("MaxPasswordAge"):
        days = wire["MaxPasswordAge"]
        rules.append(f"Expires {days} day{'' if days == 1 else 's'} after it is set")
    return rules


class _SigninPages:
    def __init__(self, console: Console) -> None:
        self.c = console

    # -- sign-in ---------------------------------------------------------------------------
    def _signin_page(self, request: Request, status: int = 200, **values: Any) -> Response:
        token, nonce = self.c.pre_csrf(request)
        values.setdefault("account_field", request.query_params.get("account", "")[:63])
        response = self.c.page(request, "signin.html", status, title="Sign in", csrf=token, **values)
        if nonce is not None:
            self.c.set_cookie(request, response, PRE_COOKIE, nonce, None)
        return response

    async def start(self, request: Request) -> Response:
        signed = await run_in_threadpool(self.c.signed, request)
        if signed is not None:
            return redirect("/console/password" if signed.session.signin.password_change_only else "/console/home")
        return self._signin_page(request)

    async def signin(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormError:
            return self._stale(request, 400)
        if not self.c.pre_csrf_ok(request, form):
            return self._stale(request)
        root = form.get("kind") == "root"
        account = form.get("account", "").strip()[:63]
        if _SPACED_ID.fullmatch(account):
            account = account.replace("-", "")
        user_name = "" if root else form.get("username", "").strip()[:128]
        attempt = SigninAttempt(
            account, user_name, form.get("password", "")[:1024], None, client_ip(request),
            request.headers.get("user-agent", "")[:1024], root=root,
        )  # fmt: skip
        result = await run_in_threadpool(self.c.backend.sign_in, attempt)
        again = {"account_field": account, "username": user_name, "kind": "root" if root else "iam"}
        return await run_in_threadpool(self._finish, request, result, attempt, again)

    def _finish(
        self, request: Request, result: SigninResult, attempt: SigninAttempt, again: dict[str, str]
    ) -> Response:
        if result.session is not None:
            token, _ = self.c.sessions.open(result.session)  # a new session id at every sign-in
            change = result.session.password_change_only
            response = redirect("/console/password" if change else "/console/home")
            self.c.set_cookie(request, response, SESSION_COOKIE, token, int(SESSION_DURATION.total_seconds()))
            self.c.clear_cookie(request, response, PENDING_COOKIE)
            self.c.sessions.revoke(request.cookies.get(SESSION_COOKIE))  # whatever session the browser had
            return response
        if result.failure is SigninFailure.MFA_REQUIRED:
            token, _ = self.c.sessions.start_pending(attempt)
            response = redirect("/console/mfa")
            self.c.set_cookie(request, response, PENDING_COOKIE, token, int(PENDING_LIFETIME.total_seconds()))
            return response
        if result.failure is SigninFailure.THROTTLED:
            return self._signin_page(request, 429, error=THROTTLED, **again)
        if result.failure is SigninFailure.PASSWORD_EXPIRED:
            return self._signin_page(request, 401, error=HARD_EXPIRED, **again)
        return self._signin_page(request, 401, error_title=FAILED_TITLE, error=GENERIC_MESSAGE, **again)

    def _stale(self, request: Request, status: int = 403) -> Response:
        return self.c.page(request, "refused.html", status, title="Request refused", error=STALE_FORM)

    # -- the MFA step ----------------------------------------------------------------------
    async def mfa_form(self, request: Request) -> Response:
        pending = await run_in_threadpool(self.c.sessions.pending, request.cookies.get(PENDING_COOKIE))
        if pending is None:
            return redirect("/console")
        return self.c.page(request, "mfa.html", title="MFA", csrf=pending.csrf)

    async def mfa(self, request: Request) -> Response:
        token = request.cookies.get(PENDING_COOKIE)
        try:
            form = await read_form(request)
        except FormError:
            return self._stale(request, 400)
        return await run_in_threadpool(self._mfa, request, token, form)

    def _mfa(self, request: Request, token: str | None, form: dict[str, str]) -> Response:
        pending = self.c.sessions.pending(token)
        if token is None or pending is None:
            return redirect("/console")
        if not csrf_matches(pending.csrf, form.get("csrf")):
            return self._stale(request)
        attempt = replace(pending.attempt, mfa_code=form.get("code", "").strip()[:16])
        result = self.c.backend.sign_in(attempt)
        if result.failure is SigninFailure.WRONG_MFA_CODE:
            self.c.sessions.pending_failed(token)
            if self.c.sessions.pending(token) is not None:
                page = self.c.page(request, "mfa.html", 401, title="MFA", csrf=pending.csrf,
                                   error_title=FAILED_TITLE, error=GENERIC_MESSAGE)  # fmt: skip
                return page
        self.c.sessions.end_pending(token)
        again = {"account_field": attempt.account, "username": attempt.user_name}
        response = self._finish(request, result, attempt, again)
        if result.session is None:
            self.c.clear_cookie(request, response, PENDING_COOKIE)
        return response

    # -- passwords -------------------------------------------------------------------------
    def _rules(self, request: Request, signed: Any) -> list[str]:
        outcome = self.c.run_user(request, signed, "GetAccountPasswordPolicy")
        if outcome.result is not None:
            return password_rules(outcome.result["PasswordPolicy"])
        return password_rules(None) if outcome.error is not None and outcome.error.code == "NoSuchEntity" else []

    async def password_form(self, request: Request) -> Response:
        signed = await run_in_threadpool(self.c.signed, request)
        if signed is None:
            return redirect("/console")
        rules = [] if signed.session.signin.root else await run_in_threadpool(self._rules, request, signed)
        return self.c.page(request, "password.html", title="Change password", signed=signed, rules=rules)

    async def password(self, request: Request) -> Response:
        signed = await run_in_threadpool(self.c.signed, request)
        try:
            form = await read_form(request)
        except FormError:
            return self._stale(request, 400)
        if signed is None:
            return redirect("/console")
        if not csrf_matches(signed.session.csrf, form.get("csrf")):
            return self._stale(request)
        rules = [] if signed.session.signin.root else await run_in_threadpool(self._rules, request, signed)
        page: dict[str, Any] = {"title": "Change password", "signed": signed, "rules": rules}
        if form.get("new", "") != form.get("confirm", ""):
            return self.c.page(request, "password.html", 400, error="The new passwords do not match.", **page)
        return await run_in_threadpool(self._change_password, request, signed, form, page)

    def _change_password(self, request: Request, signed: Any, form: dict[str, str], page: dict[str, Any]) -> Response:
        outcome = self.c.run_user(request, signed, "ChangePassword", OldPassword=form.get("old", "")[:1024],
                             NewPassword=form.get("new", "")[:1024])  # fmt: skip
        forced = signed.session.signin.password_change_only
        if outcome.error is not None:
            denied = getattr(outcome.error, "decision", None) is not None
            if denied and forced:  # no way forward: no session (docs/console.md)
                self.c.sessions.revoke(signed.token)
                response = self._signin_page(request, 403, error=NO_PERMISSION)
                self.c.clear_cookie(request, response, SESSION_COOKIE)
                return response
            message = NO_PERMISSION if denied else outcome.error.message
            return self.c.page(request, "password.html", outcome.error.status, error=message,
                               request_id=outcome.request_id if denied else None, **page)  # fmt: skip
        if forced:  # the sign-in goes on, in a new session that may do everything
            self.c.sessions.revoke(signed.token)
            token, _ = self.c.sessions.open(replace(signed.session.signin, password_change_only=False))
            response = redirect("/console/home")
            self.c.set_cookie(request, response, SESSION_COOKIE, token, int(SESSION_DURATION.total_seconds()))
            return response
        return self.c.page(request, "password.html", notice="Your password has been changed.", **page)

    # -- signed in -------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        signed = await run_in_threadpool(self.c.signed, request)
        if signed is None:
            return redirect("/console")
        if signed.session.signin.password_change_only:
            return redirect("/console/password")
        return self.c.page(request, "home.html", title="Home", signed=signed)

    async def signout(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormError:
            return self._stale(request, 400)
        signed = await run_in_threadpool(self.c.signed, request)
        if signed is not None:
            if not csrf_matches(signed.session.csrf, form.get("csrf")):
                return self._stale(request)
            await run_in_threadpool(self.c.sessions.revoke, signed.token)
        response = redirect("/console")
        self.c.clear_cookie(request, response, SESSION_COOKIE)
        return response

    async def stylesheet(self, request: Request) -> Response:
        response = secure(Response(self.c.stylesheet, media_type="text/css"))
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response
