"""The AWS CLI (v1, PyPI `awscli`, with its own vendored botocore) against a real iamd."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path

from tests.api.server import RunningServer

from .clients import BIN, TIMEOUT, AwsCli, isolated_env

ACCOUNT = "123456789012"
DEV_ARN = f"arn:aws:iam::{ACCOUNT}:user/dev"
LIST_USERS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}
DENIED = (
    f"User: {DEV_ARN} is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ "
    "because no identity-based policy allows the iam:ListUsers action"
)


def test_denied_then_allowed_by_a_managed_policy(root_cli: AwsCli, server: RunningServer, tmp_path: Path) -> None:
    assert server.account_id == ACCOUNT

    user = root_cli("iam", "create-user", "--user-name", "dev")["User"]
    assert user["Arn"] == DEV_ARN
    assert user["CreateDate"].endswith("Z") or "+" in user["CreateDate"]

    key = root_cli("iam", "create-access-key", "--user-name", "dev")["AccessKey"]
    assert key["UserName"] == "dev" and key["Status"] == "Active"
    dev = root_cli.as_(key["AccessKeyId"], key["SecretAccessKey"])

    # The document goes through the CLI's file:// parameter loading.
    document = tmp_path / "list-users.json"
    document.write_text(json.dumps(LIST_USERS, indent=2))
    policy = root_cli("iam", "create-policy", "--policy-name", "ListUsers", "--policy-document", f"file://{document}")[
        "Policy"
    ]
    assert policy["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/ListUsers"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    # The CLI URL-decodes and parses the document of the response (botocore's IAM handler).
    version = root_cli("iam", "get-policy-version", "--policy-arn", policy["Arn"], "--version-id", "v1")
    assert version["PolicyVersion"]["Document"] == LIST_USERS
    assert version["PolicyVersion"]["IsDefaultVersion"] is True

    denied = dev.run("iam", "list-users")
    assert denied.returncode in (254, 255), denied.describe()
    assert DENIED in denied.stderr, denied.describe()
    assert "(AccessDenied)" in denied.stderr and "ListUsers operation" in denied.stderr, denied.describe()
    assert denied.stdout == ""

    assert root_cli.run("iam", "attach-user-policy", "--user-name", "dev", "--policy-arn", policy["Arn"]).json() is None
    attached = root_cli("iam", "list-attached-user-policies", "--user-name", "dev")["AttachedPolicies"]
    assert attached == [{"PolicyName": "ListUsers", "PolicyArn": policy["Arn"]}]

    listed = dev("iam", "list-users")
    assert [u["UserName"] for u in listed["Users"]] == ["dev"]
    assert listed["Users"][0]["Arn"] == DEV_ARN
    assert dev.run("iam", "list-users", "--query", "Users[].UserName", "--output", "text").stdout.split() == ["dev"]

    # get-user without --user-name is about the caller: the root user, then dev (once allowed).
    me = root_cli("iam", "get-user")["User"]
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and me["UserId"] == ACCOUNT
    denied = dev.run("iam", "get-user")
    assert denied.returncode in (254, 255), denied.describe()
    assert (
        f"User: {DEV_ARN} is not authorized to perform: iam:GetUser on resource: user dev "
        "because no identity-based policy allows the iam:GetUser action"
    ) in denied.stderr, denied.describe()
    self_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/${aws:username}"}],
    }
    root_cli.run(
        "iam", "put-user-policy", "--user-name", "dev", "--policy-name", "Self",
        "--policy-document", json.dumps(self_policy),
    ).json()  # fmt: skip
    inline = root_cli("iam", "get-user-policy", "--user-name", "dev", "--policy-name", "Self")
    assert inline["PolicyDocument"] == self_policy
    me = dev("iam", "get-user")["User"]
    assert me["UserName"] == "dev" and me["Arn"] == DEV_ARN and me["CreateDate"] == user["CreateDate"]

    # Detaching takes the permission away again.
    root_cli.run("iam", "detach-user-policy", "--user-name", "dev", "--policy-arn", policy["Arn"]).json()
    again = dev.run("iam", "list-users")
    assert again.returncode in (254, 255) and DENIED in again.stderr, again.describe()


def test_errors_map_to_cli_messages(root_cli: AwsCli) -> None:
    missing = root_cli.run("iam", "get-user", "--user-name", "nobody")
    assert missing.returncode in (254, 255), missing.describe()
    assert (
        "An error occurred (NoSuchEntity) when calling the GetUser operation: "
        "The user with name nobody cannot be found."
    ) in missing.stderr, missing.describe()

    root_cli("iam", "create-user", "--user-name", "twice")
    duplicate = root_cli.run("iam", "create-user", "--user-name", "twice")
    assert duplicate.returncode in (254, 255), duplicate.describe()
    assert "(EntityAlreadyExists)" in duplicate.stderr and "User with name twice already exists." in duplicate.stderr

    stranger = root_cli.as_("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY").run("iam", "list-users")
    assert stranger.returncode in (254, 255), stranger.describe()
    assert "(InvalidClientTokenId)" in stranger.stderr, stranger.describe()


def _token_marker(token: str) -> object:
    """The CLI's NextToken is base64 of JSON holding the service's Marker."""
    padded = token + "=" * (-len(token) % 4)
    return json.loads(base64.b64decode(padded))


def _follow(cli: AwsCli, *args: str) -> tuple[list[str], list[str]]:
    """Every user name over --starting-token pages; and the tokens seen."""
    names: list[str] = []
    tokens: list[str] = []
    extra: list[str] = []
    for _ in range(10):
        page = cli("iam", "list-users", *args, *extra)
        names += [u["UserName"] for u in page["Users"]]
        if "NextToken" not in page:
            return names, tokens
        tokens.append(page["NextToken"])
        extra = ["--starting-token", page["NextToken"]]
    raise AssertionError(f"pagination did not end: {names}")


def test_pagination_follows_marker(root_cli: AwsCli) -> None:
    for name in ("alice", "bob", "carol"):
        root_cli("iam", "create-user", "--user-name", name)

    # --page-size 1: the paginator sends MaxItems=1 and follows IsTruncated/Marker, 3 requests.
    debug = root_cli.run("--debug", "iam", "list-users", "--page-size", "1", "--output", "json")
    assert sorted(u["UserName"] for u in debug.json()["Users"]) == ["alice", "bob", "carol"]
    assert debug.stderr.count("Making request for OperationModel(name=ListUsers)") == 3, debug.stderr[-3000:]
    assert "<IsTruncated>true</IsTruncated>" in debug.stderr and "<Marker>" in debug.stderr

    # --max-items 1: one user per invocation, resumed with the CLI's NextToken.
    names, tokens = _follow(root_cli, "--max-items", "1")
    assert sorted(names) == ["alice", "bob", "carol"] and len(tokens) == 2

    # Both: each NextToken carries the server's Marker.
    names, tokens = _follow(root_cli, "--max-items", "1", "--page-size", "1")
    assert sorted(names) == ["alice", "bob", "carol"] and len(tokens) == 2
    for token in tokens:
        marker = _token_marker(token)
        assert isinstance(marker, dict) and marker.get("Marker"), marker


def _iamd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = BIN / "iamd"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "iamd"]
    return subprocess.run(
        [*argv, *args], env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )


def test_iamd_profile(aws_cli: Path, server: RunningServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = isolated_env(home)
    config, credentials = Path(env["AWS_CONFIG_FILE"]), Path(env["AWS_SHARED_CREDENTIALS_FILE"])
    config.write_text("[default]\nregion = eu-west-1\n")  # an existing profile is kept

    data_dir = tmp_path / "data"
    done = _iamd("profile", "--data-dir", str(data_dir), "--endpoint", server.endpoint, env=env)
    assert done.returncode == 0, done.stderr
    assert "aws --profile iamd iam list-users" in done.stdout
    assert not (home / ".aws").exists()  # written where AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE say
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600  # a new file with the root secret
    assert "[default]" in config.read_text() and "eu-west-1" in config.read_text()
    assert server.endpoint in config.read_text()
    assert server.root_secret in credentials.read_text()

    # No AWS_ENDPOINT_URL, no keys in the environment: everything comes from the profile.
    cli = AwsCli(home, endpoint=None)
    assert cli("--profile", "iamd", "iam", "list-users") == {"Users": []}
    cli("--profile", "iamd", "iam", "create-user", "--user-name", "alice")
    listed = cli("--profile", "iamd", "iam", "list-users")
    assert [u["UserName"] for u in listed["Users"]] == ["alice"]
    assert cli("--profile", "iamd", "iam", "get-user")["User"]["Arn"] == f"arn:aws:iam::{server.account_id}:root"

    # Writing it again (another name) keeps the first.
    done = _iamd("profile", "--data-dir", str(data_dir), "--endpoint", server.endpoint, "--name", "other", env=env)
    assert done.returncode == 0, done.stderr
    assert cli("--profile", "other", "iam", "list-users")["Users"][0]["UserName"] == "alice"
    assert cli("--profile", "iamd", "iam", "list-users")["Users"][0]["UserName"] == "alice"


def test_the_cli_in_other_regions(root_cli: AwsCli, server: RunningServer) -> None:
    """`--region` (and AWS_DEFAULT_REGION) sign IAM and STS requests for that region: any region
    of the server's partition works (docs/iam-api.md, "Regions and partitions")."""
    for region in ("eu-central-1", "ap-southeast-2", "us-west-2"):
        assert root_cli("sts", "get-caller-identity", "--region", region)["Account"] == ACCOUNT
        root_cli("iam", "create-user", "--user-name", f"cli-{region}", "--region", region)
    users = root_cli("iam", "list-users", "--region", "sa-east-1")["Users"]
    assert {u["UserName"] for u in users} >= {"cli-eu-central-1", "cli-ap-southeast-2", "cli-us-west-2"}
    refused = root_cli.run("iam", "list-users", "--region", "cn-north-1")
    assert refused.returncode != 0 and "SignatureDoesNotMatch" in refused.stderr
