"""Query parameter text to Python scalars, as Java-based AWS services read it.

* ``integer`` is Java's ``int`` (32 bits), ``long`` 64 bits, written in ASCII digits with
  an optional sign (``Integer.parseInt``: no spaces, no ``_``, no other scripts' digits);
* ``float``/``double`` are decimal (``NaN`` and ``Infinity`` as Java spells them);
* ``boolean`` is ``true`` or ``false`` in any case;
* ``timestamp`` is ISO 8601 (botocore sends ``2024-01-15T12:00:00Z``, sometimes with
  fractional seconds); a naive time means UTC;
* ``blob`` is standard base64;
* ``string`` is any text without lone surrogates (what undecodable bytes become, see
  :func:`iamd.protocol.query.decode_form`).

A text that does not convert raises :class:`Mismatch` carrying the constraint phrase of
the ValidationError item ("Member must be a valid integer"; AWS's wording for type errors
is unconfirmed, so iamd words it in the style of the model constraints).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["CONVERTERS", "SURROGATES", "Mismatch"]

# Characters that cannot be encoded as UTF-8 (lone surrogates).
SURROGATES: Final = re.compile("[\ud800-\udfff]")


class Mismatch(Exception):
    """A parameter whose text does not convert to its shape's type."""

    def __init__(self, phrase: str) -> None:
        super().__init__(phrase)
        self.phrase = phrase


_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?|NaN|-?Infinity")


def _string(text: str) -> str:
    if not text.isascii() and SURROGATES.search(text):
        raise Mismatch("Member must be valid UTF-8")
    return text


def _integer(bits: int) -> Callable[[str], int]:
    low, high, phrase = -(1 << (bits - 1)), (1 << (bits - 1)) - 1, "Member must be a valid integer"

    def convert(text: str) -> int:
        if _INTEGER.fullmatch(text) is None:
            raise Mismatch(phrase)
        value = int(text)
        if not low <= value <= high:
            raise Mismatch(phrase)
        return value

    return convert


def _float(text: str) -> float:
    if len(text) > 64 or _FLOAT.fullmatch(text) is None:
        raise Mismatch("Member must be a valid number")
    return float(text.replace("Infinity", "inf"))


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise Mismatch("Member must be a valid boolean")
    return lowered == "true"


def _timestamp(text: str) -> datetime:
    try:
        if len(text) > 64:
            raise ValueError(text)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Mismatch("Member must be a valid timestamp") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _blob(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise Mismatch("Member must be valid base64") from None


CONVERTERS: Final[dict[str, Callable[[str], Any]]] = {
    "string": _string,
    "character": _string,
    "integer": _integer(32),
    "long": _integer(64),
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
}
