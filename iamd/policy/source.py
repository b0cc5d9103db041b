"""A JSON reader that remembers where every value came from.

Python's ``json`` module forgets positions and silently keeps the last of two duplicate
keys. Policy validation needs both: AWS rejects duplicate keys, and every problem (and
every matched statement) is reported with its line and column. This reader parses RFC 8259
JSON into :class:`Node` values that carry their start and end positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

__all__ = ["JsonSyntaxError", "Node", "Position", "parse_json"]


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the source text."""

    line: int
    column: int

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}


JsonValue = Union[str, int, float, bool, None, "list[Node]", "dict[str, Node]"]


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON value with its source span. Objects keep their keys' nodes too."""

    value: JsonValue
    start: Position
    end: Position
    keys: tuple[Node, ...] = ()  # for objects: key nodes, in source order

    def plain(self) -> object:
        """The value as plain Python data (dict/list/str/...)."""
        v = self.value
        if isinstance(v, dict):
            return {k: n.plain() for k, n in v.items()}
        if isinstance(v, list):
            return [n.plain() for n in v]
        return v


class JsonSyntaxError(ValueError):
    """The text is not JSON, or an object repeats a key."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(f"{message} at line {position.line} column {position.column}")
        self.reason = message
        self.position = position


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
      |(?P<str>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")
      |(?P<num>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      |(?P<punct>[{}\[\]:,])
      |(?P<lit>true|false|null)
    """,
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MAX_DEPTH = 64


def _unescape(raw: str) -> str:
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e == "u":
            code = int(body[i + 2 : i + 6], 16)
            i += 6
            if 0xD800 <= code < 0xDC00 and body[i : i + 2] == "\\u":
                low = int(body[i + 2 : i + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
            out.append(chr(code))
        else:
            out.append(_ESCAPES[e])
            i += 2
    return "".join(out)


def _number(text: str, start: Position) -> int | float:
    """The value of a JSON number; an integer too long to convert is a syntax error.

    Python refuses to convert integers of more than ``sys.get_int_max_str_digits()`` digits
    (4,300 by default) to and from text; no policy needs such a number, so the document is
    malformed (docs/policy-validation.md).
    """
    if any(c in text for c in ".eE"):
        return float(text)
    try:
        return int(text)
    except ValueError:
        raise JsonSyntaxError("Number too long", start) from None


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        n = len(text)
        while pos < n:
            m = _TOKEN.match(text, pos)
            if m is None:
                raise JsonSyntaxError("Unexpected character", self.position(pos))
            kind = m.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, m.group(), pos))
            pos = m.end()
        self.i = 0

    def position(self, offset: int) -> Position:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return Position(lo + 1, offset - self.line_starts[lo] + 1)

    def peek(self) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise JsonSyntaxError("Unexpected end of input", self.position(len(self.text)))
        return self.tokens[self.i]

    def expect(self, punct: str) -> int:
        kind, text, offset = self.peek()
        if kind != "punct" or text != punct:
            raise JsonSyntaxError(f"Expected '{punct}'", self.position(offset))
        self.i += 1
        return offset

    def value(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise JsonSyntaxError("Nesting too deep", self.position(self.peek()[2]))
        kind, text, offset = self.peek()
        start = self.position(offset)
        if kind == "punct" and text == "{":
            return self.obj(depth, start)
        if kind == "punct" and text == "[":
            return self.arr(depth, start)
        self.i += 1
        end = self.position(offset + len(text))
        if kind == "str":
            return Node(_unescape(text), start, end)
        if kind == "num":
            return Node(_number(text, start), start, end)
        if kind == "lit":
            return Node({"true": True, "false": False, "null": None}[text], start, end)
        raise JsonSyntaxError(f"Unexpected '{text}'", start)

    def obj(self, depth: int, start: Position) -> Node:
        self.i += 1
        members: dict[str, Node] = {}
        keys: list[Node] = []
        kind, text, offset = self.peek()
        if kind == "punct" and text == "}":
            self.i += 1
            return Node(members, start, self.position(offset + 1))
        while True:
            kind, text, offset = self.peek()
            if kind != "str":
                raise JsonSyntaxError("Expected a string key", self.position(offset))
            self.i += 1
            key = _unescape(text)
            key_node = Node(key, self.position(offset), self.position(offset + len(text)))
            if key in members:
                raise JsonSyntaxError(f"Duplicate key {key!r}", key_node.start)
            self.expect(":")
            members[key] = self.value(depth + 1)
            keys.append(key_node)
            kind, text, offset = self.peek()
            self.i += 1
            if kind == "punct" and text == "}":
                return Node(members, start, self.position(offset + 1), tuple(keys))
            if kind != "punct" or text != ",":
                raise JsonSyntaxError("Expected ',' or '}'", self.position(offset))

    def arr(self, depth: int, start: Position) -> Node:
        self.i += 1
        items: list[Node] = []
        kind, text, offset = self.peek()
        if kind == "punct" and text == "]":
            self.i += 1
            return Node(items, start, self.position(offset + 1))
        while True:
            items.append(self.value(depth + 1))
            kind, text, offset = self.peek()
            self.i += 1
            if kind == "punct" and text == "]":
                return Node(items, start, self.position(offset + 1))
            if kind != "punct" or text != ",":
                raise JsonSyntaxError("Expected ',' or ']'", self.position(offset))


def parse_json(text: str) -> Node:
    """Parse JSON text into position-carrying nodes; raise :class:`JsonSyntaxError`."""
    reader = _Reader(text)
    node = reader.value(0)
    if reader.i != len(reader.tokens):
        raise JsonSyntaxError("Unexpected data after the document", reader.position(reader.tokens[reader.i][2]))
    return node
