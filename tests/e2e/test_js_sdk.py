"""The AWS SDK for JavaScript v3 (npm `@aws-sdk/client-iam`) against a real iamd.

tests/js/flow.mjs does the calls and checks; this test installs its packages when needed
(`npm ci` from the committed package-lock.json), runs it and reads its JSON summary. Without
node or npm the test is skipped, loudly, unless IAMD_REQUIRE_E2E=1 (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.api.server import RunningServer

from .clients import TIMEOUT, isolated_env

JS = Path(__file__).resolve().parents[1] / "js"
SDK = "@aws-sdk/client-iam"
REQUIRED = os.environ.get("IAMD_REQUIRE_E2E") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"IAMD_REQUIRE_E2E=1 but {reason}")
    pytest.skip(f"JS SDK end-to-end test NOT RUN: {reason} (set IAMD_REQUIRE_E2E=1 to make this a failure)")


def _installed_version() -> str | None:
    manifest = JS / "node_modules" / SDK / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable(f"{'node' if node is None else 'npm'} is not on PATH")
    assert node is not None and npm is not None
    locked = json.loads((JS / "package-lock.json").read_text())["packages"][f"node_modules/{SDK}"]["version"]
    if _installed_version() != locked:
        # The developer's own npm configuration and cache; a clean install from the lock file.
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if done.returncode != 0:
            _unavailable(f"`npm ci` in {JS} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        assert _installed_version() == locked, f"npm ci did not install {SDK}@{locked}"
    return node


def test_js_sdk_flow(node: str, server: RunningServer, tmp_path: Path) -> None:
    env = isolated_env(
        tmp_path / "home",
        IAMD_ENDPOINT=server.endpoint,
        IAMD_ACCOUNT_ID=server.account_id,
        IAMD_ROOT_ACCESS_KEY_ID=server.root_key,
        IAMD_ROOT_SECRET_ACCESS_KEY=server.root_secret,
    )
    done = subprocess.run(
        [node, "flow.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"flow.mjs printed no JSON summary (exit {done.returncode})\n{done.stdout}\n{done.stderr}")
    failed = [c for c in summary.get("checks", []) if not c["ok"]]
    assert done.returncode == 0 and summary["ok"] and not failed, json.dumps(
        {"exit": done.returncode, "failed": failed, "error": summary.get("error"), "stderr": done.stderr[-2000:]},
        indent=2,
    )

    names = {c["name"] for c in summary["checks"]}
    for expected in (
        "denied ListUsers: error name",
        "denied ListUsers: message",
        "GetUserPolicy.PolicyDocument decodes to the document",
        "allowed ListUsers lists the user",
        "GetUser defaults to the caller",
        "paginateListUsers(pageSize 1) users",
    ):
        assert expected in names, f"flow.mjs did not check {expected!r}"
    assert len(summary["checks"]) >= 40
    assert summary["denied"]["name"] == "AccessDenied"
    assert summary["denied"]["message"] == (
        f"User: arn:aws:iam::{server.account_id}:user/e2e/js-dev is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{server.account_id}:user/ because no identity-based policy allows the "
        "iam:ListUsers action"
    )
    assert summary["denied"]["status"] == 403

    # What the JS client did is what boto3 sees.
    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.root_key,
        aws_secret_access_key=server.root_secret,
    )
    users = {u["UserName"]: u for u in iam.list_users()["Users"]}
    assert sorted(users) == ["js-dev", "js-page-a", "js-page-b"]
    assert users["js-dev"]["Path"] == "/e2e/"
    document = iam.get_user_policy(UserName="js-dev", PolicyName="e2e")["PolicyDocument"]
    assert document["Statement"][1]["Condition"]["StringNotEquals"]["aws:PrincipalTag/note"] == [
        "a%20b & c+d",
        "ünïcødé",
    ]
