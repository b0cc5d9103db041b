"""``iamd authorize`` against a real server (click's CliRunner): exit 0 allowed, 1 denied, 2 failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from iamd.cli import main
from tests.api.conftest import allow, policy
from tests.api.server import RunningServer
from tests.authz.conftest import Key, presign, widget


def run(server: RunningServer, service: Key, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {
        "AWS_ACCESS_KEY_ID": service.key, "AWS_SECRET_ACCESS_KEY": service.secret, "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_ENDPOINT_URL": "", "COLUMNS": "200", **(env or {}),
    }  # fmt: skip
    return CliRunner().invoke(main, ["authorize", *args, "--endpoint-url", server.endpoint], env=environment)


def test_a_presigned_url_allowed_and_denied_as_a_table_and_as_json(
    api_server: RunningServer, service_key: Key, make_user: Callable[..., Key], acct: str
) -> None:
    nina = make_user("nina-cli", policy(allow("widgets:GetWidget", widget(acct, "a"))))
    url = presign(nina, url="http://widgets.example/widget/a")
    ok = run(api_server, service_key, "--presigned-url", url, "--action", "widgets:GetWidget",
             "--resource", widget(acct, "a"), "--service", "widgets")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert f"caller: {nina.arn} (IAMUser)" in ok.output and "Allow" in ok.output
    both = run(api_server, service_key, "--presigned-url", url, "--action", "widgets:GetWidget",
               "--action", "widgets:DeleteWidget", "--resource", widget(acct, "a"), "--json")  # fmt: skip
    assert both.exit_code == 1, both.output
    answer = json.loads(both.output)
    assert [r["Decision"] for r in answer["Results"]] == ["Allow", "Deny"]
    assert answer["Results"][1]["Message"].endswith(
        "because no identity-based policy allows the widgets:DeleteWidget action"
    )


def test_a_request_signed_here_with_a_profile_and_a_resource_policy_from_a_file(
    api_server: RunningServer, service_key: Key, make_user: Callable[..., Key], acct: str, tmp_path: Path
) -> None:
    oscar = make_user("oscar-cli")
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[oscar]\naws_access_key_id = {oscar.key}\naws_secret_access_key = {oscar.secret}\n")
    grant = tmp_path / "policy.json"
    grant.write_text(policy({"Effect": "Allow", "Principal": {"AWS": oscar.arn}, "Action": "widgets:GetWidget",
                             "Resource": "*"}))  # fmt: skip
    args = ["--sign-profile", "oscar", "--url", "http://widgets.example/widget/b", "--service", "widgets",
            "--action", "widgets:GetWidget", "--resource", widget(acct, "b")]  # fmt: skip
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    denied = run(api_server, service_key, *args, env=env)
    assert denied.exit_code == 1 and "Deny" in denied.output
    allowed = run(api_server, service_key, *args, "--resource-policy", f"@{grant}", env=env)
    assert allowed.exit_code == 0, allowed.output


def test_a_described_unsigned_request_and_a_failed_call(
    api_server: RunningServer, service_key: Key, make_user: Callable[..., Key], acct: str
) -> None:
    described = run(api_server, service_key, "--method", "GET", "--path", "/widget/c", "--header", "Host: w.example",
                    "--action", "widgets:GetWidget", "--resource", widget(acct, "c"))  # fmt: skip
    assert described.exit_code == 1 and "MissingAuthenticationToken" in described.output
    nobody = make_user("not-allowed-cli")
    refused = run(api_server, nobody, "--path", "/", "--action", "widgets:GetWidget", "--resource", "*")
    assert refused.exit_code == 2 and "AccessDenied: User: " in refused.output
    bad = run(api_server, service_key, "--action", "widgets:GetWidget", "--resource", "*")
    assert bad.exit_code == 2 and "give --presigned-url" in bad.output
