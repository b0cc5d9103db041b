"""The HTTP door of the core: a refused credential is described from what authentication learned.

The audit record of a request whose key was refused names the key and why; the description
reuses the verifier's located signature and lookup (``auth.Presented``) instead of locating
and looking the key up a second time on the failure path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamd import errors as aws
from iamd.api import Backend
from iamd.api.pipeline import HttpRequest, handle
from iamd.auth import Credential, Presented, SignedRequest
from iamd.service.call import Caller
from tests.core.test_invoke import ROOT_KEY, ROOT_SECRET, record

BODY = b"Action=ListUsers&Version=2010-05-08"


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    opened, _ = Backend.open(f"sqlite:///{tmp_path / 'iamd.db'}", tmp_path, dev=True, env=env)
    try:
        yield opened
    finally:
        opened.close()


def signed(key_id: str, secret: str, token: str | None = None) -> HttpRequest:
    request = AWSRequest(
        method="POST", url="http://127.0.0.1:4566/", data=BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "User-Agent": "door-test"},
    )  # fmt: skip
    SigV4Auth(Credentials(key_id, secret, token), "iam", "us-east-1").add_auth(request)
    headers = tuple((k, v if isinstance(v, str) else v.decode()) for k, v in request.prepare().headers.items())
    return HttpRequest("POST", "/", "", (("Host", "127.0.0.1:4566"), *headers), BODY, "192.0.2.9", False)


class CountingLookup:
    def __init__(self, backend: Backend) -> None:
        self.calls: list[str] = []
        self._lookup = backend.credentials.lookup

    def __call__(self, key_id: str, token: str | None = None) -> Credential[Caller] | None:
        self.calls.append(key_id)
        return self._lookup(key_id, token)


@pytest.mark.parametrize(
    ("key_id", "reason"),
    [("AKIAUNKNOWN000000000", "no such access key"), (ROOT_KEY, "the signature does not match")],
)
def test_a_refused_key_is_described_from_one_lookup(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, key_id: str, reason: str
) -> None:
    counting = CountingLookup(backend)
    monkeypatch.setattr(backend, "lookup", counting)
    wire = handle(backend, signed(key_id, "not-the-secret-" + "x" * 25))
    assert wire.status == 403
    request_id = dict(wire.headers)["x-amzn-RequestId"]
    refused: dict[str, Any] = record(backend, request_id)["iamdAuthentication"]
    assert refused["accessKeyId"] == key_id and reason in refused["reason"]
    assert counting.calls == [key_id]  # the verifier's lookup, not a second one for the trail
    assert "not-the-secret" not in json.dumps(refused)


def test_the_verifier_leaves_what_it_learned_on_the_error(backend: Backend) -> None:
    http = signed("AKIAUNKNOWN000000000", "x" * 40)
    request = SignedRequest(http.method, http.path, http.query, http.headers, http.body)
    with pytest.raises(aws.InvalidClientTokenId) as refused:
        backend.verifier.verify(request, now=backend.clock(), lookup=backend.lookup, service="iam")
    presented = refused.value.presented
    assert isinstance(presented, Presented)
    assert presented.located.access_key_id == "AKIAUNKNOWN000000000"
    assert presented.looked_up and presented.credential is None
