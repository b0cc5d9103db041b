"""SimulatePrincipalPolicy and SimulateCustomPolicy through boto3 (AWS "Testing IAM policies with the IAM policy
simulator").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.server import ROOT_KEY, ROOT_SECRET, running_server

POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
  ]
}"""


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_server(tmp_path_factory.mktemp("sim")) as srv:
        client = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
        )  # fmt: skip
        client.create_user(UserName="sim")
        client.put_user_policy(UserName="sim", PolicyName="inline", PolicyDocument=POLICY)
        yield client


def _one(iam: Any, **kwargs: Any) -> dict[str, Any]:
    out = iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::123456789012:user/sim", **kwargs)
    return dict(out["EvaluationResults"][0])


def test_allowed_with_context_and_matched_statement_positions(iam: Any) -> None:
    ctx = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}]
    result = _one(iam, ActionNames=["s3:GetObject"], ContextEntries=ctx)
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [
        {"SourcePolicyId": "inline", "SourcePolicyType": "user",
         "StartPosition": {"Line": 4, "Column": 5}, "EndPosition": {"Line": 5, "Column": 65}},
    ]  # fmt: skip


def test_missing_context_is_reported(iam: Any) -> None:
    result = _one(iam, ActionNames=["s3:GetObject"])
    assert result["EvalDecision"] == "implicitDeny"
    assert result["MissingContextValues"] == ["aws:sourceip"]


def test_explicit_deny_and_extra_policies(iam: Any) -> None:
    assert _one(iam, ActionNames=["s3:DeleteObject"])["EvalDecision"] == "explicitDeny"
    extra = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}})
    result = _one(iam, ActionNames=["sqs:SendMessage"], PolicyInputList=[extra])
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"


def test_boundary_detail(iam: Any) -> None:
    boundary = json.dumps(
        {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}}
    )
    ctx = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}]
    result = _one(iam, ActionNames=["s3:GetObject"], ContextEntries=ctx, PermissionsBoundaryPolicyInputList=[boundary])
    assert result["EvalDecision"] == "implicitDeny"
    assert result["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_custom_policy_with_organizations_levels(iam: Any) -> None:
    allow = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    scp = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}})
    out = iam.simulate_custom_policy(
        PolicyInputList=[allow], ActionNames=["s3:ListBucket", "s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b", "arn:aws:s3:::b/k"],
        OrderedOrganizationPolicyInputList=[{"ServiceControlPolicyInputList": [scp]}],
    )  # fmt: skip
    results = out["EvaluationResults"]
    assert len(results) == 4 and {r["EvalDecision"] for r in results} == {"implicitDeny"}
    assert all(r["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False} for r in results)


def test_wildcard_actions_and_bad_sources_are_refused(iam: Any) -> None:
    with pytest.raises(ClientError) as info:
        _one(iam, ActionNames=["s3:*"])
    assert info.value.response["Error"]["Code"] == "InvalidInput"
    with pytest.raises(ClientError) as info:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::123456789012:user/nobody", ActionNames=["s3:X"])
    assert info.value.response["Error"]["Code"] == "NoSuchEntity"
