"""Administration: users (list, detail, create) and "Why?" — the audit trail's answer for a request id.

Like every page, these act through :meth:`Console.run` as the signed-in user: a user without
``iam:ListUsers`` sees AWS's denial (and its "Why?"), not the list (docs/console.md).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.console.entity_pages import action_button, attached_section, item_section, small_form
from iamd.console.web import Console, Signed
from iamd.service.passwords import DEFAULT_POLICY, PasswordPolicy, change_password_policy, generate_password

__all__ = ["admin_routes"]

PAGE_SIZE = 50
WHY_WINDOW = 1000  # the most recent failed requests searched for a request id


def admin_routes(console: Console) -> list[BaseRoute]:
    pages = _AdminPages(console)
    return [
        Route("/console/users", pages.users, methods=["GET"]),
        Route("/console/users/new", pages.new_user_form, methods=["GET"]),
        Route("/console/users/new", console.posted(pages.create_user), methods=["POST"]),
        Route("/console/users/{name}", pages.user, methods=["GET"]),
        Route("/console/why", pages.why, methods=["GET"]),
    ]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value or "")


class _AdminPages:
    def __init__(self, console: Console) -> None:
        self.c = console

    async def _signed(self, request: Request) -> Signed | Response:
        return await self.c.page_session(request)

    # -- users -----------------------------------------------------------------------------
    async def users(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        params = {"MaxItems": str(PAGE_SIZE)}
        marker = request.query_params.get("marker", "")[:1024]
        if marker:
            params["Marker"] = marker
        outcome = await run_in_threadpool(lambda: self.c.run(request, signed, "ListUsers", **params))
        if outcome.result is None:
            assert outcome.error is not None
            return self.c.page(request, "users.html", outcome.error.status, title="Users", signed=signed, users=None,
                               error=outcome.error.message, request_id=outcome.request_id)  # fmt: skip
        users = [{**u, "CreateDate": _when(u.get("CreateDate")), "PasswordLastUsed": _when(u.get("PasswordLastUsed"))}
                 for u in outcome.result.get("Users", [])]  # fmt: skip
        next_marker = outcome.result.get("Marker") if outcome.result.get("IsTruncated") else None
        return self.c.page(request, "users.html", title="Users", signed=signed, users=users, marker=next_marker)

    async def user(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        name = str(request.path_params["name"])[:128]
        return await run_in_threadpool(self._user_page, request, signed, name)

    def _user_page(self, request: Request, signed: Signed, name: str) -> Response:
        got = self.c.run(request, signed, "GetUser", UserName=name)
        if got.result is None:
            assert got.error is not None
            return self.c.page(request, "user.html", got.error.status, title=name, signed=signed, name=name,
                               sections=[], error=got.error.message, request_id=got.request_id)  # fmt: skip
        user = got.result["User"]
        sections: list[dict[str, Any]] = [
            {"title": "Summary", "rows": [f"ARN: {user['Arn']}", f"Path: {user['Path']}",
                                          f"Created: {_when(user['CreateDate'])}"]},
        ]  # fmt: skip
        me = user["UserName"]
        tags = self.c.run(request, signed, "ListUserTags", UserName=me)
        tag_section = item_section(
            "Tags",
            tags,
            "Tags",
            lambda tag: (
                f"{tag['Key']} = {tag['Value']}",
                None,
                [action_button("/console/manage/user/tag", "Remove", user=me, key=tag["Key"], op="untag")],
            ),
        )
        tag_section["forms"] = [small_form("/console/manage/user/tag", "add-tag", "Add tag", user=me, op="tag",
                                      key=("Key", ""), value=("Value", ""))]  # fmt: skip
        sections += [
            tag_section,
            attached_section("user", me, self.c.run(request, signed, "ListAttachedUserPolicies", UserName=me)),
            {"title": "Console sessions", "forms": [small_form("/console/manage/user/revoke", "revoke-sessions",
                                                          "Sign out everywhere", danger=True, user=me)]},
        ]  # fmt: skip
        for title, operation, member, show in (
            ("Inline policies", "ListUserPolicies", "PolicyNames", str),
            ("Groups", "ListGroupsForUser", "Groups", lambda g: g["GroupName"]),
            ("Access keys", "ListAccessKeys", "AccessKeyMetadata", lambda k: f"{k['AccessKeyId']} ({k['Status']})"),
            ("MFA devices", "ListMFADevices", "MFADevices", lambda d: d["SerialNumber"]),
        ):
            out = self.c.run(request, signed, operation, UserName=user["UserName"])
            rows = [show(item) for item in (out.result or {}).get(member, [])]
            sections.append({"title": title, "rows": rows, "error": out.failure})
        return self.c.page(request, "user.html", title=user["UserName"], signed=signed, name=user["UserName"],
                           sections=sections)  # fmt: skip

    async def new_user_form(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        return self.c.page(request, "user_new.html", title="Create user", signed=signed, console=True)

    def create_user(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        """CreateUser, then (optionally) a generated console password; with a required reset and an account
        that does not let users change passwords, IAMUserChangePassword attached — as AWS's console does
        (docs/console.md, "Creating users securely")."""
        name, path = form.get("name", "").strip()[:128], form.get("path", "/").strip()[:512] or "/"
        console, reset = form.get("console") == "1", form.get("reset") == "1"
        page: dict[str, Any] = {"title": "Create user", "signed": signed, "name": name, "path": path,
                                "console": console}  # fmt: skip
        made = self.c.run(request, signed, "CreateUser", UserName=name, Path=path)
        if made.result is None:
            assert made.error is not None
            return self.c.page(request, "user_new.html", made.error.status, error=made.error.message,
                               request_id=made.request_id, **page)  # fmt: skip
        created, password, steps = made.result["User"], None, []
        if console:
            policy_out = self.c.run(request, signed, "GetAccountPasswordPolicy")
            wire = (policy_out.result or {}).get("PasswordPolicy")
            policy = (PasswordPolicy.from_params({k: v for k, v in wire.items() if k != "ExpirePasswords"})
                      if wire else DEFAULT_POLICY)  # fmt: skip
            password = generate_password(policy)
            profile = self.c.run(request, signed, "CreateLoginProfile", UserName=name, Password=password,
                                 PasswordResetRequired="true" if reset else "false")  # fmt: skip
            if profile.error is not None:
                steps.append(f"No console password: {profile.error.message}")
                password = None
            elif reset and not policy.AllowUsersToChangePassword:
                change_password = change_password_policy(created["Arn"])
                attach = self.c.run(request, signed, "AttachUserPolicy", UserName=name, PolicyArn=change_password)
                steps.append(
                    f"Attached {change_password} so that the user can change the password."
                    if attach.ok
                    else f"IAMUserChangePassword could not be attached: {attach.error and attach.error.message}"
                )
        account = signed.session.signin.account_id
        signin_url = f"{request.base_url}console?account={account}"
        return self.c.page(request, "user_new.html", created=created, password=password, signin_url=signin_url,
                           steps=steps, **page)  # fmt: skip

    # -- why? ------------------------------------------------------------------------------
    async def why(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        wanted = request.query_params.get("request_id", "").strip()[:64]
        return await run_in_threadpool(self._why_page, request, signed, wanted)

    def _why_page(self, request: Request, signed: Signed, wanted: str) -> Response:
        """The caller's own failed requests (root: the account's), newest first; for one request id, its
        error and the engine's decision as the trail keeps it (``iamdDecision``)."""
        account = signed.session.signin.account_id
        with self.c.backend.store.read() as tx:
            mine = signed.own_records(tx, WHY_WINDOW, errors_only=True)
            found = tx.find_audit_events(wanted, notable_only=True) if wanted else ()  # a failure: its index alone
        # the request asked about, however old: a failure of this account that is the caller's own
        failed = (json.loads(e.record) for e in found if e.account_id == account and e.error_code)
        event = next((r for r in failed if signed.owns(r)), None)
        decision = event.get("iamdDecision") if event else None
        answer, refused = _troubleshooter(self.c.explain(request, signed, wanted) if event else None)
        return self.c.page(request, "why.html", title="Why?", signed=signed, event=event, decision=decision,
                           decision_json=json.dumps(decision, indent=2) if decision else "", looked_up=bool(wanted),
                           request_id_field=wanted, recent=mine[:20], window=WHY_WINDOW, answer=answer,
                           answer_refused=refused, fix_json=json.dumps((answer or {}).get("fix"),
                           indent=2))  # fmt: skip


def _troubleshooter(outcome: Any) -> tuple[dict[str, Any] | None, str]:
    """The troubleshooter's answer for the page (its first explanation), or why it was refused: it is
    ``iamd:Explain`` as the page's caller, authorized like every call (docs/console.md, "Why?")."""
    if outcome is None:
        return None, ""
    if outcome.result is None:
        return None, outcome.error.message if outcome.error is not None else ""
    result = outcome.result
    answers = result.get("Explanations") or [result]
    return (answers[0] if answers and isinstance(answers[0], dict) else None), ""
