"""The S3 service on a loopback port, for tests with real clients (boto3, the AWS CLI)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config

from iamd.authz.client import Answer, Authorizer, Check, ForwardedRequest, Result
from iamd.s3 import S3Settings, create_s3_app
from tests.api.server import free_port

ACCOUNT = "111122223333"


@dataclass
class FakeAuthorizer:
    """The edge, for the service's own tests: allows every check except the denied actions,
    answering for one principal; records what it was asked."""

    account: str = ACCOUNT
    denied: set[str] = field(default_factory=set)
    asked: list[tuple[ForwardedRequest, list[Check]]] = field(default_factory=list)

    async def authorize(
        self, request: ForwardedRequest, checks: Sequence[Check], *, allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer:  # fmt: skip
        return self.authorize_sync(request, checks, allow_anonymous=allow_anonymous, service=service)

    def authorize_sync(
        self, request: ForwardedRequest, checks: Sequence[Check], *, allow_anonymous: bool = False,
        service: str | None = None,
    ) -> Answer:  # fmt: skip
        self.asked.append((request, list(checks)))
        arn = f"arn:aws:iam::{self.account}:user/tester"
        results = []
        for c in checks:
            if c.action in self.denied:
                message = f"User: {arn} is not authorized to perform: {c.action} on resource: {c.resource} " \
                    f"because no identity-based policy allows the {c.action} action"  # fmt: skip
                results.append(Result(c.action, c.resource, "Deny", message, {}, "AccessDenied", message, 403))
            else:
                results.append(Result(c.action, c.resource, "Allow", "", {}))
        return Answer("REQ" + str(len(self.asked)), {"accountId": self.account, "arn": arn}, results)


@dataclass
class RunningS3:
    endpoint: str
    data_dir: Path

    def client(self, key: str = "AKIAFAKE", secret: str = "secret", token: str | None = None, **config: Any) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=key,
            aws_secret_access_key=secret, aws_session_token=token,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, **config),
        )  # fmt: skip


@contextmanager
def running_s3(data_dir: Path, authorizer: Authorizer, settings: S3Settings | None = None) -> Iterator[RunningS3]:
    app = create_s3_app(data_dir, authorizer, settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # liveness only
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the S3 service did not start")
        time.sleep(0.02)
    try:
        yield RunningS3(f"http://127.0.0.1:{port}", data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
