"""Which S3 operation a path-style request is (docs/s3.md, "Operations").

``/`` is the service, ``/{bucket}`` a bucket, ``/{bucket}/{key}`` an object; sub-resources
are query flags. The path is percent-decoded exactly once: ``//``, a trailing ``/``, ``.``
and ``..`` stay part of the key. The resolver (what to authorize) and the handlers (what
to do) both start from the one ``Route``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from .errors import S3Error

__all__ = ["Route", "parse_query", "route"]

MAX_QUERY_PARAMS = 64

# Bucket sub-resources this service does not implement: answered 501 NotImplemented, never
# mistaken for a listing or a CreateBucket.
_UNSUPPORTED_BUCKET = frozenset({
    "accelerate", "acl", "analytics", "cors", "encryption", "intelligent-tiering", "inventory", "lifecycle",
    "logging", "metrics", "notification", "object-lock", "ownershipControls", "publicAccessBlock",
    "replication", "requestPayment", "tagging", "versioning", "versions", "website", "session",
    "metadataTable", "abac",
})  # fmt: skip
_UNSUPPORTED_OBJECT = frozenset({
    "acl", "tagging", "retention", "legal-hold", "torrent", "restore", "select", "attributes", "renameObject",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Route:
    operation: str
    bucket: str = ""
    key: str = ""


def parse_query(query_string: str) -> dict[str, str]:
    """The query's parameters (first value of each); flags without a value map to ""."""
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, strict_parsing=False, errors="strict",
                          max_num_fields=MAX_QUERY_PARAMS)  # fmt: skip
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", "The query string is not valid.") from None
    params: dict[str, str] = {}
    for k, v in pairs:
        params.setdefault(k, v)
    return params


def split_path(raw_path: str) -> tuple[str, str]:
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI", "Couldn't parse the specified URI.", status=400) from None
    if not path.startswith("/"):
        raise S3Error("InvalidURI", "Couldn't parse the specified URI.", status=400)
    bucket, _, key = path[1:].partition("/")
    return bucket, key


def route(method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Route:
    bucket, key = split_path(raw_path)
    if not bucket:
        if method == "GET":
            return Route("ListBuckets")
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="SERVICE")
    if not key:
        return Route(_bucket_operation(method, query), bucket)
    return Route(_object_operation(method, query, headers), bucket, key)


def _bucket_operation(method: str, q: Mapping[str, str]) -> str:
    unsupported = _UNSUPPORTED_BUCKET.intersection(q)
    if unsupported:
        raise S3Error("NotImplemented", f"This service does not implement the {sorted(unsupported)[0]} "
                      "sub-resource.")  # fmt: skip
    if method == "GET":
        if "policy" in q:
            return "GetBucketPolicy"
        if "policyStatus" in q:
            return "GetBucketPolicyStatus"
        if "location" in q:
            return "GetBucketLocation"
        if "uploads" in q:
            return "ListMultipartUploads"
        return "ListObjectsV2" if q.get("list-type") == "2" else "ListObjects"
    if method == "PUT":
        return "PutBucketPolicy" if "policy" in q else "CreateBucket"
    if method == "DELETE":
        return "DeleteBucketPolicy" if "policy" in q else "DeleteBucket"
    if method == "HEAD":
        return "HeadBucket"
    if method == "POST" and "delete" in q:
        return "DeleteObjects"
    raise S3Error("MethodNotAllowed", Method=method, ResourceType="BUCKET")


def _object_operation(method: str, q: Mapping[str, str], headers: Mapping[str, str]) -> str:
    unsupported = _UNSUPPORTED_OBJECT.intersection(q)
    if unsupported or "versionId" in q:
        name = sorted(unsupported)[0] if unsupported else "versionId"
        raise S3Error("NotImplemented", f"This service does not implement the {name} sub-resource.")
    if method == "GET":
        return "ListParts" if "uploadId" in q else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        if "uploadId" in q or "partNumber" in q:
            if "x-amz-copy-source" in headers:
                raise S3Error("NotImplemented", "This service does not implement UploadPartCopy.")
            return "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
    raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")
