"""The JSON 1.1 codec against botocore's Organizations model: input checked, output shaped, errors in AWS's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.parsers import create_parser

from iamd.errors import AccessDenied, InternalFailure, ValidationError
from iamd.protocol import Catalog
from iamd.protocol.json_codec import (
    InvalidInputException,
    SerializationException,
    json_error_response,
    parse_json_request,
    serialize_json_result,
)

ORGS = Catalog().organizations


def parse(operation: str, body: object) -> dict[str, object]:
    op = ORGS.operation(operation)
    assert op is not None
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_json_request(ORGS, op, raw)


def test_valid_input_is_what_boto3_sent() -> None:
    params = {"Email": "a@example.com", "AccountName": "dev", "Tags": [{"Key": "k", "Value": "v"}]}
    assert parse("CreateAccount", params) == params
    assert parse("DescribeOrganization", b"") == {} == parse("DescribeOrganization", b"{}")
    assert parse("ListAccounts", {"MaxResults": 5, "Unknown": 1}) == {"MaxResults": 5}


def test_every_violation_is_reported_with_the_first_ones_reason() -> None:
    with pytest.raises(InvalidInputException) as excinfo:
        parse("CreateAccount", {"Email": "not-an-email", "IamUserAccessToBilling": "MAYBE"})
    error = excinfo.value
    assert error.extra == {"Reason": "INVALID_PATTERN"}
    # Email is sensitive in the model: its value is never echoed
    assert error.message.startswith("3 validation errors detected: Value at 'email' failed to satisfy constraint")
    assert "at 'accountName' failed to satisfy constraint: Member must not be null" in error.message
    assert "Member must satisfy enum value set: [ALLOW, DENY]" in error.message
    with pytest.raises(InvalidInputException) as excinfo:
        parse("ListAccounts", {"MaxResults": 21})
    assert excinfo.value.extra == {"Reason": "MAX_VALUE_EXCEEDED"}


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("ListAccounts", b"not json"),
        ("ListAccounts", b"[]"),
        ("ListAccounts", {"MaxResults": "5"}),
        ("ListAccounts", {"MaxResults": True}),
        ("DescribeAccount", {"AccountId": 123456789012}),
        ("CreateAccount", {"Email": "a@example.com", "AccountName": "x", "Tags": {"Key": "k"}}),
        ("ListAccounts", b"[" * 100_000),
        ("ListAccounts", b"\xff\xfe{}"),
    ],
)
def test_the_wrong_json_is_a_serialization_exception(operation: str, body: object) -> None:
    with pytest.raises(SerializationException):
        parse(operation, body)


def test_output_is_what_botocore_reads_back() -> None:
    op = ORGS.operation("DescribeAccount")
    assert op is not None
    joined = datetime(2026, 12, 1, 12, 30, 15, 500000, tzinfo=UTC)
    account = {"Id": "123456789012", "Name": "dev", "JoinedTimestamp": joined, "Paths": ["o-x/r-y/"], "Email": None}
    body = serialize_json_result(ORGS, op, {"Account": account})
    assert json.loads(body) == {"Account": {"Id": "123456789012", "Name": "dev", "JoinedTimestamp": 1796128215.5,
                                            "Paths": ["o-x/r-y/"]}}  # fmt: skip
    parsed = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    assert parsed["Account"]["JoinedTimestamp"] == joined
    assert serialize_json_result(ORGS, ORGS.operation("DeleteOrganization"), None) == b"{}"  # type: ignore[arg-type]


def test_errors_are_aws_json() -> None:
    def body(error: BaseException) -> tuple[int, dict[str, object]]:
        response = json_error_response(error, "req-1")
        assert dict(response.headers)["Content-Type"] == "application/x-amz-json-1.1"
        return response.status, json.loads(response.body)

    assert body(InvalidInputException("bad", "INVALID_ENUM")) == (
        400, {"__type": "InvalidInputException", "Message": "bad", "Reason": "INVALID_ENUM"},
    )  # fmt: skip
    assert body(AccessDenied("no")) == (400, {"__type": "AccessDeniedException", "Message": "no"})
    assert body(ValidationError("v"))[1]["__type"] == "InvalidInputException"
    assert body(InternalFailure("x"))[1]["__type"] == "ServiceException"
    status, internal = body(RuntimeError("secret internals"))
    assert status == 500 and "secret" not in json.dumps(internal)
