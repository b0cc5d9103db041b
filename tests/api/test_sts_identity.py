"""STS GetCallerIdentity: answered for every caller, never denied (AWS "Actions, resources, and condition keys for AWS
Identity and Access Management").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.server import ROOT_KEY, ROOT_SECRET, RunningServer, running_server

DENY_ALL = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sts")) as srv:
        yield srv


def _client(server: RunningServer, service: str, key: str, secret: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret
    )


def test_root_identity(server: RunningServer) -> None:
    out = _client(server, "sts", ROOT_KEY, ROOT_SECRET).get_caller_identity()
    assert (out["UserId"], out["Account"], out["Arn"]) == (
        "123456789012", "123456789012", "arn:aws:iam::123456789012:root",
    )  # fmt: skip


def test_user_identity_even_with_an_explicit_deny_everything(server: RunningServer) -> None:
    iam = _client(server, "iam", ROOT_KEY, ROOT_SECRET)
    user = iam.create_user(UserName="who", Path="/team/")["User"]
    iam.put_user_policy(UserName="who", PolicyName="deny", PolicyDocument=DENY_ALL)
    key = iam.create_access_key(UserName="who")["AccessKey"]
    for region in ("us-east-1", "eu-west-3"):  # regional STS scopes are accepted
        sts = _client(server, "sts", key["AccessKeyId"], key["SecretAccessKey"], region)
        out = sts.get_caller_identity()
        assert (out["UserId"], out["Arn"]) == (user["UserId"], "arn:aws:iam::123456789012:user/team/who")
    with pytest.raises(ClientError) as info:  # the deny applies to everything else
        _client(server, "iam", key["AccessKeyId"], key["SecretAccessKey"]).get_user()
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_bad_signature_and_unimplemented_sts_operations(server: RunningServer) -> None:
    with pytest.raises(ClientError) as info:
        _client(server, "sts", ROOT_KEY, "wrong" + ROOT_SECRET[5:]).get_caller_identity()
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as info:
        _client(server, "sts", ROOT_KEY, ROOT_SECRET).get_delegated_access_token(TradeInToken="abcdefgh")
    assert info.value.response["Error"]["Code"] == "NotImplemented"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_audited_as_an_sts_event(server: RunningServer) -> None:
    _client(server, "sts", ROOT_KEY, ROOT_SECRET).get_caller_identity()
    assert server.backend.audit is not None
    server.backend.audit.flush()
    with server.backend.store.read() as tx:
        events = tx.list_audit_events(server.account_id, event_name="GetCallerIdentity").items
    record = json.loads(events[0].record)
    assert record["eventSource"] == "sts.amazonaws.com" and record["readOnly"] is True
