"""How the CLI finds a server and what it says when something is wrong (iamd.cli.client, ``iamd trail``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.client import BaseClient
from click.testing import CliRunner, Result

from iamd.cli import main
from tests.api.server import RunningServer, free_port, running_server
from tests.api.test_sts_assume_role import client, make_role, make_user, trust

ACCT = "123456789012"
NO_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None,
    "AWS_ENDPOINT_URL": None, "AWS_ENDPOINT_URL_IAM": None, "AWS_ENDPOINT_URL_STS": None,
    "AWS_EC2_METADATA_DISABLED": "true", "IAMD_DATA_DIR": None, "IAMD_DATABASE_URL": None,
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    data_dir = tmp_path_factory.mktemp("cli-client")
    with running_server(data_dir) as srv:
        yield srv, data_dir


@pytest.fixture(scope="module")
def iam(server: tuple[RunningServer, Path]) -> BaseClient:
    srv, _ = server
    return client(srv, "iam", {"AccessKeyId": srv.root_key, "SecretAccessKey": srv.root_secret})


def _invoke(tmp_path: Path, *args: str, **env: str | None) -> Result:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full_env = {
        **NO_AWS_ENV, "HOME": str(home), "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), **env,
    }  # fmt: skip
    return CliRunner().invoke(main, list(args), env=full_env)


def _data_dir_naming(tmp_path: Path, srv: RunningServer, endpoint: str) -> Path:
    """A data directory as ``iamd serve`` leaves it: its address and the root key."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "endpoint").write_text(endpoint + "\n")
    (data_dir / "root-credentials").write_text(
        json.dumps({"AccessKeyId": srv.root_key, "SecretAccessKey": srv.root_secret})
    )
    return data_dir


def test_the_data_directory_names_the_server_and_its_root_key(
    server: tuple[RunningServer, Path], iam: BaseClient, tmp_path: Path
) -> None:
    srv, _ = server
    data_dir = _data_dir_naming(tmp_path, srv, srv.endpoint)
    iam.create_user(UserName="cli-found")
    # no flag, no profile, no environment: the address iamd serve recorded, and its root key
    result = _invoke(tmp_path, "key", "rotate", "cli-found", IAMD_DATA_DIR=str(data_dir))
    assert result.exit_code == 0, result.output
    assert len(iam.list_access_keys(UserName="cli-found")["AccessKeyMetadata"]) == 1
    # the same rule for iamd profile, iamd user and iamd assume
    written = _invoke(tmp_path, "profile", "--data-dir", str(data_dir))
    assert written.exit_code == 0 and f"endpoint {srv.endpoint}" in written.output
    saved = _invoke(tmp_path, "user", "create", "cli-saved", "--profile", "iamd", "--save-profile", "saved")
    assert saved.exit_code == 0, saved.output
    make_role(iam, "CliFound", trust(f"arn:aws:iam::{ACCT}:user/cli-saved"))
    assumed = _invoke(tmp_path, "assume", "CliFound", "--profile", "saved", "--session-name", "s1")
    assert assumed.exit_code == 0, assumed.output
    assert f"export AWS_ENDPOINT_URL={srv.endpoint}" in assumed.output


def test_a_server_that_does_not_answer_is_one_clear_error(server: tuple[RunningServer, Path], tmp_path: Path) -> None:
    srv, _ = server
    nowhere = f"http://127.0.0.1:{free_port()}"
    data_dir = _data_dir_naming(tmp_path, srv, nowhere)
    for args in (["key", "rotate", "x"], ["user", "create", "x"], ["assume", "SomeRole"]):
        result = _invoke(tmp_path, *args, IAMD_DATA_DIR=str(data_dir))
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "[red]" not in result.output
        assert f"no iamd answers at {nowhere} (from {data_dir / 'endpoint'}" in result.output
    flag = _invoke(tmp_path, "key", "rotate", "x", "--endpoint-url", nowhere, IAMD_DATA_DIR=str(data_dir))
    assert f"no iamd answers at {nowhere} (from --endpoint-url)" in flag.output
    missing = _invoke(tmp_path, "key", "rotate", "x", "--profile", "nope")
    assert missing.exit_code == 1 and "AWS profile 'nope' not found" in missing.output


def test_root_cannot_assume_but_a_user_can(server: tuple[RunningServer, Path], iam: BaseClient, tmp_path: Path) -> None:
    srv, _ = server
    make_role(iam, "CliRootTry", trust(f"arn:aws:iam::{ACCT}:root"))
    as_root = _invoke(tmp_path, "assume", "CliRootTry", "--endpoint-url", srv.endpoint,
                      AWS_ACCESS_KEY_ID=srv.root_key, AWS_SECRET_ACCESS_KEY=srv.root_secret)  # fmt: skip
    assert as_root.exit_code == 1
    assert as_root.output == "Error: AccessDenied: Roles may not be assumed by root accounts.\n"


def _trail(tmp_path: Path, *args: str, **env: str | None) -> Result:
    return _invoke(tmp_path, "trail", *args, **env)


def test_trail_never_creates_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read command creates nothing and says where it looked."""
    monkeypatch.chdir(tmp_path)
    default = _trail(tmp_path)
    assert default.exit_code == 1 and "Traceback" not in default.output
    assert f"no iamd database at {tmp_path / 'iamd-data' / 'iamd.db'}" in default.output
    assert "the default; set --data-dir or IAMD_DATA_DIR" in default.output
    from_env = _trail(tmp_path, IAMD_DATA_DIR=str(tmp_path / "elsewhere"))
    assert "(data directory " in from_env.output and ": IAMD_DATA_DIR)" in from_env.output
    flag = _trail(tmp_path, "--data-dir", "x")
    assert ": --data-dir)" in flag.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # nothing created


def test_trail_finds_role_sessions_and_shows_errors(
    server: tuple[RunningServer, Path], iam: BaseClient, tmp_path: Path
) -> None:
    srv, data_dir = server
    user = make_user(iam, "cli-trail")
    role_arn = make_role(iam, "CliTrailRole", trust(f"arn:aws:iam::{ACCT}:user/cli-trail"))
    creds = client(srv, "sts", user).assume_role(RoleArn=role_arn, RoleSessionName="trail-session")["Credentials"]
    session = client(srv, "iam", creds)
    with pytest.raises(Exception, match="AccessDenied"):
        session.get_user(UserName="cli-trail")
    srv.backend.audit.flush()
    arn = f"arn:aws:sts::{ACCT}:assumed-role/CliTrailRole/trail-session"
    for name in ("CliTrailRole", "trail-session", arn):
        found = _trail(tmp_path, "--data-dir", str(data_dir), "--user", name, "--json")
        assert found.exit_code == 0, found.output
        records = [json.loads(line) for line in found.output.splitlines()]
        assert [r["eventName"] for r in records] == ["GetUser"], name
        assert records[0]["userIdentity"]["arn"] == arn
        why = records[0]["iamdDecision"]
        assert why["decision"] == "implicitDeny" and why["blockingPolicyType"] == "identity"
    table = _trail(tmp_path, "--data-dir", str(data_dir), "--user", "CliTrailRole", COLUMNS="80")
    assert table.exit_code == 0, table.output
    text = re.sub(r"\s+", " ", table.output)
    assert "assumed-role/CliTrailRole/trail-session" in re.sub(r"\s*\n\s*", "", table.output) or (
        "assumed-role/CliTrailRole/" in text
    )
    assert "AccessDenied: User: " in text and "is not authorized to perform: iam:GetUser" in text
    assert max(len(line) for line in table.output.splitlines()) <= 80
    wide = _trail(tmp_path, "--data-dir", str(data_dir), "--user", "CliTrailRole", COLUMNS="300")
    assert "iam:GetUser action (why: implicitDeny by identity)" in re.sub(r"\s+", " ", wide.output)


def test_trail_shows_the_key_and_why_it_was_refused(
    server: tuple[RunningServer, Path], iam: BaseClient, tmp_path: Path
) -> None:
    srv, data_dir = server
    stranger = {"AccessKeyId": "AKIAIOSFODNN7STRANGE", "SecretAccessKey": "z" * 40}
    with pytest.raises(Exception, match="InvalidClientTokenId"):
        client(srv, "iam", stranger).list_users()
    found = _trail(tmp_path, "--data-dir", str(data_dir), "--errors", "--event", "ListUsers", "--json")
    assert found.exit_code == 0, found.output
    [record] = [json.loads(line) for line in found.output.splitlines() if "AKIAIOSFODNN7STRANGE" in line]
    assert record["userIdentity"] == {"type": "Unknown", "accessKeyId": "AKIAIOSFODNN7STRANGE"}
    assert record["iamdAuthentication"]["reason"] == "no such access key"
    assert "z" * 40 not in found.output
    table = _trail(tmp_path, "--data-dir", str(data_dir), "--errors", "--event", "ListUsers", COLUMNS="200")
    assert "(why: key AKIAIOSFODNN7STRANGE: no such access key)" in re.sub(r"\s+", " ", table.output)


def test_error_lines_are_plain(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = CliRunner().invoke(main, ["policy", "eval", str(bad)])
    assert result.exit_code == 2
    assert result.output == f"{bad}:1:2: not JSON: Expecting property name enclosed in double quotes\n"
    wrong = tmp_path / "wrong.json"
    wrong.write_text("{}")
    result = CliRunner().invoke(main, ["policy", "eval", str(wrong)])
    assert result.exit_code == 2 and "[red]" not in result.output and result.output.startswith(f"{wrong}: ")


def test_database_problems_are_one_line_and_create_nothing(tmp_path: Path) -> None:
    unreachable = f"postgresql://iamd:hunter2@127.0.0.1:{free_port()}/iamd"
    for args in (["db", "upgrade", "--database", unreachable], ["trail", "--database", unreachable]):
        result = _invoke(tmp_path, *args)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert result.output.startswith("Error: database postgresql://iamd:***@127.0.0.1:")
        assert "hunter2" not in result.output
    missing = tmp_path / "none" / "iamd.db"
    for args in (["trail", "--database", f"sqlite:///{missing}"], ["db", "reseal", "--data-dir", str(missing.parent)]):
        result = _invoke(tmp_path, *args)
        assert result.exit_code == 1 and f"no iamd database at {missing}" in result.output, result.output
    assert not missing.parent.exists()


def test_the_order_in_which_the_server_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamd.cli.client import client_host, find_endpoint, record_endpoint

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    data_dir = tmp_path / "data"
    assert find_endpoint(None, {}, "default", data_dir).url == "http://127.0.0.1:4566"
    assert record_endpoint(data_dir, "0.0.0.0", 4600) == "http://127.0.0.1:4600"  # what clients here reach
    assert find_endpoint(None, {}, "default", data_dir).source.endswith("written by `iamd serve`")
    assert find_endpoint(None, {}, "default", data_dir).url == "http://127.0.0.1:4600"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4601")
    assert find_endpoint(None, {}, "default", data_dir).url == "http://127.0.0.1:4601"
    profile = {"endpoint_url": "http://127.0.0.1:4602/"}
    assert find_endpoint(None, profile, "p", data_dir) == find_endpoint(None, profile, "p", data_dir)
    assert find_endpoint(None, profile, "p", data_dir).url == "http://127.0.0.1:4602"
    assert find_endpoint("http://127.0.0.1:4603", profile, "p", data_dir).source == "--endpoint-url"
    assert (client_host("::"), client_host("::1"), client_host("localhost")) == ("[::1]", "[::1]", "localhost")
