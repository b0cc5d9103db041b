"""``iamd account create`` and ``iamd account list`` against a real server (click's CliRunner)."""

from __future__ import annotations

import re

from botocore.client import BaseClient
from click.testing import CliRunner, Result

from iamd.cli import main
from tests.api.server import RunningServer


def _run(server: RunningServer, *args: str) -> Result:
    env = {
        "AWS_ACCESS_KEY_ID": server.root_key,
        "AWS_SECRET_ACCESS_KEY": server.root_secret,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ENDPOINT_URL": "",
    }
    return CliRunner().invoke(main, [*args, "--endpoint-url", server.endpoint], env=env)


def test_account_create_and_list(api_server: RunningServer, iam: BaseClient, acct: str) -> None:
    outside = _run(api_server, "account", "create", "dev", "--email", "dev@example.com")
    assert outside.exit_code == 1
    assert "AWSOrganizationsNotInUseException: Your account is not a member of an organization." in outside.output
    created = _run(api_server, "account", "create", "dev", "--email", "dev@example.com", "--create-organization")
    assert created.exit_code == 0, created.output
    assert re.match(rf"Created organization o-[a-z0-9]{{10}} \(management account {acct}\)\n", created.output)
    found = re.search(r"Created account (\d{12}) \(dev\)\n", created.output)
    assert found is not None
    member = found.group(1)
    assert f"Its administrators' role: arn:aws:iam::{member}:role/OrganizationAccountAccessRole" in created.output
    named = _run(api_server, "account", "create", "ops", "--email", "ops@example.com", "--role-name", "Admins")
    assert named.exit_code == 0 and ":role/Admins" in named.output
    taken = _run(api_server, "account", "create", "dup", "--email", "dev@example.com")
    assert taken.exit_code == 1 and "account dup was not created: FAILED EMAIL_ALREADY_EXISTS" in taken.output
    listed = _run(api_server, "account", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(rf"{acct}  management  ACTIVE     {acct}@iamd\.invalid  {acct}", lines[0])
    assert re.fullmatch(rf"{member}  member      ACTIVE     dev@example\.com  dev", lines[1])
    assert "Traceback" not in listed.output
