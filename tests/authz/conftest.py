"""Fixtures of the authorization API's tests: a real iamd server on a loopback port (the
contract tests' own, tests/api/conftest.py), a service principal allowed ``iamd:Authorize``
with its own access key, and clients whose requests to a service are signed by botocore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.credentials import Credentials

from iamd.authz import ForwardedRequest, HttpAuthorizationClient
from tests.api.conftest import acct, allow, api_server, data_dir, iam, policy, server_clock  # noqa: F401
from tests.api.server import RunningServer

SERVICE_POLICY = policy(allow("iamd:Authorize"))


@dataclass(frozen=True)
class Key:
    key: str
    secret: str
    token: str | None = None
    arn: str = ""


def sign(
    key: Key,
    *,
    service: str = "widgets",
    method: str = "GET",
    url: str = "http://widgets.example:8080/widget/my-example-widget",
    region: str = "us-east-1",
    body: bytes = b"",
    at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> ForwardedRequest:
    """The request a botocore client sends to ``service``, as the service receives it."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    credentials = Credentials(key.key, key.secret, key.token)
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(request)
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    sent = list(prepared.headers.items())
    if not any(n.lower() == "host" for n, _ in sent):
        sent.insert(0, ("Host", split.netloc))
    return ForwardedRequest(method, split.path or "/", split.query, sent)


def presign(
    key: Key,
    *,
    service: str = "widgets",
    url: str = "http://widgets.example:8080/widget/my-example-widget",
    expires: int = 300,
    region: str = "us-east-1",
    at: datetime | None = None,
) -> str:
    """A presigned GET URL, as botocore makes them."""
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(key.key, key.secret, key.token)
    signer = (S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth)(credentials, service, region, expires=expires)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(request)
    return str(request.url)


@pytest.fixture(scope="module")
def make_user(iam: BaseClient, acct: str) -> Callable[..., Key]:  # noqa: F811
    def make(name: str, document: str | None = None, client: BaseClient | None = None) -> Key:
        c = client or iam
        user = c.create_user(UserName=name)["User"]
        if document is not None:
            c.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=document)
        created = c.create_access_key(UserName=name)["AccessKey"]
        return Key(created["AccessKeyId"], created["SecretAccessKey"], arn=user["Arn"])

    return make


@pytest.fixture(scope="module")
def service_key(make_user: Callable[..., Key]) -> Key:
    return make_user("widgets-service", SERVICE_POLICY)


@pytest.fixture(scope="module")
def authorizer(api_server: RunningServer, service_key: Key) -> Iterator[HttpAuthorizationClient]:  # noqa: F811
    client = HttpAuthorizationClient(api_server.endpoint, service_key.key, service_key.secret)
    yield client
    client.close()


def widget(acct: str, name: str = "my-example-widget") -> str:  # noqa: F811
    return f"arn:aws:widgets:us-east-1:{acct}:widget/{name}"


def anything(value: Any) -> Any:
    return value
