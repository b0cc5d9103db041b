"""The object operations: Put/Get/Head/DeleteObject, DeleteObjects, CopyObject
(docs/s3.md, "Operations")."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from iamd.authz.client import Result

from .body import ALGORITHMS, read_body
from .buckets import empty, xml
from .deny import access_denied_message
from .errors import S3Error
from .names import check_key
from .request import S3Request
from .resolve import object_arn, split_copy_source
from .store import ObjectInfo
from .xmlio import Node, http_date, iso_time, parse_delete, xml_document

__all__ = ["OBJECT_HANDLERS", "metadata_of", "check_acl"]

MAX_METADATA = 2048  # user-defined metadata, names and values (Amazon S3 User Guide, "Object metadata")
_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}
_STORED_HEADERS = ("cache-control", "content-disposition", "content-language", "expires")


def check_acl(headers: dict[str, str]) -> None:
    """Buckets here enforce bucket-owner ownership (ACLs disabled): no ACL but the owner's."""
    acl = headers.get("x-amz-acl")
    if acl not in (None, "private", "bucket-owner-full-control") or any(h.startswith("x-amz-grant-") for h in headers):
        raise S3Error("AccessControlListNotSupported")
    if "x-amz-tagging" in headers:
        raise S3Error("NotImplemented", "This service does not implement object tags.")
    sse = headers.get("x-amz-server-side-encryption")
    if sse not in (None, "AES256"):
        raise S3Error("NotImplemented", "This service supports no server-side encryption but AES256.")


def metadata_of(headers: dict[str, str]) -> dict[str, str]:
    meta = {name: value for name, value in headers.items() if name.startswith("x-amz-meta-")}
    for name in _STORED_HEADERS:
        if name in headers:
            meta[name] = headers[name]
    if sum(len(k) + len(v) for k, v in meta.items() if k.startswith("x-amz-meta-")) > MAX_METADATA:
        raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size",
                      MaxSizeAllowed=str(MAX_METADATA))  # fmt: skip
    return meta


def content_encoding(headers: dict[str, str]) -> str:
    codings = [c.strip() for c in headers.get("content-encoding", "").split(",") if c.strip()]
    return ",".join(c for c in codings if c.lower() != "aws-chunked")


def _declared_algorithm(headers: dict[str, str], fallback: str = "") -> str:
    alg = headers.get("x-amz-sdk-checksum-algorithm", "").upper() or fallback
    return alg if alg in ALGORITHMS else ""


async def put_object(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    check_key(key)
    check_acl(req.headers)
    if_none_match = req.headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise S3Error("NotImplemented", "If-None-Match is supported on PutObject only as '*'.")
    if if_none_match and req.store.object(bucket, key) is not None:
        raise S3Error("PreconditionFailed", Condition="If-None-Match")
    body = await read_body(req.receive, req.headers, max_size=req.settings.max_object_size,
                           to_file=req.store.temp_file, algorithm=_declared_algorithm(req.headers))  # fmt: skip
    info = ObjectInfo(
        key, body.size, f'"{body.md5}"', time.time(), req.headers.get("content-type") or "binary/octet-stream", "",
        content_encoding(req.headers), metadata_of(req.headers), body.checksum_algorithm, body.checksum,
    )  # fmt: skip
    try:
        if if_none_match and req.store.object(bucket, key) is not None:
            raise S3Error("PreconditionFailed", Condition="If-None-Match")
        await run_in_threadpool(req.store.commit_object, bucket, info, body.path)
    except BaseException:
        body.discard()
        raise
    headers = {"etag": info.etag}
    if info.checksum_algorithm:
        headers[f"x-amz-checksum-{info.checksum_algorithm.lower()}"] = info.checksum
    return empty(200, headers)


def _http_time(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _etags(value: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in value.split(",")}


def _preconditions(req: S3Request, info: ObjectInfo) -> Response | None:
    """RFC 9110's order as S3 applies it: If-Match, If-Unmodified-Since, If-None-Match,
    If-Modified-Since (Amazon S3 API Reference, GetObject)."""
    etag = info.etag.strip('"')
    modified = int(info.last_modified)
    if_match = req.headers.get("if-match")
    if if_match is not None:
        if "*" not in _etags(if_match) and etag not in _etags(if_match):
            raise S3Error("PreconditionFailed", Condition="If-Match")
    else:
        since = _http_time(req.headers.get("if-unmodified-since", ""))
        if since is not None and modified > since:
            raise S3Error("PreconditionFailed", Condition="If-Unmodified-Since")
    if_none = req.headers.get("if-none-match")
    if if_none is not None:
        if "*" in _etags(if_none) or etag in _etags(if_none):
            return empty(304, {"etag": info.etag, "last-modified": http_date(info.last_modified)})
    else:
        since = _http_time(req.headers.get("if-modified-since", ""))
        if since is not None and modified <= since:
            return empty(304, {"etag": info.etag, "last-modified": http_date(info.last_modified)})
    return None


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b``, ``bytes=a-``, ``bytes=-n`` → (start, end inclusive); None: the whole
    object (no header, several ranges, or a header that is not a byte range)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not (first.isdigit() or not first) or not (last.isdigit() or not last) or (not first and not last):
        return None
    if len(first) > 19 or len(last) > 19:
        return None
    if not first:
        n = int(last)
        if n == 0 or size == 0:
            raise S3Error("InvalidRange", RangeRequested=header[:64], ActualObjectSize=str(size))
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if end < start:
        return None
    if start >= size:
        raise S3Error("InvalidRange", RangeRequested=header[:64], ActualObjectSize=str(size))
    return start, min(end, size - 1)


class _FileStream:
    """``length`` bytes of an open file descriptor from ``start``, in chunks; the descriptor is
    closed when the stream ends, is closed, or is dropped unfinished (a client gone before the
    body was sent). A bare descriptor, not a file object: a stream dropped inside a reference
    cycle is finalized in any order, and a file object finalized first would only warn."""

    def __init__(self, fd: int, start: int, length: int, chunk: int = 256 * 1024) -> None:
        self.fd: int | None = fd
        self.left, self.chunk = length, chunk
        os.lseek(fd, start, os.SEEK_SET)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data = os.read(self.fd, min(self.chunk, self.left)) if self.fd is not None and self.left > 0 else b""
        if not data:
            self.close()
            raise StopIteration
        self.left -= len(data)
        return data

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


async def get_object(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    if "partNumber" in req.query:
        raise S3Error("NotImplemented", "This service does not implement GetObject by part number.")
    info = req.store.object(bucket, key)
    fd: int | None = None
    for _ in range(3):  # an object replaced between reading its metadata and opening its data: read again
        if info is None or req.method != "GET":
            break
        try:
            fd = os.open(req.store.object_file(bucket, info), os.O_RDONLY | getattr(os, "O_BINARY", 0))
            break
        except FileNotFoundError:
            info = req.store.object(bucket, key)
    if info is None:
        raise S3Error("NoSuchKey", Key=key)
    try:
        not_modified = _preconditions(req, info)
        if not_modified is not None:
            return not_modified
        headers = {
            "etag": info.etag,
            "last-modified": http_date(info.last_modified),
            "accept-ranges": "bytes",
            "content-type": info.content_type,
        }
        if info.content_encoding:
            headers["content-encoding"] = info.content_encoding
        headers.update(info.metadata)
        if info.parts:
            headers["x-amz-mp-parts-count"] = str(info.parts)
        for param, header in _OVERRIDES.items():
            if param in req.query:
                headers[header] = req.query[param]
        span = _range(req.headers.get("range"), info.size)
        status = 200
        start, length = 0, info.size
        if span is not None:
            status = 206
            start, length = span[0], span[1] - span[0] + 1
            headers["content-range"] = f"bytes {span[0]}-{span[1]}/{info.size}"
        elif info.checksum_algorithm and req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers[f"x-amz-checksum-{info.checksum_algorithm.lower()}"] = info.checksum
        headers["content-length"] = str(length)
        if fd is None:  # HEAD
            return Response(b"", status, headers=headers)
        stream, fd = _FileStream(fd, start, length), None
        return StreamingResponse(stream, status, headers=headers)
    finally:
        if fd is not None:
            os.close(fd)


async def delete_object(req: S3Request) -> Response:
    req.store.require_bucket(req.route.bucket)
    await run_in_threadpool(req.store.delete_object, req.route.bucket, req.route.key)
    return empty(204)


async def delete_objects(req: S3Request) -> Response:
    bucket = req.route.bucket
    req.store.require_bucket(bucket)
    if "content-md5" not in req.headers and not any(h.startswith("x-amz-checksum-") for h in req.headers) and \
            "x-amz-trailer" not in req.headers:  # fmt: skip
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    body = await read_body(req.receive, req.headers, max_size=req.settings.max_xml_body)
    keys, quiet = parse_delete(body.data)
    results: dict[str, Result] = {}
    if req.answer is not None:
        results = {r.resource: r for r in req.answer.results}
    nodes: list[Node] = []
    for key in keys:
        result = results.get(object_arn(bucket, key, req.settings.partition))
        if result is None or not result.allowed:
            message = access_denied_message(result)
            nodes.append(("Error", [("Key", key), ("Code", "AccessDenied"), ("Message", message)]))
            continue
        await run_in_threadpool(req.store.delete_object, bucket, key)
        if not quiet:
            nodes.append(("Deleted", [("Key", key)]))
    return xml(xml_document("DeleteResult", nodes))


async def copy_object(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    check_key(key)
    check_acl(req.headers)
    if any(h.startswith("x-amz-copy-source-if-") for h in req.headers):
        raise S3Error("NotImplemented", "This service does not implement conditional copies.")
    source_bucket, source_key = split_copy_source(req.headers["x-amz-copy-source"])
    req.store.require_bucket(source_bucket)
    source = req.store.object(source_bucket, source_key)
    if source is None:
        raise S3Error("NoSuchKey", Key=source_key)
    directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                      ArgumentValue=directive[:32])  # fmt: skip
    if (source_bucket, source_key) == (bucket, key) and directive == "COPY":
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself "
                      "without changing the object's metadata, storage class, website redirect location or "
                      "encryption attributes.")  # fmt: skip
    await read_body(req.receive, req.headers, max_size=0)
    if directive == "REPLACE":
        content_type = req.headers.get("content-type") or "binary/octet-stream"
        encoding, metadata = content_encoding(req.headers), metadata_of(req.headers)
    else:
        content_type, encoding, metadata = source.content_type, source.content_encoding, dict(source.metadata)
    fd, temp = req.store.temp_file()
    os.close(fd)
    try:
        await run_in_threadpool(shutil.copyfile, req.store.object_file(source_bucket, source), temp)
    except FileNotFoundError:
        os.unlink(temp)
        raise S3Error("NoSuchKey", Key=source_key) from None
    info = ObjectInfo(key, source.size, source.etag, time.time(), content_type, "", encoding, metadata,
                      source.checksum_algorithm, source.checksum, source.parts)  # fmt: skip
    try:
        info = await run_in_threadpool(req.store.commit_object, bucket, info, temp)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return xml(xml_document("CopyObjectResult", [("ETag", info.etag), ("LastModified", iso_time(info.last_modified))]))


OBJECT_HANDLERS = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": get_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
}
