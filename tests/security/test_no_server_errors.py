"""Inputs that used to answer HTTP 500 (which boto3 retries): each now gets AWS's 4xx."""

from __future__ import annotations

import json

import pytest

from bench.fuzz import ACCOUNT, POLICY_ARN, TRUST, USER_ARN, Target
from iamd.policy import DocumentKind, PolicyValidationError, parse_policy, validate_policy
from tests.security.inprocess import answer, target

__all__ = ["target"]

HUGE = "9" * 4301  # one digit past Python's default limit for int <-> str conversions
IDENTITY = DocumentKind.IDENTITY
ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


def _with_number(number: str) -> str:
    statement = '{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"NumericEquals":{"s:n":%s}}}'
    return '{"Version":"2012-10-17","Statement":[%s]}' % (statement % number)


def _trust_with_number(number: str) -> str:
    condition = f'"Condition":{{"NumericEquals":{{"s:n":{number}}}}}'
    return json.dumps(json.loads(TRUST)).replace('"sts:*"', f'"sts:*",{condition}')


def test_the_engine_reports_a_too_long_integer_as_a_syntax_error() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy(_with_number(HUGE), IDENTITY)
    assert [p.message for p in raised.value.problems] == ["Syntax errors in policy."]
    # the longest Python converts is read as a number (the condition then fails validation on its own)
    assert all(p.message != "Syntax errors in policy." for p in validate_policy(_with_number("9" * 4300), IDENTITY))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"Action": "PutUserPolicy", "UserName": "fuzz-user", "PolicyName": "n", "PolicyDocument": _with_number(HUGE)},
         "MalformedPolicyDocument"),
        ({"Action": "CreatePolicy", "PolicyName": "huge-number", "PolicyDocument": _with_number(HUGE)},
         "MalformedPolicyDocument"),
        ({"Action": "CreatePolicyVersion", "PolicyArn": POLICY_ARN, "PolicyDocument": _with_number(HUGE)},
         "MalformedPolicyDocument"),
        ({"Action": "CreateRole", "RoleName": "huge-number", "AssumeRolePolicyDocument": _trust_with_number(HUGE)},
         "MalformedPolicyDocument"),
        ({"Action": "UpdateAssumeRolePolicy", "RoleName": "fuzz-role", "PolicyDocument": _trust_with_number(HUGE)},
         "MalformedPolicyDocument"),
        ({"Action": "SimulateCustomPolicy", "PolicyInputList.member.1": _with_number(HUGE),
          "ActionNames.member.1": "s3:GetObject"}, "InvalidInput"),
        ({"Action": "SimulatePrincipalPolicy", "PolicySourceArn": USER_ARN,
          "PolicyInputList.member.1": _with_number(HUGE), "ActionNames.member.1": "s3:GetObject"}, "InvalidInput"),
    ],
    ids=lambda v: v.get("Action", "") if isinstance(v, dict) else v,
)  # fmt: skip
def test_a_huge_integer_in_a_policy_is_a_4xx_wherever_a_policy_is_parsed(
    target: Target, params: dict[str, str], expected: str
) -> None:
    status, code, _ = answer(target, params)
    assert (status, code) == (400, expected)


def test_simulate_principal_policy_with_a_caller_arn_that_is_no_arn(target: Target) -> None:
    params = {"Action": "SimulatePrincipalPolicy", "PolicySourceArn": USER_ARN, "CallerArn": "x",
              "ActionNames.member.1": "s3:GetObject"}  # fmt: skip
    assert answer(target, params) == (400, "InvalidInput", "Invalid ARN for CallerArn: x")


def _decision(target: Target, **exclusion: str) -> str:
    target.call("root", "iam", {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "excluded"})
    policy = json.dumps({"Version": "2012-10-17", "Statement": [ALLOW]})
    for params in (
        {"Action": "CreatePolicy", "PolicyName": "excluded-managed", "PolicyDocument": policy},
        {"Action": "AttachUserPolicy", "UserName": "excluded",
         "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/excluded-managed"},
        {"Action": "PutUserPolicy", "UserName": "excluded", "PolicyName": "excluded-inline", "PolicyDocument": policy},
    ):  # fmt: skip
        target.call("root", "iam", {"Version": "2010-05-08", **params})
    params = {"Action": "SimulatePrincipalPolicy", "Version": "2010-05-08",
              "PolicySourceArn": f"arn:aws:iam::{ACCOUNT}:user/excluded", "ActionNames.member.1": "s3:GetObject",
              **exclusion}  # fmt: skip
    status, body = target.call("root", "iam", params)
    assert status == 200, body
    return body.decode().split("<EvalDecision>")[1].split("<")[0]


def test_policy_exclusion_list_as_the_current_model_sends_it(target: Target) -> None:
    """botocore's current model sends PolicyIdentifier structures, not strings."""
    managed = f"arn:aws:iam::{ACCOUNT}:policy/excluded-managed"
    assert _decision(target) == "allowed"
    only_managed = {"PolicyExclusionList.member.1.PolicyArn": managed,
                    "PolicyExclusionList.member.1.PolicyType": "user-managed"}  # fmt: skip
    assert _decision(target, **only_managed) == "allowed"  # the inline policy still allows
    both = {**only_managed, "PolicyExclusionList.member.2.PolicyType": "inline",
            "PolicyExclusionList.member.2.InlinePolicyIdentifier.PolicyName": "excluded-inline",
            "PolicyExclusionList.member.2.InlinePolicyIdentifier.AttachmentType": "user",
            "PolicyExclusionList.member.2.InlinePolicyIdentifier.AttachmentName": "excluded"}  # fmt: skip
    assert _decision(target, **both) == "implicitDeny"


@pytest.mark.parametrize("action", ["SimulatePrincipalPolicy", "SimulateCustomPolicy"])
def test_a_context_entry_without_a_key_name(target: Target, action: str) -> None:
    params = {"Action": action, "ActionNames.member.1": "s3:GetObject",
              "ContextEntries.member.1.ContextKeyValues.member.1": "x",
              "ContextEntries.member.1.ContextKeyType": "string"}  # fmt: skip
    if action == "SimulatePrincipalPolicy":
        params["PolicySourceArn"] = USER_ARN
    else:
        params["PolicyInputList.member.1"] = json.dumps({"Version": "2012-10-17", "Statement": [ALLOW]})
    assert answer(target, params) == (
        400, "ValidationError",
        "1 validation error detected: Value null at 'contextEntries.1.member.contextKeyName' failed to satisfy "
        "constraint: Member must not be null",
    )  # fmt: skip


def test_a_virtual_mfa_device_name_longer_than_a_serial_number_can_hold(target: Target) -> None:
    status, code, message = answer(target, {"Action": "CreateVirtualMFADevice", "VirtualMFADeviceName": "m" * 3000})
    assert (status, code) == (400, "ValidationError")
    assert message.endswith("Member must have length less than or equal to 226")
    longest = {"Action": "CreateVirtualMFADevice", "VirtualMFADeviceName": "m" * 226}
    assert answer(target, longest)[:2] == (200, "OK")
    with_path = {"Action": "CreateVirtualMFADevice", "VirtualMFADeviceName": "n" * 200, "Path": "/" + "p" * 40 + "/"}
    assert answer(target, with_path)[:2] == (400, "InvalidInput")
