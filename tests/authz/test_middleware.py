"""The ASGI and WSGI middleware in front of real applications, their authorizer talking to a real
iamd server on a loopback port; the README's widgets service run exactly as printed there."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.client import BaseClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from iamd.authz import Answer, Check, ForwardedRequest, HttpAuthorizationClient
from iamd.authz.asgi import AuthorizationMiddleware, Scope
from iamd.authz.wsgi import AuthorizationMiddleware as WsgiMiddleware
from tests.api.conftest import allow, policy
from tests.api.server import RunningServer, free_port
from tests.authz.conftest import Key, presign, sign, widget

README = Path(__file__).resolve().parents[2] / "README.md"
BASE = "http://widgets.example"


def readme_service() -> str:
    """The README's widgets service: the python block that builds the middleware."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    [block] = [b for b in blocks if "AuthorizationMiddleware(" in b]
    return str(block)


def send(app: Any, request: ForwardedRequest, body: bytes = b"") -> httpx.Response:
    """``request`` (already signed, as a client sends it) to the ASGI ``app``."""

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            headers = [(n, v) for n, v in request.headers if n.lower() not in ("host", "content-length")]
            url = request.path + (f"?{request.query}" if request.query else "")
            return await client.request(request.method, url, headers=headers, content=body)

    return asyncio.run(go())


def test_the_readmes_widgets_service_denies_mateo_with_awss_message_until_his_policy_allows_it(
    api_server: RunningServer, make_user: Callable[..., Key], service_key: Key, iam: BaseClient, acct: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for name, value in {"ACCOUNT": acct, "IAMD_URL": api_server.endpoint, "WIDGETS_KEY_ID": service_key.key,
                        "WIDGETS_SECRET": service_key.secret}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {}
    exec(compile(readme_service(), str(README), "exec"), namespace)
    app, client = namespace["app"], namespace["iamd"]
    try:
        mateo = make_user("mateojackson")
        url = BASE + "/widget/my-example-widget"
        denied = send(app, sign(mateo, url=url))
        assert denied.status_code == 403
        assert denied.json() == {
            "__type": "AccessDenied",
            "message": f"User: arn:aws:iam::{acct}:user/mateojackson is not authorized to perform: widgets:GetWidget "
            f"on resource: arn:aws:widgets:us-east-1:{acct}:widget/my-example-widget because no identity-based policy "
            "allows the widgets:GetWidget action",
        }
        iam.put_user_policy(UserName="mateojackson", PolicyName="widgets",
                            PolicyDocument=policy(allow("widgets:GetWidget")))  # fmt: skip
        allowed = send(app, sign(mateo, url=url))
        assert allowed.status_code == 200 and allowed.json() == {"widget": "my-example-widget"}
        unsigned = send(app, ForwardedRequest("GET", "/widget/my-example-widget", "", []))
        assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationToken"
    finally:
        client.close()


def _echo_app() -> Starlette:
    async def echo(request: Request) -> Response:
        answer: Answer = request.scope["state"]["iamd"]
        body = await request.body()
        return JSONResponse({"caller": answer.principal.get("arn"), "body": body.decode(),
                             "same": request.scope["iamd.answer"] is answer})  # fmt: skip

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "PUT", "POST"])])


def _checks(acct: str) -> Callable[[Scope, bytes | None], Sequence[Check]]:
    def checks(scope: Scope, body: bytes | None) -> Sequence[Check]:
        method = scope.get("method") or scope["REQUEST_METHOD"]  # ASGI scope or WSGI environ
        return [Check("widgets:PutWidget" if method != "GET" else "widgets:GetWidget", widget(acct, "w"))]

    return checks


def test_the_answer_reaches_the_application_and_a_body_without_its_hash_header_is_hashed_then_replayed(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    ivan = make_user("ivan-body", policy(allow("widgets:*")))
    app = AuthorizationMiddleware(_echo_app(), authorizer, _checks(acct), service="widgets")
    body = b'{"colour": "blue"}'
    signed = sign(ivan, method="PUT", url=BASE + "/widget/w", body=body)
    assert not any(n.lower() == "x-amz-content-sha256" for n, _ in signed.headers)  # the generic signer sends none
    response = send(app, signed, body)
    assert response.status_code == 200
    assert response.json() == {"caller": ivan.arn, "body": body.decode(), "same": True}
    tampered = send(app, signed, b'{"colour": "red"}')
    assert tampered.status_code == 403 and tampered.json()["__type"] == "SignatureDoesNotMatch"


def test_a_body_with_its_hash_header_is_not_read_by_the_middleware(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    judy = make_user("judy-stream", policy(allow("s3:PutObject")))
    body = b"x" * (3 * 1024 * 1024)  # over the middleware's buffer limit: it must not matter
    signed = sign(judy, service="s3", method="PUT", url=BASE + "/bucket/big", body=body)
    assert dict((n.lower(), v) for n, v in signed.headers)["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    received: list[int] = []

    async def store(scope: Scope, receive: Any, send_: Any) -> None:
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        received.append(size)
        await PlainTextResponse("stored")(scope, receive, send_)

    def checks(scope: Scope, body: bytes | None) -> Sequence[Check]:
        assert body is None
        return [Check("s3:PutObject", "arn:aws:s3:::bucket/big", resource_account=acct)]

    app = AuthorizationMiddleware(store, authorizer, checks, service="s3")
    response = send(app, signed, body)
    assert response.status_code == 200 and received == [len(body)]


def test_a_service_shapes_its_own_denial(authorizer: HttpAuthorizationClient, acct: str) -> None:
    def xml(answer: Answer, scope: Scope) -> Response:
        denied = answer.denied
        assert denied is not None
        return Response(f"<Error><Code>{denied.error_code}</Code><Message>{denied.message}</Message></Error>",
                        status_code=403, media_type="application/xml")  # fmt: skip

    app = AuthorizationMiddleware(_echo_app(), authorizer, lambda s, b: [Check("s3:GetObject", "arn:aws:s3:::b/k")],
                                  service="s3", allow_anonymous=True, on_deny=xml)  # fmt: skip
    response = send(app, ForwardedRequest("GET", "/b/k", "", []))
    assert response.status_code == 403
    assert response.text == "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"


def test_no_checks_or_no_iamd_never_lets_a_request_through(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    kim = make_user("kim-closed", policy(allow("*")))
    none = AuthorizationMiddleware(_echo_app(), authorizer, lambda s, b: [], service="widgets")
    assert send(none, sign(kim, url=BASE + "/widget/w")).status_code == 403
    with HttpAuthorizationClient(f"http://127.0.0.1:{free_port()}", kim.key, kim.secret) as nowhere:
        gone = AuthorizationMiddleware(_echo_app(), nowhere, _checks(acct), service="widgets")
        response = send(gone, sign(kim, url=BASE + "/widget/w"))
    assert response.status_code == 503 and response.json()["__type"] == "ServiceUnavailable"


def test_the_wsgi_middleware_decides_the_same(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    leo = make_user("leo-wsgi", policy(allow("widgets:GetWidget")))

    def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer: Answer = environ["iamd.answer"]
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{answer.principal['arn']} {body.decode()}".encode()]

    app = WsgiMiddleware(hello, authorizer, _checks(acct), service="widgets")
    client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE)

    def call(request: ForwardedRequest, body: bytes = b"") -> httpx.Response:
        headers = [(n, v) for n, v in request.headers if n.lower() not in ("host", "content-length")]
        url = request.path + (f"?{request.query}" if request.query else "")
        return client.request(request.method, url, headers=headers, content=body)

    ok = call(sign(leo, url=BASE + "/widget/w"))
    assert ok.status_code == 200 and ok.text == f"{leo.arn} "
    put = call(sign(leo, method="PUT", url=BASE + "/widget/w", body=b"new"), b"new")
    assert put.status_code == 403
    assert put.json()["message"].endswith("because no identity-based policy allows the widgets:PutWidget action")
    tampered = call(sign(leo, method="PUT", url=BASE + "/widget/w", body=b"new"), b"old")
    assert tampered.status_code == 403 and tampered.json()["__type"] == "SignatureDoesNotMatch"
    client.close()


def test_a_presigned_s3_url_passes_without_a_payload_hash_header(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    # A presigned S3 URL signs UNSIGNED-PAYLOAD (AWS "Authenticating Requests: Using Query
    # Parameters") and sends no x-amz-content-sha256: the middleware must leave the payload hash to
    # iamd rather than hash the (empty) body, which would not match what the URL signed.
    kim = make_user("kim-presigned", policy(allow("s3:GetObject")))
    url = presign(kim, service="s3", url=BASE + "/bucket/report.csv")
    split = urlsplit(url)
    request = ForwardedRequest("GET", split.path, split.query, [("Host", split.netloc)])

    def checks(scope: Scope, body: bytes | None) -> Sequence[Check]:
        return [Check("s3:GetObject", "arn:aws:s3:::bucket/report.csv", resource_account=acct)]

    app = AuthorizationMiddleware(_echo_app(), authorizer, checks, service="s3")
    response = send(app, request)
    assert response.status_code == 200, response.text
    assert response.json()["caller"] == kim.arn


def test_the_http_client_never_calls_iamd_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its call is network I/O: on the loop it would stall every request of the service while it waits
    (only the in-process client tries a few checks on the loop, where no I/O happens)."""
    client = HttpAuthorizationClient(f"http://127.0.0.1:{free_port()}", "AKIAIOSFODNN7EXAMPLE", "x" * 40)
    where: list[str] = []

    def authorize_sync(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return None

    monkeypatch.setattr(client, "authorize_sync", authorize_sync)
    asyncio.run(client.authorize("http://widgets.example/w", [Check("widgets:GetWidget", "*")]))
    assert where == ["worker thread"]
