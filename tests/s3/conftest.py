"""Fixtures of the S3 service's tests: a real iamd server on a loopback port, the S3 service on
another, authorized by that server over HTTP as its own principal (a user allowed
``iamd:Authorize``), and real clients (boto3, the AWS CLI) signing as iamd users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient

from iamd.authz import HttpAuthorizationClient
from tests.api.conftest import acct, allow, api_server, data_dir, iam, policy, server_clock  # noqa: F401
from tests.api.server import RunningServer

from .server import RunningS3, running_s3


@dataclass(frozen=True)
class Key:
    key: str
    secret: str
    token: str | None = None
    arn: str = ""


@pytest.fixture(scope="module")
def make_user(iam: BaseClient) -> Callable[..., Key]:  # noqa: F811
    def make(name: str, document: str | None = None, client: BaseClient | None = None, **kw: Any) -> Key:
        c = client or iam
        user = c.create_user(UserName=name, **kw)["User"]
        if document is not None:
            c.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=document)
        created = c.create_access_key(UserName=name)["AccessKey"]
        return Key(created["AccessKeyId"], created["SecretAccessKey"], arn=user["Arn"])

    return make


@pytest.fixture(scope="module")
def s3_service(
    api_server: RunningServer,  # noqa: F811
    make_user: Callable[..., Key],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningS3]:
    service = make_user("s3-service", policy(allow("iamd:Authorize")))
    authorizer = HttpAuthorizationClient(api_server.endpoint, service.key, service.secret)
    with running_s3(tmp_path_factory.mktemp("s3"), authorizer) as running:
        yield running
    authorizer.close()


@pytest.fixture(scope="module")
def s3_for(s3_service: RunningS3) -> Callable[[Key], Any]:
    def client(key: Key) -> Any:
        return s3_service.client(key.key, key.secret, token=key.token)

    return client


@pytest.fixture(scope="module")
def root_s3(s3_service: RunningS3, api_server: RunningServer) -> Any:  # noqa: F811
    return s3_service.client(api_server.root_key, api_server.root_secret)
