"""iamd serializes, botocore parses: every IAM and STS output comes back as it was given."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.handlers import json_decode_policies
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.protocol import Catalog, Service, serialize_result
from iamd.protocol.xml import URL_ENCODED_SHAPES, format_timestamp
from tests.protocol.implemented import PAIRS
from tests.protocol.strategies import XML_TEXT, output_values

CATALOG = Catalog()
OPERATIONS = [  # what iamd implements: a newer botocore's extra operations are not iamd's contract
    (service, name) for service, name in PAIRS if CATALOG.service(service).operation(name).output_shape is not None
]
PARSER = create_parser("query")


def parse(body: bytes, shape: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = PARSER.parse({"body": body, "headers": {}, "status_code": 200}, shape)
    return parsed


def expected(shape: Any, value: Any, whole_seconds: bool = False) -> Any:
    """What botocore returns for ``value``: required lists present, policies percent-encoded,
    and for IAM timestamps in whole seconds (IAM's own format; STS keeps milliseconds)."""
    kind = shape.type_name
    if kind == "structure":
        out = {name: expected(shape.members[name], item, whole_seconds) for name, item in value.items()}
        for name in shape.required_members:
            if name not in out and shape.members[name].type_name == "list":
                out[name] = []
        return out
    if kind == "list":
        return [expected(shape.member, item, whole_seconds) for item in value]
    if kind == "map":
        return {key: expected(shape.value, item, whole_seconds) for key, item in value.items()}
    if kind == "string" and shape.name in URL_ENCODED_SHAPES:
        return ("encoded", value)
    if kind == "timestamp" and whole_seconds:
        return value.replace(microsecond=0)
    return value


def decoded(shape: Any, value: Any) -> Any:
    """``value`` as parsed, with percent-encoded policies decoded (and marked)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: decoded(shape.members[name], item) for name, item in value.items()}
    if kind == "list":
        return [decoded(shape.member, item) for item in value]
    if kind == "map":
        return {key: decoded(shape.value, item) for key, item in value.items()}
    if kind == "string" and shape.name in URL_ENCODED_SHAPES:
        return ("encoded", unquote(value))
    return value


def test_outputs_cover_the_implemented_operations() -> None:
    assert len(OPERATIONS) > 60  # every implemented operation with an output; the others answer an empty result


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}.{n}" for s, n in OPERATIONS])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), request_id=st.one_of(st.uuids().map(str), XML_TEXT.filter(bool)))
def test_botocore_parses_our_output_back(service: str, name: str, data: st.DataObject, request_id: str) -> None:
    svc = CATALOG.service(service)
    operation = svc.operation(name)
    shape = operation.output_shape
    result = data.draw(output_values(shape))
    parsed = parse(serialize_result(svc, operation, result, request_id), shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == request_id
    assert decoded(shape, parsed) == expected(shape, result, whole_seconds=service == "iam")


@pytest.mark.parametrize("name", ["UpdateRole", "PutAccountProperties"])
def test_empty_output_shape_still_has_its_result_element(iam: Service, name: str) -> None:
    body = serialize_result(iam, iam.operation(name), {}, "r")
    root = ET.fromstring(body)
    assert [child.tag.split("}")[1] for child in root] == [f"{name}Result", "ResponseMetadata"]
    parsed = parse(body, iam.operation(name).output_shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "r"
    assert parsed == {}


def test_operation_without_output_has_only_metadata(iam: Service) -> None:
    body = serialize_result(iam, iam.operation("DeleteUser"), {}, "req-1")
    assert body == (
        b'<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>'
        b"<RequestId>req-1</RequestId></ResponseMetadata></DeleteUserResponse>"
    )


def test_sts_uses_its_own_namespace(sts: Service) -> None:
    body = serialize_result(sts, sts.operation("GetCallerIdentity"), {"Account": "123456789012"}, "r")
    assert body.startswith(b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    assert b"<GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult>" in body


def test_required_lists_are_always_written_and_absent_members_omitted(iam: Service) -> None:
    body = serialize_result(iam, iam.operation("ListUsers"), {"IsTruncated": False, "Marker": None}, "r")
    assert b"<Users></Users><IsTruncated>false</IsTruncated></ListUsersResult>" in body
    assert b"Marker" not in body
    assert parse(body, iam.operation("ListUsers").output_shape)["Users"] == []


def test_maps_are_entries(iam: Service) -> None:
    body = serialize_result(iam, iam.operation("GetAccountSummary"), {"SummaryMap": {"Users": 27}}, "r")
    assert b"<SummaryMap><entry><key>Users</key><value>27</value></entry></SummaryMap>" in body


POLICY = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]\n}'


@pytest.mark.parametrize("document", [POLICY, '{"a": "100% + é & <x>"}', '{"s": "~-_. /?#[]@!$&\'()*+,;="}'])
def test_policy_documents_are_percent_encoded_and_boto3_decodes_them(iam: Service, document: str) -> None:
    operation = iam.operation("GetRolePolicy")
    result = {"RoleName": "r", "PolicyName": "p", "PolicyDocument": document}
    body = serialize_result(iam, operation, result, "r")
    assert b"%7B" in body and b"{" not in body and b" " not in body.split(b"<PolicyDocument>")[1]
    parsed = parse(body, operation.output_shape)
    assert unquote(parsed["PolicyDocument"]) == document
    json_decode_policies(parsed, model=operation)  # the handler boto3 runs after every IAM call
    assert parsed["PolicyDocument"] == json.loads(document)


def test_nested_policy_documents_are_encoded(iam: Service) -> None:
    operation = iam.operation("GetAccountAuthorizationDetails")
    role = {"RoleName": "r", "AssumeRolePolicyDocument": POLICY, "RolePolicyList": [{"PolicyDocument": POLICY}]}
    result = {"RoleDetailList": [role], "Policies": [{"PolicyVersionList": [{"Document": POLICY}]}]}
    parsed = parse(serialize_result(iam, operation, result, "r"), operation.output_shape)
    json_decode_policies(parsed, model=operation)
    detail = parsed["RoleDetailList"][0]
    assert detail["AssumeRolePolicyDocument"] == json.loads(POLICY)
    assert detail["RolePolicyList"][0]["PolicyDocument"] == json.loads(POLICY)
    assert parsed["Policies"][0]["PolicyVersionList"][0]["Document"] == json.loads(POLICY)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2012, 9, 21, 23, 3, 13, tzinfo=UTC), "2012-09-21T23:03:13Z"),
        (datetime(2012, 9, 21, 23, 3, 13), "2012-09-21T23:03:13Z"),
        (datetime(2011, 7, 15, 23, 28, 33, 359000, tzinfo=UTC), "2011-07-15T23:28:33.359Z"),
        (datetime(2011, 7, 15, 23, 28, 33, 359999, tzinfo=UTC), "2011-07-15T23:28:33.359Z"),
        (datetime(2024, 1, 15, 14, 0, tzinfo=timezone(timedelta(hours=2))), "2024-01-15T12:00:00Z"),
        (0, "1970-01-01T00:00:00Z"),
        (1.5, "1970-01-01T00:00:01.500Z"),
    ],
)
def test_timestamps_are_iso8601_utc(value: datetime | float, text: str) -> None:
    assert format_timestamp(value) == text


def test_timestamps_reject_other_types() -> None:
    with pytest.raises(TypeError):
        format_timestamp(True)


def test_text_is_escaped_and_unencodable_characters_replaced(iam: Service) -> None:
    operation = iam.operation("GetUser")
    name = "a&b<c>d]]>e\r\nf\x00g\ud800h\ufffe"
    body = serialize_result(iam, operation, {"User": {"UserName": name}}, "r<1>")
    parsed = parse(body, operation.output_shape)
    assert parsed["User"]["UserName"] == "a&b<c>d]]>e\r\nf\ufffdg\ufffdh\ufffd"
    assert parsed["ResponseMetadata"]["RequestId"] == "r<1>"


def test_compiled_plans_are_reused(catalog: Catalog) -> None:
    iam = catalog.iam
    operation = iam.operation("GetUser")
    serialize_result(iam, operation, {}, "r")
    plans = dict(iam._plans)
    serialize_result(iam, operation, {}, "r")
    assert dict(iam._plans) == plans and ("xml-output", "GetUser") in plans


def test_iam_writes_whole_seconds_and_sts_milliseconds(iam: Service, sts: Service) -> None:
    when = datetime(2026, 11, 27, 10, 30, 15, 359000, tzinfo=UTC)
    user = {"Path": "/", "UserName": "u", "UserId": "AIDAX", "Arn": "arn:aws:iam::1:user/u", "CreateDate": when}
    body = serialize_result(iam, iam.operation("GetUser"), {"User": user}, "r")
    assert b"<CreateDate>2026-11-27T10:30:15Z</CreateDate>" in body
    creds = {"AccessKeyId": "ASIAX", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": when}
    body = serialize_result(sts, sts.operation("GetSessionToken"), {"Credentials": creds}, "r")
    assert b"<Expiration>2026-11-27T10:30:15.359Z</Expiration>" in body
