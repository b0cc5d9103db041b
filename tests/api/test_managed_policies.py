"""AWS managed policies: shipped ones, and loading the full set from a real account's dump."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from iamd.api.managed_policies import load_authorization_details, shipped_managed_policies
from iamd.policy import DocumentKind, parse_policy
from iamd.store import migrate, open_store

REQUIRED = {
    "AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "IAMReadOnlyAccess", "IAMUserChangePassword",
    "IAMSelfManageServiceSpecificCredentials", "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess", "ReadOnlyAccess",
}  # fmt: skip


def test_shipped_policies_are_valid_identity_policies() -> None:
    shipped = shipped_managed_policies()
    assert set(shipped) >= REQUIRED
    for spec in shipped.values():
        parse_policy(spec["Document"], DocumentKind.IDENTITY)


def _dump() -> dict[str, object]:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
    return {
        "Policies": [
            {
                "PolicyName": "AmazonEC2ReadOnlyAccess", "Arn": "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
                "Path": "/", "DefaultVersionId": "v3",
                "PolicyVersionList": [
                    {"Document": doc, "VersionId": "v3", "IsDefaultVersion": True},
                    {"Document": quote(json.dumps({"Version": "2012-10-17", "Statement": []})), "VersionId": "v2",
                     "IsDefaultVersion": False},
                ],
            },
            {"PolicyName": "Mine", "Arn": "arn:aws:iam::111122223333:policy/Mine", "PolicyVersionList": []},
        ]
    }  # fmt: skip


def test_load_from_a_dump(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    store = open_store(url)
    try:
        assert load_authorization_details(store, _dump()) == 1
        with store.read() as r:
            policy = r.get_policy("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
            assert policy.default_version_id == "v3" and policy.is_aws_managed
            text = r.get_policy_version(policy.arn, "v3").document
            assert json.loads(text)["Statement"][0]["Action"] == "ec2:Describe*"
    finally:
        store.close()


def test_cli_load_command(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(_dump()))
    cmd = [sys.executable, "-m", "iamd", "db", "load-managed-policies", str(dump), "--data-dir", str(tmp_path / "d")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 AWS managed policies loaded" in result.stdout
