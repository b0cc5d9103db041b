"""Hostile and broken requests over raw HTTP: AWS's errors, never a 500, nothing half-written."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.service.iam import OPERATIONS
from tests.api.conftest import FORM, UserClient, allow, failure, policy, signed_request
from tests.api.server import RunningServer

NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
TRUST = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
V = "Version=2010-05-08"


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """Status, code and message of an AWS Query error body, checking its whole envelope."""
    assert response.headers["content-type"] == "text/xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}ErrorResponse"
    error = root.find(f"{NS}Error")
    assert error is not None
    fault = error.findtext(f"{NS}Type")
    assert fault == ("Receiver" if response.status_code >= 500 else "Sender")
    request_id = root.findtext(f"{NS}RequestId")
    assert request_id and response.headers["x-amzn-requestid"] == request_id
    return response.status_code, error.findtext(f"{NS}Code") or "", error.findtext(f"{NS}Message") or ""


@pytest.fixture
def unchanged(api_server: RunningServer) -> Iterator[Callable[[], None]]:
    """Assert (when called and at the end) that no write committed since the test began."""
    store = api_server.backend.store
    before = store.generation()

    def check() -> None:
        assert store.generation() == before

    yield check
    check()


def test_missing_and_unknown_action(api_server: RunningServer, unchanged: Callable[[], None]) -> None:
    assert error_of(signed_request(api_server, V)) == (
        400, "MissingAction", "The request must contain the parameter Action.",
    )  # fmt: skip
    assert error_of(signed_request(api_server, f"Action=StealEverything&{V}")) == (
        400, "InvalidAction", "Could not find operation StealEverything for version 2010-05-08",
    )  # fmt: skip
    assert error_of(signed_request(api_server, f"Action=listusers&{V}"))[:2] == (400, "InvalidAction")
    assert error_of(signed_request(api_server, "Action=ListUsers&Version=2011-06-15")) == (
        400, "InvalidAction", "Could not find operation ListUsers for version 2011-06-15",
    )  # fmt: skip
    assert error_of(signed_request(api_server, "Action=ListUsers")) == (
        400, "InvalidAction", "Could not find operation ListUsers for version NO_VERSION_SPECIFIED",
    )  # fmt: skip
    # the Action comes first: even unsigned, a request without one is MissingAction
    assert error_of(httpx.post(api_server.endpoint + "/", content=b"", headers={"Content-Type": FORM}))[1] == (
        "MissingAction"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"%%%&&&==&Action",
        b"Action=%ZZ&Version=%",
        bytes(range(256)),
        b"\xff\xfe\x00Action=ListUsers",
        b"&&&&&&&&&&",
        b"=" * 1000,
        b"Action=ListUsers&Action=&" + V.encode(),
    ],
    ids=["garbage", "bad-escapes", "all-bytes", "utf16-bom", "ampersands", "equals", "empty-action-wins"],
)
def test_malformed_form_bodies_are_client_errors(
    api_server: RunningServer, body: bytes, unchanged: Callable[[], None]
) -> None:
    status, code, _ = error_of(signed_request(api_server, body))
    assert status == 400 and code in ("MissingAction", "InvalidAction", "ValidationError")


def test_wrong_parameter_types_are_validation_errors(api_server: RunningServer) -> None:
    assert error_of(signed_request(api_server, f"Action=ListUsers&{V}&MaxItems=abc")) == (
        400, "ValidationError",
        "1 validation error detected: Value 'abc' at 'maxItems' failed to satisfy constraint: Member must be a "
        "valid integer",
    )  # fmt: skip
    assert error_of(signed_request(api_server, f"Action=ListUsers&{V}&MaxItems=0")) == (
        400, "ValidationError",
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1",
    )  # fmt: skip
    status, code, message = error_of(signed_request(api_server, f"Action=ListUsers&{V}&MaxItems=99999999999999999999"))
    assert (status, code) == (400, "ValidationError") and "maxItems" in message
    assert error_of(signed_request(api_server, f"Action=CreateUser&{V}")) == (
        400, "ValidationError",
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null",
    )  # fmt: skip
    status, code, message = error_of(signed_request(api_server, f"Action=CreatePolicy&{V}&PolicyName=x&Path=noslash"))
    assert (status, code) == (400, "ValidationError") and message.startswith("2 validation errors detected: ")
    status, code, message = error_of(
        signed_request(api_server, f"Action=CreateUser&{V}&UserName=u&Tags.member.99999.Key=k")
    )
    assert (status, code) == (400, "ValidationError") and "Member index must be between 1 and" in message
    assert error_of(signed_request(api_server, f"Action=ListRoles&{V}&Marker=bogus")) == (
        400, "ValidationError", "Invalid Marker.",
    )  # fmt: skip


def test_oversized_bodies_are_refused(api_server: RunningServer, unchanged: Callable[[], None]) -> None:
    body = f"Action=CreateUser&{V}&UserName=Huge&Junk=".encode() + b"a" * (1 << 20)
    status, code, _ = error_of(signed_request(api_server, body))
    assert (status, code) == (400, "ValidationError")
    at_limit = f"Action=GetUser&{V}&UserName=nobody&Junk=".encode()
    at_limit += b"a" * ((1 << 20) - len(at_limit))
    assert error_of(signed_request(api_server, at_limit))[:2] == (404, "NoSuchEntity")  # exactly 1 MiB is fine


def test_signature_failures_answer_aws_errors(api_server: RunningServer, unchanged: Callable[[], None]) -> None:
    body = f"Action=ListUsers&{V}"
    assert error_of(httpx.post(api_server.endpoint + "/", content=body, headers={"Content-Type": FORM})) == (
        403, "MissingAuthenticationToken", "Request is missing Authentication Token",
    )  # fmt: skip
    assert error_of(signed_request(api_server, body, secret="w" * 40)) == (403, "SignatureDoesNotMatch", MISMATCH)
    assert error_of(signed_request(api_server, body, key="AKIAIOSFODNN7UNKNOWN")) == (
        403, "InvalidClientTokenId", "The security token included in the request is invalid.",
    )  # fmt: skip
    now = datetime.now(UTC).replace(tzinfo=None)
    status, code, message = error_of(signed_request(api_server, body, at=now - timedelta(hours=1)))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert re.fullmatch(r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)",
                        message), message  # fmt: skip
    status, code, message = error_of(signed_request(api_server, body, at=now + timedelta(hours=1)))
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert re.fullmatch(
        r"Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)",
        message,
    ), message
    status, code, message = error_of(signed_request(api_server, body, region="cn-north-1"))
    assert (status, code) == (403, "SignatureDoesNotMatch") and "region" in message
    # a signed request whose body was changed on the way
    request = signed_request(api_server, body)
    assert request.status_code == 200
    headers = dict(request.request.headers)
    tampered = httpx.post(api_server.endpoint + "/", content=f"Action=ListRoles&{V}", headers=headers)
    assert error_of(tampered)[:2] == (403, "SignatureDoesNotMatch")
    broken = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE", "Content-Type": FORM}
    status, code, _ = error_of(httpx.post(api_server.endpoint + "/", content=body, headers=broken))
    assert (status, code) == (400, "IncompleteSignature")


def test_hostile_values_are_escaped(api_server: RunningServer, iam: BaseClient) -> None:
    response = signed_request(api_server, f"Action=GetUser&{V}&UserName=%3Cx%3E%26%5D%5D%3E%01%00")
    status, code, message = error_of(response)  # parses: the echo is escaped
    assert (status, code) == (400, "ValidationError")
    assert "Value '<x>&]]>\ufffd\ufffd' at 'userName'" in message
    assert b"<x>" not in response.content and b"]]>" not in response.content
    description = "a <b> & \"c\" 'd' ]]> <![CDATA[ e ]]> \r\n\t end"
    iam.create_role(RoleName="Hostile", AssumeRolePolicyDocument=TRUST, Description=description)
    assert iam.get_role(RoleName="Hostile")["Role"]["Description"] == description
    raw = signed_request(api_server, f"Action=GetRole&{V}&RoleName=Hostile")
    text = ET.fromstring(raw.content).findtext(f"{NS}GetRoleResult/{NS}Role/{NS}Description")
    assert text == description
    document = policy(allow("s3:GetObject", "arn:aws:s3:::b/<script>&]]>"))
    iam.put_role_policy(RoleName="Hostile", PolicyName="p", PolicyDocument=document)
    got = iam.get_role_policy(RoleName="Hostile", PolicyName="p")["PolicyDocument"]
    assert got["Statement"][0]["Resource"] == "arn:aws:s3:::b/<script>&]]>"


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("get_delegation_request", {"DelegationRequestId": "dr-0123456789abcdef"}),
        ("get_human_readable_summary", {"EntityArn": "arn:aws:iam::123456789012:role/x"}),
        ("list_delegation_requests", {}),
        ("get_account_properties", {}),
    ],
)
def test_real_but_unimplemented_operations_answer_501(
    iam: BaseClient, operation: str, kwargs: dict[str, Any], unchanged: Callable[[], None]
) -> None:
    if iam.meta.method_to_api_mapping[operation] in OPERATIONS:
        pytest.skip(f"{operation} is implemented now")
    with pytest.raises(ClientError) as e:
        getattr(iam, operation)(**kwargs)
    status, code, message = failure(e)
    assert (status, code) == (501, "NotImplemented") and message.startswith("iamd does not implement")


def test_unimplemented_sts_actions_answer_501_in_the_sts_namespace(api_server: RunningServer) -> None:
    body = "Action=GetDelegatedAccessToken&Version=2011-06-15&TradeInToken=abcdefgh"
    response = signed_request(api_server, body, service="sts")
    assert response.status_code == 501
    assert ET.fromstring(response.content).tag == "{https://sts.amazonaws.com/doc/2011-06-15/}ErrorResponse"


def test_get_with_a_query_string_and_other_methods(api_server: RunningServer) -> None:
    response = signed_request(api_server, method="GET", query=f"Action=ListUsers&{V}")
    assert response.status_code == 200
    assert ET.fromstring(response.content).tag == f"{NS}ListUsersResponse"
    assert httpx.put(api_server.endpoint + "/", content=b"x").status_code == 405
    assert httpx.get(api_server.endpoint + "/_iamd/health").json()["status"] == "ok"


def test_failed_writes_leave_nothing_behind(
    api_server: RunningServer, iam: BaseClient, raw_iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    iam.create_user(UserName="Keeper")
    iam.put_user_policy(UserName="Keeper", PolicyName="p", PolicyDocument=policy(allow("s3:*")))
    weak = user_client("Weakling")
    store = api_server.backend.store
    ghost_trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/ghost"}, "Action": "sts:AssumeRole"}
    )
    attempts: list[Callable[[], Any]] = [
        lambda: iam.create_role(RoleName="BadTrust", AssumeRolePolicyDocument=policy(allow("s3:*"))),
        lambda: iam.create_role(RoleName="GhostTrust", AssumeRolePolicyDocument=ghost_trust),
        lambda: iam.create_role(
            RoleName="BadTags", AssumeRolePolicyDocument=TRUST,
            Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}],
        ),
        lambda: iam.create_user(UserName="BadBoundary", PermissionsBoundary=f"arn:aws:iam::{acct}:policy/nope"),
        lambda: iam.create_policy(PolicyName="BadDoc", PolicyDocument="{}"),
        lambda: iam.put_user_policy(UserName="Keeper", PolicyName="huge",
                                    PolicyDocument=policy(allow("s3:*", "arn:aws:s3:::" + "x" * 3000))),
        lambda: iam.delete_user(UserName="Keeper"),
        lambda: iam.attach_user_policy(UserName="Keeper", PolicyArn=f"arn:aws:iam::{acct}:policy/nope"),
        lambda: weak.create_user(UserName="ByWeakling"),
        lambda: raw_iam.update_access_key(UserName="Keeper", AccessKeyId="AKIAIOSFODNN7EXAMPL1", Status="Expired"),
        lambda: iam.tag_user(UserName="Keeper", Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)]
                             + [{"Key": "aws:bad", "Value": ""}]),
    ]  # fmt: skip
    before = store.generation()
    for attempt in attempts:
        with pytest.raises(ClientError) as e:
            attempt()
        assert failure(e)[0] < 500
        assert store.generation() == before, failure(e)
    for name in ("BadTrust", "GhostTrust", "BadTags"):
        with pytest.raises(ClientError):
            iam.get_role(RoleName=name)
    assert iam.list_user_policies(UserName="Keeper")["PolicyNames"] == ["p"]
    assert iam.list_user_tags(UserName="Keeper")["Tags"] == []


def _value(name: str, shape: Any, acct: str, hostile: bool) -> Any:
    """A value for one input member: plausible (names ``Fuzz``), or hostile text everywhere."""
    kind = shape.type_name
    if kind == "structure":
        values = {m: _value(m, s, acct, hostile) for m, s in shape.members.items()}
        return {m: v for m, v in values.items() if v is not None}
    if kind == "list":
        return [_value(name, shape.member, acct, hostile)]
    if kind == "integer":
        return int(shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    if kind != "string":
        return None
    if hostile:
        return "<x>&]]>\x01\u2028"
    if shape.enum:
        return shape.enum[0]
    if name in ("PolicyDocument", "AssumeRolePolicyDocument"):
        return TRUST if "Assume" in name or "Role" in name else policy(allow("s3:GetObject"))
    if name.endswith("Arn") or name == "PermissionsBoundary":
        return f"arn:aws:iam::{acct}:policy/Fuzz"
    if "Path" in name:
        return "/fuzz/"
    return {"VersionId": "v1", "AccessKeyId": "AKIAIOSFODNN7FUZZ000", "AccountAlias": "fuzz-alias"}.get(name, "Fuzz")


def test_every_operation_survives_plausible_and_hostile_input(
    api_server: RunningServer, iam: BaseClient, raw_iam: BaseClient, acct: str
) -> None:
    model = iam.meta.service_model
    answered: dict[tuple[str, str], int] = {}

    def sweep(label: str, hostile: bool) -> None:
        for operation in sorted(OPERATIONS):
            shape = model.operation_model(operation).input_shape
            kwargs = {} if shape is None else {
                m: _value(m, s, acct, hostile) for m, s in shape.members.items()
                if m not in ("Marker", "MaxItems") and (m in shape.required_members or not hostile)
            }  # fmt: skip
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            try:
                getattr(raw_iam, _method(iam, operation))(**kwargs)
                answered[(label, operation)] = 200
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status < 500, (label, operation, kwargs, e.response["Error"])
                answered[(label, operation)] = status

    sweep("absent", hostile=False)  # (the sweep's own Create* calls make some entities exist)
    for create in (
        lambda: iam.create_user(UserName="Fuzz"),
        lambda: iam.create_group(GroupName="Fuzz"),
        lambda: iam.create_role(RoleName="Fuzz", AssumeRolePolicyDocument=TRUST),
        lambda: iam.create_policy(PolicyName="Fuzz", PolicyDocument=policy(allow("s3:GetObject"))),
        lambda: iam.create_instance_profile(InstanceProfileName="Fuzz"),
    ):
        try:
            create()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "EntityAlreadyExists"
    sweep("present", hostile=False)
    sweep("hostile", hostile=True)
    # the sweeps did reach the handlers: some calls succeeded, some found nothing
    assert 200 in {s for (label, _), s in answered.items() if label == "present"}
    assert 404 in {s for (label, _), s in answered.items() if label == "absent"}
    assert {s for (label, _), s in answered.items() if label == "hostile"} <= {200, 400, 403, 404, 409}


def _method(client: BaseClient, operation: str) -> str:
    return next(m for m, op in client.meta.method_to_api_mapping.items() if op == operation)
