"""``iamd assume``: AssumeRole through botocore's normal credential chain, printed for shells."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.client import BaseClient
from click.testing import CliRunner

from iamd.cli import main
from tests.api.server import RunningServer, running_server
from tests.api.test_sts_assume_role import client, make_role, make_user, trust

ACCT = "123456789012"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sts-cli")) as srv:
        yield srv


@pytest.fixture(scope="module")
def iam(server: RunningServer) -> BaseClient:
    return client(server, "iam", {"AccessKeyId": server.root_key, "SecretAccessKey": server.root_secret})


def run(server: RunningServer, creds: dict[str, str], *args: str) -> tuple[int, str]:
    env = {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_ENDPOINT_URL": server.endpoint, "AWS_DEFAULT_REGION": "us-east-1", "AWS_PROFILE": None,
        "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_SESSION_TOKEN": None,
    }  # fmt: skip
    result = CliRunner().invoke(main, ["assume", *args], env=env)
    return result.exit_code, result.output


def test_assume_prints_exports_that_work(server: RunningServer, iam: BaseClient) -> None:
    user = make_user(iam, "cli-user")
    make_role(iam, "CliRole", trust(f"arn:aws:iam::{ACCT}:user/cli-user"))
    code, out = run(server, user, "CliRole", "--session-name", "from-cli", "--duration", "900")
    assert code == 0, out
    exported = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in out.splitlines())
    assert set(exported) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                            "AWS_DEFAULT_REGION"}  # fmt: skip
    assert exported["AWS_ENDPOINT_URL"] == server.endpoint  # the session goes with its server
    who = client(server, "sts", {
        "AccessKeyId": exported["AWS_ACCESS_KEY_ID"], "SecretAccessKey": exported["AWS_SECRET_ACCESS_KEY"],
        "SessionToken": exported["AWS_SESSION_TOKEN"],
    }).get_caller_identity()  # fmt: skip
    assert who["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/CliRole/from-cli"


def test_credential_process_json_and_errors(server: RunningServer, iam: BaseClient) -> None:
    user = make_user(iam, "cli-proc")
    arn = make_role(iam, "CliProc", trust(f"arn:aws:iam::{ACCT}:user/cli-proc"))
    code, out = run(server, user, arn, "--credential-process")
    assert code == 0, out
    data = json.loads(out)
    assert data["Version"] == 1 and data["AccessKeyId"].startswith("ASIA")
    expiration = datetime.strptime(data["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 3500 < (expiration - datetime.now(UTC)).total_seconds() <= 3600
    code, out = run(server, user, "NoSuchRole")
    assert code != 0 and "AccessDenied" in out and data["SecretAccessKey"] not in out
