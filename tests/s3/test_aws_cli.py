"""The AWS CLI (``aws s3``, ``aws s3api``) against the S3 service, authorized by a real iamd."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import allow, policy
from tests.api.server import ROOT_KEY, ROOT_SECRET, RunningServer, free_port
from tests.e2e.clients import AWS, AwsCli, isolated_env

from .conftest import Key
from .server import RunningS3


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not AWS.exists():
        pytest.fail(f"{AWS} not found: install the test extra (pip install -e '.[test]'), which brings awscli")
    return tmp_path_factory.mktemp("aws-home")


def aws(home: Path, s3: RunningS3, key: Key) -> AwsCli:
    return AwsCli(home, s3.endpoint, (key.key, key.secret))


def test_mb_cp_ls_rm_rb_and_the_bucket_policy_with_the_cli(
    cli_home: Path, s3_service: RunningS3, make_user: Callable[..., Key], tmp_path: Path, acct: str
) -> None:
    owner = aws(cli_home, s3_service, make_user("cli-owner", policy(allow("s3:*"))))
    stranger = aws(cli_home, s3_service, make_user("cli-stranger"))
    src = tmp_path / "hello.txt"
    src.write_text("hello world\n")

    assert owner.run("s3", "mb", "s3://cli-bucket").returncode == 0
    assert owner.run("s3", "cp", str(src), "s3://cli-bucket/docs/hello.txt").returncode == 0
    listing = owner.run("s3", "ls", "s3://cli-bucket/docs/")
    assert listing.returncode == 0 and "hello.txt" in listing.stdout and " 12 " in listing.stdout
    assert "cli-bucket" in owner.run("s3", "ls").stdout
    assert owner.run("s3", "cp", "s3://cli-bucket/docs/hello.txt", str(tmp_path / "back.txt")).returncode == 0
    assert (tmp_path / "back.txt").read_text() == "hello world\n"

    denied = stranger.run("s3", "ls", "s3://cli-bucket/")
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    grant = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/cli-stranger"},
                    "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::cli-bucket"})  # fmt: skip
    put = owner.run("s3api", "put-bucket-policy", "--bucket", "cli-bucket", "--policy", grant)
    assert put.returncode == 0, put.describe()
    assert "hello.txt" in stranger.run("s3", "ls", "s3://cli-bucket/docs/").stdout
    assert json.loads(owner("s3api", "get-bucket-policy", "--bucket", "cli-bucket")["Policy"]) == json.loads(grant)

    no_principal = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cli-bucket/*"})
    malformed = owner.run("s3api", "put-bucket-policy", "--bucket", "cli-bucket", "--policy", no_principal)
    assert malformed.returncode != 0 and "MalformedPolicy" in malformed.stderr
    assert "Missing required field Principal" in malformed.stderr

    full = owner.run("s3", "rb", "s3://cli-bucket")
    assert full.returncode != 0 and "BucketNotEmpty" in full.stderr
    assert owner.run("s3", "rm", "s3://cli-bucket/docs/hello.txt").returncode == 0
    assert owner.run("s3", "rb", "s3://cli-bucket").returncode == 0
    assert "cli-bucket" not in owner.run("s3", "ls").stdout


def test_a_20_mib_file_goes_up_in_8_mib_parts_and_comes_back_the_same(
    cli_home: Path, s3_service: RunningS3, make_user: Callable[..., Key], tmp_path: Path
) -> None:
    owner = aws(cli_home, s3_service, make_user("cli-big", policy(allow("s3:*"))))
    data = os.urandom(20 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    assert owner.run("s3", "mb", "s3://cli-big").returncode == 0
    up = owner.run("s3", "cp", str(tmp_path / "big.bin"), "s3://cli-big/big.bin")
    assert up.returncode == 0, up.describe()
    head = owner("s3api", "head-object", "--bucket", "cli-big", "--key", "big.bin")
    assert head["ContentLength"] == 20 << 20 and head["ETag"].endswith('-3"')  # 8 + 8 + 4 MiB
    down = owner.run("s3", "cp", "s3://cli-big/big.bin", str(tmp_path / "again.bin"))  # ranged GETs
    assert down.returncode == 0, down.describe()
    assert hashlib.sha256((tmp_path / "again.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    sync = owner.run("s3", "sync", str(tmp_path), "s3://cli-big/synced/")
    assert sync.returncode == 0, sync.describe()
    listed: Any = owner("s3api", "list-objects-v2", "--bucket", "cli-big", "--prefix", "synced/")
    assert sorted(o["Key"] for o in listed["Contents"]) == ["synced/again.bin", "synced/big.bin"]
    assert owner.run("s3", "rb", "--force", "s3://cli-big").returncode == 0


@contextmanager
def serving(argv: list[str], env: dict[str, str], s3_port: int, log: Path) -> Iterator[None]:
    """A server process started as a reader would, until its S3 port answers."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "iamd", *argv], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # liveness only
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{s3_port}/", timeout=5)
            except urllib.error.HTTPError as answered:
                answered.close()
                break  # the service answers (403: unsigned)
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _mb_cp_ls(cli: AwsCli, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("one file\n")
    assert cli.run("s3", "mb", f"s3://{bucket}").returncode == 0
    assert cli.run("s3", "cp", str(tmp_path / "f.txt"), f"s3://{bucket}/f.txt").returncode == 0
    assert "f.txt" in cli.run("s3", "ls", f"s3://{bucket}").stdout


def test_iamd_serve_with_s3_in_process(tmp_path: Path) -> None:
    """``iamd serve --s3 PORT``: one process; the S3 service asks the core as the account's root."""
    port, s3_port = free_port(), free_port()
    env = {**os.environ, "IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    argv = ["serve", "--dev", "--port", str(port), "--s3", str(s3_port), "--data-dir", str(tmp_path / "data"),
            "--audit-writer", "thread"]  # fmt: skip
    with serving(argv, env, s3_port, tmp_path / "serve.log"):
        root = AwsCli(tmp_path / "home", f"http://127.0.0.1:{s3_port}", (ROOT_KEY, ROOT_SECRET))
        _mb_cp_ls(root, "in-process", tmp_path)


def test_iamd_s3_serve_authorized_by_an_iamd_server(
    tmp_path: Path, api_server: RunningServer, make_user: Callable[..., Key]
) -> None:
    """``iamd s3 serve``: a process of its own, signing its authorization calls as its own user."""
    service = make_user("s3-service-process", policy(allow("iamd:Authorize", "arn:aws:iamd::*:service/s3")))
    writer = make_user("s3-process-writer", policy(allow("s3:*")))
    s3_port = free_port()
    env = {**isolated_env(tmp_path / "svc-home"), "AWS_ACCESS_KEY_ID": service.key,
           "AWS_SECRET_ACCESS_KEY": service.secret}  # fmt: skip
    argv = ["s3", "serve", "--port", str(s3_port), "--data-dir", str(tmp_path / "s3"), "--endpoint",
            api_server.endpoint]  # fmt: skip
    with serving(argv, env, s3_port, tmp_path / "s3.log"):
        cli = AwsCli(tmp_path / "home", f"http://127.0.0.1:{s3_port}", (writer.key, writer.secret))
        _mb_cp_ls(cli, "own-process", tmp_path)
    assert (tmp_path / "s3" / "buckets" / "own-process" / "bucket.json").is_file()
