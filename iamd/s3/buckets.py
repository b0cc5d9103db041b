"""The bucket operations: ListBuckets, Create/Delete/HeadBucket, GetBucketLocation, ListObjects
(V1 and V2), ListMultipartUploads and the bucket policy (docs/s3.md, "Operations")."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from starlette.responses import Response

from .body import read_body
from .errors import S3Error
from .listing import decode_token, encode_token, list_page, url_encode
from .names import check_bucket_name
from .policy import is_public, validate_bucket_policy
from .request import S3Request
from .resolve import bucket_arn
from .xmlio import NS, Node, iso_time, parse_create_bucket, xml_document

__all__ = ["BUCKET_HANDLERS", "canonical_id", "xml"]

MAX_KEYS = 1000


def canonical_id(account: str) -> str:
    """A 64-hex canonical user id standing for an account (S3 shows owners so)."""
    return hashlib.sha256(f"iamd-s3:{account}".encode()).hexdigest()


def owner_node(account: str) -> Node:
    return ("Owner", [("ID", canonical_id(account)), ("DisplayName", account)])


def xml(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers=headers, media_type="application/xml")


def empty(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status, headers=headers)


async def list_buckets(req: S3Request) -> Response:
    account = req.account
    mine = [b for b in req.store.buckets() if b.owner == account]
    prefix = req.query.get("prefix", "")
    mine = [b for b in mine if b.name.startswith(prefix)]
    items: list[Node] = [
        ("Bucket", [("Name", b.name), ("CreationDate", iso_time(b.created)), ("BucketRegion", b.region)]) for b in mine
    ]
    nodes: list[Node] = [owner_node(account), ("Buckets", items)]
    if prefix:
        nodes.append(("Prefix", prefix))
    return xml(xml_document("ListAllMyBucketsResult", nodes))


async def create_bucket(req: S3Request) -> Response:
    name = req.route.bucket
    check_bucket_name(name)
    body = await read_body(req.receive, req.headers, max_size=64 * 1024)
    region = parse_create_bucket(body.data) if body.data.strip() else None
    acl = req.headers.get("x-amz-acl")
    grants = any(h.startswith("x-amz-grant-") for h in req.headers)
    if acl not in (None, "private", "bucket-owner-full-control") or grants:
        raise S3Error(
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            status=400,
        )
    if req.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        raise S3Error("NotImplemented", "This service does not implement S3 Object Lock.")
    ownership = req.headers.get("x-amz-object-ownership")
    if ownership not in (None, "BucketOwnerEnforced"):
        raise S3Error("NotImplemented", "This service supports only the BucketOwnerEnforced object ownership.")
    if region == "us-east-1":
        raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid",
                      LocationConstraint=region)  # fmt: skip
    req.store.create_bucket(name, req.account, region or "us-east-1")
    return empty(200, {"location": f"/{name}"})


async def delete_bucket(req: S3Request) -> Response:
    req.store.delete_bucket(req.route.bucket)
    return empty(204)


async def head_bucket(req: S3Request) -> Response:
    info = req.store.bucket(req.route.bucket)
    if info is None:
        raise S3Error("NoSuchBucket", BucketName=req.route.bucket)
    return empty(200, {"x-amz-bucket-region": info.region, "x-amz-access-point-alias": "false"})


async def get_bucket_location(req: S3Request) -> Response:
    info = req.store.require_bucket(req.route.bucket)
    region = "" if info.region == "us-east-1" else escape(info.region)  # us-east-1: an empty element
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{NS}">{region}</LocationConstraint>'
    return xml(text.encode())


def _listing_params(req: S3Request) -> tuple[str, str, int, bool]:
    encoding = req.query.get("encoding-type")
    if encoding not in (None, "url"):
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding[:32])  # fmt: skip
    max_keys = req.int_param("max-keys", MAX_KEYS, MAX_KEYS)
    return req.query.get("prefix", ""), req.query.get("delimiter", ""), max_keys, encoding == "url"


async def list_objects(req: S3Request) -> Response:
    req.store.require_bucket(req.route.bucket)
    v2 = req.route.operation == "ListObjectsV2"
    prefix, delimiter, max_keys, url = _listing_params(req)
    enc = url_encode if url else (lambda s: s)
    token = req.query.get("continuation-token")
    start_after = req.query.get("start-after", "")
    marker = req.query.get("marker", "")
    after = (decode_token(token) if token is not None else start_after) if v2 else marker
    objects = req.store.keys(req.route.bucket)
    page = list_page(objects, prefix, delimiter, after, max_keys)
    fetch_owner = not v2 or req.query.get("fetch-owner") == "true"
    owner = req.store.require_bucket(req.route.bucket).owner
    nodes: list[Node] = [("Name", req.route.bucket), ("Prefix", enc(prefix))]
    if v2:
        if token is not None:
            nodes.append(("ContinuationToken", token))
        if start_after:
            nodes.append(("StartAfter", enc(start_after)))
        nodes.append(("KeyCount", len(page.contents) + len(page.common_prefixes)))
    else:
        nodes.append(("Marker", enc(marker)))
    nodes.append(("MaxKeys", max_keys))
    if delimiter:
        nodes.append(("Delimiter", enc(delimiter)))
    if url:
        nodes.append(("EncodingType", "url"))
    nodes.append(("IsTruncated", page.truncated))
    if page.truncated:
        if v2:
            nodes.append(("NextContinuationToken", encode_token(page.last)))
        elif delimiter:
            nodes.append(("NextMarker", enc(page.last)))
    for o in page.contents:
        item: list[Node] = [("Key", enc(o.key)), ("LastModified", iso_time(o.last_modified)), ("ETag", o.etag),
                            ("Size", o.size), ("StorageClass", "STANDARD")]  # fmt: skip
        if o.checksum_algorithm:
            item.append(("ChecksumAlgorithm", o.checksum_algorithm))
        if fetch_owner:
            item.append(owner_node(owner))
        nodes.append(("Contents", item))
    for p in page.common_prefixes:
        nodes.append(("CommonPrefixes", [("Prefix", enc(p))]))
    return xml(xml_document("ListBucketResult", nodes))


async def list_uploads(req: S3Request) -> Response:
    info = req.store.require_bucket(req.route.bucket)
    prefix = req.query.get("prefix", "")
    max_uploads = req.int_param("max-uploads", 1000, 1000)
    key_marker = req.query.get("key-marker", "")
    uploads = [u for u in req.store.uploads(req.route.bucket) if u.key.startswith(prefix) and u.key > key_marker]
    truncated = len(uploads) > max_uploads
    uploads = uploads[:max_uploads]
    nodes: list[Node] = [("Bucket", req.route.bucket), ("KeyMarker", key_marker), ("UploadIdMarker", ""),
                         ("Prefix", prefix), ("MaxUploads", max_uploads), ("IsTruncated", truncated)]  # fmt: skip
    if truncated and uploads:
        nodes += [("NextKeyMarker", uploads[-1].key), ("NextUploadIdMarker", uploads[-1].upload_id)]
    for u in uploads:
        nodes.append(("Upload", [("Key", u.key), ("UploadId", u.upload_id),
                                 ("Initiator", [("ID", u.initiator), ("DisplayName", u.initiator)]),
                                 owner_node(info.owner), ("StorageClass", "STANDARD"),
                                 ("Initiated", iso_time(u.initiated))]))  # fmt: skip
    return xml(xml_document("ListMultipartUploadsResult", nodes))


def _owner_only(req: S3Request) -> None:
    """The bucket-policy operations belong to the bucket owner's account: another account's
    identity, even one allowed, gets 405 (Amazon S3 API Reference, PutBucketPolicy)."""
    info = req.store.require_bucket(req.route.bucket)
    if req.account != info.owner:
        raise S3Error("MethodNotAllowed", Method=req.method, ResourceType="BUCKETPOLICY")


async def put_bucket_policy(req: S3Request) -> Response:
    _owner_only(req)
    body = await read_body(req.receive, req.headers, max_size=64 * 1024)
    try:
        text = body.data.decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "This policy contains invalid Json") from None
    doc = validate_bucket_policy(text, req.route.bucket, req.settings.partition)
    if is_public(doc):
        # Block Public Access is on for every bucket of this service (docs/s3.md).
        arn = bucket_arn(req.route.bucket, req.settings.partition)
        raise S3Error("AccessDenied", f"User: {req.caller_arn} is not authorized to perform: s3:PutBucketPolicy on "
                      f'resource: "{arn}" because public policies are blocked by the '
                      "BlockPublicPolicy block public access setting.")  # fmt: skip
    req.store.put_policy(req.route.bucket, text)
    return empty(204)


async def get_bucket_policy(req: S3Request) -> Response:
    _owner_only(req)
    text = req.store.policy(req.route.bucket)
    if text is None:
        raise S3Error("NoSuchBucketPolicy", BucketName=req.route.bucket)
    return Response(text.encode("utf-8"), 200, media_type="application/json")


async def delete_bucket_policy(req: S3Request) -> Response:
    _owner_only(req)
    req.store.delete_policy(req.route.bucket)
    return empty(204)


async def get_bucket_policy_status(req: S3Request) -> Response:
    _owner_only(req)
    text = req.store.policy(req.route.bucket)
    if text is None:
        raise S3Error("NoSuchBucketPolicy", BucketName=req.route.bucket)
    public = is_public(validate_bucket_policy(text, req.route.bucket, req.settings.partition))
    return xml(xml_document("PolicyStatus", [("IsPublic", public)]))


BUCKET_HANDLERS = {
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "DeleteBucket": delete_bucket,
    "HeadBucket": head_bucket,
    "GetBucketLocation": get_bucket_location,
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects,
    "ListMultipartUploads": list_uploads,
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
}
