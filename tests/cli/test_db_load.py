"""``iamd db load`` (docs/bulk-load.md): JSON Lines through the store's bulk path, in one
transaction; the loaded users then sign real boto3 requests with their loaded keys, and their
policies decide as AWS's would."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

import iamd.bulk_load
from iamd.cli import main
from iamd.crypto import new_access_key_id, new_secret_access_key
from tests.api.conftest import client_for
from tests.api.server import running_server

ACCOUNT = "123456789012"
READ_IAM = {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}]}  # fmt: skip
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}  # fmt: skip


def _key(user: str) -> tuple[dict[str, Any], str, str]:
    key_id, secret = new_access_key_id(account_id=ACCOUNT), new_secret_access_key()
    return {"AccessKey": {"UserName": user, "AccessKeyId": key_id, "SecretAccessKey": secret}}, key_id, secret


def _load(tmp_path: Path, lines: list[Any], *extra: str) -> tuple[int, str, Path]:
    source = tmp_path / "load.jsonl"
    source.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    data_dir = tmp_path / "data"
    args = ["db", "load", str(source), "--account", ACCOUNT, "--data-dir", str(data_dir), *extra]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output, data_dir


def _users(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "iamd.db") as db:
        return sorted(name for (name,) in db.execute("SELECT name FROM users"))


def test_loaded_users_sign_with_their_keys_and_their_policies_decide(tmp_path: Path) -> None:
    keys = [_key(f"dev{i}") for i in range(3)]
    lines: list[Any] = [
        {"Policy": {"PolicyName": "ReadIam", "Path": "/teams/", "PolicyDocument": READ_IAM}},
        {
            "Group": {
                "GroupName": "devs",
                "AttachedManagedPolicies": [{"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/teams/ReadIam"}],
            }
        },
        *(
            {
                "User": {
                    "UserName": f"dev{i}",
                    "Path": "/people/",
                    "GroupList": ["devs"],
                    "Tags": [{"Key": "team", "Value": f"t{i}"}],
                }
            }
            for i in range(3)
        ),
        "",  # a blank line is skipped
        {"User": {"UserName": "nogroup"}},
        {
            "Policy": {
                "PolicyName": "OnlyGet",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}],
                },
            }
        },
        {
            "User": {
                "UserName": "bounded",
                "GroupList": ["devs"],
                "PermissionsBoundary": {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/OnlyGet",
                },
            }
        },
        _key("bounded")[0],
        *(line for line, _, _ in keys),
        {
            "Role": {
                "RoleName": "deployer",
                "AssumeRolePolicyDocument": TRUST,
                "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}],
            }
        },
    ]
    status, out, data_dir = _load(tmp_path, lines)
    assert status == 0, out
    assert f"account {ACCOUNT}: " in out and "5 users" in out and "4 access keys" in out and "1 roles" in out
    for _, _, secret in keys:  # sealed at rest, never the plain secret
        assert secret.encode() not in (data_dir / "iamd.db").read_bytes()
    with running_server(data_dir) as server:
        _, key_id, secret = keys[1]
        dev1 = client_for(server, key_id, secret)
        me = dev1.get_user()["User"]  # allowed by the group's managed policy
        assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/people/dev1"
        assert dev1.list_user_tags(UserName="dev1")["Tags"] == [{"Key": "team", "Value": "t1"}]
        with pytest.raises(ClientError) as denied:
            dev1.create_user(UserName="intruder")
        error = denied.value.response["Error"]
        assert error["Code"] == "AccessDenied"
        assert error["Message"] == (
            f"User: arn:aws:iam::{ACCOUNT}:user/people/dev1 is not authorized to perform: iam:CreateUser on "
            f"resource: arn:aws:iam::{ACCOUNT}:user/intruder because no identity-based policy allows the "
            "iam:CreateUser action"
        )
        groups = dev1.list_groups_for_user(UserName="dev0")["Groups"]
        assert [g["GroupName"] for g in groups] == ["devs"]
        role = dev1.get_role(RoleName="deployer")["Role"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        bounded_key = next(json.loads(line)["AccessKey"] for line in (tmp_path / "load.jsonl").read_text().splitlines()
                           if line.startswith('{"AccessKey": {"UserName": "bounded"'))  # fmt: skip
        bounded = client_for(server, bounded_key["AccessKeyId"], bounded_key["SecretAccessKey"])
        assert bounded.get_user()["User"]["UserName"] == "bounded"
        with pytest.raises(ClientError) as outside:  # the group allows List*, the loaded boundary does not
            bounded.list_groups_for_user(UserName="bounded")
        assert "because no permissions boundary allows the iam:ListGroupsForUser action" in str(outside.value)
        with pytest.raises(ClientError) as wrong:  # a loaded key signs only with its own secret
            client_for(server, key_id, keys[0][2]).get_user()
        assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_list_user_tags_of_a_loaded_user(tmp_path: Path) -> None:
    line, key_id, secret = _key("tagged")
    condition = {"StringEquals": {"aws:PrincipalTag/team": "red"}}
    statement = {"Effect": "Allow", "Action": "iam:ListUserTags", "Resource": "*", "Condition": condition}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    status, out, data_dir = _load(tmp_path, [
        {"User": {"UserName": "tagged", "Tags": [{"Key": "team", "Value": "red"}],
                  "UserPolicyList": [{"PolicyName": "tags", "PolicyDocument": policy}]}},
        line,
    ])  # fmt: skip
    assert status == 0, out
    with running_server(data_dir) as server:
        tags = client_for(server, key_id, secret).list_user_tags(UserName="tagged")["Tags"]
    assert tags == [{"Key": "team", "Value": "red"}]  # allowed through the loaded principal tag


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([{"User": {"UserName": "bad name"}}],
         "line 2: user 'bad name': Member must satisfy regular expression pattern: [\\w+=,.@-]+"),
        ([{"User": {"UserName": "Ana"}}, {"User": {"UserName": "ANA"}}],
         "line 3: user ANA appears twice (names are case-insensitive)"),
        ([{"User": {"UserName": "u", "GroupList": ["missing"]}}],
         "line 2: group 'missing' not found (a line may refer only to what an earlier line or the database has)"),
        ([{"User": {"UserName": "u", "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/Nope"}]}}],
         "line 2: policy 'arn:aws:iam::aws:policy/Nope' not found"),
        ([{"AccessKey": {"UserName": "u", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                         "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}],
         "line 2: access key AKIAIOSFODNN7EXAMPLE encodes account 581039954779, not 123456789012"),
        ([{"User": {"UserName": "u"}}, _key("u")[0], _key("u")[0], _key("u")[0]],
         "lines 1-5: limit AccessKeysPerUser of user u (2) exceeded"),
        ([{"Policy": {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}}],
         "line 2: policy p: Syntax errors in policy."),
        ([{"User": {"UserName": "u", "Tags": [{"Key": "aws:team", "Value": "x"}]}}],
         "line 2: user u: tag key 'aws:team' starts with 'aws:'"),
        ([{"Role": {"RoleName": "r", "AssumeRolePolicyDocument": READ_IAM}}], "line 2: role r, trust policy: "),
        (["{not json"], "line 2: not JSON"),
        ([{"Group": {"GroupName": "devs"}}, {"User": {"UserName": "u", "GroupList": "devs"}}],
         "line 3: user u: GroupList must be a list"),
        ([{"User": {"UserName": "u", "PermissionsBoundary": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}}],
         "line 2: user u: PermissionsBoundary must be an object with a PermissionsBoundaryArn"),
        ([{"Role": {"RoleName": "r", "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 60}}],
         "line 2: role r: MaxSessionDuration must be 3600 to 43200 seconds"),
        ([{"Widget": {}}], "line 2: 'Widget' is not one of Policy, Group, User, Role, AccessKey"),
        ([{"User": {"UserName": "u", "AttachedManagedPolicies": [
            {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/p{i}"} for i in range(11)]}}],
         "line 2: user u: 11 attached policies (at most 10)"),
    ],
)  # fmt: skip
def test_a_line_that_cannot_be_loaded_loads_nothing(tmp_path: Path, lines: list[Any], expected: str) -> None:
    status, out, data_dir = _load(tmp_path, [{"User": {"UserName": "first"}}, *lines])
    assert status == 1
    assert expected in out.replace("\n", ""), out
    assert "(nothing was loaded)" in out
    assert _users(data_dir) == []  # the good line before it is not written either


def test_chunks_refer_to_earlier_chunks_and_to_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iamd.bulk_load, "CHUNK", 2)
    first = [
        {"Policy": {"PolicyName": "ReadIam", "PolicyDocument": READ_IAM}},
        {"Group": {"GroupName": "devs"}},
        *(
            {
                "User": {
                    "UserName": f"u{i}",
                    "GroupList": ["devs"],
                    "AttachedManagedPolicies": [{"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/ReadIam"}],
                }
            }
            for i in range(5)
        ),
        _key("u0")[0],
    ]
    status, out, data_dir = _load(tmp_path, first)
    assert status == 0, out
    assert _users(data_dir) == [f"u{i}" for i in range(5)]
    # a second load refers to the first's group and policy; a name the database has is refused by its line
    again = [{"User": {"UserName": "v1", "GroupList": ["DEVS"]}}, _key("u0")[0], {"User": {"UserName": "v2"}},
             {"User": {"UserName": "U3"}}]  # fmt: skip
    status, out, _ = _load(tmp_path, again)
    assert status == 1 and "line 4: user U3 already exists (as u3)" in out.replace("\n", ""), out
    status, out, _ = _load(tmp_path, again[:3])
    assert status == 0, out
    assert _users(data_dir) == [*(f"u{i}" for i in range(5)), "v1", "v2"]
    with sqlite3.connect(data_dir / "iamd.db") as db:
        (keys,) = db.execute("SELECT count(*) FROM access_keys WHERE user_id = (SELECT id FROM users WHERE name='u0')")
    assert keys == (2,)
    status, out, _ = _load(tmp_path, [_key("u0")[0]])  # a third key: AWS's two per user, with the stored ones
    assert status == 1 and "AccessKeysPerUser of user u0" in out.replace("\n", ""), out


def test_standard_input_and_an_oversized_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    args = ["db", "load", "-", "--account", ACCOUNT, "--data-dir", str(data_dir)]
    result = CliRunner().invoke(main, args, input=json.dumps({"User": {"UserName": "piped"}}) + "\n")
    assert result.exit_code == 0, result.output
    assert _users(data_dir) == ["piped"]
    monkeypatch.setattr(iamd.bulk_load, "MAX_LINE", 64)
    result = CliRunner().invoke(main, args, input=json.dumps({"User": {"UserName": "x" * 64}}) + "\n")
    assert result.exit_code == 1 and "-: line 1: over 64 bytes (nothing was loaded)" in result.output
    result = CliRunner().invoke(main, [*args[:4], "1234"], input="")
    assert result.exit_code == 2 and "a 12-digit account id" in result.output


def test_a_loaded_account_s_quota_is_set_offline(tmp_path: Path) -> None:
    status, out, data_dir = _load(tmp_path, [{"User": {"UserName": f"q{i}"}} for i in range(3)])
    assert status == 0, out
    quota = ["db", "quota", "--account", ACCOUNT, "--data-dir", str(data_dir)]
    shown = CliRunner().invoke(main, [*quota, "Users=3", "Roles=2000"])
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[0]: line.split()[1:] for line in shown.output.splitlines()}
    assert lines["Users"] == ["3", "set"] and lines["Roles"] == ["2,000", "set"]
    assert lines["Groups"] == ["300", "AWS", "default"]
    with running_server(data_dir) as server:
        iam = client_for(server, server.root_key, server.root_secret)
        assert server.account_id == ACCOUNT  # --dev's account: the root user of the loaded account
        with pytest.raises(ClientError) as over:
            iam.create_user(UserName="q3")
        assert over.value.response["Error"]["Message"] == "Cannot exceed quota for UsersPerAccount: 3"
    for bad, message in (("Users=x", "write NAME=VALUE or NAME=default"), ("Widgets=3", "NAME one of Users"),
                         ("Users=0", "a quota is between 1 and 100,000,000")):  # fmt: skip
        refused = CliRunner().invoke(main, [*quota, bad])
        assert refused.exit_code == 2 and message in refused.output, refused.output
    missing = CliRunner().invoke(main, ["db", "quota", "--account", "999999999999", "--data-dir", str(data_dir)])
    assert missing.exit_code == 1 and "the data directory has no account 999999999999" in missing.output
