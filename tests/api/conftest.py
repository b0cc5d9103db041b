"""Contract-test fixtures: one real iamd server per test module, driven by unmodified boto3.

Each module gets its own data directory and server (``api_server``), so modules do not
see each other's entities; tests inside a module use distinct names. ``iam`` signs with
the root user's key; ``user_client`` creates an IAM user (with optional inline policy)
and returns a client signed with that user's new access key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.clock import MovableClock
from tests.api.server import RunningServer, running_server

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
RAW = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)

UserClient = Callable[..., BaseClient]


def client_for(server: RunningServer, key: str, secret: str, *, raw: bool = False) -> BaseClient:
    """An unmodified boto3 IAM client for ``server``; ``raw`` turns client-side validation off."""
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=RAW if raw else NO_RETRY,
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **condition: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def deny(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def failure(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    """``(HTTP status, error code, message)`` of a boto3 ClientError."""
    response = excinfo.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def meta(response: dict[str, Any]) -> dict[str, Any]:
    """A response without its ResponseMetadata, for equality checks."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


FORM = "application/x-www-form-urlencoded; charset=utf-8"


def signed_request(
    server: RunningServer,
    body: bytes | str = b"",
    *,
    method: str = "POST",
    query: str = "",
    key: str | None = None,
    secret: str | None = None,
    at: datetime | None = None,
    headers: Mapping[str, str] | None = None,
    service: str = "iam",
    region: str = "us-east-1",
    token: str | None = None,
) -> httpx.Response:
    """Send raw bytes signed with botocore's own SigV4 signer (root credentials by default).

    ``at`` (naive UTC) signs as of another time, for expired and future signatures; ``token``
    adds a session token (X-Amz-Security-Token) for temporary credentials.
    """
    url = server.endpoint + "/" + (f"?{query}" if query else "")
    all_headers = {"Content-Type": FORM} if body else {}
    all_headers.update(headers or {})
    request = AWSRequest(method=method, url=url, data=body, headers=all_headers)
    signer = SigV4Auth(Credentials(key or server.root_key, secret or server.root_secret, token), service, region)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(request)
    prepared = request.prepare()
    return httpx.request(method, prepared.url, headers=dict(prepared.headers), content=prepared.body or b"")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("iamd")


@pytest.fixture(scope="module")
def server_clock() -> MovableClock:
    """The module server's clock: the real time, which a test may move (tests/api/clock.py)."""
    return MovableClock()


@pytest.fixture(scope="module")
def api_server(data_dir: Path, server_clock: MovableClock) -> Iterator[RunningServer]:
    with running_server(data_dir, clock=server_clock) as server:
        yield server


@pytest.fixture(scope="module")
def iam(api_server: RunningServer) -> BaseClient:
    return client_for(api_server, api_server.root_key, api_server.root_secret)


@pytest.fixture(scope="module")
def raw_iam(api_server: RunningServer) -> BaseClient:
    """Root client without boto3's parameter validation: the server's own checks answer."""
    return client_for(api_server, api_server.root_key, api_server.root_secret, raw=True)


@pytest.fixture(scope="module")
def acct(api_server: RunningServer) -> str:
    return api_server.account_id


@pytest.fixture(scope="module")
def user_client(api_server: RunningServer, iam: BaseClient) -> UserClient:
    def make(name: str, document: str | None = None, *, path: str = "/", raw: bool = False) -> BaseClient:
        iam.create_user(UserName=name, Path=path)
        if document is not None:
            iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=document)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"], raw=raw)

    return make
