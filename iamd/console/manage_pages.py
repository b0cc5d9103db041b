"""Administration that changes things: groups (members, policies), roles (trust policy, revoking
sessions), managed policies (the JSON editor, versions, attachments), the account (alias, password
policy, credential report; Organizations and SCPs for a management account), users (tags, console
sessions). Every change is an IAM (or Organizations) call through :meth:`Console.run`, as the page's
caller, authorized and audited as the API's (docs/console.md, "Administration").
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from iamd.console import actions
from iamd.console.entity_pages import pretty
from iamd.console.policy_check import MAX_DOCUMENT, findings
from iamd.console.sessions import csrf_matches
from iamd.console.web import Console, FormError, Signed, client_ip, read_form, redirect, secure
from iamd.core import CallContext
from iamd.ids import new_uuid4
from iamd.policy import DocumentKind

__all__ = ["manage_routes", "revoke_older_sessions_policy"]

_Handler = Callable[[Request, Signed, dict[str, str]], Response]
FLAGS = (
    ("RequireUppercaseCharacters", "Require at least one uppercase letter"),
    ("RequireLowercaseCharacters", "Require at least one lowercase letter"),
    ("RequireNumbers", "Require at least one number"),
    ("RequireSymbols", "Require at least one symbol"),
    ("AllowUsersToChangePassword", "Allow users to change their own password"),
    ("HardExpiry", "Prevent password change after expiration (administrator reset)"),
)
REVOKE_POLICY = "AWSRevokeOlderSessions"
_KINDS = {k.value: k for k in DocumentKind}


def revoke_older_sessions_policy(now_iso: str) -> str:
    """AWS's "Revoke active sessions" inline policy: deny everything to sessions issued before now."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": now_iso}},
    }]})  # fmt: skip


def manage_routes(console: Console) -> list[BaseRoute]:
    p = _ManagePages(console)
    return [
        Route("/console/policy/validate", p.validate, methods=["POST"]),
        Route("/console/static/editor.js", p.script, methods=["GET"]),
        Route("/console/account", p.get(p.account), methods=["GET"]),
        Route("/console/account/alias", p.post(p.alias), methods=["POST"]),
        Route("/console/account/password-policy", p.post(p.password_policy), methods=["POST"]),
        Route("/console/account/credential-report", p.post(p.generate_report), methods=["POST"]),
        Route("/console/account/credential-report.csv", p.get(p.download_report), methods=["GET"]),
        Route("/console/account/scp", p.get(p.scp), methods=["GET"]),
        Route("/console/policy/new", p.get(p.new_policy_form), methods=["GET"]),
        Route("/console/policy/new", p.post(p.new_policy), methods=["POST"]),
        Route("/console/policy/edit", p.get(p.edit_policy_form), methods=["GET"]),  # ?arn=: a new version
        Route("/console/policy/edit", p.post(p.edit_policy), methods=["POST"]),
        Route("/console/policy/default", p.post(p.default_version), methods=["POST"]),
        Route("/console/policy/delete-version", p.post(p.delete_version), methods=["POST"]),
        Route("/console/trust", p.get(p.trust_form), methods=["GET"]),  # ?role=
        Route("/console/trust", p.post(p.trust), methods=["POST"]),
        Route("/console/manage/role/revoke", p.post(p.revoke_role_sessions), methods=["POST"]),
        Route("/console/manage/group/create", p.post(p.create_group), methods=["POST"]),
        Route("/console/manage/group/member", p.post(p.group_member), methods=["POST"]),
        Route("/console/manage/attach", p.post(p.attach), methods=["POST"]),
        Route("/console/manage/user/tag", p.post(p.tag_user), methods=["POST"]),
        Route("/console/manage/user/revoke", p.post(p.revoke_user_sessions), methods=["POST"]),
    ]


def _back(outcome: actions.Outcome, url: str) -> str:
    """Where a form goes after its call: back to the page, with the failure's request id to show."""
    if outcome.error is None:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}failed={quote(outcome.request_id, safe='')}"


class _ManagePages:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.script_body = (console.static_dir / "editor.js").read_bytes()

    # -- plumbing ----------------------------------------------------------------------------
    def get(self, action: Callable[[Request, Signed], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            signed = await self.c.page_session(request)
            if isinstance(signed, Response):
                return signed
            return await run_in_threadpool(action, request, signed)

        return endpoint

    def post(self, action: _Handler) -> Callable[[Request], Awaitable[Response]]:
        """A form handler: signed in, the session's CSRF token, then ``action`` on a worker thread."""
        return self.c.posted(action)

    async def script(self, request: Request) -> Response:
        response = secure(Response(self.script_body, media_type="text/javascript"))
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    def _invoke(self, request: Request, signed: Signed, service: str, operation: str, payload: dict[str, Any]) -> (
        actions.Outcome
    ):  # fmt: skip
        """A JSON-protocol service's call (Organizations) through the core, as the page's caller."""
        context = CallContext(new_uuid4(), self.c.backend.clock(), client_ip(request),
                              request.headers.get("user-agent", "")[:1024], request.url.scheme == "https",
                              "us-east-1")  # fmt: skip
        out = self.c.backend.core.invoke(signed.caller, service, operation, payload, context)
        return actions.Outcome(context.request_id, None if out.error else (out.result or {}), out.error)

    # -- the editor's findings -------------------------------------------------------------------
    async def validate(self, request: Request) -> Response:
        """``{"findings": [{line, column, severity, message}]}`` for a document as typed (signed in, CSRF)."""
        signed = await self.c.page_session(request)
        try:
            form = await read_form(request)
        except FormError:
            return secure(JSONResponse({"findings": []}, status_code=400))
        if isinstance(signed, Response) or not csrf_matches(signed.session.csrf, form.get("csrf")):
            return secure(JSONResponse({"message": "Sign in again."}, status_code=403))
        kind = _KINDS.get(form.get("kind", ""), DocumentKind.IDENTITY)
        found = await run_in_threadpool(findings, form.get("document", "")[: MAX_DOCUMENT + 1], kind)
        return secure(JSONResponse({"findings": [f.as_json() for f in found]}))

    def _editor(self, request: Request, signed: Signed, status: int = 200, **values: Any) -> Response:
        values.setdefault("findings", [])
        return self.c.page(request, "policy_edit.html", status, signed=signed, **values)

    # -- managed policies --------------------------------------------------------------------------
    def new_policy_form(self, request: Request, signed: Signed) -> Response:
        document = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, indent=2)  # fmt: skip
        return self._editor(request, signed, title="Create policy", action="/console/policy/new", hidden=[],
                            ask_name=True, name_field="", document=document, kind="identity",
                            button="Create policy")  # fmt: skip

    def new_policy(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        name, document = form.get("name", "").strip()[:128], form.get("document", "")[:MAX_DOCUMENT]
        page = {"title": "Create policy", "action": "/console/policy/new", "hidden": [], "ask_name": True,
                "name_field": name, "document": document, "kind": "identity", "button": "Create policy"}  # fmt: skip
        found = findings(document, DocumentKind.IDENTITY)
        if any(f.severity == "error" for f in found):
            return self._editor(request, signed, 400, findings=found, error="The policy document is not valid.", **page)
        out = self.c.run(request, signed, "CreatePolicy", PolicyName=name, PolicyDocument=document)
        if out.result is None:
            assert out.error is not None
            return self._editor(request, signed, out.error.status, error=out.error.message,
                                request_id=out.request_id, **page)  # fmt: skip
        return redirect(f"/console/policy?arn={quote(out.result['Policy']['Arn'], safe='')}")

    def edit_policy_form(self, request: Request, signed: Signed) -> Response:
        arn = request.query_params.get("arn", "")[:2048]
        got = self.c.run(request, signed, "GetPolicy", PolicyArn=arn)
        document = ""
        if got.result is not None:
            version = self.c.run(request, signed, "GetPolicyVersion", PolicyArn=arn,
                                 VersionId=got.result["Policy"]["DefaultVersionId"])  # fmt: skip
            document = pretty((version.result or {}).get("PolicyVersion", {}).get("Document", ""))
        return self._editor(request, signed, got.error.status if got.error else 200, title="Edit policy",
                            intro=f"A new version of {arn}.", action="/console/policy/edit", hidden=[("arn", arn)],
                            document=document, kind="identity", button="Save as a new version", ask_default=True,
                            error=got.error.message if got.error else None,
                            request_id=got.request_id if got.error else None)  # fmt: skip

    def edit_policy(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        arn, document = form.get("arn", "")[:2048], form.get("document", "")[:MAX_DOCUMENT]
        page = {"title": "Edit policy", "action": "/console/policy/edit", "hidden": [("arn", arn)],
                "document": document, "kind": "identity", "button": "Save as a new version",
                "ask_default": True}  # fmt: skip
        found = findings(document, DocumentKind.IDENTITY)
        if any(f.severity == "error" for f in found):
            return self._editor(request, signed, 400, findings=found, error="The policy document is not valid.", **page)
        out = self.c.run(request, signed, "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=document,
                         SetAsDefault="true" if form.get("default") == "1" else "false")  # fmt: skip
        if out.error is not None:
            return self._editor(request, signed, out.error.status, error=out.error.message,
                                request_id=out.request_id, **page)  # fmt: skip
        return redirect(f"/console/policy?arn={quote(arn, safe='')}")

    def default_version(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        arn = form.get("arn", "")[:2048]
        out = self.c.run(request, signed, "SetDefaultPolicyVersion", PolicyArn=arn,
                         VersionId=form.get("version", "")[:32])  # fmt: skip
        return redirect(_back(out, f"/console/policy?arn={quote(arn, safe='')}"))

    def delete_version(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        arn = form.get("arn", "")[:2048]
        out = self.c.run(request, signed, "DeletePolicyVersion", PolicyArn=arn,
                         VersionId=form.get("version", "")[:32])  # fmt: skip
        return redirect(_back(out, f"/console/policy?arn={quote(arn, safe='')}"))

    def attach(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        """Attach or detach a managed policy to or from a user, group or role."""
        kind = form.get("kind", "")
        entity = {"user": ("User", "UserName", "users"), "group": ("Group", "GroupName", "groups"),
                  "role": ("Role", "RoleName", "roles")}.get(kind)  # fmt: skip
        name, arn = form.get("name", "").strip()[:128], form.get("arn", "").strip()[:2048]
        if entity is None:
            return self.c.page(request, "refused.html", 400, title="Request refused", error="Malformed form.")
        verb = "Detach" if form.get("op") == "detach" else "Attach"
        out = self.c.run(request, signed, f"{verb}{entity[0]}Policy", **{entity[1]: name, "PolicyArn": arn})
        back = form.get("back", "")
        url = f"/console/policy?arn={quote(arn, safe='')}" if back == "policy" else \
            f"/console/{entity[2]}/{quote(name, safe='')}"  # fmt: skip
        return redirect(_back(out, url))

    # -- groups --------------------------------------------------------------------------------------
    def create_group(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        name = form.get("name", "").strip()[:128]
        out = self.c.run(request, signed, "CreateGroup", GroupName=name)
        return redirect(_back(out, f"/console/groups/{quote(name, safe='')}" if out.ok else "/console/groups"))

    def group_member(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        group, user = form.get("group", "").strip()[:128], form.get("user", "").strip()[:128]
        operation = "RemoveUserFromGroup" if form.get("op") == "remove" else "AddUserToGroup"
        out = self.c.run(request, signed, operation, GroupName=group, UserName=user)
        return redirect(_back(out, f"/console/groups/{quote(group, safe='')}"))

    # -- roles ---------------------------------------------------------------------------------------
    def trust_form(self, request: Request, signed: Signed) -> Response:
        role = request.query_params.get("role", "")[:128]
        got = self.c.run(request, signed, "GetRole", RoleName=role)
        document = pretty((got.result or {}).get("Role", {}).get("AssumeRolePolicyDocument", ""))
        return self._editor(request, signed, got.error.status if got.error else 200, title=f"Trust policy of {role}",
                            action="/console/trust", hidden=[("role", role)], document=document, kind="trust",
                            button="Update trust policy", error=got.error.message if got.error else None,
                            request_id=got.request_id if got.error else None)  # fmt: skip

    def trust(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        role, document = form.get("role", "")[:128], form.get("document", "")[:MAX_DOCUMENT]
        page = {"title": f"Trust policy of {role}", "action": "/console/trust", "hidden": [("role", role)],
                "document": document, "kind": "trust", "button": "Update trust policy"}  # fmt: skip
        found = findings(document, DocumentKind.TRUST)
        if any(f.severity == "error" for f in found):
            return self._editor(request, signed, 400, findings=found, error="The trust policy is not valid.", **page)
        out = self.c.run(request, signed, "UpdateAssumeRolePolicy", RoleName=role, PolicyDocument=document)
        if out.error is not None:
            return self._editor(request, signed, out.error.status, error=out.error.message,
                                request_id=out.request_id, **page)  # fmt: skip
        return redirect(f"/console/roles/{quote(role, safe='')}")

    def revoke_role_sessions(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        """AWS's "Revoke active sessions": the inline policy AWSRevokeOlderSessions, denying older tokens."""
        role = form.get("role", "")[:128]
        now = self.c.backend.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out = self.c.run(request, signed, "PutRolePolicy", RoleName=role, PolicyName=REVOKE_POLICY,
                         PolicyDocument=revoke_older_sessions_policy(now))  # fmt: skip
        return redirect(_back(out, f"/console/roles/{quote(role, safe='')}"))

    # -- users ---------------------------------------------------------------------------------------
    def tag_user(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        user = form.get("user", "").strip()[:128]
        if form.get("op") == "untag":
            out = self.c.run(
                request, signed, "UntagUser", UserName=user, **{"TagKeys.member.1": form.get("key", "")[:128]}
            )
        else:
            out = self.c.run(
                request,
                signed,
                "TagUser",
                UserName=user,
                **{"Tags.member.1.Key": form.get("key", "")[:128], "Tags.member.1.Value": form.get("value", "")[:256]},
            )
        return redirect(_back(out, f"/console/users/{quote(user, safe='')}"))

    def revoke_user_sessions(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        """End every console session of a user, in every server process. Decision: whoever may reset the
        user's password (``iam:UpdateLoginProfile`` on the user, checked by an empty UpdateLoginProfile,
        audited) may end the user's console sessions (docs/console.md)."""
        user = form.get("user", "").strip()[:128]
        out = self.c.run(request, signed, "UpdateLoginProfile", UserName=user)
        if out.ok:
            got = self.c.run(request, signed, "GetUser", UserName=user)
            if got.result is not None:
                self.c.sessions.revoke_user(signed.session.signin.account_id, got.result["User"]["UserId"])
        return redirect(_back(out, f"/console/users/{quote(user, safe='')}"))

    # -- the account ---------------------------------------------------------------------------------
    def account(self, request: Request, signed: Signed) -> Response:
        aliases = self.c.run(request, signed, "ListAccountAliases")
        policy = self.c.run(request, signed, "GetAccountPasswordPolicy")
        policy_error = None if policy.ok or (policy.error and policy.error.code == "NoSuchEntity") else policy.failure
        values: dict[str, Any] = {
            "alias": next(iter((aliases.result or {}).get("AccountAliases", [])), None),
            "alias_error": aliases.failure, "policy": (policy.result or {}).get("PasswordPolicy"),
            "policy_error": policy_error, "flags": FLAGS,
        }  # fmt: skip
        org = self._invoke(request, signed, "organizations", "DescribeOrganization", {})
        organization = (org.result or {}).get("Organization")
        if organization and organization.get("MasterAccountId") == signed.session.signin.account_id:
            scps = self._invoke(request, signed, "organizations", "ListPolicies", {"Filter": "SERVICE_CONTROL_POLICY"})
            values.update(organization=organization, scps=(scps.result or {}).get("Policies", []),
                          scp_error=scps.failure)  # fmt: skip
        failed = request.query_params.get("failed", "")[:64]
        if failed:
            values.update(error="The last change failed.", request_id=failed)
        return self.c.page(request, "account.html", title="Account", signed=signed, **values)

    def alias(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        if form.get("op") == "delete":
            aliases = self.c.run(request, signed, "ListAccountAliases")
            current = next(iter((aliases.result or {}).get("AccountAliases", [])), "")
            out = self.c.run(request, signed, "DeleteAccountAlias", AccountAlias=current)
        else:
            out = self.c.run(request, signed, "CreateAccountAlias", AccountAlias=form.get("alias", "").strip()[:63])
        return redirect(_back(out, "/console/account"))

    def password_policy(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        if form.get("op") == "delete":
            out = self.c.run(request, signed, "DeleteAccountPasswordPolicy")
            return redirect(_back(out, "/console/account"))
        params = {flag: "true" if form.get(flag) == "true" else "false" for flag, _ in FLAGS}
        for number in ("MinimumPasswordLength", "MaxPasswordAge", "PasswordReusePrevention"):
            value = form.get(number, "").strip()[:8]
            if value:
                params[number] = value
        out = self.c.run(request, signed, "UpdateAccountPasswordPolicy", **params)
        return redirect(_back(out, "/console/account"))

    def generate_report(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        out = self.c.run(request, signed, "GenerateCredentialReport")
        return redirect(_back(out, "/console/account"))

    def download_report(self, request: Request, signed: Signed) -> Response:
        out = self.c.run(request, signed, "GetCredentialReport")
        if out.result is None:
            return redirect(_back(out, "/console/account"))
        content = out.result["Content"]
        body = content if isinstance(content, bytes) else str(content).encode()
        response = secure(Response(body, media_type="text/csv"))
        response.headers["Content-Disposition"] = 'attachment; filename="credential-report.csv"'
        return response

    def scp(self, request: Request, signed: Signed) -> Response:
        policy_id = request.query_params.get("id", "")[:128]
        out = self._invoke(request, signed, "organizations", "DescribePolicy", {"PolicyId": policy_id})
        policy = (out.result or {}).get("Policy", {})
        summary = policy.get("PolicySummary", {})
        sections: list[dict[str, Any]] = []
        if out.error is not None:
            sections.append({"title": "Policy", "rows": [], "error": out.failure})
        else:
            rows = [
                f"ID: {summary.get('Id', '')}",
                f"ARN: {summary.get('Arn', '')}",
                f"Type: {summary.get('Type', '')}",
            ]
            sections += [{"title": "Summary", "rows": rows},
                         {"title": "Content", "document": pretty(policy.get("Content", ""))}]  # fmt: skip
        name = summary.get("Name", policy_id)
        return self.c.page(request, "user.html", out.error.status if out.error else 200, title=name, signed=signed,
                           kind="Service control policy", name=name, sections=sections)  # fmt: skip
