"""Adversarial wildcards over HTTP: the server answers promptly, and so does everyone else.

A backtracking matcher spent minutes on ``*a*a*a*a*b`` against a long run of ``a``, holding
the interpreter's lock, so the whole server waited. The server here is its own process
(``iamd serve``): a test thread can then give up on a call after a generous timeout, where
an in-process server stuck in C code would have stalled the test's threads too. The
timeout asserts nothing about speed; it only makes the old code fail instead of hang.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.server import ROOT_KEY, ROOT_SECRET
from tests.store.test_several_processes import _serve

PATIENCE = 240.0  # seconds: hours with the backtracking matcher, milliseconds without
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=PATIENCE + 60)
ADVERSARIAL = "*a*a*a*a*b"


def _client(endpoint: str, service: str, key: str = ROOT_KEY, secret: str = ROOT_SECRET) -> BaseClient:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=CONFIG)  # fmt: skip


def _answer(call: Callable[[], Any]) -> Any:
    """``call()``'s result (or ClientError) from a thread, failing if it takes over PATIENCE."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except ClientError as e:
            out.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(PATIENCE)
    assert not thread.is_alive(), f"no answer within {PATIENCE} s"
    assert out, "the call raised something other than a ClientError"
    return out[0]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("wildcard-dos")
    with _serve(data_dir, f"sqlite:///{data_dir / 'iamd.db'}") as url:
        yield url


def test_simulate_custom_policy_with_an_adversarial_resource(endpoint: str) -> None:
    iam = _client(endpoint, "iam")
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{ADVERSARIAL}"}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    resources = ["arn:aws:s3:::" + "a" * 2_000, "arn:aws:s3:::" + "a" * 2_000 + "b"]
    result = _answer(
        lambda: iam.simulate_custom_policy(
            PolicyInputList=[json.dumps(document)], ActionNames=["s3:GetObject"], ResourceArns=resources
        )
    )
    assert not isinstance(result, ClientError), result
    decisions = [(r["EvalResourceName"][-1], r["EvalDecision"]) for r in result["EvaluationResults"]]
    assert decisions == [("a", "implicitDeny"), ("b", "allowed")]


def test_list_users_allowed_only_on_an_adversarial_path(endpoint: str) -> None:
    root = _client(endpoint, "iam")
    account = _client(endpoint, "sts").get_caller_identity()["Account"]
    root.create_user(UserName="lister")
    statement = {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": f"arn:aws:iam::{account}:user/{ADVERSARIAL}"}
    root.put_user_policy(UserName="lister", PolicyName="p",
                         PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))  # fmt: skip
    key = root.create_access_key(UserName="lister")["AccessKey"]
    lister = _client(endpoint, "iam", key["AccessKeyId"], key["SecretAccessKey"])

    denied = _answer(lambda: lister.list_users(PathPrefix="/" + "a" * 510 + "/"))
    assert isinstance(denied, ClientError) and denied.response["Error"]["Code"] == "AccessDenied"
    # The pattern still means what it says: a path ending in b is allowed.
    allowed = _answer(lambda: lister.list_users(PathPrefix="/" + "a" * 509 + "/b"))
    assert not isinstance(allowed, ClientError), allowed
    assert allowed["Users"] == []
