"""The error tree against botocore's models, and the one exception-to-response mapping."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest
from botocore.parsers import create_parser

from iamd import errors
from iamd.errors import AwsError
from iamd.protocol import Catalog, Service, error_response, serialize_error
from iamd.protocol.errors import INTERNAL_FAILURE_MESSAGE
from tests.protocol.implemented import PAIRS

PARSER = create_parser("query")


def all_error_classes() -> list[type[AwsError]]:
    found = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, AwsError)]
    return sorted(found, key=lambda cls: cls.__name__)


def modeled_errors() -> list[tuple[str, str, int, bool]]:
    """(service, code, HTTP status, sender fault) for every error the model gives an operation iamd implements."""
    catalog = Catalog()
    rows = {}
    for service, name in PAIRS:
        for shape in catalog.service(service).operation(name).error_shapes:
            rows[(service, shape.error_code)] = _status(shape)
    return [(service, code, *rows[(service, code)]) for service, code in sorted(rows)]


def _status(shape: Any) -> tuple[int, bool]:
    error = shape.metadata.get("error", {})
    # No error metadata (the centralized root access errors): AWS answers them as 400 sender faults.
    return (error["httpStatusCode"], error.get("senderFault", False)) if error else (400, True)


@functools.cache
def all_modeled_errors() -> dict[str, tuple[int, bool]]:
    """Every error code of the installed IAM and STS models, with its status and fault."""
    catalog = Catalog()
    return {shape.error_code: _status(shape) for s in ("iam", "sts") for shape in catalog.service(s).model.error_shapes}


CLASSES_BY_CODE = {cls.code: cls for cls in all_error_classes() if cls is not AwsError}


def parse_error(body: bytes, status: int) -> dict[str, Any]:
    parsed: dict[str, Any] = PARSER.parse({"body": body, "headers": {}, "status_code": status}, None)
    return parsed


def test_codes_are_unique_and_in_all() -> None:
    classes = [cls for cls in all_error_classes() if cls is not AwsError]
    assert len({cls.code for cls in classes}) == len(classes)
    assert sorted(errors.__all__) == sorted(cls.__name__ for cls in all_error_classes())


@pytest.mark.parametrize(("service", "code", "status", "sender"), modeled_errors(), ids=lambda value: str(value))
def test_every_error_of_an_implemented_operation_has_a_class_with_the_models_status(
    service: str, code: str, status: int, sender: bool
) -> None:
    assert code in CLASSES_BY_CODE, f"{service} models {code}: add it to iamd/errors.py"
    error = CLASSES_BY_CODE[code]("m")
    assert error.status == status
    assert error.fault == ("Sender" if sender else "Receiver")


@pytest.mark.parametrize("cls", [cls for cls in all_error_classes() if cls is not AwsError], ids=lambda c: c.__name__)
def test_every_error_class_the_model_knows_has_the_models_status(cls: type[AwsError]) -> None:
    """The classes iamd has, checked against the installed model; codes only it knows are not iamd's concern."""
    modeled = all_modeled_errors()
    if cls.code in modeled:
        status, sender = modeled[cls.code]
        assert (cls("m").status, cls("m").fault) == (status, "Sender" if sender else "Receiver")


@pytest.mark.parametrize("cls", [cls for cls in all_error_classes() if cls is not AwsError], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "namespace", ["https://iam.amazonaws.com/doc/2010-05-08/", "https://sts.amazonaws.com/doc/2011-06-15/"]
)
def test_botocore_reads_every_error(cls: type[AwsError], namespace: str) -> None:
    error = cls("Something & <something> went 'wrong'.")
    body = serialize_error(error, namespace, "4f4a9c1e-6b2e-4c55-8a1b-0c9f6d1e2a3b")
    parsed = parse_error(body, error.status)
    assert parsed["Error"] == {"Type": error.fault, "Code": cls.code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "4f4a9c1e-6b2e-4c55-8a1b-0c9f6d1e2a3b"
    assert body.startswith(f'<ErrorResponse xmlns="{namespace}"><Error><Type>'.encode())


def test_fault_follows_status() -> None:
    assert errors.NoSuchEntity("x").fault == "Sender"
    assert errors.ServiceFailure("x").fault == "Receiver"
    assert errors.InternalFailure("x").fault == "Receiver"


def test_aws_errors_answer_with_their_own_code_status_and_headers(iam: Service) -> None:
    response = error_response(errors.NoSuchEntity("The user with name Bob cannot be found."), iam.namespace, "rid")
    assert response.status == 404
    assert response.headers == (("Content-Type", "text/xml"), ("x-amzn-RequestId", "rid"))
    assert parse_error(response.body, 404)["Error"]["Code"] == "NoSuchEntity"


@pytest.mark.parametrize(
    "exception",
    [ValueError("database password is hunter2"), KeyError("secret"), RuntimeError(), MemoryError(), AssertionError()],
)
def test_anything_else_is_an_internal_failure_that_leaks_nothing(exception: BaseException, iam: Service) -> None:
    response = error_response(exception, iam.namespace, "rid")
    assert response.status == 500
    parsed = parse_error(response.body, 500)
    assert parsed["Error"] == {"Type": "Receiver", "Code": "InternalFailure", "Message": INTERNAL_FAILURE_MESSAGE}
    assert b"hunter2" not in response.body and b"secret" not in response.body
    assert dict(response.headers)["x-amzn-RequestId"] == "rid"


def test_error_messages_with_unencodable_characters_still_parse(iam: Service) -> None:
    error = errors.ValidationError("Value '\x00\ud800\x1b' at 'userName' failed")
    parsed = parse_error(serialize_error(error, iam.namespace, "r"), 400)
    assert parsed["Error"]["Message"] == "Value '\ufffd\ufffd\ufffd' at 'userName' failed"
