"""The IAM server itself on PostgreSQL: boto3 over a real socket, state in the database."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.server import ROOT_KEY, ROOT_SECRET, running_server
from tests.store.conftest import PgDatabases


def test_a_user_flow_on_postgresql(pg_databases: PgDatabases, tmp_path: Path) -> None:
    url = pg_databases.create("iamd_server")
    with running_server(tmp_path, database_url=url) as srv:
        iam = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
        )  # fmt: skip
        iam.create_user(UserName="pg-user", Tags=[{"Key": "team", "Value": "db"}])
        key = iam.create_access_key(UserName="pg-user")["AccessKey"]
        user = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        )  # fmt: skip
        with pytest.raises(ClientError) as info:
            user.list_users()
        assert info.value.response["Error"]["Code"] == "AccessDenied"
        iam.put_user_policy(
            UserName="pg-user", PolicyName="list",
            PolicyDocument='{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:List*","Resource":"*"}}',
        )  # fmt: skip
        assert [u["UserName"] for u in user.list_users()["Users"]] == ["pg-user"]
        srv.backend.audit.flush()
        with srv.backend.store.read() as tx:
            assert srv.backend.store.dialect == "postgresql"
            events = tx.list_audit_events(srv.account_id, user_name="pg-user").items
        assert {e.event_name for e in events} >= {"ListUsers"}
