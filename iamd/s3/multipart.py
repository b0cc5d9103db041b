"""Multipart uploads: Create, UploadPart, Complete, Abort, ListParts (docs/s3.md, "Multipart")."""

from __future__ import annotations

import hashlib
import os
import time
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .body import ALGORITHMS, read_body
from .buckets import empty, owner_node, xml
from .errors import S3Error
from .names import check_key
from .objects import check_acl, content_encoding, metadata_of
from .request import S3Request
from .store import ObjectInfo, PartInfo, Store, UploadInfo
from .xmlio import Node, iso_time, parse_complete, xml_document

__all__ = ["MULTIPART_HANDLERS"]


async def create_upload(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    check_key(key)
    check_acl(req.headers)
    algorithm = req.headers.get("x-amz-checksum-algorithm", "").upper()
    if algorithm and algorithm not in ALGORITHMS:
        raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported.")
    await read_body(req.receive, req.headers, max_size=0)
    upload = UploadInfo("", key, time.time(), req.account, req.caller_arn or req.account,
                        req.headers.get("content-type") or "binary/octet-stream", content_encoding(req.headers),
                        metadata_of(req.headers), algorithm)  # fmt: skip
    upload = await run_in_threadpool(req.store.create_upload, bucket, upload)
    headers = {"x-amz-checksum-algorithm": algorithm} if algorithm else None
    nodes: list[Node] = [("Bucket", bucket), ("Key", key), ("UploadId", upload.upload_id)]
    return xml(xml_document("InitiateMultipartUploadResult", nodes), headers=headers)


def _part_number(req: S3Request) -> int:
    raw = req.query.get("partNumber", "")
    if not raw.isdigit() or len(raw) > 5 or not 1 <= int(raw) <= req.settings.max_parts:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                      ArgumentName="partNumber", ArgumentValue=raw[:16])  # fmt: skip
    return int(raw)


async def upload_part(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    upload_id = req.query.get("uploadId", "")
    number = _part_number(req)
    upload = req.store.upload(bucket, key, upload_id)
    declared = any(h.startswith("x-amz-checksum-") for h in req.headers) or "x-amz-trailer" in req.headers
    body = await read_body(req.receive, req.headers, max_size=req.settings.max_part_size, to_file=req.store.temp_file,
                           algorithm="" if declared else upload.checksum_algorithm)  # fmt: skip
    if upload.checksum_algorithm and body.checksum_algorithm != upload.checksum_algorithm:
        body.discard()
        expected, actual = upload.checksum_algorithm.lower(), body.checksum_algorithm.lower()
        raise S3Error(
            "InvalidRequest",
            f"Checksum Type mismatch occurred, expected checksum Type: {expected}, actual checksum Type: {actual}",
        )
    part = PartInfo(number, body.size, f'"{body.md5}"', body.md5, time.time(), body.checksum_algorithm, body.checksum)
    try:
        await run_in_threadpool(req.store.put_part, bucket, upload_id, part, body.path)
    except BaseException:
        body.discard()
        raise
    headers = {"etag": part.etag}
    if part.checksum_algorithm:
        headers[f"x-amz-checksum-{part.checksum_algorithm.lower()}"] = part.checksum
    return empty(200, headers)


def _assemble(store: Store, bucket: str, upload_id: str, parts: list[PartInfo]) -> str:
    fd, temp = store.temp_file()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(store.part_file(bucket, upload_id, part.number), "rb") as f:
                    while chunk := f.read(1 << 20):
                        out.write(chunk)
    except BaseException:
        os.unlink(temp)
        raise
    return temp


async def complete_upload(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    upload_id = req.query.get("uploadId", "")
    upload = req.store.upload(bucket, key, upload_id)
    body = await read_body(req.receive, req.headers, max_size=req.settings.max_xml_body)
    listed = parse_complete(body.data)
    stored = {p.number: p for p in req.store.parts(bucket, upload_id)}
    chosen: list[PartInfo] = []
    previous = 0
    for number, etag, checksums in listed:
        if number <= previous:
            raise S3Error("InvalidPartOrder", UploadId=upload_id)
        previous = number
        part = stored.get(number)
        if (
            part is None
            or part.md5 != etag
            or any(alg != part.checksum_algorithm or value != part.checksum for alg, value in checksums.items())
        ):
            raise S3Error("InvalidPart", UploadId=upload_id, PartNumber=str(number), ETag=etag[:64])
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < req.settings.min_part_size:
            raise S3Error("EntityTooSmall", ProposedSize=str(part.size), MinSizeAllowed=str(req.settings.min_part_size),
                          PartNumber=str(part.number), ETag=part.etag)  # fmt: skip
    total = sum(p.size for p in chosen)
    if total > req.settings.max_object_size_total:
        raise S3Error("EntityTooLarge", ProposedSize=str(total))
    digest = hashlib.md5(b"".join(bytes.fromhex(p.md5) for p in chosen), usedforsecurity=False).hexdigest()
    etag = f'"{digest}-{len(chosen)}"'
    temp = await run_in_threadpool(_assemble, req.store, bucket, upload_id, chosen)
    info = ObjectInfo(key, total, etag, time.time(), upload.content_type, "", upload.content_encoding,
                      dict(upload.metadata), parts=len(chosen))  # fmt: skip
    try:
        await run_in_threadpool(req.store.commit_object, bucket, info, temp)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    await run_in_threadpool(req.store.remove_upload, bucket, upload_id)
    host = req.headers.get("host", "localhost")
    scheme = str(req.scope.get("scheme", "http"))
    nodes: list[Node] = [("Location", f"{scheme}://{host}/{bucket}/{quote(key, safe='/~')}"), ("Bucket", bucket),
                         ("Key", key), ("ETag", etag)]  # fmt: skip
    return xml(xml_document("CompleteMultipartUploadResult", nodes))


async def abort_upload(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    req.store.require_bucket(bucket)
    upload_id = req.query.get("uploadId", "")
    req.store.upload(bucket, key, upload_id)
    await run_in_threadpool(req.store.remove_upload, bucket, upload_id)
    return empty(204)


async def list_parts(req: S3Request) -> Response:
    bucket, key = req.route.bucket, req.route.key
    info = req.store.require_bucket(bucket)
    upload_id = req.query.get("uploadId", "")
    upload = req.store.upload(bucket, key, upload_id)
    marker = req.int_param("part-number-marker", 0, 10_000)
    max_parts = req.int_param("max-parts", 1000, 1000)
    parts = [p for p in req.store.parts(bucket, upload_id) if p.number > marker]
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    nodes: list[Node] = [("Bucket", bucket), ("Key", key), ("UploadId", upload_id),
                         ("PartNumberMarker", marker), ("NextPartNumberMarker", parts[-1].number if parts else marker),
                         ("MaxParts", max_parts), ("IsTruncated", truncated),
                         ("Initiator", [("ID", upload.initiator), ("DisplayName", upload.initiator)]),
                         owner_node(info.owner), ("StorageClass", "STANDARD")]  # fmt: skip
    if upload.checksum_algorithm:
        nodes.append(("ChecksumAlgorithm", upload.checksum_algorithm))
    for p in parts:
        item: list[Node] = [("PartNumber", p.number), ("LastModified", iso_time(p.last_modified)), ("ETag", p.etag),
                            ("Size", p.size)]  # fmt: skip
        if p.checksum_algorithm:
            item.append((f"Checksum{p.checksum_algorithm}", p.checksum))
        nodes.append(("Part", item))
    return xml(xml_document("ListPartsResult", nodes))


MULTIPART_HANDLERS = {
    "CreateMultipartUpload": create_upload,
    "UploadPart": upload_part,
    "CompleteMultipartUpload": complete_upload,
    "AbortMultipartUpload": abort_upload,
    "ListParts": list_parts,
}
