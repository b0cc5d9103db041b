"""botocore serializes, iamd parses: every IAM and STS operation gives back what boto3 was given."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.errors import ValidationError
from iamd.protocol import Catalog, decode_form, parse_request
from iamd.protocol.constraints import lower_camel
from tests.protocol.implemented import PAIRS
from tests.protocol.strategies import input_values

CATALOG = Catalog()
OPERATIONS = PAIRS  # what iamd implements: a newer botocore's extra operations are not iamd's contract
SERIALIZER = create_serializer("query", include_validation=True)  # botocore also validates our samples
UNCHECKED = create_serializer("query", include_validation=False)
ROUNDTRIP = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def wire_body(service: str, operation: Any, params: dict[str, Any], *, validate: bool = True) -> bytes:
    """The form body boto3 would send for ``params`` (serializer, then request preparation)."""
    request = (SERIALIZER if validate else UNCHECKED).serialize_to_request(params, operation)
    prepare_request_dict(request, endpoint_url=f"https://{service}.amazonaws.com")
    body = create_request_object(request).prepare().body
    return body if isinstance(body, bytes) else body.encode("utf-8")


def test_every_implemented_operation_is_in_the_model() -> None:
    missing = [(service, name) for service, name in OPERATIONS if CATALOG.service(service).operation(name) is None]
    assert missing == [] and len(OPERATIONS) > 100


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}.{n}" for s, n in OPERATIONS])
@ROUNDTRIP
@given(data=st.data())
def test_botocore_request_parses_back_to_its_input(service: str, name: str, data: st.DataObject) -> None:
    svc = CATALOG.service(service)
    operation = svc.operation(name)
    shape = operation.input_shape
    params = data.draw(input_values(shape)) if shape is not None else {}
    parsed_operation, parsed = parse_request(svc, decode_form(body=wire_body(service, operation, params)))
    assert parsed_operation is operation
    assert parsed == params


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}.{n}" for s, n in OPERATIONS])
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_missing_required_member_is_named(service: str, name: str, data: st.DataObject) -> None:
    svc = CATALOG.service(service)
    operation = svc.operation(name)
    shape = operation.input_shape
    required = list(shape.required_members) if shape is not None else []
    if not required:
        return
    params = data.draw(input_values(shape))
    dropped = data.draw(st.sampled_from(required))
    del params[dropped]
    request = decode_form(body=wire_body(service, operation, params, validate=False))
    with pytest.raises(ValidationError) as raised:
        parse_request(svc, request)
    assert (
        f"Value null at '{lower_camel(dropped)}' failed to satisfy constraint: Member must not be null"
        in (raised.value.message)
        or f"Value at '{lower_camel(dropped)}' failed" in raised.value.message
    )


def test_query_string_and_body_merge(catalog: Catalog) -> None:
    params = decode_form("Action=GetUser&Version=2010-05-08&UserName=fromquery", b"UserName=from%2Bbody")
    assert parse_request(catalog.iam, params)[1] == {"UserName": "from+body"}
