"""What each S3 request asks iamd: actions, resource ARNs, the bucket policy, the bucket
owner's account and the condition keys only this service knows (docs/s3.md, "Authorization").

The resolver runs before the request reaches the service (``iamd.authz.asgi``'s ``resolve``):
it reads the bucket's owner and policy as stored, and never the request's body except the two
small bodies a check depends on (the keys of DeleteObjects, the Region of CreateBucket), which
``prefetch`` buffered for it; the service checks later that those bytes are what the client
signed.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote

from iamd.authz.client import Check
from iamd.authz.input import CALLER

from .errors import S3Error
from .route import Route, parse_query, route
from .store import Store
from .xmlio import parse_create_bucket, parse_delete

__all__ = ["Resolver", "bucket_arn", "object_arn", "request_headers"]

ROUTE_KEY = "iamd.s3.route"
ERROR_KEY = "iamd.s3.error"
BODY_KEY = "iamd.s3.body"

# operation -> (action, on the object (True) or the bucket (False)); Amazon S3 User Guide,
# "Actions, resources, and condition keys for Amazon S3"
_ACTIONS: dict[str, tuple[str, bool]] = {
    "CreateBucket": ("s3:CreateBucket", False),
    "DeleteBucket": ("s3:DeleteBucket", False),
    "HeadBucket": ("s3:ListBucket", False),
    "GetBucketLocation": ("s3:GetBucketLocation", False),
    "ListObjects": ("s3:ListBucket", False),
    "ListObjectsV2": ("s3:ListBucket", False),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", False),
    "GetBucketPolicy": ("s3:GetBucketPolicy", False),
    "PutBucketPolicy": ("s3:PutBucketPolicy", False),
    "DeleteBucketPolicy": ("s3:DeleteBucketPolicy", False),
    "GetBucketPolicyStatus": ("s3:GetBucketPolicyStatus", False),
    "GetObject": ("s3:GetObject", True),
    "HeadObject": ("s3:GetObject", True),
    "PutObject": ("s3:PutObject", True),
    "CopyObject": ("s3:PutObject", True),
    "DeleteObject": ("s3:DeleteObject", True),
    "DeleteObjects": ("s3:DeleteObject", True),  # one check per key
    "CreateMultipartUpload": ("s3:PutObject", True),
    "UploadPart": ("s3:PutObject", True),
    "CompleteMultipartUpload": ("s3:PutObject", True),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", True),
    "ListParts": ("s3:ListMultipartUploadParts", True),
}
# request header -> condition key, for the operations that write objects or create buckets
_HEADER_KEYS = {
    "x-amz-acl": "s3:x-amz-acl",
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-storage-class": "s3:x-amz-storage-class",
    "x-amz-metadata-directive": "s3:x-amz-metadata-directive",
    "x-amz-object-ownership": "s3:x-amz-object-ownership",
}
_LIST_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}


def bucket_arn(bucket: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def object_arn(bucket: str, key: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}/{key}"


def request_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers, names lower-case (a repeated header: its values joined by commas)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def route_of(scope: MutableMapping[str, Any]) -> Route:
    """The request's route, worked out once per request and kept in the scope."""
    found = scope.get(ROUTE_KEY)
    if isinstance(found, Route):
        return found
    raw = bytes(scope.get("raw_path") or scope.get("path", "/").encode()).decode("latin-1").partition("?")[0]
    query = parse_query(bytes(scope.get("query_string", b"")).decode("latin-1"))
    found = route(str(scope.get("method", "GET")), raw, query, request_headers(scope))
    scope[ROUTE_KEY] = found
    return found


class Resolver:
    """``resolve(scope, body)`` for ``AuthorizationMiddleware``."""

    def __init__(self, store: Store, partition: str = "aws") -> None:
        self.store = store
        self.partition = partition  # of every resource ARN (docs/s3.md, "Partitions")

    def __call__(self, scope: MutableMapping[str, Any], body: bytes | None) -> Sequence[Check]:
        try:
            return self.checks(scope)
        except S3Error as error:
            # A request the service would refuse anyway (a bad path, a sub-resource it does not
            # implement): still authorized first — as S3, authentication comes before
            # validation — against the bucket or the service, then refused by the service.
            scope[ERROR_KEY] = error
            route = scope.get(ROUTE_KEY)
            if isinstance(route, Route) and route.operation in _ACTIONS and _plausible(route.bucket):
                action, on_object = _ACTIONS[route.operation]
                resource = (
                    object_arn(route.bucket, route.key, self.partition)
                    if on_object
                    else bucket_arn(route.bucket, self.partition)
                )
                bucket = self.store.bucket(route.bucket)
                owner = bucket.owner if bucket is not None else None
                policy = self.store.policy(route.bucket) if bucket is not None else None
                return [Check(action, resource, policy, owner, None, self.common(scope, owner))]
            return [Check("s3:ListAllMyBuckets", "*", context=self.common(scope, None))]

    def common(self, scope: Mapping[str, Any], owner: str | None) -> dict[str, str | list[str]]:
        headers = request_headers(scope)
        client = scope.get("client")
        context: dict[str, str | list[str]] = {
            "aws:SecureTransport": "true" if scope.get("scheme") == "https" else "false",
            "s3:signatureversion": "AWS4-HMAC-SHA256",
            "s3:authType": "REST-QUERY-STRING" if b"X-Amz-Signature=" in bytes(scope.get("query_string", b""))
            else "REST-HEADER",
        }  # fmt: skip
        if client:
            context["aws:SourceIp"] = str(client[0])
        if "x-amz-content-sha256" in headers:
            context["s3:x-amz-content-sha256"] = headers["x-amz-content-sha256"]
        if owner is not None:
            context["s3:ResourceAccount"] = owner
        return context

    def checks(self, scope: MutableMapping[str, Any]) -> list[Check]:
        r = route_of(scope)
        if r.operation == "ListBuckets":
            return [Check("s3:ListAllMyBuckets", "*", context=self.common(scope, None))]
        bucket = self.store.bucket(r.bucket) if _plausible(r.bucket) else None
        owner = bucket.owner if bucket is not None else None
        policy = self.store.policy(r.bucket) if bucket is not None else None
        context = self.common(scope, owner)
        headers = request_headers(scope)
        query = parse_query(bytes(scope.get("query_string", b"")).decode("latin-1"))
        action, on_object = _ACTIONS[r.operation]

        def check(action: str, resource: str, extra: Mapping[str, str | list[str]] | None = None) -> Check:
            return Check(action, resource, policy, owner, None, {**context, **(extra or {})})

        if r.operation in ("ListObjects", "ListObjectsV2"):
            keys = {key: query[param] for param, key in _LIST_KEYS.items() if param in query}
            return [check(action, bucket_arn(r.bucket, self.partition), keys)]
        if r.operation == "CreateBucket":
            extra = {key: headers[h] for h, key in _HEADER_KEYS.items() if h in headers}
            body = scope.get(BODY_KEY)
            region = parse_create_bucket(body) if isinstance(body, bytes) and body.strip() else None
            extra["s3:LocationConstraint"] = region or "us-east-1"
            if bucket is None:  # the new bucket is the creating account's (Amazon S3 User Guide, "Bucket ownership")
                return [Check(action, bucket_arn(r.bucket, self.partition), None, CALLER, None, {**context, **extra})]
            return [check(action, bucket_arn(r.bucket, self.partition), extra)]
        if r.operation == "DeleteObjects":
            body = scope.get(BODY_KEY)
            names, _ = parse_delete(body if isinstance(body, bytes) else b"")
            return [check("s3:DeleteObject", object_arn(r.bucket, name, self.partition)) for name in names]
        if not on_object:
            return [check(action, bucket_arn(r.bucket, self.partition))]
        extra = {key: headers[h] for h, key in _HEADER_KEYS.items() if h in headers}
        found = [check(action, object_arn(r.bucket, r.key, self.partition), extra)]
        if r.operation == "CopyObject":
            found.append(self.copy_source(scope, headers["x-amz-copy-source"]))
            found[0] = check(action, object_arn(r.bucket, r.key, self.partition),
                             {**extra, "s3:x-amz-copy-source": headers["x-amz-copy-source"]})  # fmt: skip
        missing = bucket is not None and self.store.object(r.bucket, r.key) is None
        if r.operation in ("GetObject", "HeadObject") and missing:
            # A missing key is 404 only to a caller who may list the bucket, else 403 (Amazon S3
            # API Reference, GetObject "Permissions"): ask, only when the key is missing.
            found.append(check("s3:ListBucket", bucket_arn(r.bucket, self.partition)))
        return found

    def copy_source(self, scope: Mapping[str, Any], header: str) -> Check:
        bucket, key = split_copy_source(header)
        source = self.store.bucket(bucket) if _plausible(bucket) else None
        owner = source.owner if source is not None else None
        policy = self.store.policy(bucket) if source is not None else None
        return Check(
            "s3:GetObject", object_arn(bucket, key, self.partition), policy, owner, None, self.common(scope, owner)
        )


def split_copy_source(header: str) -> tuple[str, str]:
    """``x-amz-copy-source``: ``/bucket/key`` or ``bucket/key``, URL-encoded (no version ids)."""
    source, _, version = header.partition("?")
    if version:
        raise S3Error("NotImplemented", "This service does not implement copying an object version.")
    bucket, _, key = unquote(source).lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                      ArgumentName="x-amz-copy-source", ArgumentValue=header[:1024])  # fmt: skip
    return bucket, key


def _plausible(bucket: str) -> bool:
    from .names import valid_bucket_name

    return valid_bucket_name(bucket)
