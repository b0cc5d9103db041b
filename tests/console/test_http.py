"""The console over plain HTTP (httpx against a real server): CSRF, cookies, sessions, throttling,
headers, escaping, and every action as the signed-in user through the API's authorization."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.client import BaseClient

from iamd.api import create_app
from iamd.service.signin import ThrottlePolicy
from tests.api.clock import StepClock
from tests.api.server import RunningServer
from tests.console.conftest import PASSWORD, TIMEOUT, Clients, csrf_of, http_sign_in, make_user

IAM_FULL = "arn:aws:iam::aws:policy/IAMFullAccess"


def _events(server: RunningServer, name: str, user: str) -> list[dict[str, Any]]:
    with server.backend.store.read() as tx:
        page = tx.list_audit_events(server.account_id, event_name=name, user_name=user, max_items=100)
    return [json.loads(e.record) for e in page.items]


def test_sign_in_needs_the_form_token(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "csrf-user")
    client = clients()
    token = csrf_of(client.get("/console").text)
    fields = {"account": server.account_id, "username": "csrf-user", "password": PASSWORD}
    assert client.post("/console/signin", data=fields).status_code == 403  # no token
    assert client.post("/console/signin", data={**fields, "csrf": token[:-2] + "xx"}).status_code == 403
    stranger = clients()  # a token from another browser (cookie) is no good
    stranger.get("/console")
    assert stranger.post("/console/signin", data={**fields, "csrf": token}).status_code == 403
    assert _events(server, "ConsoleLogin", "csrf-user") == []  # refused before any attempt
    assert client.post("/console/signin", data={**fields, "csrf": token}).status_code == 303


def test_every_signed_in_form_needs_the_session_token(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "form-user", policies=(IAM_FULL,))
    client = http_sign_in(clients, server, "form-user")
    token = csrf_of(client.get("/console/credentials").text)
    for path in ("/console/credentials/keys/create", "/console/credentials/mfa/create", "/console/signout"):
        assert client.post(path, data={}).status_code == 403, path
        assert client.post(path, data={"csrf": "x" * len(token)}).status_code == 403, path
    assert iam.list_access_keys(UserName="form-user")["AccessKeyMetadata"] == []
    assert client.get("/console/home").status_code == 200  # still signed in: the refused sign-out did nothing
    created = client.post("/console/credentials/keys/create", data={"csrf": token})
    assert created.status_code == 200 and "new-secret" in created.text


def test_cookies_are_httponly_samesite_strict_and_secure_under_tls(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "cookie-user")
    client = clients()
    first = client.get("/console")
    assert re.fullmatch(r"iamd-console-pre=[^;]+; HttpOnly; Path=/console; SameSite=strict",
                        first.headers["set-cookie"])  # fmt: skip
    signed = client.post("/console/signin", data={"csrf": csrf_of(first.text), "account": server.account_id,
                                                   "username": "cookie-user", "password": PASSWORD})  # fmt: skip
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("iamd-console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    # (on its own thread: Playwright's sync API keeps an event loop on the main thread)
    with ThreadPoolExecutor(1) as thread:
        assert "; Secure" in thread.submit(lambda: asyncio.run(_tls_cookie(server, "cookie-user"))).result()


async def _tls_cookie(server: RunningServer, user: str) -> str:
    """The session cookie of a sign-in over TLS (the app in-process, as under ``https``)."""
    transport = httpx.ASGITransport(app=create_app(server.backend))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver", timeout=TIMEOUT) as tls:
        page = await tls.get("/console")
        assert "Secure" in page.headers["set-cookie"]
        answer = await tls.post("/console/signin", data={"csrf": csrf_of(page.text), "account": server.account_id,
                                                          "username": user, "password": PASSWORD})  # fmt: skip
        assert answer.status_code == 303
        return next(c for c in answer.headers.get_list("set-cookie") if c.startswith("iamd-console="))


def test_a_new_session_at_every_sign_in_and_sign_out_revokes_it(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "fixation-user")
    client = http_sign_in(clients, server, "fixation-user")
    first = client.cookies["iamd-console"]
    second_client = clients()
    token = csrf_of(second_client.get("/console").text)
    second_client.cookies.set("iamd-console", first, domain="127.0.0.1", path="/console")  # carried in
    answer = second_client.post(
        "/console/signin",
        data={"csrf": token, "account": server.account_id, "username": "fixation-user", "password": PASSWORD},
    )
    assert answer.status_code == 303
    second = second_client.cookies.get("iamd-console", domain="127.0.0.1", path="/console")
    assert second and second != first
    # the session the browser carried before signing in was ended (no fixation, no leftovers)
    assert client.get("/console/home").status_code == 303
    planted = clients(cookies={"iamd-console": "attacker-chosen-value"})
    assert planted.get("/console/home").headers["location"] == "/console"
    home = second_client.get("/console/home")
    assert home.status_code == 200
    assert second_client.post("/console/signout", data={"csrf": csrf_of(home.text)}).status_code == 303
    replay = clients(cookies={"iamd-console": second})
    assert replay.get("/console/home").status_code == 303
    assert replay.get("/console/credentials").headers["location"] == "/console"


def test_throttled_after_repeated_failures_even_with_the_right_password(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "throttled-user")
    backend = server.backend
    original = backend.signin_throttle
    backend.signin_throttle = ThrottlePolicy(user_failures=3, address_failures=1000)
    try:
        client = clients()
        token = csrf_of(client.get("/console").text)
        fields = {"csrf": token, "account": server.account_id, "username": "throttled-user"}
        for _ in range(3):
            wrong = client.post("/console/signin", data={**fields, "password": "Wrong-passw0rd"})
            assert wrong.status_code == 401 and "Your authentication information is incorrect" in wrong.text
        locked = client.post("/console/signin", data={**fields, "password": PASSWORD})
        assert locked.status_code == 429 and "Too many failed sign-in attempts" in locked.text
        assert "iamd-console=" not in locked.headers.get("set-cookie", "")
    finally:
        backend.signin_throttle = original
    reasons = [e["additionalEventData"].get("iamdFailureReason") for e in _events(server, "ConsoleLogin",
                                                                                  "throttled-user")]  # fmt: skip
    assert reasons == ["throttled", "wrong-password", "wrong-password", "wrong-password"]  # newest first


def test_pages_carry_a_strict_policy_and_escape_what_they_echo(server: RunningServer, clients: Clients) -> None:
    client = clients()
    page = client.get("/console?account=%3Cscript%3Ealert(1)%3C/script%3E")
    assert page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe" not in csp
    assert page.headers["cache-control"] == "no-store" and page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    failed = client.post(
        "/console/signin",
        data={
            "csrf": csrf_of(page.text),
            "account": server.account_id,
            "username": '"><img src=x onerror=alert(1)>',
            "password": "x",
        },
    )
    assert failed.status_code == 401
    assert "<img" not in failed.text and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in failed.text
    assert client.get("/console/static/console.css").headers["content-type"].startswith("text/css")


def test_actions_are_the_signed_in_users_own_and_audited(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    """A user reaches only their own credentials: another user's key id is not theirs to delete, and
    every console action is authorized and recorded as the user's (the API's path)."""
    make_user(iam, "owner", policies=(IAM_FULL,))
    make_user(iam, "limited")
    victim_key = iam.create_access_key(UserName="owner")["AccessKey"]["AccessKeyId"]
    client = http_sign_in(clients, server, "limited")
    page = client.get("/console/credentials")
    assert "is not authorized to perform: iam:ListAccessKeys on resource: user limited" in page.text
    answer = client.post("/console/credentials/keys/delete", data={"csrf": csrf_of(page.text), "key": victim_key})
    assert answer.status_code in (403, 404)
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="owner")["AccessKeyMetadata"]] == [victim_key]
    (denied,) = _events(server, "DeleteAccessKey", "limited")
    assert denied["errorCode"] == "AccessDenied" and denied["userIdentity"]["userName"] == "limited"
    assert denied["iamdDecision"]["decision"] == "implicitDeny"


def test_a_password_change_only_session_can_do_nothing_else(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "reset-user", reset=True, policies=(IAM_FULL,))
    client = http_sign_in(clients, server, "reset-user")
    assert client.get("/console/home").headers["location"] == "/console/password"
    assert client.get("/console/credentials").headers["location"] == "/console/password"
    page = client.get("/console/password")
    token = csrf_of(page.text)
    assert client.post("/console/credentials/keys/create", data={"csrf": token}).status_code == 303
    assert iam.list_access_keys(UserName="reset-user")["AccessKeyMetadata"] == []


def test_forced_change_without_permission_ends_without_a_session(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    """CreateLoginProfile through the API attaches nothing (as AWS's API): with no permission to change
    the password, the forced change is refused and the browser keeps no session."""
    make_user(iam, "stuck-user", reset=True)
    client = http_sign_in(clients, server, "stuck-user")
    token = csrf_of(client.get("/console/password").text)
    answer = client.post("/console/password", data={"csrf": token, "old": PASSWORD, "new": "Another-passw0rd",
                                                      "confirm": "Another-passw0rd"})  # fmt: skip
    assert answer.status_code == 403 and "permission to change your password" in answer.text
    assert client.get("/console/home").status_code == 303


@pytest.mark.parametrize("path", ["/console/home", "/console/credentials", "/console/password", "/console/mfa"])
def test_signed_out_pages_go_to_sign_in(server: RunningServer, path: str) -> None:
    answer = httpx.get(f"{server.endpoint}{path}", timeout=TIMEOUT)
    assert answer.status_code == 303 and answer.headers["location"] == "/console"


def test_root_attempts_are_recorded_as_root(server: RunningServer, clients: Clients) -> None:
    client = clients()
    token = csrf_of(client.get("/console").text)
    fields = {"csrf": token, "kind": "root", "account": server.account_id, "password": "Not-the-r00t"}
    assert client.post("/console/signin", data=fields).status_code == 401
    with server.backend.store.read() as tx:
        events = tx.list_audit_events(server.account_id, event_name="ConsoleLogin", max_items=100).items
    roots = [json.loads(e.record) for e in events if '"Root"' in e.record]
    assert roots and roots[0]["userIdentity"]["arn"] == f"arn:aws:iam::{server.account_id}:root"
    assert roots[0]["responseElements"] == {"ConsoleLogin": "Failure"}


def test_admin_pages_escape_stored_values_and_page_through_users(
    server: RunningServer, clients: Clients, iam: BaseClient
) -> None:
    make_user(iam, "admin-user", policies=(IAM_FULL,))
    iam.create_user(UserName="pathy", Path="/<script>alert(1)</script>/")
    for n in range(55):
        iam.create_user(UserName=f"bulk-{n:02d}")
    client = http_sign_in(clients, server, "admin-user")
    first = client.get("/console/users")
    assert first.status_code == 200
    marker = re.search(r'href="/console/users\?marker=([^"]+)" id="next-page"', first.text)
    assert marker is not None and first.text.count("<tr><td><a href=") == 50
    second = client.get(f"/console/users?marker={marker.group(1)}")
    assert second.status_code == 200 and "bulk-54" in second.text and "bulk-54" not in first.text
    assert "<script>alert(1)" not in second.text and "/&lt;script&gt;alert(1)&lt;/script&gt;/" in second.text
    detail = client.get("/console/users/pathy")
    assert "<script>alert(1)" not in detail.text and "Path: /&lt;script&gt;" in detail.text
    token = csrf_of(client.get("/console/users/new").text)
    bad = client.post("/console/users/new", data={"csrf": token, "name": '"><img src=x>', "path": "/"})
    assert bad.status_code == 400 and "<img src=x>" not in bad.text and "&#34;&gt;&lt;img src=x&gt;" in bad.text


def test_why_shows_only_your_own_requests(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "why-a")
    make_user(iam, "why-b")
    a = http_sign_in(clients, server, "why-a")
    denied = a.get("/console/users")
    request_id = re.search(r"/console/why\?request_id=([0-9a-f-]+)", denied.text)
    assert denied.status_code == 403 and request_id is not None
    mine = a.get(f"/console/why?request_id={request_id.group(1)}")
    assert 'id="why-decision">implicitDeny<' in mine.text
    b = http_sign_in(clients, server, "why-b")
    theirs = b.get(f"/console/why?request_id={request_id.group(1)}")
    assert 'id="why-missing"' in theirs.text and "why-a" not in theirs.text


def test_why_finds_an_old_request_by_its_id(
    server: RunningServer, clients: Clients, iam: BaseClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request id is looked up by its index, not among the newest failures listed on the page."""
    monkeypatch.setattr("iamd.console.admin_pages.WHY_WINDOW", 2)
    make_user(iam, "why-old")
    client = http_sign_in(clients, server, "why-old")
    first = re.search(r"/console/why\?request_id=([0-9a-f-]+)", client.get("/console/users").text)
    assert first is not None
    for _ in range(3):  # newer failures push it out of the listed window
        client.get("/console/groups")
    assert server.backend.audit is not None
    server.backend.audit.flush()
    old = client.get(f"/console/why?request_id={first.group(1)}")
    assert 'id="why-decision">implicitDeny<' in old.text


def test_expired_passwords_must_be_changed_or_hard_expired(
    server: RunningServer, clients: Clients, iam: BaseClient, clock: StepClock
) -> None:
    make_user(iam, "aging-user", policies=("arn:aws:iam::aws:policy/IAMUserChangePassword",))
    iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=1)
    steps = clock.step - clock.origin
    try:
        clock.at(steps + 2 * 2880)  # two days later (2,880 steps a day): the password has expired
        client = http_sign_in(clients, server, "aging-user")
        assert client.get("/console/home").headers["location"] == "/console/password"
        assert "Expires 1 day after it is set" in client.get("/console/password").text
        clock.at(steps)
        iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=1, HardExpiry=True)
        clock.at(steps + 2 * 2880)
        hard = clients()
        answer = hard.post("/console/signin", data={"csrf": csrf_of(hard.get("/console").text),
                                                     "account": server.account_id, "username": "aging-user",
                                                     "password": PASSWORD})  # fmt: skip
        assert answer.status_code == 401 and "Only your administrator can reset it." in answer.text
    finally:
        clock.at(steps)
        iam.delete_account_password_policy()


def test_unknown_console_pages_answer_404_with_the_same_headers(server: RunningServer) -> None:
    answer = httpx.get(f"{server.endpoint}/console/no-such-page", timeout=TIMEOUT)
    assert answer.status_code == 404 and answer.headers["x-frame-options"] == "DENY"
    assert "Page not found" in answer.text


def test_groups_roles_and_policies_pages(server: RunningServer, clients: Clients, iam: BaseClient) -> None:
    make_user(iam, "reader", policies=("arn:aws:iam::aws:policy/IAMReadOnlyAccess",))
    iam.create_group(GroupName="ops")
    iam.add_user_to_group(GroupName="ops", UserName="reader")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "<script>alert(1)</script>"}}}]})  # fmt: skip
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust)
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::<b>bucket</b>/*"}],
        }
    )
    arn = iam.create_policy(PolicyName="readers", PolicyDocument=document)["Policy"]["Arn"]
    client = http_sign_in(clients, server, "reader")
    assert 'href="/console/groups/ops">ops<' in client.get("/console/groups").text
    assert 'href="/console/users/reader">reader</a>' in client.get("/console/groups/ops").text
    assert 'href="/console/roles/deployer">deployer<' in client.get("/console/roles").text
    role = client.get("/console/roles/deployer").text
    assert (
        "&#34;sts:ExternalId&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in role and "<script>" not in role
    )
    listed = client.get("/console/policies").text
    assert "readers" in listed
    policy = client.get(f"/console/policy?arn={arn}").text
    assert "arn:aws:s3:::&lt;b&gt;bucket&lt;/b&gt;/*" in policy and "v1 (default)" in policy
    aws = client.get("/console/policies?scope=AWS")
    assert aws.status_code == 200 and "arn:aws:iam::aws:policy/IAMReadOnlyAccess" in aws.text
