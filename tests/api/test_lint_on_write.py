"""Lint on write (docs/policy-validation.md): a policy write with the header ``x-iamd-lint: true``
answers AWS's response unchanged and the lint findings of the document it stored in the
``x-iamd-lint-findings`` response header; never refused for a finding; without the header, nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.client import BaseClient

from tests.api.conftest import NO_RETRY, policy
from tests.api.server import RunningServer

TYPO = policy({"Effect": "Allow", "Action": ["iam:ListUser", "iam:PassRole"], "Resource": "*"})


def _linting(server: RunningServer) -> BaseClient:
    client = boto3.client(
        "iam", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=server.root_key,
        aws_secret_access_key=server.root_secret, config=NO_RETRY,
    )  # fmt: skip

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-iamd-lint"] = "true"

    client.meta.events.register("before-sign.iam.*", add_header)
    return client


def _findings(response: dict[str, Any]) -> list[dict[str, Any]] | None:
    raw = response["ResponseMetadata"]["HTTPHeaders"].get("x-iamd-lint-findings")
    return None if raw is None else list(json.loads(raw))


def test_findings_beside_the_answer_when_asked(api_server: RunningServer, iam: BaseClient) -> None:
    linting = _linting(api_server)
    created = linting.create_policy(PolicyName="lint-typo", PolicyDocument=TYPO)
    assert created["Policy"]["PolicyName"] == "lint-typo"  # written: a finding never refuses a write
    codes = [(f["findingType"], f["issueCode"]) for f in _findings(created) or []]
    assert ("ERROR", "INVALID_ACTION") in codes and ("SECURITY_WARNING", "PASS_ROLE_WITH_STAR_IN_RESOURCE") in codes
    [typo] = [f for f in _findings(created) or [] if f["issueCode"] == "INVALID_ACTION"]
    assert typo["suggestion"] == "iam:ListUsers" and typo["locations"][0]["span"]["start"]["line"] == 1

    iam.create_user(UserName="lint-user")
    put = linting.put_user_policy(UserName="lint-user", PolicyName="p", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}))  # fmt: skip
    assert _findings(put) == []  # asked, and clean: an empty list
    trust = {
        "Version": "2008-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}},
        }],
    }  # fmt: skip
    role = linting.create_role(RoleName="lint-role", AssumeRolePolicyDocument=json.dumps(trust))
    assert [f["issueCode"] for f in _findings(role) or []] == ["POLICY_VARIABLES_WITHOUT_VERSION"]


def test_nothing_when_not_asked(iam: BaseClient) -> None:
    created = iam.create_policy(PolicyName="lint-quiet", PolicyDocument=TYPO)
    assert _findings(created) is None
