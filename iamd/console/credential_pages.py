"""My security credentials: password, access keys and virtual MFA, each action as the signed-in user.

Every action goes through :meth:`Console.run` (the API's authorization and audit), so the
policies that govern the API govern the pages too: a user under AWS's sample "manage your
own credentials only with MFA" policy who signed in without MFA sees the denial of the key
list, and may still assign an MFA device (docs/console.md, "My security credentials").
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iamd.console.actions import Outcome
from iamd.console.web import Console, Signed, redirect

__all__ = ["credential_routes"]

_Handler = Callable[[Request, Signed, dict[str, str]], Response]


def credential_routes(console: Console) -> list[BaseRoute]:
    pages = _CredentialPages(console)
    return [
        Route("/console/credentials", pages.show, methods=["GET"]),
        Route("/console/credentials/keys/create", pages.post(pages.create_key), methods=["POST"]),
        Route("/console/credentials/keys/update", pages.post(pages.update_key), methods=["POST"]),
        Route("/console/credentials/keys/delete", pages.post(pages.delete_key), methods=["POST"]),
        Route("/console/credentials/mfa/create", pages.post(pages.create_mfa), methods=["POST"]),
        Route("/console/credentials/mfa/enable", pages.post(pages.enable_mfa), methods=["POST"]),
        Route("/console/credentials/mfa/remove", pages.post(pages.remove_mfa), methods=["POST"]),
    ]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value or "")


class _CredentialPages:
    def __init__(self, console: Console) -> None:
        self.c = console

    async def _signed(self, request: Request) -> Signed | Response:
        signed = await self.c.page_session(request)
        # the root user's credentials are the operator's (docs/console.md)
        if isinstance(signed, Signed) and signed.session.signin.root:
            return redirect("/console/home")
        return signed

    async def show(self, request: Request) -> Response:
        signed = await self._signed(request)
        if isinstance(signed, Response):
            return signed
        return await run_in_threadpool(self.render, request, signed, {})

    def post(self, action: _Handler) -> Callable[[Request], Awaitable[Response]]:
        """A form handler: signed in (not root), the session's CSRF token, then ``action`` on a worker thread."""
        return self.c.posted(action, self._signed)

    def render(self, request: Request, signed: Signed, values: dict[str, Any], status: int = 200) -> Response:
        me = signed.session.signin.user_name
        keys_out = self.c.run_user(request, signed, "ListAccessKeys", UserName=me)
        keys = []
        for k in (keys_out.result or {}).get("AccessKeyMetadata", []):
            used = self.c.run_user(request, signed, "GetAccessKeyLastUsed", AccessKeyId=k["AccessKeyId"])
            last = (used.result or {}).get("AccessKeyLastUsed", {})
            when = last.get("LastUsedDate")
            keys.append({**k, "CreateDate": _when(k["CreateDate"]),
                         "LastUsed": f"{_when(when)} ({last.get('ServiceName')})" if when else "Never"})  # fmt: skip
        mfa_out = self.c.run_user(request, signed, "ListMFADevices", UserName=me)
        listed = (mfa_out.result or {}).get("MFADevices", [])
        devices = [{**d, "EnableDate": _when(d.get("EnableDate"))} for d in listed]
        values = {"keys_error": keys_out.failure, "mfa_error": mfa_out.failure, **values}
        return self.c.page(request, "credentials.html", status, title="My security credentials", signed=signed,
                           keys=keys, devices=devices, **values)  # fmt: skip

    def _after(self, request: Request, signed: Signed, outcome: Outcome, done: str) -> Response:
        if outcome.error is not None:
            return self.render(request, signed, {"error": outcome.error.message, "request_id": outcome.request_id},
                               outcome.error.status)  # fmt: skip
        return self.render(request, signed, {"notice": done})

    # -- access keys -----------------------------------------------------------------------
    def create_key(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        outcome = self.c.run_user(request, signed, "CreateAccessKey", UserName=signed.session.signin.user_name)
        if outcome.result is None:
            return self._after(request, signed, outcome, "")
        key = outcome.result["AccessKey"]
        csv = f"Access key ID,Secret access key\r\n{key['AccessKeyId']},{key['SecretAccessKey']}\r\n"
        link = "data:text/csv;base64," + base64.b64encode(csv.encode()).decode()
        return self.c.page(request, "key_created.html", title="Access key created", signed=signed, key=key, csv=link)

    def update_key(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        status = "Inactive" if form.get("status") == "Inactive" else "Active"
        outcome = self.c.run_user(request, signed, "UpdateAccessKey", UserName=signed.session.signin.user_name,
                             AccessKeyId=form.get("key", "")[:128], Status=status)  # fmt: skip
        return self._after(request, signed, outcome, f"The access key is now {status.lower()}.")

    def delete_key(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        outcome = self.c.run_user(request, signed, "DeleteAccessKey", UserName=signed.session.signin.user_name,
                             AccessKeyId=form.get("key", "")[:128])  # fmt: skip
        return self._after(request, signed, outcome, "The access key was deleted.")

    # -- virtual MFA -----------------------------------------------------------------------
    def create_mfa(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        setup = signed.session.mfa_setup
        if setup is None:
            me = signed.session.signin.user_name
            outcome = self.c.run_user(request, signed, "CreateVirtualMFADevice", VirtualMFADeviceName=me)
            if outcome.error is not None and outcome.error.code == "EntityAlreadyExists":
                # An earlier setup left its device unassigned: start again with a new seed.
                serial = f"arn:{self.c.backend.partition.name}:iam::{signed.session.signin.account_id}:mfa/{me}"
                gone = self.c.run_user(request, signed, "DeleteVirtualMFADevice", SerialNumber=serial)
                # Not allowed to delete it (AWS's "manage your own credentials with MFA" policy allows only
                # CreateVirtualMFADevice): a new device under a new name, as AWS's console lets users name theirs.
                name = me if gone.ok else f"{me}-{secrets.token_hex(3)}"
                outcome = self.c.run_user(request, signed, "CreateVirtualMFADevice", VirtualMFADeviceName=name)
            if outcome.result is None:
                return self._after(request, signed, outcome, "")
            device = outcome.result["VirtualMFADevice"]
            setup = (device["SerialNumber"], device["Base32StringSeed"].decode("ascii"),
                     base64.b64encode(device["QRCodePNG"]).decode("ascii"))  # fmt: skip
            self.c.sessions.update(signed.token, replace(signed.session, mfa_setup=setup))
        return self._setup_page(request, signed, setup)

    def _setup_page(self, request: Request, signed: Signed, setup: tuple[str, str, str], **values: Any) -> Response:
        serial, seed, qr = setup
        return self.c.page(request, "mfa_setup.html", values.pop("status", 200), title="Set up MFA", signed=signed,
                           serial=serial, seed=seed, qr=qr, **values)  # fmt: skip

    def enable_mfa(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        setup = signed.session.mfa_setup
        if setup is None:
            return self.render(request, signed, {"error": "Start the MFA setup again."}, 400)
        outcome = self.c.run_user(request, signed, "EnableMFADevice", UserName=signed.session.signin.user_name,
                             SerialNumber=setup[0], AuthenticationCode1=form.get("code1", "").strip()[:16],
                             AuthenticationCode2=form.get("code2", "").strip()[:16])  # fmt: skip
        if outcome.error is not None:
            return self._setup_page(request, signed, setup, status=outcome.error.status, error=outcome.error.message,
                                    request_id=outcome.request_id)  # fmt: skip
        self.c.sessions.update(signed.token, replace(signed.session, mfa_setup=None))
        return self.render(request, signed, {"notice": "The MFA device was assigned. Use it at your next sign-in."})

    def remove_mfa(self, request: Request, signed: Signed, form: dict[str, str]) -> Response:
        serial = form.get("serial", "")[:512]
        me = signed.session.signin.user_name
        outcome = self.c.run_user(request, signed, "DeactivateMFADevice", UserName=me, SerialNumber=serial)
        if outcome.ok and ":mfa/" in serial:
            deleted = self.c.run_user(request, signed, "DeleteVirtualMFADevice", SerialNumber=serial)
            if not deleted.ok:  # removed from the user all the same; the device itself stays, unassigned
                return self.render(request, signed, {"notice": "The MFA device was removed. (Its virtual device "
                                   "stays in the account, unassigned: you may not delete it.)"})  # fmt: skip
        return self._after(request, signed, outcome, "The MFA device was removed.")
