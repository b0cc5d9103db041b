"""Rotating the master key (iamd.keyring, ``iamd db rotate-master-key``) breaks nothing live.

The requirement: "key rotation of the sealing key without breaking live sessions". After a rotation
every stored secret (access key secrets, MFA seeds) is sealed under the new key, the old
long-term keys and MFA devices keep working, and session tokens issued before the rotation
stay valid while the retired key is kept; without it they are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from iamd.cli import main
from iamd.crypto import key_id_for, read_key_file
from iamd.keyring import RETIRED_DIR
from tests.api.conftest import client_for, failure
from tests.api.server import RunningServer, running_server
from tests.api.test_sts_assume_role import client


def _sealed_values(server: RunningServer) -> list[str]:
    from sqlalchemy import select

    from iamd.store import schema as s

    with server.backend.store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(s.access_keys.c.secret_sealed)).all()
        rows += conn.execute(select(s.mfa_devices.c.seed_sealed)).all()
    return [bytes(r[0]).decode() for r in rows]


def test_rotation_keeps_keys_devices_and_live_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IAMD_MASTER_KEY", raising=False)
    monkeypatch.delenv("IAMD_RETIRED_MASTER_KEYS", raising=False)
    data = tmp_path / "data"
    with running_server(data) as server:
        acct = server.account_id
        iam = client_for(server, server.root_key, server.root_secret)
        iam.create_user(UserName="kept")
        key = iam.create_access_key(UserName="kept")["AccessKey"]
        user = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName="kept")["VirtualMFADevice"]
        totp = pyotp.TOTP(device["Base32StringSeed"].decode("ascii"))
        step = int(datetime.now(UTC).timestamp()) // 30
        iam.enable_mfa_device(UserName="kept", SerialNumber=device["SerialNumber"],
                              AuthenticationCode1=totp.generate_otp(step - 1),
                              AuthenticationCode2=totp.generate_otp(step))  # fmt: skip
        session = client(server, "sts", user).get_session_token(DurationSeconds=3600)["Credentials"]
        old_id = key_id_for(read_key_file(data / "master.key"))
        assert session["SessionToken"].startswith(f"v1:{old_id}:")

    result = CliRunner().invoke(main, ["db", "rotate-master-key", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    new_id = key_id_for(read_key_file(data / "master.key"))
    assert new_id != old_id and f"master key {old_id} retired, {new_id} is the primary key now" in result.output
    assert "re-sealed 2 access key secret(s) and 1 MFA seed(s)" in result.output  # root's key and kept's
    assert (data / RETIRED_DIR / f"{old_id}.key").stat().st_mode & 0o777 == 0o600

    with running_server(data) as server:
        assert all(v.startswith(f"v1:{new_id}:") for v in _sealed_values(server))
        sts = client(server, "sts", user)  # the long-term key was re-sealed and still signs
        assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{acct}:user/kept"
        before = client(server, "sts", session)  # a session issued before the rotation still works
        assert before.get_caller_identity()["Arn"] == f"arn:aws:iam::{acct}:user/kept"
        mfa = sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=totp.generate_otp(step + 1))
        assert mfa["Credentials"]["SessionToken"].startswith(f"v1:{new_id}:")  # the seed opens, new tokens: new key

    (data / RETIRED_DIR / f"{old_id}.key").unlink()  # the operator forgets the retired key
    with running_server(data) as server:
        assert client(server, "sts", user).get_caller_identity()["Account"] == acct
        with pytest.raises(ClientError) as e:
            client(server, "sts", session).get_caller_identity()
        assert failure(e)[:2] == (403, "InvalidClientTokenId")


def test_rotation_is_refused_when_the_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMD_MASTER_KEY", "A" * 43 + "=")
    result = CliRunner().invoke(main, ["db", "rotate-master-key", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "IAMD_RETIRED_MASTER_KEYS" in result.output and "iamd db reseal" in result.output
