"""The console across server processes and over TLS, with real ``iamd serve`` processes.

* Sessions live in the store: a sign-in made on one process works on another on the same
  database, and a sign-out or an administrator's revocation on one ends it on every other
  (two processes, so which one answers is the test's choice); with ``--workers 2`` every new
  connection, wherever it lands, sees the session, and none sees it after sign-out.
* The MFA step of a sign-in can finish on another process than its password step.
* ``--tls-self-signed``: boto3 trusts the generated certificate (``verify=``), calls carry
  ``aws:SecureTransport`` true, and the console's cookies are ``Secure``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pyotp
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from iamd.store import open_store
from iamd.tls import CERT_FILE, KEY_FILE
from tests.api.server import ROOT_KEY, ROOT_SECRET, free_port
from tests.console.conftest import PASSWORD, TIMEOUT, csrf_of

STARTUP = 300.0  # liveness only: a loaded machine may take minutes to start a server and its workers
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
FULL = "arn:aws:iam::aws:policy/IAMFullAccess"


@contextmanager
def _serve(data_dir: Path, *extra: str, scheme: str = "http") -> Iterator[str]:
    """One ``iamd serve --dev`` on the data directory's SQLite database; its endpoint once it answers."""
    env = {**os.environ, "IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    port = free_port()
    cmd = [sys.executable, "-m", "iamd", "serve", "--dev", "--port", str(port), "--data-dir", str(data_dir),
           "--database", f"sqlite:///{data_dir / 'iamd.db'}", "--audit-writer", "thread", *extra]  # fmt: skip
    log = data_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=out)
    endpoint = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP
    try:
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, f"iamd serve did not answer within {STARTUP} s"
            if scheme == "https" and not (data_dir / CERT_FILE).exists():  # not made yet
                time.sleep(0.2)
                continue
            verify: ssl.SSLContext | bool = _trusting(data_dir / CERT_FILE) if scheme == "https" else True
            try:
                if httpx.get(f"{endpoint}/_iamd/health", timeout=2, verify=verify).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_OPEN: list[httpx.Client] = []


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(endpoint: str, **kwargs: Any) -> httpx.Client:
    client = httpx.Client(base_url=endpoint, timeout=TIMEOUT, **kwargs)
    _OPEN.append(client)
    return client


def _iam(endpoint: str, verify: str | bool = True, key: str = ROOT_KEY, secret: str = ROOT_SECRET) -> BaseClient:
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=NO_RETRY, verify=verify)  # fmt: skip


def _user(iam: BaseClient, name: str, *policies: str) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=False)
    for arn in policies:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)


def _sign_in(endpoint: str, user: str, **kwargs: Any) -> httpx.Client:
    client = _client(endpoint, **kwargs)
    form = {"csrf": csrf_of(client.get("/console").text), "kind": "iam", "account": "123456789012",
            "username": user, "password": PASSWORD}  # fmt: skip
    answer = client.post("/console/signin", data=form)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/home", answer.text
    return client


def _with_cookie(endpoint: str, signed: httpx.Client) -> httpx.Client:
    """Another browser connection (to ``endpoint``) carrying the signed-in browser's session cookie."""
    other = _client(endpoint)
    other.cookies.set("iamd-console", signed.cookies["iamd-console"], path="/console")
    return other


def _signed_in(client: httpx.Client) -> bool:
    answer = client.get("/console/home")
    return answer.status_code == 200 and 'id="arn"' in answer.text


def test_a_session_made_on_one_process_is_everywhere_until_signed_out_or_revoked(tmp_path: Path) -> None:
    with _serve(tmp_path) as a, _serve(tmp_path) as b:
        iam = _iam(a)
        _user(iam, "roamer")
        _user(iam, "admin", FULL)
        on_a = _sign_in(a, "roamer")
        on_b = _with_cookie(b, on_a)
        assert _signed_in(on_a) and _signed_in(on_b)  # B never saw the sign-in
        page = on_b.get("/console/home").text
        assert on_b.post("/console/signout", data={"csrf": csrf_of(page)}).status_code == 303
        assert not _signed_in(on_a) and not _signed_in(_with_cookie(a, on_a))  # signed out on B: gone on A
        # an administrator on B ends every console session of the user, including the ones made on A
        first, second = _sign_in(a, "roamer"), _sign_in(a, "roamer")
        assert _signed_in(first) and _signed_in(second)
        admin = _sign_in(b, "admin")
        token = csrf_of(admin.get("/console/users/roamer").text)
        done = admin.post("/console/manage/user/revoke", data={"csrf": token, "user": "roamer"})
        assert done.status_code == 303 and "failed" not in done.headers["location"]
        assert not _signed_in(first) and not _signed_in(second) and _signed_in(admin)
        # at rest: the token's SHA-256, never the token; the session's contents sealed (no user name in clear)
        token = admin.cookies["iamd-console"]
        with sqlite3.connect(tmp_path / "iamd.db") as db:
            rows = db.execute("SELECT id_hash, data FROM console_sessions").fetchall()
        assert hashlib.sha256(token.encode()).hexdigest() in {r[0] for r in rows}
        assert all(token.encode() not in r[1] and b"roamer" not in r[1] and b"admin" not in r[1] for r in rows)


def test_a_sign_in_works_whichever_worker_answers(tmp_path: Path) -> None:
    with _serve(tmp_path, "--workers", "2") as endpoint:
        _user(_iam(endpoint), "worker-user")
        signed = _sign_in(endpoint, "worker-user")
        for _ in range(12):  # each a new connection: the kernel hands it to either worker
            with _with_cookie(endpoint, signed) as fresh:
                assert _signed_in(fresh)
        with _with_cookie(endpoint, signed) as fresh:
            page = fresh.get("/console/home").text
            assert fresh.post("/console/signout", data={"csrf": csrf_of(page)}).status_code == 303
        for _ in range(12):
            with _with_cookie(endpoint, signed) as fresh:
                assert not _signed_in(fresh)


def test_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    with _serve(tmp_path, "--tls-self-signed", scheme="https") as endpoint:
        cert = tmp_path / CERT_FILE
        assert cert.exists() and (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
        iam = _iam(endpoint, verify=str(cert))
        _user(iam, "secure-user")
        only_tls = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser",
                    "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}  # fmt: skip
        iam.put_user_policy(UserName="secure-user", PolicyName="tls", PolicyDocument=json.dumps(only_tls))
        key = iam.create_access_key(UserName="secure-user")["AccessKey"]
        user = _iam(endpoint, str(cert), key["AccessKeyId"], key["SecretAccessKey"])
        assert user.get_user(UserName="secure-user")["User"]["UserName"] == "secure-user"  # SecureTransport: true
        assert (tmp_path / "endpoint").read_text().startswith("https://127.0.0.1:")  # for the other commands
        with httpx.Client(base_url=endpoint, timeout=TIMEOUT, verify=_trusting(cert)) as browser:
            first = browser.get("/console")
            assert "; Secure" in first.headers["set-cookie"]
            form = {"csrf": csrf_of(first.text), "account": "123456789012", "username": "secure-user",
                    "password": PASSWORD}  # fmt: skip
            answer = browser.post("/console/signin", data=form)
            session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("iamd-console="))
            assert "; Secure" in session and "HttpOnly" in session
        made = cert.read_bytes()
        stopping = time.monotonic()  # boto3's pooled TLS connection is still open and idle
    # dropped a second after close_notify, not the 30 s asyncio waits for the client's (docs/console.md, "TLS")
    assert time.monotonic() - stopping < 15
    with _serve(tmp_path, "--tls-self-signed", scheme="https"):  # a second start reuses the certificate
        assert cert.read_bytes() == made


def _enable_virtual_mfa(iam: BaseClient, user: str) -> str:
    """A virtual MFA device enabled for ``user`` with two consecutive codes one and two steps old
    (the device's last used step is then the previous one: the current step's code is fresh)."""
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    totp = pyotp.TOTP(seed)
    for _ in range(3):  # a 30-second boundary crossed between the codes and the server's check: again
        step = int(time.time()) // 30
        try:
            iam.enable_mfa_device(UserName=user, SerialNumber=device["SerialNumber"],
                                  AuthenticationCode1=totp.generate_otp(step - 2),
                                  AuthenticationCode2=totp.generate_otp(step - 1))  # fmt: skip
            return seed
        except iam.exceptions.InvalidAuthenticationCodeException:
            time.sleep(1)
    raise AssertionError("EnableMFADevice refused three pairs of fresh codes")


def test_the_mfa_step_can_finish_on_another_process(tmp_path: Path) -> None:
    """The password step on one process, the MFA step on another: the pending sign-in is in the
    store (sealed under the browser's token), with its wrong-code count, not in one process's memory."""
    with _serve(tmp_path) as a, _serve(tmp_path) as b:
        iam = _iam(a)
        _user(iam, "mfa-roamer")
        totp = pyotp.TOTP(_enable_virtual_mfa(iam, "mfa-roamer"))
        on_a = _client(a)
        form = {"csrf": csrf_of(on_a.get("/console").text), "kind": "iam", "account": "123456789012",
                "username": "mfa-roamer", "password": PASSWORD}  # fmt: skip
        started = on_a.post("/console/signin", data=form)
        assert started.status_code == 303 and started.headers["location"] == "/console/mfa"
        on_b = _client(b)
        on_b.cookies.set("iamd-console-mfa", on_a.cookies["iamd-console-mfa"], path="/console")
        step_page = on_b.get("/console/mfa")  # B never saw the password step
        assert step_page.status_code == 200 and 'name="code"' in step_page.text
        token = csrf_of(step_page.text)
        wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
        refused = on_b.post("/console/mfa", data={"csrf": token, "code": wrong})
        assert refused.status_code == 401 and "iamd-console" not in refused.cookies
        # the right code on A finishes the sign-in B refused a code for; the session is everywhere
        on_a.cookies.set("iamd-console-mfa", on_b.cookies["iamd-console-mfa"], path="/console")
        done = on_a.post("/console/mfa", data={"csrf": token, "code": totp.now()})
        assert done.status_code == 303 and done.headers["location"] == "/console/home", done.text
        assert _signed_in(on_a) and _signed_in(_with_cookie(b, on_a))
        # the pending step is spent: B sends the browser back to the password step
        assert on_b.get("/console/mfa").headers.get("location") == "/console"
        tried = [(r["responseElements"]["ConsoleLogin"], r["additionalEventData"].get("MFAUsed"),
                  r["additionalEventData"].get("iamdFailureReason")) for r in _console_logins(tmp_path)]  # fmt: skip
        # the wrong code, refused by B, and the sign-in A finished: one trail, whichever process answered
        assert sorted(tried, key=str) == [("Failure", "No", "wrong-mfa-code"), ("Success", "Yes", None)]


def _console_logins(data_dir: Path) -> list[dict[str, Any]]:
    """The ``ConsoleLogin`` records both processes wrote to the shared database (read once they stopped
    writing: each serve's audit writer flushes within its flush interval, so this polls briefly)."""
    store = open_store(f"sqlite:///{data_dir / 'iamd.db'}")
    try:
        deadline = time.monotonic() + 30
        while True:
            with store.read() as tx:
                page = tx.list_audit_events("123456789012", event_name="ConsoleLogin", max_items=100)
            records = [json.loads(e.record) for e in page.items]
            if len(records) >= 2 or time.monotonic() > deadline:  # the refused code and the sign-in
                return records
            time.sleep(0.2)
    finally:
        store.close()
