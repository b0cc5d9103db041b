"""Document parsing details that the validation corpus does not show."""

from __future__ import annotations

import pytest

from iamd.policy import DocumentKind, PolicyValidationError, check_policy_characters, parse_policy, policy_size

DOC = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "One", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": 10}, "Bool": {"aws:SecureTransport": true}}},
    {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:user/*"}
  ]
}"""


def test_parses_into_frozen_typed_values() -> None:
    doc = parse_policy(DOC, DocumentKind.IDENTITY)
    first, second = doc.statements
    assert first.sid == "One" and first.actions == ("s3:GetObject", "s3:ListBucket")
    assert [(c.operator.base, c.key, c.values) for c in first.conditions] == [
        ("NumericLessThan", "s3:max-keys", ("10",)),
        ("Bool", "aws:SecureTransport", ("true",)),
    ]
    assert second.is_deny and second.not_actions == ("iam:*",) and second.resources is None
    assert (first.start.line, first.start.column) == (4, 5)
    with pytest.raises(AttributeError):
        first.sid = "x"  # type: ignore[misc]


def test_canonical_form_and_size() -> None:
    doc = parse_policy(DOC, DocumentKind.IDENTITY)
    assert " " not in doc.canonical.replace('"Version"', "")[:20]
    assert policy_size(DOC) == len("".join(DOC.split()))
    assert doc.text == DOC  # stored as written, as AWS returns it


def test_every_problem_is_collected_in_aws_order() -> None:
    text = '{"Statement": [{"Effect": "allow", "Action": "s3", "Resource": "bucket"}, {"Sid": "a-b"}]}'
    with pytest.raises(PolicyValidationError) as info:
        parse_policy(text, DocumentKind.IDENTITY)
    messages = [p.message for p in info.value.problems]
    assert info.value.message == "Syntax errors in policy."  # the second statement has no Effect
    assert "Policy document must be version 2012-10-17 or greater." in messages
    assert "The policy failed legacy parsing" in messages
    assert 'Resource bucket must be in ARN format or "*".' in messages
    checks = [p.check for p in info.value.problems]
    assert checks == sorted(checks)


def test_policy_characters() -> None:
    assert check_policy_characters('{"a": "é\t"}') is None
    assert check_policy_characters('{"a": "\u2603"}') == 7
