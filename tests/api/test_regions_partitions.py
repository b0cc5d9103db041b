"""Regions and partitions (docs/iam-api.md, "Regions and partitions"): boto3 clients in any
region of the server's partition, AWS's errors for other regions, and servers of the
``aws-cn`` and ``aws-us-gov`` partitions whose ARNs carry their partition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from iamd.api import Backend
from iamd.cli import main
from iamd.store.settings import PartitionMismatch
from tests.api.conftest import NO_RETRY, allow, failure, policy
from tests.api.server import RunningServer, running_server
from tests.api.test_audit_trail import events, request_id


def client(server: RunningServer, service: str, region: str, key: str = "", secret: str = "", token: str = "") -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name=region, config=NO_RETRY,
        aws_access_key_id=key or server.root_key, aws_secret_access_key=secret or server.root_secret,
        aws_session_token=token or None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("cn"), partition="aws-cn") as server:
        yield server


@pytest.fixture(scope="module")
def narrow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("narrow"), regions=["eu-west-1"]) as server:
        yield server


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "us-west-2", "ap-southeast-2", "sa-east-1"])
def test_iam_and_sts_answer_clients_of_every_region_of_the_partition(api_server: RunningServer, region: str) -> None:
    iam, sts = client(api_server, "iam", region), client(api_server, "sts", region)
    name = f"in-{region}"
    assert iam.create_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{api_server.account_id}:user/{name}"
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{api_server.account_id}:root"


def test_audit_records_the_client_region_for_sts_and_iams_home_region_for_iam(api_server: RunningServer) -> None:
    iam, sts = client(api_server, "iam", "eu-central-1"), client(api_server, "sts", "eu-central-1")
    ids = {request_id(iam.list_users()): ("iam.amazonaws.com", "us-east-1"),
           request_id(sts.get_caller_identity()): ("sts.amazonaws.com", "eu-central-1")}  # fmt: skip
    with pytest.raises(ClientError) as denied:
        iam.get_user(UserName="nobody-here")
    ids[request_id(denied.value)] = ("iam.amazonaws.com", "us-east-1")
    seen = {e.request_id: json.loads(e.record) for e in events(api_server) if e.request_id in ids}
    assert {rid: (r["eventSource"], r["awsRegion"]) for rid, r in seen.items()} == ids


def test_requested_region_of_an_iam_call_is_iams_home_region(api_server: RunningServer) -> None:
    root = client(api_server, "iam", "us-east-1")
    root.create_user(UserName="regional")
    root.put_user_policy(
        UserName="regional", PolicyName="p",
        PolicyDocument=policy(allow("iam:ListUsers", "*", StringEquals={"aws:RequestedRegion": "us-east-1"})),
    )  # fmt: skip
    key = root.create_access_key(UserName="regional")["AccessKey"]
    far = client(api_server, "iam", "ap-northeast-1", key["AccessKeyId"], key["SecretAccessKey"])
    assert far.list_users()["Users"]


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "moon-1"])
def test_a_region_of_another_partition_is_refused_as_aws_refuses_it(api_server: RunningServer, region: str) -> None:
    with pytest.raises(ClientError) as iam_error:
        client(api_server, "iam", region).list_users()
    assert failure(iam_error) == (403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region. ")
    with pytest.raises(ClientError) as sts_error:
        client(api_server, "sts", region).get_caller_identity()
    assert failure(sts_error) == (
        403, "SignatureDoesNotMatch", f"Credential should be scoped to a valid region, not '{region}'. "
    )  # fmt: skip


def test_a_server_may_accept_fewer_regions(narrow_server: RunningServer) -> None:
    for region in ("eu-west-1", "us-east-1"):  # the chosen one, and the home region always
        assert client(narrow_server, "iam", region).list_users()["Users"] == []
        assert client(narrow_server, "sts", region).get_caller_identity()["Account"] == narrow_server.account_id
    with pytest.raises(ClientError) as iam_error:
        client(narrow_server, "iam", "us-west-2").list_users()
    assert failure(iam_error) == (403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region. ")
    with pytest.raises(ClientError) as sts_error:
        client(narrow_server, "sts", "us-west-2").get_caller_identity()
    assert failure(sts_error) == (
        403, "RegionDisabledException",
        f"STS is not activated in this region for account:{narrow_server.account_id}. Your account administrator "
        "can activate STS in this region using the IAM Console.",
    )  # fmt: skip


def test_an_aws_cn_account_end_to_end(cn_server: RunningServer) -> None:
    acct = cn_server.account_id
    iam, sts = client(cn_server, "iam", "cn-north-1"), client(cn_server, "sts", "cn-northwest-1")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws-cn:iam::{acct}:root"
    user = iam.create_user(UserName="li", Path="/team/")["User"]
    assert user["Arn"] == f"arn:aws-cn:iam::{acct}:user/team/li"
    managed = "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
    assert iam.get_policy(PolicyArn=managed)["Policy"]["Arn"] == managed
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws-cn:iam::{acct}:user/team/li"},
                    "Action": "sts:AssumeRole"})  # fmt: skip
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust)["Role"]
    assert role["Arn"] == f"arn:aws-cn:iam::{acct}:role/reader"
    iam.attach_role_policy(RoleName="reader", PolicyArn=managed)
    iam.put_user_policy(UserName="li", PolicyName="assume",
                        PolicyDocument=policy(allow("sts:AssumeRole", role["Arn"])))  # fmt: skip
    key = iam.create_access_key(UserName="li")["AccessKey"]
    li = client(cn_server, "sts", "cn-northwest-1", key["AccessKeyId"], key["SecretAccessKey"])
    assert li.get_caller_identity()["Arn"] == user["Arn"]
    assumed = li.assume_role(RoleArn=role["Arn"], RoleSessionName="ss")
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws-cn:sts::{acct}:assumed-role/reader/ss"
    c = assumed["Credentials"]
    session_iam = client(cn_server, "iam", "cn-north-1", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert [u["UserName"] for u in session_iam.list_users()["Users"]] == ["li"]  # ReadOnlyAccess allows it
    with pytest.raises(ClientError) as denied:
        session_iam.create_user(UserName="no")
    assert failure(denied)[2].startswith(f"User: arn:aws-cn:sts::{acct}:assumed-role/reader/ss is not authorized")
    federated = sts.get_federation_token(Name="fed", Policy=policy(allow("iam:ListUsers")))
    assert federated["FederatedUser"]["Arn"] == f"arn:aws-cn:sts::{acct}:federated-user/fed"
    # IAM's events carry the partition's home region; a client in the wrong partition is refused
    rid = request_id(iam.list_users())
    [record] = [json.loads(e.record) for e in events(cn_server) if e.request_id == rid]
    assert record["awsRegion"] == "cn-north-1"
    with pytest.raises(ClientError) as foreign:
        client(cn_server, "iam", "us-east-1").list_users()
    assert failure(foreign)[1] == "SignatureDoesNotMatch"


def test_an_aws_us_gov_server(tmp_path: Path) -> None:
    with running_server(tmp_path, partition="aws-us-gov") as gov:
        iam = client(gov, "iam", "us-gov-east-1")
        assert iam.create_group(GroupName="g")["Group"]["Arn"] == f"arn:aws-us-gov:iam::{gov.account_id}:group/g"
        assert client(gov, "sts", "us-gov-west-1").get_caller_identity()["Arn"].startswith("arn:aws-us-gov:iam::")


def test_the_partition_is_chosen_once_per_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    backend, _ = Backend.open(url, tmp_path, dev=True, partition="aws-cn")
    backend.close()
    again, _ = Backend.open(url, tmp_path, dev=True)  # no partition named: the recorded one
    assert again.partition.name == "aws-cn"
    again.close()
    with pytest.raises(PartitionMismatch, match="serves partition 'aws-cn', not 'aws'"):
        Backend.open(url, tmp_path, dev=True, partition="aws")


def test_iamd_profile_writes_the_partitions_home_region(cn_server: RunningServer) -> None:
    data_dir = cn_server.backend.data_dir
    assert data_dir is not None
    assert json.loads((data_dir / "root-credentials").read_text())["Region"] == "cn-north-1"
    printed = CliRunner().invoke(main, ["profile", "--print", "--data-dir", str(data_dir), "--endpoint",
                                        cn_server.endpoint])  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert "region = cn-north-1" in printed.output.splitlines()


def test_iamd_assume_on_an_aws_cn_server(cn_server: RunningServer, tmp_path: Path) -> None:
    data_dir = cn_server.backend.data_dir
    assert data_dir is not None
    iam = client(cn_server, "iam", "cn-north-1")
    user = iam.create_user(UserName="cli-user")["User"]["Arn"]
    trust = policy({"Effect": "Allow", "Principal": {"AWS": user}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="cli-role", AssumeRolePolicyDocument=trust)
    iam.put_user_policy(UserName="cli-user", PolicyName="p", PolicyDocument=policy(allow(["sts:*", "iam:*"])))
    key = iam.create_access_key(UserName="cli-user")["AccessKey"]
    home = tmp_path / "home"
    home.mkdir()
    unset = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL")
    env: dict[str, str | None] = {
        "HOME": str(home), "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), **dict.fromkeys(unset),
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }  # fmt: skip
    done = CliRunner().invoke(
        main, ["assume", "cli-role", "--data-dir", str(data_dir), "--endpoint-url", cn_server.endpoint], env=env
    )
    assert done.exit_code == 0, done.output
    assert "export AWS_DEFAULT_REGION=cn-north-1" in done.output.splitlines()
