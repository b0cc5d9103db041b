"""No request holds up the others: what is not cheap runs on a worker thread.

A test-only hook makes SimulateCustomPolicy block until released; while it is in flight,
the health endpoint and GetUser on other connections must answer, and requests pipelined
behind it on its own connection must wait their turn. Behaviour, not timing: the slow
request is known to be still in flight because it is still blocked on its event.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from iamd.api import pipeline
from iamd.api.app import IamdApp
from iamd.api.pipeline import HttpRequest
from iamd.protocol.errors import WireResponse
from tests.api.server import RunningServer
from tests.api.test_protocol import _connect, _Reader, _signed

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
SIMULATE = (f"Action=SimulateCustomPolicy&Version=2010-05-08&PolicyInputList.member.1={quote(POLICY)}"
            "&ActionNames.member.1=s3:GetObject").encode()  # fmt: skip
HEALTH = b"GET /_iamd/health HTTP/1.1\r\nHost: x\r\n\r\n"


class SlowSimulations:
    """Replaces ``pipeline.handle``: SimulateCustomPolicy waits for ``release``."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []
        self._handle = pipeline.handle

    def __call__(self, backend: object, http: HttpRequest) -> WireResponse:
        if b"Action=SimulateCustomPolicy" in http.body:
            self.threads.append(threading.current_thread().name)
            self.started.set()
            self.release.wait(20)
        return self._handle(backend, http)  # type: ignore[arg-type]


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowSimulations]:
    hook = SlowSimulations()
    monkeypatch.setattr(pipeline, "handle", hook)
    try:
        yield hook
    finally:
        hook.release.set()


def test_the_others_are_answered_while_a_slow_request_runs(api_server: RunningServer, slow: SlowSimulations) -> None:
    with _connect(api_server) as busy:
        busy.sendall(_signed(api_server, SIMULATE))
        assert slow.started.wait(10)
        for raw in (HEALTH, _signed(api_server)):
            with _connect(api_server) as other:
                other.sendall(raw)
                assert _Reader(other).response()[0] == 200
        assert not slow.release.is_set()  # the simulation was in flight all along
        slow.release.set()
        status, _, body = _Reader(busy).response()
    assert status == 200 and b"<EvalDecision>allowed</EvalDecision>" in body
    assert slow.threads and all(name.startswith("iamd-request") for name in slow.threads)


def test_requests_pipelined_behind_a_slow_one_keep_their_order(
    api_server: RunningServer, slow: SlowSimulations
) -> None:
    with _connect(api_server) as busy:
        busy.sendall(_signed(api_server, SIMULATE) + _signed(api_server) + HEALTH + _signed(api_server, SIMULATE))
        assert slow.started.wait(10)
        with _connect(api_server) as other:  # meanwhile, elsewhere
            other.sendall(_signed(api_server))
            assert _Reader(other).response()[0] == 200
        slow.release.set()
        reader = _Reader(busy)
        answers = [reader.response() for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 200]
    assert b"SimulateCustomPolicyResult" in answers[0][2]
    assert b"<GetUserResponse" in answers[1][2]
    assert b'"status"' in answers[2][2]
    assert b"SimulateCustomPolicyResult" in answers[3][2]


def _request(body: bytes, key: str = "AKIAIOSFODNN7EXAMPLE") -> HttpRequest:
    auth = f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"
    return HttpRequest("POST", "/", "", (("Authorization", auth),), body, "127.0.0.1", False)


def test_what_runs_on_the_event_loop(api_server: RunningServer) -> None:
    app = IamdApp(api_server.backend)
    api_server.backend.lookup(api_server.root_key)  # the root key's credential is cached
    get_user = b"Action=GetUser&Version=2010-05-08"
    assert app.inline(_request(get_user, api_server.root_key))
    assert app.inline(_request(b"Version=2010-05-08"))  # MissingAction: refused before any work
    assert not app.inline(_request(get_user, "AKIAUNKNOWNKEY000000"))  # a database read first
    assert not app.inline(_request(get_user + b"&Pad=" + b"x" * 10_000, api_server.root_key))
    for action in ("CreateUser", "ListUsers", "SimulateCustomPolicy", "GetAccountAuthorizationDetails",
                   "GetCredentialReport"):  # fmt: skip
        assert not app.inline(_request(f"Action={action}&Version=2010-05-08".encode(), api_server.root_key))
    assert not app.inline(_request(b"Action=AssumeRole&Version=2011-06-15", api_server.root_key))


def test_a_request_is_inline_only_if_every_spelling_of_its_action_is_cheap(api_server: RunningServer) -> None:
    app = IamdApp(api_server.backend)
    api_server.backend.lookup(api_server.root_key)
    version = b"&Version=2010-05-08"
    for body in (
        b"Pad=" + b"x" * 5000 + b"&Action=CreateUser&UserName=a" + version,  # far from the start
        b"%41ction=CreateUser&UserName=a" + version,  # the form decoding makes it Action
        b"Action=Create%55ser&UserName=a" + version,
        b"Action=GetUser&Action=CreateUser&UserName=a" + version,
    ):
        assert not app.inline(_request(body, api_server.root_key)), body
    assert app.inline(_request(b"Action=GetUser&UserName=a%40b" + version, api_server.root_key))
