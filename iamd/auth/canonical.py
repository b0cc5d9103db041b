"""SigV4's canonical forms (AWS "Create a signed AWS API request"): canonical request, string to sign, keys.

Pure functions over already-located request parts. Nothing here knows about errors,
credentials or time; :mod:`iamd.auth.sigv4` decides what is acceptable.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote_to_bytes

__all__ = [
    "Signer",
    "ALGORITHM",
    "EMPTY_SHA256",
    "TERMINATOR",
    "UNSIGNED_PAYLOAD",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "derive_signing_key",
    "parse_query",
    "sign",
    "string_to_sign",
    "uri_encode",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

QueryPairs = Sequence[tuple[bytes, bytes]]


_UNRESERVED = re.compile(rb"[A-Za-z0-9_.~-]*")


def uri_encode(octets: bytes) -> str:
    """RFC 3986 encoding: ``A-Z a-z 0-9 - _ . ~`` as is, every other octet ``%XX`` (uppercase)."""
    if _UNRESERVED.fullmatch(octets):
        return octets.decode("ascii")
    return quote(octets, safe="")


def parse_query(raw_query: str) -> list[tuple[bytes, bytes]]:
    """Split a raw query string into percent-decoded (name, value) octets.

    ``+`` stays ``+`` (it is form encoding, not URI encoding); empty segments are skipped;
    a segment without ``=`` has an empty value. Malformed escapes are kept literally.
    """
    pairs: list[tuple[bytes, bytes]] = []
    for segment in raw_query.split("&"):
        if segment:
            name, _, value = segment.partition("=")
            pairs.append((_decode(name), _decode(value)))
    return pairs


def _decode(text: str) -> bytes:
    octets = text.encode("utf-8", "surrogateescape")
    return unquote_to_bytes(octets) if b"%" in octets else octets


def canonical_query(pairs: Iterable[tuple[bytes, bytes]], *, exclude: bytes | None = None) -> str:
    """Encode each name and value, sort by encoded name then value, join with ``&``."""
    if not pairs:  # a form POST's query is usually empty
        return ""
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in pairs if name != exclude)
    return "&".join(f"{name}={value}" for name, value in encoded)


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, plus AWS's removal of empty segments (as the SDK signers do).
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return first + "/".join(segments) + last


@functools.lru_cache(maxsize=256)  # an API has few paths (the Query API one: "/")
def canonical_uri(raw_path: str) -> str:
    """Normalize the raw (still percent-encoded) path and encode it again (non-S3 rule)."""
    normalized = _remove_dot_segments(raw_path) if raw_path else "/"
    return quote(normalized or "/", safe="/~", errors="surrogateescape")


def canonical_headers(names: Sequence[str], values: Sequence[Sequence[str]]) -> str:
    """``name:value\\n`` per signed header; values trimmed, whitespace runs folded, repeats joined by ``,``."""
    # The lengths compared once: zip's ``strict=True`` is a keyword argument, parsed by name on
    # every call (about 1k instructions; twice per authorization: bench/README.md, "Session 18:
    # the single check's ids, time and enum members").
    if len(names) != len(values):
        raise ValueError(f"canonical_headers: {len(names)} names but {len(values)} value lists")
    lines = []
    for name, repeated in zip(names, values):  # noqa: B905 (the lengths are equal: above)
        if len(repeated) == 1:  # the usual case: no generator per header
            lines.append(f"{name}:{' '.join(repeated[0].split())}\n")
        else:
            lines.append(f"{name}:{','.join(' '.join(value.split()) for value in repeated)}\n")
    return "".join(lines)


def canonical_request(method: str, uri: str, query: str, headers: str, signed_headers: str, payload_hash: str) -> str:
    """The six lines of AWS "Create a signed AWS API request" (``headers`` already ends with a newline)."""
    return f"{method}\n{uri}\n{query}\n{headers}\n{signed_headers}\n{payload_hash}"


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


_IPAD = bytes(b ^ 0x36 for b in range(256))  # RFC 2104's ipad and opad, XORed into any byte
_OPAD = bytes(b ^ 0x5C for b in range(256))
_SHA256 = hashlib.sha256()  # never updated: copied


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date, region, service and the terminator.

    Each step is HMAC-SHA256 by hashlib (:func:`_hmac`), not ``hmac.digest``: that one releases
    the GIL on every call, four times per derivation, and a derivation is on every request of a
    caller beyond the verifier's 1,024 kept signing keys (bench/README.md, "A large account").
    """
    key = _hmac(f"AWS4{secret}".encode(), date.encode())
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part.encode("utf-8", "surrogatepass"))
    return key


def _hmac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) of a short message; hashlib keeps the GIL below 2,048 bytes."""
    block = (key if len(key) <= 64 else hashlib.sha256(key).digest()).ljust(64, b"\0")
    inner = _SHA256.copy()  # a copy of an empty hash: cheaper than a new one (no digest look-up)
    inner.update(block.translate(_IPAD) + message)
    outer = _SHA256.copy()
    outer.update(block.translate(_OPAD) + inner.digest())
    return outer.digest()


def sign(signing_key: bytes, text: str) -> str:
    """Lowercase hex HMAC-SHA256 of the string to sign."""
    return hmac.digest(signing_key, text.encode("utf-8", "surrogatepass"), "sha256").hex()


class Signer:
    """:func:`sign` with one signing key, its HMAC pads hashed once (RFC 2104).

    Per request this is two SHA-256 copies and updates: about half the CPU of
    ``hmac.digest``, which also releases the GIL for every call (a thread switch under load).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, signing_key: bytes) -> None:
        block = signing_key if len(signing_key) <= 64 else hashlib.sha256(signing_key).digest()
        block = block.ljust(64, b"\0")
        # the pads by table (bytes.translate): a generator over the 64 bytes was about 10 µs, paid
        # on every signing-key cache miss (each request of a caller beyond the cache's 1,024)
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def sign(self, text: str) -> str:
        inner = self._inner.copy()
        inner.update(text.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()
