"""The AWS JSON 1.1 protocol (Organizations), driven by botocore's model like the Query codec.

A request is ``POST /`` with ``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON object
of the input members; the answer is the output members as a JSON object (``{}`` for an
operation without output), timestamps as seconds since the epoch, and an error is
``{"__type": <code>, "Message": <text>}`` plus the modeled members such as ``Reason``
(docs/organizations.md, the wire).

* :func:`parse_json_request`: the body to the input ``dict`` botocore's caller passed,
  every model constraint checked with the Query codec's rules (:mod:`.constraints`), all
  violations reported at once. A body that is not a JSON object, or a member of the wrong
  JSON type, is ``SerializationException``; a constraint violation is the service's
  validation error (Organizations: ``InvalidInputException`` with the ``Reason`` of the
  first violation, ``INPUT_REQUIRED``, ``INVALID_PATTERN``, ``MIN_LENGTH_EXCEEDED``, …).
  Members the model does not have are ignored, as the Query codec ignores parameters.
* :func:`serialize_json_result`: an output ``dict`` to the response body, members in the
  model's order, ``None`` left out.
* :func:`json_error_response`: the single exception-to-response mapping of this protocol.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from iamd.errors import AwsError, InternalFailure
from iamd.protocol.constraints import Violations, lower_camel, rules_for
from iamd.protocol.errors import INTERNAL_FAILURE_MESSAGE, WireResponse
from iamd.protocol.models import OperationModel, Service
from iamd.protocol.scalars import SURROGATES

__all__ = [
    "CONTENT_TYPE",
    "InvalidInputException",
    "SerializationException",
    "UnknownOperationException",
    "json_error_response",
    "json_headers",
    "parse_json_request",
    "serialize_json_result",
]

CONTENT_TYPE = "application/x-amz-json-1.1"
_MAX_DEPTH = 32  # the Organizations input shapes nest at most 4 deep


class SerializationException(AwsError):
    """The body is not JSON, not an object, or a member has the wrong JSON type."""

    code, status = "SerializationException", 400


class UnknownOperationException(AwsError):
    """``X-Amz-Target`` names no operation of the service."""

    code, status = "UnknownOperationException", 400


class InvalidInputException(AwsError):
    """Organizations' validation error: a ``Reason`` from the model's enum (docs/organizations.md, errors)."""

    code, status = "InvalidInputException", 400

    def __init__(self, message: str, reason: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.extra = {"Reason": reason}


# Query-protocol codes of the shared errors as a JSON 1.1 service spells them (AWS "Common Errors" of
# the JSON services; Organizations API "Common Errors").
_JSON_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "ExpiredToken": "ExpiredTokenException",
    "MissingAuthenticationToken": "MissingAuthenticationTokenException",
    "InternalFailure": "ServiceException",
    "ServiceFailure": "ServiceException",
    "Throttling": "TooManyRequestsException",
}


def json_headers(request_id: str) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", request_id))


def json_error_response(error: BaseException, request_id: str) -> WireResponse:
    """The response for ``error`` raised while serving a JSON 1.1 request (anything not an
    :class:`AwsError` is a bug: ``ServiceException``, 500, with AWS's generic text)."""
    if not isinstance(error, AwsError):
        error = InternalFailure(INTERNAL_FAILURE_MESSAGE)
    if error.code == "ValidationError":
        error = InvalidInputException(error.message)
    body: dict[str, Any] = {"__type": _JSON_CODES.get(error.code, error.code), "Message": error.message}
    extra = getattr(error, "extra", None)
    if isinstance(extra, Mapping):
        body.update(extra)
    # Organizations answers every client error with 400, authentication and authorization included
    # (Organizations API "Common Errors"); server-side statuses (500, 501 for NotImplemented) stay.
    status = 400 if 400 <= error.status < 500 else error.status
    return WireResponse(status, json_headers(request_id), json.dumps(body).encode())


# -- input -------------------------------------------------------------------------------------
class _Found(Violations):
    """Violations, and the Organizations ``Reason`` of the first one."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def add(self, path: str, value: object, constraint: str, *, sensitive: bool = False) -> None:
        if self.reason is None:
            self.reason = _reason(constraint)
        super().add(path, value, constraint, sensitive=sensitive)

    def add_null(self, path: str, *, sensitive: bool = False) -> None:
        if self.reason is None:
            self.reason = "INPUT_REQUIRED"
        super().add_null(path, sensitive=sensitive)


def _reason(constraint: str) -> str:
    if "regular expression" in constraint:
        return "INVALID_PATTERN"
    if "enum value" in constraint:
        return "INVALID_ENUM"
    if "length greater" in constraint:
        return "MIN_LENGTH_EXCEEDED"
    if "length less" in constraint:
        return "MAX_LENGTH_EXCEEDED"
    if "value greater" in constraint:
        return "MIN_VALUE_EXCEEDED"
    if "value less" in constraint:
        return "MAX_VALUE_EXCEEDED"
    return "INVALID_INPUT"


_JSON_TYPE = {
    "string": "a string", "character": "a string", "integer": "an integer", "long": "an integer",
    "float": "a number", "double": "a number", "boolean": "a boolean", "timestamp": "a timestamp",
    "blob": "a base64 string", "structure": "an object", "map": "an object", "list": "an array",
}  # fmt: skip


def _wrong_type(path: str, shape: Any) -> SerializationException:
    return SerializationException(f"Value at '{path}' must be {_JSON_TYPE.get(shape.type_name, 'valid')}.")


def _value(shape: Any, raw: Any, path: str, found: _Found, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise SerializationException("The request nests too deeply.")
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(raw, dict):
            raise _wrong_type(path, shape)
        return _structure(shape, raw, path, found, depth)
    if kind == "list":
        if not isinstance(raw, list):
            raise _wrong_type(path, shape)
        items = [_value(shape.member, item, f"{path}.{n}.member", found, depth + 1) for n, item in enumerate(raw, 1)]
        _check(shape, items, len(items), path, found)
        return items
    if kind == "map":
        if not isinstance(raw, dict):
            raise _wrong_type(path, shape)
        out = {
            _value(shape.key, key, path, found, depth + 1): _value(shape.value, item, f"{path}.{key}.member", found,
                                                                  depth + 1)
            for key, item in raw.items()
        }  # fmt: skip
        _check(shape, out, len(out), path, found)
        return out
    value = _scalar(shape, raw, path)
    rules = rules_for(shape)
    if rules is not None:
        for phrase in rules.check(value):
            found.add(path, value, phrase, sensitive=bool(shape.metadata.get("sensitive")))
    return value


def _check(shape: Any, value: object, length: int, path: str, found: _Found) -> None:
    rules = rules_for(shape)
    if rules is not None:
        for phrase in rules.check_length(length):
            found.add(path, value, phrase)


def _scalar(shape: Any, raw: Any, path: str) -> Any:
    kind = shape.type_name
    if kind in ("string", "character", "blob"):
        if not isinstance(raw, str) or (not raw.isascii() and SURROGATES.search(raw)):
            raise _wrong_type(path, shape)
        return raw
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise _wrong_type(path, shape)
        return raw
    if kind in ("integer", "long"):
        bits = 32 if kind == "integer" else 64
        if not isinstance(raw, int) or isinstance(raw, bool) or not -(1 << (bits - 1)) <= raw < 1 << (bits - 1):
            raise _wrong_type(path, shape)
        return raw
    if kind in ("float", "double"):
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            raise _wrong_type(path, shape)
        return float(raw)
    if kind == "timestamp":
        try:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return datetime.fromtimestamp(raw, UTC)
            if isinstance(raw, str) and len(raw) <= 64:
                parsed = datetime.fromisoformat(raw)
                return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        except (ValueError, OverflowError, OSError):
            pass
        raise _wrong_type(path, shape)
    raise _wrong_type(path, shape)


def _structure(shape: Any, raw: Mapping[str, Any], path: str, found: _Found, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    required = set(shape.required_members)
    prefix = path + "." if path else ""
    for name, member in shape.members.items():
        value = raw.get(name)
        if value is None:  # absent, or JSON null: botocore never sends null for a set member
            if name in required:
                found.add_null(prefix + lower_camel(name), sensitive=bool(member.metadata.get("sensitive")))
            continue
        out[name] = _value(member, value, prefix + lower_camel(name), found, depth + 1)
    return out


def parse_json_request(service: Service, operation: OperationModel, body: bytes) -> dict[str, Any]:
    """The input of ``operation`` in ``body``, converted and validated (module doc).

    Raises ``SerializationException`` or ``InvalidInputException`` (both :class:`AwsError`).
    """
    del service  # the shapes come from the operation; kept for symmetry with the Query codec
    text = body.decode("utf-8", "surrogateescape").strip() if body else ""
    if not text:
        raw: Any = {}
    else:
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            raise SerializationException("The request body is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise SerializationException("The request body must be a JSON object.")
    shape = operation.input_shape
    if shape is None:
        return {}
    found = _Found()
    result = _structure(shape, raw, "", found, 0)
    if len(found):
        raise InvalidInputException(found.message, found.reason or "INVALID_INPUT")
    return result


# -- output ------------------------------------------------------------------------------------
def _out(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _out(member, value[name]) for name, member in shape.members.items() if value.get(name) is not None
        }
    if kind == "list":
        return [_out(shape.member, item) for item in value]
    if kind == "map":
        return {str(key): _out(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
        return int(seconds) if seconds.is_integer() else round(seconds, 3)
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    return str(value)


def serialize_json_result(service: Service, operation: OperationModel, result: Mapping[str, Any] | None) -> bytes:
    """The response body of ``operation`` for ``result`` (``{}`` when it has no output)."""
    del service
    shape = operation.output_shape
    if shape is None or not result:
        return b"{}"
    return json.dumps(_out(shape, result), ensure_ascii=False, separators=(",", ":")).encode()
