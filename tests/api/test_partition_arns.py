"""ARNs an ``aws-cn`` server makes outside IAM's own operations name ``aws-cn``: Organizations'
ARNs and the member account's access role, console sign-in, ``iamd user create`` and
``iamd account create``, the S3 service (docs/iam-api.md, "Regions and partitions")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from iamd.api.managed_policies import load_authorization_details
from iamd.authz.client import LocalAuthorizationClient
from iamd.cli import main
from iamd.core.local import root_caller
from iamd.root_password import set_root_password
from iamd.s3 import S3Settings
from iamd.service.signin import SigninAttempt
from tests.api.conftest import allow, policy
from tests.api.server import RunningServer, running_server
from tests.api.test_regions_partitions import client
from tests.s3.server import running_s3

CN = "cn-north-1"


@pytest.fixture(scope="module")
def cn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("cn-arns"), partition="aws-cn") as server:
        yield server


def _cli(server: RunningServer, *args: str) -> Result:
    env = {
        "AWS_ACCESS_KEY_ID": server.root_key, "AWS_SECRET_ACCESS_KEY": server.root_secret,
        "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_IAM": "", "AWS_DEFAULT_REGION": CN, "AWS_REGION": CN,
    }  # fmt: skip
    return CliRunner().invoke(main, [*args, "--endpoint-url", server.endpoint], env=env)


def test_organizations_arns_and_the_access_role_in_aws_cn(cn: RunningServer) -> None:
    acct = cn.account_id
    orgs = client(cn, "organizations", CN)
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    prefix = f"arn:aws-cn:organizations::{acct}:"
    assert org["Arn"] == f"{prefix}organization/{org['Id']}"
    assert org["MasterAccountArn"] == f"{prefix}account/{org['Id']}/{acct}"
    [root] = orgs.list_roots()["Roots"]
    assert root["Arn"] == f"{prefix}root/{org['Id']}/{root['Id']}"
    unit = orgs.create_organizational_unit(ParentId=root["Id"], Name="Dev")["OrganizationalUnit"]
    assert unit["Arn"] == f"{prefix}ou/{org['Id']}/{unit['Id']}"
    scp = orgs.create_policy(Content=policy(allow("*")), Description="all", Name="All",
                             Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]  # fmt: skip
    assert scp["Arn"] == f"{prefix}policy/{org['Id']}/service_control_policy/{scp['Id']}"
    managed = orgs.describe_policy(PolicyId="p-FullAWSAccess")["Policy"]["PolicySummary"]
    assert managed["Arn"] == "arn:aws-cn:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
    orgs.attach_policy(PolicyId=scp["Id"], TargetId=unit["Id"])
    [target] = orgs.list_targets_for_policy(PolicyId=scp["Id"])["Targets"]
    assert target["Arn"] == f"{prefix}ou/{org['Id']}/{unit['Id']}"
    # a new account, through the CLI; its access role is assumed from the management account
    created = _cli(cn, "account", "create", "dev", "--email", "dev@example.com")
    assert created.exit_code == 0, created.output
    found = re.search(r"Created account (\d{12}) \(dev\)\n", created.output)
    assert found is not None
    member = found.group(1)
    role_arn = f"arn:aws-cn:iam::{member}:role/OrganizationAccountAccessRole"
    assert f"Its administrators' role: {role_arn}\n" in created.output
    assert orgs.describe_account(AccountId=member)["Account"]["Arn"] == f"{prefix}account/{org['Id']}/{member}"
    iam = client(cn, "iam", CN)
    iam.create_user(UserName="org-admin")
    iam.put_user_policy(UserName="org-admin", PolicyName="p", PolicyDocument=policy(allow("sts:AssumeRole")))
    key = iam.create_access_key(UserName="org-admin")["AccessKey"]
    sts = client(cn, "sts", CN, key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="admin")["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert client(cn, "sts", CN, *session).get_caller_identity()["Arn"] == (
        f"arn:aws-cn:sts::{member}:assumed-role/OrganizationAccountAccessRole/admin"
    )
    role = client(cn, "iam", CN, *session).get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": f"arn:aws-cn:iam::{acct}:root"}


def test_user_create_attaches_the_partitions_change_password_policy(cn: RunningServer) -> None:
    result = _cli(cn, "user", "create", "cli-li", "--console-password")
    assert result.exit_code == 0, result.output
    arn = "arn:aws-cn:iam::aws:policy/IAMUserChangePassword"
    attached = client(cn, "iam", CN).list_attached_user_policies(UserName="cli-li")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    assert f"Attached {arn} (the account" in result.output


def test_root_console_sign_in_in_aws_cn(cn: RunningServer) -> None:
    assert cn.backend.data_dir is not None
    set_root_password(cn.backend.data_dir, "Root-passw0rd-cn!")
    session = cn.backend.sign_in(SigninAttempt(cn.account_id, "", "Root-passw0rd-cn!", root=True)).session
    assert session is not None and session.user_arn == f"arn:aws-cn:iam::{cn.account_id}:root"
    with cn.backend.store.read() as tx:
        page = tx.list_audit_events(cn.account_id, event_name="ConsoleLogin", max_items=1000)
    identities = [json.loads(e.record)["userIdentity"] for e in page.items]
    assert {"type": "Root", "arn": f"arn:aws-cn:iam::{cn.account_id}:root"}.items() <= identities[-1].items()


def test_s3_resource_arns_name_the_partition(cn: RunningServer, tmp_path: Path) -> None:
    import boto3
    from botocore.config import Config

    authorizer = LocalAuthorizationClient(cn.backend, root_caller(cn.account_id, "aws-cn"), user_agent="iamd-s3")
    with running_s3(tmp_path, authorizer, S3Settings(partition="aws-cn")) as s3:

        def s3_client(key: str, secret: str) -> Any:
            return boto3.client(
                "s3", endpoint_url=s3.endpoint, region_name=CN, aws_access_key_id=key, aws_secret_access_key=secret,
                config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
            )  # fmt: skip

        root = s3_client(cn.root_key, cn.root_secret)
        root.create_bucket(Bucket="cn-reports", CreateBucketConfiguration={"LocationConstraint": CN})
        statement = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws-cn:iam::{cn.account_id}:root"},
                     "Action": "s3:GetObject", "Resource": "arn:aws-cn:s3:::cn-reports/*"}  # fmt: skip
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        root.put_bucket_policy(Bucket="cn-reports", Policy=document)  # the partition's ARN is the bucket's
        public = json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Principal": "*"}]})
        with pytest.raises(ClientError) as denied:
            root.put_bucket_policy(Bucket="cn-reports", Policy=public)
        assert 'on resource: "arn:aws-cn:s3:::cn-reports" because public' in denied.value.response["Error"]["Message"]
        # an identity policy naming the partition's object ARN allows the read
        iam = client(cn, "iam", CN)
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="p",
                            PolicyDocument=policy(allow("s3:GetObject", "arn:aws-cn:s3:::cn-reports/*")))  # fmt: skip
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        root.put_object(Bucket="cn-reports", Key="q3.csv", Body=b"1,2")
        reader = s3_client(key["AccessKeyId"], key["SecretAccessKey"])
        assert reader.get_object(Bucket="cn-reports", Key="q3.csv")["Body"].read() == b"1,2"


def test_load_managed_policies_from_an_aws_cn_dump(tmp_path: Path) -> None:
    from iamd.store import migrate, open_store

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    store = open_store(url, partition="aws-cn")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*",
                                                         "Resource": "arn:aws-cn:ec2:*:*:*"}]}  # fmt: skip
    dump: dict[str, Any] = {"Policies": [{
        "PolicyName": "AmazonEC2ReadOnlyAccess", "Arn": "arn:aws-cn:iam::aws:policy/AmazonEC2ReadOnlyAccess",
        "PolicyVersionList": [{"Document": document, "VersionId": "v3", "IsDefaultVersion": True}],
    }]}  # fmt: skip
    try:
        assert load_authorization_details(store, dump, "aws-cn") == 1
        with store.read() as r:
            loaded = r.get_policy("arn:aws-cn:iam::aws:policy/AmazonEC2ReadOnlyAccess")
            assert loaded.default_version_id == "v3"
    finally:
        store.close()
