"""Groups, roles and policies: paginated lists and a page for each (members, trust policy, document).

As every page, through :meth:`Console.run` as the signed-in user (docs/console.md, "Administration").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.console.actions import Outcome
from iamd.console.web import Console, Signed

__all__ = ["entity_routes"]

PAGE_SIZE = 50


def entity_routes(console: Console) -> list[BaseRoute]:
    pages = _EntityPages(console)
    return [
        Route("/console/groups", pages.groups, methods=["GET"]),
        Route("/console/groups/{name}", pages.group, methods=["GET"]),
        Route("/console/roles", pages.roles, methods=["GET"]),
        Route("/console/roles/{name}", pages.role, methods=["GET"]),
        Route("/console/policies", pages.policies, methods=["GET"]),
        Route("/console/policy", pages.policy, methods=["GET"]),  # ?arn=
    ]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value or "")


def pretty(document: str) -> str:
    """A policy document as stored (JSON text, possibly URL-encoded by a client), indented for reading."""
    text = document if document.lstrip().startswith("{") else unquote(document)
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def action_button(url: str, label: str, *, danger: bool = False, **fields: str) -> dict[str, Any]:
    """A button that posts ``fields`` (and the CSRF token) to ``url``."""
    return {"url": url, "label": label, "danger": danger, "fields": list(fields.items())}


def small_form(url: str, form_id: str, button: str, *, danger: bool = False, **fields: str | tuple[str, str]) -> (
    dict[str, Any]
):  # fmt: skip
    """A small form: a str value is a hidden field, a (label, value) pair a labelled input."""
    shown = [{"name": n, "label": v[0], "value": v[1]} if isinstance(v, tuple) else
             {"name": n, "value": v, "hidden": True} for n, v in fields.items()]  # fmt: skip
    return {"url": url, "id": form_id, "button": button, "danger": danger, "fields": shown}


def item_section(title: str, outcome: Outcome, member: str,
           show: Callable[[Any], tuple[str, str | None, list[dict[str, Any]]]]) -> dict[str, Any]:  # fmt: skip
    items = [dict(zip(("text", "href", "actions"), show(item), strict=True))
             for item in (outcome.result or {}).get(member, [])]  # fmt: skip
    return {"title": title, "entries": items, "error": outcome.failure}


def attached_section(kind: str, name: str, outcome: Outcome) -> dict[str, Any]:
    """Attached managed policies of a user, group or role: each with Detach, and a form to attach one."""
    section = item_section(
        "Attached policies",
        outcome,
        "AttachedPolicies",
        lambda p: (
            p["PolicyArn"],
            f"/console/policy?arn={quote(p['PolicyArn'], safe='')}",
            [action_button("/console/manage/attach", "Detach", kind=kind, name=name, arn=p["PolicyArn"], op="detach")],
        ),
    )
    section["forms"] = [small_form("/console/manage/attach", f"attach-{kind}", "Attach policy", kind=kind, name=name,
                              op="attach", arn=("Policy ARN", ""))]  # fmt: skip
    return section


def _section(title: str, outcome: Outcome, member: str, show: Callable[[Any], str]) -> dict[str, Any]:
    rows = [show(item) for item in (outcome.result or {}).get(member, [])]
    return {"title": title, "rows": rows, "error": outcome.failure}


class _EntityPages:
    def __init__(self, console: Console) -> None:
        self.c = console

    async def _signed(self, request: Request) -> Signed | Response:
        return await self.c.page_session(request)

    async def _list(
        self, request: Request, title: str, operation: str, member: str, columns: list[str],
        row: Callable[[dict[str, Any]], tuple[str, list[str]]], **extra: str,
    ) -> Response:  # fmt: skip
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        params = {"MaxItems": str(PAGE_SIZE), **extra}
        marker = request.query_params.get("marker", "")[:1024]
        if marker:
            params["Marker"] = marker
        outcome = await run_in_threadpool(lambda: self.c.run(request, signed, operation, **params))
        if outcome.result is None:
            assert outcome.error is not None
            return self.c.page(request, "entities.html", outcome.error.status, title=title, signed=signed, rows=None,
                               error=outcome.error.message, request_id=outcome.request_id)  # fmt: skip
        rows = [dict(zip(("href", "cells"), row(item), strict=True)) for item in outcome.result.get(member, [])]
        next_marker = outcome.result.get("Marker") if outcome.result.get("IsTruncated") else None
        next_href = f"{request.url.path}?marker={quote(next_marker, safe='')}" if next_marker else None
        return self.c.page(request, "entities.html", title=title, signed=signed, columns=columns, rows=rows,
                           next_href=next_href)  # fmt: skip

    async def groups(self, request: Request) -> Response:
        return await self._list(request, "Groups", "ListGroups", "Groups", ["Group name", "Path", "Created"],
                                lambda g: (f"/console/groups/{quote(g['GroupName'], safe='')}",
                                           [g["GroupName"], g["Path"], _when(g["CreateDate"])]))  # fmt: skip

    async def roles(self, request: Request) -> Response:
        return await self._list(request, "Roles", "ListRoles", "Roles", ["Role name", "Path", "Created"],
                                lambda r: (f"/console/roles/{quote(r['RoleName'], safe='')}",
                                           [r["RoleName"], r["Path"], _when(r["CreateDate"])]))  # fmt: skip

    async def policies(self, request: Request) -> Response:
        scope = "AWS" if request.query_params.get("scope") == "AWS" else "Local"
        return await self._list(request, "Policies" if scope == "Local" else "AWS managed policies", "ListPolicies",
                                "Policies", ["Policy name", "ARN", "Attachments"],
                                lambda p: (f"/console/policy?arn={quote(p['Arn'], safe='')}",
                                           [p["PolicyName"], p["Arn"], str(p.get("AttachmentCount", 0))]),
                                Scope=scope)  # fmt: skip

    async def group(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        name = str(request.path_params["name"])[:128]
        return await run_in_threadpool(self._group, request, signed, name)

    def _group(self, request: Request, signed: Signed, name: str) -> Response:
        got = self.c.run(request, signed, "GetGroup", GroupName=name)
        member = "/console/manage/group/member"
        members = item_section("Members", got, "Users", lambda u: (
            u["UserName"], f"/console/users/{quote(u['UserName'], safe='')}",
            [action_button(member, "Remove", group=name, user=u["UserName"], op="remove")]))  # fmt: skip
        members["forms"] = [small_form(member, "add-member", "Add user to group", group=name, op="add",
                                  user=("User name", ""))]  # fmt: skip
        sections = [
            members,
            attached_section("group", name, self.c.run(request, signed, "ListAttachedGroupPolicies", GroupName=name)),
            _section("Inline policies", self.c.run(request, signed, "ListGroupPolicies", GroupName=name),
                     "PolicyNames", str),
        ]  # fmt: skip
        status = got.error.status if got.error is not None else 200
        return self.c.page(request, "user.html", status, title=name, signed=signed, kind="Group", name=name,
                           sections=sections)  # fmt: skip

    async def role(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        name = str(request.path_params["name"])[:128]
        return await run_in_threadpool(self._role, request, signed, name)

    def _role(self, request: Request, signed: Signed, name: str) -> Response:
        got = self.c.run(request, signed, "GetRole", RoleName=name)
        sections: list[dict[str, Any]] = []
        if got.result is not None:
            role = got.result["Role"]
            sections.append(
                {
                    "title": "Summary",
                    "rows": [
                        f"ARN: {role['Arn']}",
                        f"Path: {role['Path']}",
                        f"Maximum session duration: {role['MaxSessionDuration']} s",
                        f"Description: {role.get('Description', '')}",
                    ],
                }
            )
            sections.append({"title": "Trust policy", "document": pretty(role["AssumeRolePolicyDocument"]),
                             "links": [(f"/console/trust?role={quote(name, safe='')}", "Edit trust policy",
                                        "edit-trust")]})  # fmt: skip
            account = role["Arn"].split(":")[4]
            switch = (f"/console/switchrole?account={account}&roleName={quote(role['Path'][1:] + name, safe='/')}"
                      f"&displayName={quote(name, safe='')}")  # fmt: skip
            link = (switch, "Link to switch roles in console", "switch-link")
            revoke = small_form(
                "/console/manage/role/revoke", "revoke-role", "Revoke active sessions", danger=True, role=name
            )
            sections.append({"title": "Sessions", "links": [link], "forms": [revoke]})
        else:
            sections.append(_section("Summary", got, "Role", str))
        sections += [
            attached_section("role", name, self.c.run(request, signed, "ListAttachedRolePolicies", RoleName=name)),
            _section("Inline policies", self.c.run(request, signed, "ListRolePolicies", RoleName=name),
                     "PolicyNames", str),
        ]  # fmt: skip
        status = got.error.status if got.error is not None else 200
        return self.c.page(request, "user.html", status, title=name, signed=signed, kind="Role", name=name,
                           sections=sections)  # fmt: skip

    async def policy(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        arn = request.query_params.get("arn", "")[:2048]
        wanted = request.query_params.get("version", "")[:32]
        return await run_in_threadpool(self._policy, request, signed, arn, wanted)

    def _policy(self, request: Request, signed: Signed, arn: str, wanted: str = "") -> Response:
        got = self.c.run(request, signed, "GetPolicy", PolicyArn=arn)
        sections: list[dict[str, Any]] = []
        name = arn
        if got.result is not None:
            policy = got.result["Policy"]
            name = policy["PolicyName"]
            shown = wanted or policy["DefaultVersionId"]
            version = self.c.run(request, signed, "GetPolicyVersion", PolicyArn=arn, VersionId=shown)
            sections.append(
                {
                    "title": "Summary",
                    "rows": [
                        f"ARN: {policy['Arn']}",
                        f"Default version: {policy['DefaultVersionId']}",
                        f"Attachments: {policy.get('AttachmentCount', 0)}",
                    ],
                }
            )
            if version.result is not None:
                local = ":iam::aws:policy/" not in arn  # AWS managed policies are not edited
                sections.append({"title": f"Document ({shown})",
                                 "document": pretty(version.result["PolicyVersion"]["Document"]),
                                 "links": [(f"/console/policy/edit?arn={quote(arn, safe='')}", "Edit (a new version)",
                                            "edit-policy")] if local else []})  # fmt: skip
            else:
                sections.append(_section("Document", version, "PolicyVersion", str))
            here = f"/console/policy?arn={quote(arn, safe='')}"
            sections.append(item_section("Versions", self.c.run(request, signed, "ListPolicyVersions", PolicyArn=arn),
                                   "Versions", lambda v: (
                f"{v['VersionId']}{' (default)' if v['IsDefaultVersion'] else ''}",
                f"{here}&version={quote(v['VersionId'], safe='')}",
                [] if v["IsDefaultVersion"] else [
                    action_button("/console/policy/default", "Set as default", arn=arn, version=v["VersionId"]),
                    action_button("/console/policy/delete-version", "Delete", danger=True, arn=arn,
                            version=v["VersionId"])])))  # fmt: skip
            entities = self.c.run(request, signed, "ListEntitiesForPolicy", PolicyArn=arn)
            result = entities.result or {}
            attached = [("user", u["UserName"]) for u in result.get("PolicyUsers", [])] + \
                [("group", g["GroupName"]) for g in result.get("PolicyGroups", [])] + \
                [("role", r["RoleName"]) for r in result.get("PolicyRoles", [])]  # fmt: skip
            attach = "/console/manage/attach"
            items = [{"text": f"{kind} {n}", "href": f"/console/{kind}s/{quote(n, safe='')}",
                      "actions": [action_button(attach, "Detach", kind=kind, name=n, arn=arn, op="detach",
                                                back="policy")]} for kind, n in attached]  # fmt: skip
            form = small_form(
                attach,
                "attach-to",
                "Attach",
                arn=arn,
                op="attach",
                back="policy",
                kind=("Attach to (user, group or role)", "user"),
                name=("Its name", ""),
            )
            section = {"title": "Attached to", "error": entities.failure, "entries": items, "forms": [form]}
            sections.append(section)
        else:
            sections.append(_section("Summary", got, "Policy", str))
        status = got.error.status if got.error is not None else 200
        return self.c.page(request, "user.html", status, title=name, signed=signed, kind="Policy", name=name,
                           sections=sections)  # fmt: skip
