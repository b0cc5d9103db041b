"""Console fixtures: a real iamd server on a loopback port (one per module), a signed-in browser or
HTTP client, and Debian's Chromium driven by Playwright (one browser for the browser tests' module).

The browser is the system's ``/usr/bin/chromium`` (Debian's ``chromium`` package), never a
downloaded one. Without it the browser tests are skipped, loudly — unless
``IAMD_REQUIRE_BROWSER=1`` (CI), where a missing browser fails them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.client import BaseClient

from tests.api.clock import StepClock
from tests.api.conftest import client_for
from tests.api.server import RunningServer, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PASSWORD = "Console-Passw0rd!"
TIMEOUT = 120.0  # seconds: what an answer may take on a loaded machine


@pytest.fixture(scope="module")
def clock() -> StepClock:
    """Whole 30-second TOTP steps the test moves (tests/api/clock.py): MFA codes are exact."""
    return StepClock()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, clock: StepClock) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("console"), clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def iam(server: RunningServer) -> BaseClient:
    return client_for(server, server.root_key, server.root_secret)


def make_user(iam: BaseClient, name: str, *, reset: bool = False, policies: tuple[str, ...] = ()) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=reset)
    for arn in policies:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None, html
    return found.group(1)


Clients = Callable[..., httpx.Client]


@pytest.fixture
def clients(server: RunningServer) -> Iterator[Clients]:
    """Make HTTP clients of the server (each its own browser: its own cookies), closed after the test."""
    made: list[httpx.Client] = []

    def make(**kwargs: Any) -> httpx.Client:
        # a generous timeout: a loaded machine must not fail a test (argon2 hashing takes CPU)
        made.append(httpx.Client(base_url=server.endpoint, timeout=TIMEOUT, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


def http_sign_in(
    clients: Clients, server: RunningServer, user: str, password: str = PASSWORD, **kwargs: Any
) -> httpx.Client:
    """An HTTP client signed in to the console as ``user`` (asserts the redirect of a success)."""
    client = clients(**kwargs)
    form = {"csrf": csrf_of(client.get("/console").text), "kind": "iam", "account": server.account_id,
            "username": user, "password": password}  # fmt: skip
    answer = client.post("/console/signin", data=form)
    assert answer.status_code == 303, answer.text
    return client


# -- the browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests' module (they are one module: one launch). Not for the whole
    session: while Playwright's sync API is open it holds an event loop on the main thread, and tests of
    other modules run their own loops there."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium): the console's browser tests cannot run"
        if os.environ.get("IAMD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IAMD_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; a screenshot of the last page is saved after the test
    (in ``IAMD_SCREENSHOTS`` when set, else the test's temporary directory)."""
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(TIMEOUT * 1000)
    asked: list[str] = []  # every request the pages made: none may leave this server (docs/console.md)
    context.on("request", lambda r: asked.append(r.url))
    tab = context.new_page()
    try:
        yield tab
        elsewhere = [u for u in asked if urlsplit(u).hostname not in ("127.0.0.1", None) and not u.startswith("data:")]
        assert asked and not elsewhere, f"requests to other hosts: {elsewhere}"
    finally:
        where = Path(os.environ.get("IAMD_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
        where.mkdir(parents=True, exist_ok=True)
        try:
            tab.screenshot(path=str(where / f"{request.node.name}.png"), full_page=True)
        finally:
            context.close()
