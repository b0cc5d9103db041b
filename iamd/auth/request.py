"""The request as the verifier sees it: an immutable value, built at the transport edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from iamd.frozen import fast_init, maker

__all__ = ["SignedRequest", "new_signed_request"]


@fast_init
@dataclass(frozen=True, slots=True)
class SignedRequest:
    """Method, raw path and query as sent, headers as (name, value) pairs, body octets.

    ``path`` and ``query`` are the request target exactly as received (still percent-encoded,
    query without ``?``): canonicalization decodes and re-encodes them itself. Header names
    are case-insensitive; a repeated header keeps every value in order.
    """

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    _index: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {name.lower(): (value,) for name, value in self.headers}
        if len(index) < len(self.headers):  # a repeated header: each of its values, in order
            index = {}
            for name, value in self.headers:
                key = name.lower()
                index[key] = (*index.get(key, ()), value)
        _set_index(self, index)

    @classmethod
    def of(
        cls,
        method: str,
        path: str = "/",
        query: str = "",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> SignedRequest:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls(method, path, query, tuple((str(name), str(value)) for name, value in pairs), body)

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], body: bytes) -> SignedRequest:
        """Build from an ASGI HTTP scope: ``raw_path`` (or the encoded ``path``), ``query_string``, headers."""
        raw_path = scope.get("raw_path")
        if raw_path is not None:
            path = bytes(raw_path).decode("utf-8", "surrogateescape").partition("?")[0]
        else:
            path = quote(str(scope.get("path", "/")), safe="/%!$&'()*+,;=:@~")
        query = bytes(scope.get("query_string", b"")).decode("utf-8", "surrogateescape")
        headers = tuple((bytes(n).decode("latin-1"), bytes(v).decode("latin-1")) for n, v in scope.get("headers", ()))
        return cls(str(scope.get("method", "GET")), path, query, headers, body)

    def header_values(self, lowercase_name: str) -> tuple[str, ...]:
        """Every value of one header (name already lowercase), in the order received."""
        return self._index.get(lowercase_name, ())

    def first_value(self, lowercase_name: str) -> str:
        """The first value of one header (name already lowercase), or "" if it was not sent."""
        values = self._index.get(lowercase_name)
        return values[0] if values else ""

    def headers_values(self, lowercase_names: Iterable[str]) -> list[tuple[str, ...]]:
        """:meth:`header_values` of each name (a canonical request's signed headers), in one call."""
        get = self._index.get
        return [get(name, ()) for name in lowercase_names]

    def __repr__(self) -> str:
        # Values may carry session tokens and bodies may carry passwords: names and sizes only.
        names = sorted(self._index)
        return (
            f"SignedRequest(method={self.method!r}, path={self.path!r}, query=<{len(self.query)} chars>, "
            f"headers={names!r}, body=<{len(self.body)} bytes>)"
        )


# The slot's own setter: ``object.__setattr__`` looks itself up and goes through the generic
# attribute machinery (the frozen class's __setattr__ refuses); two requests are made per authorization.
_set_index = SignedRequest.__dict__["_index"].__set__

# SignedRequest(...) made cheaper (iamd.frozen.maker): two per authorization (the service's, the client's)
new_signed_request = maker(SignedRequest)
