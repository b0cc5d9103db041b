"""A request body, read once, checked against everything the client declared about it
(docs/s3.md, "Payloads and checksums").

* ``x-amz-content-sha256``: the body's SHA-256 in hex (checked: ``XAmzContentSHA256Mismatch``),
  ``UNSIGNED-PAYLOAD``, or ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` (an ``aws-chunked`` body of
  unsigned chunks ending in checksum trailers). The signed streaming forms need the
  caller's signing key, which only iamd holds: ``501 NotImplemented``.
* ``Content-MD5`` (``BadDigest``), ``x-amz-checksum-<alg>`` as a header or as a trailer named
  by ``x-amz-trailer`` (CRC32, CRC32C, SHA1, SHA256; ``BadDigest``),
  ``x-amz-decoded-content-length`` (``IncompleteBody``).

The signature itself is iamd's to verify; this module makes sure the bytes are the ones the
signed hash or checksums describe. Bodies stream to a temporary file (objects and parts) or
to memory (XML and policy bodies, bounded small); sizes are bounded either way.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import google_crc32c
from starlette.types import Receive

from .errors import S3Error

__all__ = ["Body", "Checksummer", "read_body"]


UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_SIGNED_STREAMING = (
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
)
ALGORITHMS = ("CRC32", "CRC32C", "SHA1", "SHA256")
_MAX_LINE = 4096  # a chunk-size line or a trailer line
_MAX_TRAILERS = 16


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _Crc32c:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = google_crc32c.extend(self.value, data)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def new_hash(algorithm: str) -> _Hash:
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm == "CRC32C":
        return _Crc32c()
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise S3Error("InvalidRequest", f"Checksum algorithm {algorithm[:32]} is not supported.")


class Checksummer:
    """One algorithm over a stream: the base64 value S3 puts in ``x-amz-checksum-<alg>``."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._hash = new_hash(algorithm)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def value(self) -> str:
        return base64.b64encode(self._hash.digest()).decode()


@dataclass
class Body:
    size: int = 0
    md5: str = ""  # hex
    data: bytes = b""  # in-memory bodies
    path: str = ""  # streamed bodies: the temporary file, to commit or delete
    checksum_algorithm: str = ""
    checksum: str = ""  # base64, verified
    trailers: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = ""


class _AwsChunked:
    """The ``aws-chunked`` framing of unsigned chunks: ``<hex size>\\r\\n<data>\\r\\n`` … ``0\\r\\n``,
    then ``name:value\\r\\n`` trailer lines and an empty line (Amazon S3 API Reference,
    "Signature Calculations … in Multiple Chunks", the unsigned-payload trailer form)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.state = "size"
        self.left = 0
        self.trailers: dict[str, str] = {}
        self.done = False

    def _line(self) -> bytes | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_LINE:
                raise S3Error("InvalidRequest", "Malformed aws-chunked encoding: a line is too long.")
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def feed(self, data: bytes) -> list[bytes]:
        if self.done and data:
            raise S3Error("InvalidRequest", "Data after the end of the aws-chunked body.")
        self.buffer += data
        out: list[bytes] = []
        while not self.done:
            if self.state == "size":
                line = self._line()
                if line is None:
                    break
                text, _, extension = line.partition(b";")
                if extension.strip().startswith(b"chunk-signature"):
                    raise S3Error("NotImplemented", "Signed aws-chunked payloads are not implemented.")
                try:
                    if not text or len(text) > 16:
                        raise ValueError
                    self.left = int(text, 16)
                except ValueError:
                    raise S3Error("InvalidRequest", "Malformed aws-chunked encoding: bad chunk size.") from None
                self.state = "data" if self.left else "trailer"
            elif self.state == "data":
                if not self.buffer:
                    break
                take = min(self.left, len(self.buffer))
                out.append(bytes(self.buffer[:take]))
                del self.buffer[:take]
                self.left -= take
                if not self.left:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(self.buffer) < 2:
                    break
                if self.buffer[:2] != b"\r\n":
                    raise S3Error("InvalidRequest", "Malformed aws-chunked encoding: chunk not ended by CRLF.")
                del self.buffer[:2]
                self.state = "size"
            else:  # trailers
                line = self._line()
                if line is None:
                    break
                if not line:
                    self.done = True
                    break
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep or len(self.trailers) >= _MAX_TRAILERS:
                    raise S3Error("InvalidRequest", "Malformed aws-chunked trailer.")
                self.trailers[name.strip().lower()] = value.strip()
        return out


def _declared_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    found = {}
    for alg in ALGORITHMS:
        value = headers.get(f"x-amz-checksum-{alg.lower()}")
        if value is not None:
            found[alg] = value
    return found


def _check_md5_header(value: str) -> bytes:
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest") from None
    if len(digest) != 16:
        raise S3Error("InvalidDigest")
    return digest


async def read_body(
    receive: Receive,
    headers: Mapping[str, str],
    *,
    max_size: int,
    to_file: Callable[[], tuple[int, str]] | None = None,
    algorithm: str = "",
) -> Body:
    """Read and check the body. ``headers`` are lower-cased names. With ``to_file`` the body
    goes to the temporary file it opens; otherwise to memory. ``algorithm``: a checksum to
    compute even if none is declared (an upload's ``x-amz-checksum-algorithm``)."""
    content_sha = headers.get("x-amz-content-sha256", UNSIGNED)
    if content_sha in _SIGNED_STREAMING:
        raise S3Error(
            "NotImplemented",
            "Signed aws-chunked payloads (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD) are not "
            "implemented by this service; sign the payload as a whole, or use UNSIGNED-PAYLOAD or "
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER.",
            Header="x-amz-content-sha256",
        )
    chunked: _AwsChunked | None = None
    expected_sha: str | None = None
    if content_sha == STREAMING_UNSIGNED:
        chunked = _AwsChunked()
    elif content_sha != UNSIGNED:
        if len(content_sha) != 64 or any(c not in "0123456789abcdef" for c in content_sha):
            raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.",
                          ArgumentName="x-amz-content-sha256", ArgumentValue=content_sha[:80])  # fmt: skip
        expected_sha = content_sha
    length_header = headers.get("content-length")
    if length_header is not None:
        if not length_header.isdigit() or len(length_header) > 19:
            raise S3Error("InvalidArgument", "Invalid Content-Length", ArgumentName="Content-Length")
        wire_limit = max_size if chunked is None else max_size + max_size // 1024 + 65536  # framing overhead
        if int(length_header) > wire_limit:
            raise S3Error("EntityTooLarge", ProposedSize=length_header, MaxSizeAllowed=str(max_size))
    declared_length: int | None = None
    if chunked is not None:
        decoded = headers.get("x-amz-decoded-content-length", "")
        if decoded:
            if not decoded.isdigit() or len(decoded) > 19:
                raise S3Error("InvalidArgument", "Invalid x-amz-decoded-content-length")
            declared_length = int(decoded)
            if declared_length > max_size:
                raise S3Error("EntityTooLarge", ProposedSize=decoded, MaxSizeAllowed=str(max_size))
    declared = _declared_checksums(headers)
    trailer_names = [t.strip().lower() for t in headers.get("x-amz-trailer", "").split(",") if t.strip()]
    trailer_algs = []
    for name in trailer_names:
        alg = name.removeprefix("x-amz-checksum-").upper()
        if not name.startswith("x-amz-checksum-") or alg not in ALGORITHMS:
            raise S3Error(
                "InvalidRequest", f"The value specified in the x-amz-trailer header is not supported: {name[:64]}"
            )
        trailer_algs.append(alg)
    if trailer_algs and chunked is None:
        raise S3Error("InvalidRequest", "x-amz-trailer needs an aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER).")
    algorithms = {*declared, *trailer_algs}
    if algorithm:
        algorithms.add(algorithm)
    if len(algorithms) > 1:
        raise S3Error(
            "InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    summers = {alg: Checksummer(alg) for alg in algorithms}
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256() if expected_sha is not None else None
    body = Body()
    memory = bytearray()
    fd = -1
    if to_file is not None:
        fd, body.path = to_file()
    try:
        size = 0

        def take(piece: bytes) -> None:
            nonlocal size
            size += len(piece)
            if size > max_size:
                raise S3Error("EntityTooLarge", MaxSizeAllowed=str(max_size))
            md5.update(piece)
            for s in summers.values():
                s.update(piece)
            if fd >= 0:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
            else:
                memory.extend(piece)

        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise S3Error("IncompleteBody")
            data: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            if sha is not None:
                sha.update(data)
            if chunked is not None:
                for piece in chunked.feed(data):
                    take(piece)
            elif data:
                take(data)
        if chunked is not None and not chunked.done:
            raise S3Error("IncompleteBody")
        if length_header is not None and chunked is None and size != int(length_header):
            raise S3Error("IncompleteBody")
        if declared_length is not None and size != declared_length:
            raise S3Error("IncompleteBody")
        if sha is not None and sha.hexdigest() != expected_sha:
            raise S3Error("XAmzContentSHA256Mismatch", ClientComputedContentSHA256=str(expected_sha),
                          S3ComputedContentSHA256=sha.hexdigest())  # fmt: skip
        content_md5 = headers.get("content-md5")
        if content_md5 is not None and _check_md5_header(content_md5) != md5.digest():
            raise S3Error("BadDigest", ExpectedDigest=content_md5[:64],
                          CalculatedDigest=base64.b64encode(md5.digest()).decode())  # fmt: skip
        trailers = chunked.trailers if chunked is not None else {}
        for name, alg in zip(trailer_names, trailer_algs, strict=True):
            if name not in trailers:
                raise S3Error("InvalidRequest", f"The trailer {name} was declared but not sent.")
            declared[alg] = trailers[name]
        for alg, value in declared.items():
            if summers[alg].value() != value:
                raise S3Error("BadDigest", f"The {alg} you specified did not match the calculated checksum.")
        body.size = size
        body.md5 = md5.hexdigest()
        body.data = bytes(memory)
        body.trailers = dict(trailers)
        if summers:
            ((alg, summer),) = summers.items()
            body.checksum_algorithm, body.checksum = alg, summer.value()
    except BaseException:
        if fd >= 0:
            os.close(fd)
            fd = -1
        body.discard()
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    return body
