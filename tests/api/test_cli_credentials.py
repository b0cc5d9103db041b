"""``iamd user create`` and ``iamd key rotate`` against a real server (click's CliRunner)."""

from __future__ import annotations

import re
import stat

import pytest
from botocore.client import BaseClient
from click.testing import CliRunner, Result

from iamd.cli import main
from iamd.service.passwords import DEFAULT_POLICY, policy_problems
from iamd.service.signin import SigninAttempt
from tests.api.server import RunningServer


def _run(server: RunningServer, *args: str, endpoint: bool = True) -> Result:
    env = {
        "AWS_ACCESS_KEY_ID": server.root_key,
        "AWS_SECRET_ACCESS_KEY": server.root_secret,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ENDPOINT_URL": "",
        "AWS_ENDPOINT_URL_IAM": "",
    }
    extra = ["--endpoint-url", server.endpoint] if endpoint else []
    return CliRunner().invoke(main, [*args, *extra], env=env)


def test_user_create_with_console_password(api_server: RunningServer, iam: BaseClient, acct: str) -> None:
    result = _run(api_server, "user", "create", "cli-alice", "--console-password", "--path", "/people/")
    assert result.exit_code == 0, result.output
    password = re.search(r"Console password .*: (\S+)", result.output)
    assert password is not None and not policy_problems(DEFAULT_POLICY, password.group(1))
    # the console's sign-in URL, and the permission the forced change needs (as AWS's console attaches it)
    assert f"Sign-in URL: {api_server.endpoint}/console?account={acct}\n" in result.output
    attached = iam.list_attached_user_policies(UserName="cli-alice")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/IAMUserChangePassword"]
    assert f"Account: {acct}\n" in result.output
    assert iam.get_user(UserName="cli-alice")["User"]["Path"] == "/people/"
    assert iam.get_login_profile(UserName="cli-alice")["LoginProfile"]["PasswordResetRequired"] is True
    # the generated password signs in, to a session that must change it first
    session = api_server.backend.sign_in(SigninAttempt(acct, "cli-alice", password.group(1))).session
    assert session is not None and session.password_change_only
    # the account alias, when set, is shown with the account
    iam.create_account_alias(AccountAlias="cli-corp")
    try:
        aliased = _run(api_server, "user", "create", "cli-bob", "--console-password")
        assert f"Account: {acct} (alias cli-corp)" in aliased.output
        assert f"Sign-in URL: {api_server.endpoint}/console?account=cli-corp\n" in aliased.output
    finally:
        iam.delete_account_alias(AccountAlias="cli-corp")


def test_user_create_attaches_nothing_when_users_may_change_passwords(
    api_server: RunningServer, iam: BaseClient, acct: str
) -> None:
    iam.update_account_password_policy(MinimumPasswordLength=10, AllowUsersToChangePassword=True)
    try:
        result = _run(api_server, "user", "create", "cli-dana", "--console-password")
        assert result.exit_code == 0, result.output
        assert iam.list_attached_user_policies(UserName="cli-dana")["AttachedPolicies"] == []
        assert "IAMUserChangePassword" not in result.output
    finally:
        iam.delete_account_password_policy()


def test_root_set_password(api_server: RunningServer, acct: str) -> None:
    """The root user's console password: set by the operator (shown once when generated), kept only as a hash."""
    assert api_server.backend.data_dir is not None
    data_dir = api_server.backend.data_dir
    weak = CliRunner().invoke(main, ["root", "set-password", "--data-dir", str(data_dir)], input="short\nshort\n")
    assert weak.exit_code == 1 and "Password should have a minimum length of 8" in weak.output
    made = CliRunner().invoke(main, ["root", "set-password", "--generate", "--data-dir", str(data_dir)])
    assert made.exit_code == 0, made.output
    password = re.search(r"Root console password \(shown once\): (\S+)", made.output)
    assert password is not None
    stored = data_dir / "root-console-password"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and password.group(1) not in stored.read_text()
    session = api_server.backend.sign_in(SigninAttempt(acct, "", password.group(1), root=True)).session
    assert session is not None and session.root and session.user_arn == f"arn:aws:iam::{acct}:root"
    assert not api_server.backend.sign_in(SigninAttempt(acct, "", "Wrong-passw0rd", root=True)).ok
    cleared = CliRunner().invoke(main, ["root", "clear-password", "--data-dir", str(data_dir)])
    assert cleared.exit_code == 0 and not stored.exists()
    assert not api_server.backend.sign_in(SigninAttempt(acct, "", password.group(1), root=True)).ok


def test_user_create_without_password_and_errors(api_server: RunningServer, iam: BaseClient) -> None:
    plain = _run(api_server, "user", "create", "cli-carol")
    assert plain.exit_code == 0 and "password" not in plain.output.lower()
    again = _run(api_server, "user", "create", "cli-carol")
    assert again.exit_code == 1 and "EntityAlreadyExists: User with name cli-carol already exists." in again.output
    assert "Traceback" not in again.output


def test_key_rotate(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="cli-rot")
    first = iam.create_access_key(UserName="cli-rot")["AccessKey"]["AccessKeyId"]
    rotated = _run(api_server, "key", "rotate", "cli-rot")
    assert rotated.exit_code == 0, rotated.output
    new_id = re.search(r"AccessKeyId:\s+(\S+)", rotated.output)
    assert new_id is not None and re.search(r"SecretAccessKey:\s+\S{40}", rotated.output)
    keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="cli-rot")["AccessKeyMetadata"]}
    assert keys == {first: "Inactive", new_id.group(1): "Active"}
    assert "--finish" in rotated.output

    # two keys: the limit is explained, not a stack trace
    full = _run(api_server, "key", "rotate", "cli-rot")
    assert full.exit_code == 1 and "Traceback" not in full.output
    assert "already has 2 access keys" in full.output and "AccessKeysPerUser: 2" in full.output
    assert first in full.output and "Delete one first" in full.output

    finished = _run(api_server, "key", "rotate", "cli-rot", "--finish")
    assert finished.exit_code == 0 and f"Deleted inactive key {first}" in finished.output
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="cli-rot")["AccessKeyMetadata"]] == [
        new_id.group(1)
    ]


@pytest.mark.parametrize("flag", ["--delete-old"])
def test_key_rotate_delete_old(api_server: RunningServer, iam: BaseClient, flag: str) -> None:
    iam.create_user(UserName="cli-del")
    old = iam.create_access_key(UserName="cli-del")["AccessKey"]["AccessKeyId"]
    result = _run(api_server, "key", "rotate", "cli-del", flag)
    assert result.exit_code == 0 and f"Deleted the old key {old}" in result.output
    (only,) = iam.list_access_keys(UserName="cli-del")["AccessKeyMetadata"]
    assert only["AccessKeyId"] != old and only["Status"] == "Active"
