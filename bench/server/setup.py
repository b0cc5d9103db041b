"""Accounts for the benchmark: the signing caller and the users it reads, on iamd and on moto.

On both servers the requests are signed with the access key of an IAM user, ``bench-caller``,
whose inline policy allows ``iam:*`` on ``*``: each request is authenticated (SigV4) and
authorized by the server's policy engine, the same work on both sides.

moto with ``INITIAL_NO_AUTH_ACTION_COUNT=0`` authenticates every request, including the
first, and only knows access keys it created itself; so the setup switches authentication
off through moto's own ``POST /moto-api/reset-auth`` (body ``inf``), creates the user, its
policy and key with boto3, and switches it back on (body ``0``: every later request is
authenticated). :func:`verify` then checks that a signed request succeeds and a forged one
is refused.
"""

from __future__ import annotations

import json
import random
import socket
import urllib.request
from collections.abc import Sequence

import boto3
from botocore.config import Config

from .client import _complete
from .servers import ROOT_KEY, ROOT_SECRET, Server
from .signing import Key, query_body, sign_query

__all__ = ["CALLER", "POLICY", "make_caller", "send_one", "setup_iamd", "setup_moto", "target_users", "verify"]

CALLER = "bench-caller"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
TARGETS = [f"bench-user-{i:02d}" for i in range(10)]


def _iam(endpoint: str, key: str, secret: str):  # type: ignore[no-untyped-def]
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    return boto3.client("iam", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=config)  # fmt: skip


def make_caller(iam, targets: Sequence[str]) -> Key:  # type: ignore[no-untyped-def]
    iam.create_user(UserName=CALLER)
    iam.put_user_policy(UserName=CALLER, PolicyName="iam-all", PolicyDocument=POLICY)
    key = iam.create_access_key(UserName=CALLER)["AccessKey"]
    for name in targets:
        iam.create_user(UserName=name)
    return Key(key["AccessKeyId"], key["SecretAccessKey"])


def setup_iamd(server: Server, targets: Sequence[str] = TARGETS) -> Key:
    """As root (the --dev keys): the caller, its policy and key, and ``targets`` users."""
    return make_caller(_iam(server.endpoint, ROOT_KEY, ROOT_SECRET), targets)


def _moto_auth(server: Server, count: str) -> None:
    request = urllib.request.Request(f"{server.endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def setup_moto(server: Server, targets: Sequence[str] = TARGETS) -> Key:
    _moto_auth(server, "inf")
    try:
        key = make_caller(_iam(server.endpoint, "AKIAIOSFODNN7EXAMPLE", "setup"), targets)
    finally:
        _moto_auth(server, "0")
    return key


def send_one(server: Server, raw: bytes) -> tuple[int, bytes]:
    """Send one raw request on a fresh connection; the status and the whole response."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(raw)
        buf = bytearray()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            done = _complete(buf)
            if done is not None:
                return done[0], bytes(buf[: done[1]])
    raise RuntimeError(f"{server.name}: connection closed before a whole response: {bytes(buf)[:300]!r}")


def verify(server: Server, key: Key, body: str) -> None:
    """The signed request succeeds (200); the same request signed with a wrong secret is refused (403)."""
    good = sign_query(server.host, server.port, key, [body])[0]
    status, response = send_one(server, good)
    if status != 200:
        raise RuntimeError(f"{server.name}: signed {body} answered {status}: {response[-800:]!r}")
    forged = sign_query(server.host, server.port, Key(key.access_key_id, key.secret_access_key[::-1]), [body])[0]
    status, response = send_one(server, forged)
    if status != 403:
        raise RuntimeError(f"{server.name}: a request with a bad signature answered {status}, not 403: "
                           f"{response[-800:]!r}")  # fmt: skip


def target_users(names: Sequence[str], count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(list(names)) for _ in range(count)]


def get_user_bodies(names: Sequence[str]) -> list[str]:
    return [query_body("GetUser", {"UserName": n}) for n in names]


__all__ += ["TARGETS", "get_user_bodies"]
