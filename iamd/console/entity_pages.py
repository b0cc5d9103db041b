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


def _pretty(document: str) -> str:
    """A policy document as stored (JSON text, possibly URL-encoded by a client), indented for reading."""
    text = document if document.lstrip().startswith("{") else unquote(document)
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


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
        sections = [
            _section("Members", got, "Users", lambda u: u["UserName"]),
            _section("Attached policies", self.c.run(request, signed, "ListAttachedGroupPolicies", GroupName=name),
                     "AttachedPolicies", lambda p: p["PolicyArn"]),
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
                    ],
                }
            )
            sections.append({"title": "Trust policy", "document": _pretty(role["AssumeRolePolicyDocument"])})
        else:
            sections.append(_section("Summary", got, "Role", str))
        sections += [
            _section("Attached policies", self.c.run(request, signed, "ListAttachedRolePolicies", RoleName=name),
                     "AttachedPolicies", lambda p: p["PolicyArn"]),
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
        return await run_in_threadpool(self._policy, request, signed, arn)

    def _policy(self, request: Request, signed: Signed, arn: str) -> Response:
        got = self.c.run(request, signed, "GetPolicy", PolicyArn=arn)
        sections: list[dict[str, Any]] = []
        name = arn
        if got.result is not None:
            policy = got.result["Policy"]
            name = policy["PolicyName"]
            version = self.c.run(
                request, signed, "GetPolicyVersion", PolicyArn=arn, VersionId=policy["DefaultVersionId"]
            )
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
                sections.append({"title": "Document", "document": _pretty(version.result["PolicyVersion"]["Document"])})
            else:
                sections.append(_section("Document", version, "PolicyVersion", str))
            sections.append(
                _section(
                    "Versions",
                    self.c.run(request, signed, "ListPolicyVersions", PolicyArn=arn),
                    "Versions",
                    lambda v: f"{v['VersionId']}{' (default)' if v['IsDefaultVersion'] else ''}",
                )
            )
        else:
            sections.append(_section("Summary", got, "Policy", str))
        status = got.error.status if got.error is not None else 200
        return self.c.page(request, "user.html", status, title=name, signed=signed, kind="Policy", name=name,
                           sections=sections)  # fmt: skip
