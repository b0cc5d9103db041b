"""Unmodified boto3 clients talking to the protocol layer (HTTP replaced by a direct call).

The ``before-send`` hook hands each prepared request to the same path the server takes:
``decode_form`` -> ``parse_request`` -> a tiny fake backend -> ``serialize_result``, and
any exception -> ``error_response``. boto3 then parses the bytes with all of its handlers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from iamd.errors import EntityAlreadyExists, NoSuchEntity
from iamd.protocol import Catalog, Service, decode_form, error_response, parse_request, serialize_result

Backend = Callable[[str, dict[str, Any]], dict[str, Any]]
CREATED = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _transport(service: Service, backend: Backend, seen: list[dict[str, Any]]) -> Callable[..., AWSResponse]:
    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        request_id = f"req-{len(seen)}"
        try:
            operation, params = parse_request(service, decode_form(urlsplit(request.url).query, body))
            seen.append(params)
            status, payload = 200, serialize_result(service, operation, backend(operation.name, params), request_id)
            headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
        except Exception as error:
            status, headers_list, payload = error_response(error, service.namespace or "", request_id)
            headers = dict(headers_list)
        return AWSResponse(request.url, status, headers, _Raw(payload))

    return send


def _client(service: Service, backend: Backend, seen: list[dict[str, Any]]) -> Any:
    client = boto3.client(
        service.name,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"max_attempts": 1}),
    )
    client.meta.events.register(
        f"before-send.{service.model.service_id.hyphenize()}", _transport(service, backend, seen)
    )
    return client


def _iam_backend(action: str, params: dict[str, Any]) -> dict[str, Any]:
    user = {"Path": "/", "UserName": params.get("UserName", "bob"), "UserId": "AIDACKCEVSQ6C2EXAMPLE"}
    user |= {"Arn": f"arn:aws:iam::123456789012:user/{user['UserName']}", "CreateDate": CREATED}
    if action == "CreateUser":
        if params["UserName"] == "taken":
            raise EntityAlreadyExists("User with name taken already exists.")
        return {"User": user | {"Tags": params.get("Tags", [])}}
    if action == "GetUser":
        if params.get("UserName") == "ghost":
            raise NoSuchEntity("The user with name ghost cannot be found.")
        return {"User": user}
    if action == "ListUsers":
        return {"Users": [user] * min(params.get("MaxItems", 100), 3), "IsTruncated": False}
    if action == "GetRolePolicy":
        return {"RoleName": params["RoleName"], "PolicyName": params["PolicyName"], "PolicyDocument": POLICY}
    if action == "GetAccountSummary":
        return {"SummaryMap": {"Users": 27, "Groups": 3}}
    if action == "ListAttachedRolePolicies":
        raise KeyError("internal detail that must not leak")
    return {}


@pytest.fixture()
def iam_client() -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    yield _client(Catalog().iam, _iam_backend, seen), seen


def test_create_and_get_user(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, seen = iam_client
    created = client.create_user(UserName="bob", Path="/", Tags=[{"Key": "team", "Value": "red"}])
    assert seen[-1] == {"UserName": "bob", "Path": "/", "Tags": [{"Key": "team", "Value": "red"}]}
    assert created["User"]["Tags"] == [{"Key": "team", "Value": "red"}]
    assert created["User"]["CreateDate"] == CREATED
    assert created["ResponseMetadata"]["RequestId"] == "req-0"
    assert client.get_user(UserName="bob")["User"]["Arn"] == "arn:aws:iam::123456789012:user/bob"


def test_required_list_and_pagination_input(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, seen = iam_client
    assert client.list_users(MaxItems=2)["Users"][1]["UserName"] == "bob"
    assert seen[-1] == {"MaxItems": 2}
    assert client.list_users()["IsTruncated"] is False
    assert seen[-1] == {}


def test_policy_documents_arrive_as_dicts(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, _ = iam_client
    document = client.get_role_policy(RoleName="r", PolicyName="p")["PolicyDocument"]
    assert document == json.loads(POLICY)


def test_maps(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, _ = iam_client
    assert client.get_account_summary()["SummaryMap"] == {"Users": 27, "Groups": 3}


def test_modeled_errors_become_modeled_exceptions(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, _ = iam_client
    with pytest.raises(client.exceptions.NoSuchEntityException) as missing:
        client.get_user(UserName="ghost")
    assert missing.value.response["Error"]["Message"] == "The user with name ghost cannot be found."
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.EntityAlreadyExistsException):
        client.create_user(UserName="taken")


def test_validation_errors_reach_the_client(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, _ = iam_client  # botocore's own validation checks minimums only, so 5000 is sent
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.list_users(MaxItems=5000)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == (
        "1 validation error detected: Value '5000' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"
    )


def test_unexpected_exceptions_are_internal_failures(iam_client: tuple[Any, list[dict[str, Any]]]) -> None:
    client, _ = iam_client
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.list_attached_role_policies(RoleName="r")
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert "internal detail" not in str(raised.value.response)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_sts_assume_role() -> None:
    expiration = datetime(2024, 1, 15, 13, 0, 0, 359000, tzinfo=UTC)

    def backend(action: str, params: dict[str, Any]) -> dict[str, Any]:
        assert action == "AssumeRole"
        credentials = {"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "s", "SessionToken": "t"}
        return {
            "Credentials": credentials | {"Expiration": expiration},
            "AssumedRoleUser": {"AssumedRoleId": "AROA:s1", "Arn": f"{params['RoleArn']}/s1"},
            "PackedPolicySize": 6,
        }

    seen: list[dict[str, Any]] = []
    client = _client(Catalog().sts, backend, seen)
    answer = client.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/r",
        RoleSessionName="s1",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        TransitiveTagKeys=[],
    )
    assert seen[-1]["PolicyArns"] == [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    assert seen[-1]["TransitiveTagKeys"] == []
    assert answer["Credentials"]["Expiration"] == expiration
    assert answer["PackedPolicySize"] == 6
