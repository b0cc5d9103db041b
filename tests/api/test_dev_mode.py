"""--dev mode: fixed account, root keys from the environment, reset like moto's server."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from iamd.api import Backend
from tests.api.server import ROOT_KEY, ROOT_SECRET, running_server


def _post(url: str) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("path", ["/moto-api/reset", "/_iamd/reset"])
def test_reset_wipes_state_and_keeps_root_credentials(tmp_path: Path, path: str) -> None:
    with running_server(tmp_path) as srv:
        assert srv.account_id == "123456789012" and srv.root_key == ROOT_KEY
        iam = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
        )  # fmt: skip
        iam.create_user(UserName="alice")
        iam.create_policy(
            PolicyName="P",
            PolicyDocument='{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}',
        )
        assert _post(srv.endpoint + path) == (200, {"status": "ok"})
        assert iam.list_users()["Users"] == []
        assert iam.list_policies(Scope="Local")["Policies"] == []
        aws = iam.list_policies(Scope="AWS")["Policies"]
        assert any(p["PolicyName"] == "AdministratorAccess" for p in aws)
        iam.create_user(UserName="alice")  # usable again, same root key


def test_reset_auth_answers_as_moto_and_iamd_keeps_authenticating(tmp_path: Path) -> None:
    """moto's ``POST /moto-api/reset-auth`` (body: how many requests run unauthenticated) answers
    ``{"status": "ok", "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": "<previous>"}`` (moto's default: inf);
    iamd answers the same, and an unsigned or wrongly signed request is still refused."""
    with running_server(tmp_path) as srv:

        def send(body: bytes, method: str = "POST") -> tuple[int, dict[str, str]]:
            req = urllib.request.Request(srv.endpoint + "/moto-api/reset-auth", data=body or None, method=method)
            try:
                with urllib.request.urlopen(req) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert send(b"4") == (200, {"status": "ok", "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": "inf"})
        assert send(b"0") == (200, {"status": "ok", "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": "4.0"})
        assert send(b"", method="GET") == (400, {"Error": "Need to POST to reset Moto Auth"})
        status, body = send(b"lots")
        assert status == 400 and "must be a number" in body["Error"]
        wrong = boto3.client("iam", endpoint_url=srv.endpoint, region_name="us-east-1",
                             aws_access_key_id=ROOT_KEY, aws_secret_access_key="not-the-secret")  # fmt: skip
        with pytest.raises(ClientError) as refused:
            wrong.list_users()
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        srv.backend.dev = False
        assert send(b"1")[0] == 404


def test_reset_is_refused_outside_dev_mode(tmp_path: Path) -> None:
    with running_server(tmp_path) as srv:
        srv.backend.dev = False
        status, body = _post(srv.endpoint + "/_iamd/reset")
        assert status == 404 and "--dev" in body["error"]


def test_the_server_keeps_its_own_account_among_the_accounts_organizations_made(tmp_path: Path) -> None:
    """A member account whose id sorts first is still not the server's account after a restart."""
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    backend, _ = Backend.open(url, tmp_path, dev=True, env=env)
    try:
        with backend.store.transaction() as tx:
            tx.create_account("100000000000", created_by_organization="o-abcdefghij")
    finally:
        backend.close()
    again, _ = Backend.open(url, tmp_path, dev=True, env=env)
    try:
        assert again.account_id == "123456789012"
    finally:
        again.close()
