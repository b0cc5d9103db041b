"""``iamd explain`` on a real server's database: a real denial, explained by request id, by the
pasted message, from ``iamd trail --json`` output, and as a hypothetical request; the same
answer as ``POST /iamd/explain`` (docs/troubleshooting.md)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from click.testing import CliRunner

from iamd.cli import main
from tests.api.conftest import UserClient, allow, policy
from tests.api.server import RunningServer
from tests.api.test_explain import explain as explain_api


@pytest.fixture(scope="module")
def denial(api_server: RunningServer, iam: BaseClient, user_client: UserClient) -> ClientError:
    client = user_client("cli-typo", policy(allow("iam:ListUser")))
    with pytest.raises(ClientError) as e:
        client.list_users()
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    return e.value


def run(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["explain", *args, "--data-dir", str(data_dir)], input=stdin)
    return result.exit_code, result.output


def test_by_request_id_as_text_and_as_json(data_dir: Path, denial: ClientError, api_server: RunningServer) -> None:
    rid = denial.response["ResponseMetadata"]["RequestId"]
    status, out = run(data_dir, rid)
    assert status == 1, out
    assert f"request {rid}" in out and "Misspelled action iam:ListUser" in out and "iam:ListUsers" in out
    assert "put-user-policy --user-name cli-typo" in out and "recorded: implicitDeny; the same now" in out

    status, out = run(data_dir, "--request-id", rid, "--json")
    assert status == 1
    cli = json.loads(out)
    api = explain_api(api_server, {"RequestId": rid}).json()
    for answer in (cli, api):
        answer.pop("RequestId", None)
    assert cli == api  # the same answer from the CLI and the API


def test_by_pasted_message(data_dir: Path, denial: ClientError) -> None:
    message = (
        f"An error occurred (AccessDenied) when calling the ListUsers operation: {denial.response['Error']['Message']}"
    )
    status, out = run(data_dir, message)
    assert status == 1 and "unknown-action" in out
    status, out = run(data_dir, "-", stdin=message)
    assert status == 1 and "unknown-action" in out


def test_from_trail_json_output(data_dir: Path, denial: ClientError, tmp_path: Path) -> None:
    trail = CliRunner().invoke(main, ["trail", "--json", "--errors", "--user", "cli-typo", "--data-dir", str(data_dir)])
    assert trail.exit_code == 0, trail.output
    events = tmp_path / "events.json"
    events.write_text(trail.output)
    status, out = run(data_dir, str(events), "--json")
    assert status == 1
    answer: dict[str, Any] = json.loads(out)
    assert answer["subject"]["source"] == "event" and answer["recorded"]["decision"] == "implicitDeny"
    status, out = run(data_dir, "--event", str(events))
    assert status == 1 and "Misspelled action" in out


def test_a_hypothetical_request(data_dir: Path, denial: ClientError, acct: str) -> None:
    args = ["--principal", f"arn:aws:iam::{acct}:user/cli-typo", "--action", "iam:ListUser", "--json"]
    status, out = run(data_dir, *args, "--context", "aws:SourceIp=203.0.113.7")
    assert status == 0  # the policy names the same misspelled action: allowed, and still worth a finding
    answer = json.loads(out)
    assert answer["now"]["decision"] == "allowed"
    assert [f["evidence"]["nearest"] for f in answer["findings"] if f["evidence"].get("where") == "request"] == [
        "iam:ListUsers"
    ]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["a", "--message", "b"],
        ["--principal", "arn:aws:iam::123456789012:user/x"],
        ["--message", "Access Denied"],
        ["two words but no message"],
        ["--principal", "arn:aws:iam::123456789012:user/x", "--action", "s3:GetObject", "--context", "novalue"],
    ],
)
def test_bad_input_exits_2(data_dir: Path, args: list[str]) -> None:
    status, out = run(data_dir, *args)
    assert status == 2, out


def test_an_unknown_request_id_or_data_dir(data_dir: Path, tmp_path: Path) -> None:
    status, out = run(data_dir, "00000000-0000-0000-0000-000000000000")
    assert status == 1 and "no audit event with request id" in out
    status, out = run(tmp_path / "nowhere", "00000000-0000-0000-0000-000000000000")
    assert status == 1 and "no iamd database" in out


def test_from_a_gzip_export_of_the_trail(data_dir: Path, denial: ClientError, tmp_path: Path) -> None:
    target = tmp_path / "trail.jsonl.gz"
    export = CliRunner().invoke(main, ["trail", "export", "--data-dir", str(data_dir), "--to", str(target)])
    assert export.exit_code == 0, export.output
    rid = denial.response["ResponseMetadata"]["RequestId"]
    assert target.read_bytes()[:2] == b"\x1f\x8b" and any(
        json.loads(line)["requestID"] == rid for line in gzip.decompress(target.read_bytes()).splitlines()
    )
    for args in (["--event", str(target)], [str(target)]):
        status, out = run(data_dir, *args)
        assert status == 1 and "Misspelled action" in out, out
