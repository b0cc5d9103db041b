"""AWS Query responses: a result ``Mapping`` shaped like botocore's output in, XML bytes out.

The inverse of botocore's ``QueryParser`` (IAM API "Making Query requests", IAM API "Common Errors")::

    <GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <GetUserResult><User><UserName>Bob</UserName>…</User></GetUserResult>
      <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
    </GetUserResponse>

``result`` uses the model's member names (``{"User": {"UserName": "Bob", …}}``), exactly
what boto3 returns to its caller. Rules:

* A member that is absent or ``None`` is omitted, except a *required* list, which is
  always written (``<Users/>``): SDKs index it without checking. Keys the output shape
  does not have are ignored.
* Lists are ``<member>`` elements, maps ``<entry><key/><value/></entry>``, booleans
  ``true``/``false``, blobs base64, timestamps ISO 8601 UTC with ``Z`` (``datetime``,
  naive meaning UTC; whole seconds when there is no fraction, else milliseconds; epoch
  numbers and preformatted strings are also accepted).
* Members of shape ``policyDocumentType`` are percent-encoded (RFC 3986,
  ``quote(text, safe="")``), as IAM does; boto3 decodes them back.
* Operations without an output shape answer only ``ResponseMetadata``; an empty output
  shape still gets its empty ``<OpResult></OpResult>`` (botocore requires it).
* Text is escaped (``&``, ``<``, ``>``, and CR as ``&#13;`` so it survives XML
  end-of-line normalization). Characters XML 1.0 cannot carry at all (control characters,
  lone surrogates, U+FFFE/U+FFFF) become U+FFFD, so any message stays parseable. Every
  other value is ASCII by construction (numbers, base64, percent-encoded policies).

Per operation, the output shape is compiled once into writer nodes (cached in the
:class:`~iamd.protocol.models.Service`); serializing is then one walk appending strings.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from iamd.errors import AwsError
from iamd.moment import whole_seconds_text
from iamd.protocol.models import OperationModel, Service

__all__ = [
    "URL_ENCODED_SHAPES",
    "compile_operation",
    "escape",
    "format_timestamp",
    "serialize_error",
    "serialize_result",
]

URL_ENCODED_SHAPES: Final = frozenset({"policyDocumentType"})
_INVALID_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_Append = Callable[[str], object]


def escape(text: str) -> str:
    """``text`` as XML character data, with characters XML cannot carry replaced by U+FFFD."""
    if not text.isprintable():  # rare: CR, LF, TAB, controls, surrogates, unassigned...
        text = _INVALID_XML.sub("\ufffd", text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def format_timestamp(value: datetime | float | str) -> str:
    """``value`` as ISO 8601 UTC: ``2024-01-15T12:00:00Z`` or ``…T12:00:00.359Z``."""
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        # isoformat() is the fastest formatter; keep "YYYY-MM-DDTHH:MM:SS" and ".fff".
        return value.isoformat()[: 23 if value.microsecond else 19] + "Z"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_timestamp(datetime.fromtimestamp(value, UTC))
    if isinstance(value, str):
        return escape(value)
    raise TypeError(f"not a timestamp: {value!r}")


def format_whole_seconds(value: datetime | float | str) -> str:
    """IAM's timestamps: whole seconds (``2012-09-21T23:03:13Z``), as IAM returns them."""
    if isinstance(value, datetime) and (value.tzinfo is UTC or value.tzinfo is None):
        return whole_seconds_text(value)  # format_timestamp's, its fraction cut (no ``replace``: a new datetime)
    if isinstance(value, datetime) and value.microsecond:
        value = value.replace(microsecond=0)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = int(value)
    return format_timestamp(value)


def _text(value: Any) -> str:
    return escape(value if type(value) is str else str(value))


def _policy(value: Any) -> str:
    return quote(value if type(value) is str else str(value), safe="", errors="replace")


def _boolean(value: Any) -> str:
    return "true" if value else "false"


def _integer(value: Any) -> str:
    return str(int(value))


def _float(value: Any) -> str:
    return repr(float(value))


def _blob(value: Any) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")


_FORMATTERS: Final[dict[str, Callable[[Any], str]]] = {
    "string": _text,
    "character": _text,
    "integer": _integer,
    "long": _integer,
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "timestamp": format_timestamp,
    "blob": _blob,
}


# -- writer nodes --------------------------------------------------------------------------
class _Scalar:
    __slots__ = ("format",)

    def __init__(self, format: Callable[[Any], str]) -> None:
        self.format = format

    def write(self, value: Any, open_tag: str, close_tag: str, append: _Append) -> None:
        append(open_tag + self.format(value) + close_tag)


class _Struct:
    # members: (name, open tag, close tag, node, empty element when absent or None,
    # the scalar formatter when the member is a scalar: written inline, the hot path)
    __slots__ = ("members",)
    members: tuple[tuple[str, str, str, _Node, str | None, Callable[[Any], str] | None], ...]

    def write(self, value: Mapping[str, Any], open_tag: str, close_tag: str, append: _Append) -> None:
        append(open_tag)
        self.write_members(value, append)
        append(close_tag)

    def write_members(self, value: Mapping[str, Any], append: _Append) -> None:
        get = value.get
        for name, open_tag, close_tag, node, empty, format in self.members:
            item = get(name)
            if item is None:
                if empty is not None:
                    append(empty)
            elif format is not None:
                append(open_tag + format(item) + close_tag)
            else:
                node.write(item, open_tag, close_tag, append)


class _List:
    __slots__ = ("item", "item_close", "item_open")
    item: _Node

    def __init__(self, shape: Any) -> None:
        name = shape.member.serialization.get("name", "member")
        self.item_open, self.item_close = f"<{name}>", f"</{name}>"

    def write(self, value: Iterable[Any], open_tag: str, close_tag: str, append: _Append) -> None:
        append(open_tag)
        item, item_open, item_close = self.item, self.item_open, self.item_close
        for element in value:
            item.write(element, item_open, item_close, append)
        append(close_tag)


class _Map:
    __slots__ = ("key", "key_close", "key_open", "value", "value_close", "value_open")
    key: _Node
    value: _Node

    def __init__(self, shape: Any) -> None:
        key = shape.key.serialization.get("name", "key")
        value = shape.value.serialization.get("name", "value")
        self.key_open, self.key_close = f"<{key}>", f"</{key}>"
        self.value_open, self.value_close = f"<{value}>", f"</{value}>"

    def write(self, value: Mapping[Any, Any], open_tag: str, close_tag: str, append: _Append) -> None:
        append(open_tag)
        for key, item in value.items():
            append("<entry>")
            self.key.write(key, self.key_open, self.key_close, append)
            self.value.write(item, self.value_open, self.value_close, append)
            append("</entry>")
        append(close_tag)


_Node = _Scalar | _Struct | _List | _Map


def _compile(shape: Any, memo: dict[str, _Node]) -> _Node:
    """The writer for botocore ``shape``; ``memo`` (by shape name) shares and ends recursion."""
    node = memo.get(shape.name)
    if node is not None:
        return node
    kind = shape.type_name
    if shape.serialization.get("flattened") or shape.serialization.get("xmlAttribute"):
        raise ValueError(f"{shape.name}: flattened/attribute members are not supported (not used by IAM/STS)")
    if kind == "structure":
        struct = memo[shape.name] = _Struct()
        required = set(shape.required_members)
        members = []
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            empty = f"<{wire}></{wire}>" if member.type_name == "list" and name in required else None
            node = _compile(member, memo)
            format = node.format if isinstance(node, _Scalar) else None
            members.append((name, f"<{wire}>", f"</{wire}>", node, empty, format))
        struct.members = tuple(members)
        return struct
    if kind == "list":
        listing = memo[shape.name] = _List(shape)
        listing.item = _compile(shape.member, memo)
        return listing
    if kind == "map":
        mapping = memo[shape.name] = _Map(shape)
        mapping.key, mapping.value = _compile(shape.key, memo), _compile(shape.value, memo)
        return mapping
    if kind == "string" and shape.name in URL_ENCODED_SHAPES:
        node = memo[shape.name] = _Scalar(_policy)
        return node
    if kind not in _FORMATTERS:
        raise ValueError(f"unsupported shape type {kind} ({shape.name})")
    format = _FORMATTERS[kind]
    if kind == "timestamp" and memo.get(_WHOLE_SECONDS) is not None:
        format = format_whole_seconds
    node = memo[shape.name] = _Scalar(format)
    return node


# A marker in the compile memo: this service writes timestamps in whole seconds.
_WHOLE_SECONDS = "\0whole-seconds"


class _Plan:
    """One operation's compiled response: fixed text around the result's members."""

    __slots__ = ("body", "head", "middle", "tail")

    def __init__(self, service: Service, operation: OperationModel) -> None:
        if service.namespace is None:
            raise ValueError(f"{service.name} is not an XML (Query) service")
        name, shape = operation.name, operation.output_shape
        self.head = f'<{name}Response xmlns="{service.namespace}">'
        self.body: _Struct | None = None
        self.middle = ""
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
            # IAM answers with whole seconds; STS keeps milliseconds (Expiration), as AWS does.
            memo: dict[str, _Node] = {_WHOLE_SECONDS: _Scalar(format_whole_seconds)} if service.name == "iam" else {}
            node = _compile(shape, memo)
            assert isinstance(node, _Struct)
            self.head += f"<{wrapper}>"
            self.body, self.middle = node, f"</{wrapper}>"
        self.middle += "<ResponseMetadata><RequestId>"
        self.tail = f"</RequestId></ResponseMetadata></{name}Response>"


def compile_operation(service: Service, operation: OperationModel) -> _Plan:
    """The compiled response plan of ``operation``, built once per ``service``."""
    return service.plan("xml-output", operation.name, _Plan, service, operation)


def serialize_result(service: Service, operation: OperationModel, result: Mapping[str, Any], request_id: str) -> bytes:
    """The XML body of a successful ``operation`` returning ``result`` (see module doc)."""
    plan = compile_operation(service, operation)
    parts = [plan.head]
    if plan.body is not None:
        plan.body.write_members(result, parts.append)
    parts += (plan.middle, escape(request_id), plan.tail)
    return "".join(parts).encode("utf-8")


def serialize_error(error: AwsError, namespace: str, request_id: str) -> bytes:
    """The ``<ErrorResponse>`` body for ``error`` (IAM API "Common Errors")."""
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{error.fault}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    ).encode()
