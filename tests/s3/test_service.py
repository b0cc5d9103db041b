"""The S3 service's own behaviour, with a stand-in authorizer at the edge (every check allowed
unless its action is listed as denied): the wire format, the checks of bodies and checksums,
listings, multipart rules, names. Real boto3 over a loopback socket; raw HTTP where a client
would not send what is tested."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google_crc32c
import httpx
import pytest
from botocore.exceptions import ClientError

from iamd.s3 import S3Settings
from tests.api.conftest import failure

from .server import FakeAuthorizer, RunningS3, running_s3

SMALL_PARTS = S3Settings(min_part_size=1)


@pytest.fixture(scope="module")
def fake() -> FakeAuthorizer:
    return FakeAuthorizer()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, fake: FakeAuthorizer) -> Iterator[RunningS3]:
    with running_s3(tmp_path_factory.mktemp("s3"), fake, SMALL_PARTS) as running:
        yield running


@pytest.fixture(scope="module")
def s3(service: RunningS3) -> Any:
    client = service.client()
    client.create_bucket(Bucket="unit")
    return client


def raw(service: RunningS3, method: str, path: str, body: bytes = b"", **headers: str) -> httpx.Response:
    """A request the service receives as sent (the stand-in authorizer ignores the signature)."""
    return httpx.request(method, service.endpoint + path, content=body, headers=headers)


def code(response: httpx.Response) -> str:
    text = response.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


# -- names and keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../../etc/passwd", "a//b", "./x/", "..", "sp ace+plus%25", "ü/日本", "k" * 1024])
def test_any_key_is_an_object_of_its_bucket_never_a_path(s3: Any, service: RunningS3, key: str) -> None:
    s3.put_object(Bucket="unit", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="unit", Key=key)["Body"].read() == key.encode()
    assert key in [o["Key"] for o in s3.list_objects_v2(Bucket="unit", Prefix=key[:1])["Contents"]]
    for path in service.data_dir.rglob("*"):
        assert path.resolve().is_relative_to(service.data_dir.resolve())
    s3.delete_object(Bucket="unit", Key=key)


def test_a_key_longer_than_1024_bytes_is_refused(s3: Any) -> None:
    with pytest.raises(ClientError) as long:
        s3.put_object(Bucket="unit", Key="é" * 513, Body=b"")
    assert failure(long)[:2] == (400, "KeyTooLongError")


@pytest.mark.parametrize("name", ["ab", "Upper", "-dash", "dots..dots", "192.168.1.1", "xn--punycode", "a" * 64])
def test_bucket_names_follow_s3s_rules(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as bad:
        s3.create_bucket(Bucket=name)
    assert failure(bad)[:2] == (400, "InvalidBucketName")


def test_creating_a_bucket_twice(s3: Any) -> None:
    with pytest.raises(ClientError) as twice:
        s3.create_bucket(Bucket="unit")
    assert failure(twice)[:2] == (409, "BucketAlreadyOwnedByYou")
    other = FakeAuthorizer(account="999988887777")
    assert other.account != FakeAuthorizer().account


def test_a_bucket_in_another_region(s3: Any) -> None:
    s3.create_bucket(Bucket="unit-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket="unit-eu")["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_location(Bucket="unit")["LocationConstraint"] is None
    assert s3.head_bucket(Bucket="unit-eu")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    s3.delete_bucket(Bucket="unit-eu")
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket="unit-eu")
    assert failure(gone)[:2] == (404, "404")


# -- bodies and checksums ---------------------------------------------------------------------------


def test_a_crc32c_checksum_header(service: RunningS3, s3: Any) -> None:
    """botocore computes CRC32C only with awscrt installed; the header is what it then sends."""
    value = base64.b64encode(google_crc32c.Checksum(b"hello world").digest()).decode()
    sent = raw(service, "PUT", "/unit/crc32c", b"hello world", **{"x-amz-checksum-crc32c": value,
               "x-amz-sdk-checksum-algorithm": "CRC32C", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})  # fmt: skip
    assert sent.status_code == 200 and sent.headers["x-amz-checksum-crc32c"] == value
    assert s3.get_object(Bucket="unit", Key="crc32c", ChecksumMode="ENABLED")["ChecksumCRC32C"] == value
    bad = raw(service, "PUT", "/unit/crc32c", b"hello world!", **{"x-amz-checksum-crc32c": value})
    assert bad.status_code == 400 and code(bad) == "BadDigest"


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_checksummed_uploads_are_verified_and_returned(s3: Any, algorithm: str) -> None:
    put = s3.put_object(Bucket="unit", Key=f"sum-{algorithm}", Body=b"hello world", ChecksumAlgorithm=algorithm)
    expected = {
        "CRC32": base64.b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode(),
        "SHA1": base64.b64encode(hashlib.sha1(b"hello world").digest()).decode(),
        "SHA256": base64.b64encode(hashlib.sha256(b"hello world").digest()).decode(),
    }[algorithm]
    assert put[f"Checksum{algorithm}"] == expected
    got = s3.get_object(Bucket="unit", Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == expected and got["Body"].read() == b"hello world"


def test_a_wrong_checksum_or_content_md5_is_bad_digest(s3: Any) -> None:
    with pytest.raises(ClientError) as crc:
        s3.put_object(Bucket="unit", Key="bad", Body=b"hello", ChecksumCRC32="AAAAAA==")
    assert failure(crc) == (400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.")
    with pytest.raises(ClientError) as md5:
        s3.put_object(Bucket="unit", Key="bad", Body=b"hello", ContentMD5=base64.b64encode(b"0" * 16).decode())
    assert failure(md5)[:2] == (400, "BadDigest")
    assert "Contents" not in s3.list_objects_v2(Bucket="unit", Prefix="bad")


def test_a_body_that_is_not_the_signed_hash_is_refused(service: RunningS3) -> None:
    sent = raw(
        service, "PUT", "/unit/swapped", b"evil", **{"x-amz-content-sha256": hashlib.sha256(b"good").hexdigest()}
    )
    assert sent.status_code == 400 and code(sent) == "XAmzContentSHA256Mismatch"


def _aws_chunked(data: bytes, trailer: str, chunk: int = 4) -> bytes:
    out = b""
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + trailer.encode() + b"\r\n\r\n"


def test_an_aws_chunked_body_with_a_checksum_trailer(service: RunningS3, s3: Any) -> None:
    """What botocore sends over https by default (STREAMING-UNSIGNED-PAYLOAD-TRAILER)."""
    crc = base64.b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode()
    headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding": "aws-chunked",
               "x-amz-decoded-content-length": "11", "x-amz-trailer": "x-amz-checksum-crc32",
               "x-amz-sdk-checksum-algorithm": "CRC32"}  # fmt: skip
    ok = raw(service, "PUT", "/unit/chunked", _aws_chunked(b"hello world", f"x-amz-checksum-crc32:{crc}"), **headers)
    assert ok.status_code == 200 and ok.headers["x-amz-checksum-crc32"] == crc
    got = s3.get_object(Bucket="unit", Key="chunked")
    assert got["Body"].read() == b"hello world" and "ContentEncoding" not in got
    bad = raw(
        service, "PUT", "/unit/chunked2", _aws_chunked(b"hello world", "x-amz-checksum-crc32:AAAAAA=="), **headers
    )
    assert bad.status_code == 400 and code(bad) == "BadDigest"
    short = raw(service, "PUT", "/unit/chunked3", _aws_chunked(b"hello", f"x-amz-checksum-crc32:{crc}"), **headers)
    assert short.status_code == 400 and code(short) == "IncompleteBody"


def test_signed_chunks_are_not_implemented(service: RunningS3) -> None:
    sent = raw(service, "PUT", "/unit/signed-chunks", b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n",
               **{"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})  # fmt: skip
    assert sent.status_code == 501 and code(sent) == "NotImplemented"


def test_an_object_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    with running_s3(tmp_path, FakeAuthorizer(), S3Settings(max_object_size=10)) as small:
        client = small.client()
        client.create_bucket(Bucket="tiny")
        with pytest.raises(ClientError) as large:
            client.put_object(Bucket="tiny", Key="k", Body=b"x" * 11)
        assert failure(large)[:2] == (400, "EntityTooLarge")


# -- reads ------------------------------------------------------------------------------------------


def test_ranges_and_preconditions(s3: Any) -> None:
    etag = s3.put_object(Bucket="unit", Key="digits", Body=b"0123456789")["ETag"]
    assert etag == '"' + hashlib.md5(b"0123456789").hexdigest() + '"'
    part = s3.get_object(Bucket="unit", Key="digits", Range="bytes=2-4")
    assert part["Body"].read() == b"234" and part["ContentRange"] == "bytes 2-4/10"
    assert s3.get_object(Bucket="unit", Key="digits", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket="unit", Key="digits", Range="bytes=7-")["Body"].read() == b"789"
    with pytest.raises(ClientError) as beyond:
        s3.get_object(Bucket="unit", Key="digits", Range="bytes=10-20")
    assert failure(beyond)[:2] == (416, "InvalidRange")
    with pytest.raises(ClientError) as mismatch:
        s3.get_object(Bucket="unit", Key="digits", IfMatch='"nope"')
    assert failure(mismatch)[:2] == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as unchanged:
        s3.get_object(Bucket="unit", Key="digits", IfNoneMatch=etag)
    assert failure(unchanged)[0] == 304
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket="unit", Key="digits", Body=b"x", IfNoneMatch="*")
    assert failure(exists)[:2] == (412, "PreconditionFailed")


def test_metadata_content_type_and_copy(s3: Any) -> None:
    s3.put_object(Bucket="unit", Key="meta", Body=b"{}", ContentType="application/json", Metadata={"team": "red"})
    head = s3.head_object(Bucket="unit", Key="meta")
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"team": "red"}
    copied = s3.copy_object(Bucket="unit", Key="meta-copy", CopySource={"Bucket": "unit", "Key": "meta"})
    assert copied["CopyObjectResult"]["ETag"] == head["ETag"]
    assert s3.head_object(Bucket="unit", Key="meta-copy")["Metadata"] == {"team": "red"}
    with pytest.raises(ClientError) as itself:
        s3.copy_object(Bucket="unit", Key="meta", CopySource={"Bucket": "unit", "Key": "meta"})
    assert failure(itself)[:2] == (400, "InvalidRequest")


def test_acls_other_than_the_owners_are_not_supported(s3: Any) -> None:
    with pytest.raises(ClientError) as acl:
        s3.put_object(Bucket="unit", Key="public", Body=b"", ACL="public-read")
    assert failure(acl)[:2] == (400, "AccessControlListNotSupported")
    s3.put_object(Bucket="unit", Key="owned", Body=b"", ACL="bucket-owner-full-control")


# -- listings ---------------------------------------------------------------------------------------


def test_listing_with_delimiter_pages_and_url_encoding(service: RunningS3, s3: Any) -> None:
    s3.create_bucket(Bucket="listing")
    keys = ["a/1", "a/2", "b/x/1", "b/y", "c", "d e+f", "z/last"]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=b"")
    everything = s3.list_objects_v2(Bucket="listing")
    assert [o["Key"] for o in everything["Contents"]] == keys and everything["KeyCount"] == 7
    rolled = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/", "b/", "z/"]
    assert [o["Key"] for o in rolled["Contents"]] == ["c", "d e+f"]
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="listing", Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    seen = []
    for page in pages:
        assert page["KeyCount"] <= 2
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])] + [o["Key"] for o in page.get("Contents", [])]
    assert sorted(seen) == ["a/", "b/", "c", "d e+f", "z/"]
    v1 = s3.get_paginator("list_objects").paginate(Bucket="listing", PaginationConfig={"PageSize": 3})
    assert [o["Key"] for page in v1 for o in page["Contents"]] == keys
    assert s3.list_objects_v2(Bucket="listing", StartAfter="b/y")["Contents"][0]["Key"] == "c"
    with pytest.raises(ClientError) as token:
        s3.list_objects_v2(Bucket="listing", ContinuationToken="not-a-token")
    assert failure(token) == (400, "InvalidArgument", "The continuation token provided is incorrect")
    encoded = raw(service, "GET", "/listing?list-type=2&prefix=d&encoding-type=url")
    assert "<Key>d%20e%2Bf</Key>" in encoded.text and "<EncodingType>url</EncodingType>" in encoded.text
    s3.get_paginator("list_objects_v2")  # the bucket stays for the next tests


# -- multipart --------------------------------------------------------------------------------------


def test_multipart_rules(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket="unit", Key="mp", ChecksumAlgorithm="CRC32")["UploadId"]
    one = s3.upload_part(Bucket="unit", Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * 10)
    two = s3.upload_part(Bucket="unit", Key="mp", UploadId=upload, PartNumber=2, Body=b"b" * 5)
    assert one["ChecksumCRC32"] and [
        p["PartNumber"] for p in s3.list_parts(Bucket="unit", Key="mp", UploadId=upload)["Parts"]
    ] == [1, 2]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="unit")["Uploads"]] == [upload]
    parts = [{"PartNumber": 2, "ETag": two["ETag"]}, {"PartNumber": 1, "ETag": one["ETag"]}]
    with pytest.raises(ClientError) as order:
        s3.complete_multipart_upload(Bucket="unit", Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert failure(order)[:2] == (400, "InvalidPartOrder")
    with pytest.raises(ClientError) as wrong:
        s3.complete_multipart_upload(Bucket="unit", Key="mp", UploadId=upload,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"feed"'}]})  # fmt: skip
    assert failure(wrong)[:2] == (400, "InvalidPart")
    done = s3.complete_multipart_upload(Bucket="unit", Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": parts[::-1]})  # fmt: skip
    md5s = hashlib.md5(hashlib.md5(b"a" * 10).digest() + hashlib.md5(b"b" * 5).digest()).hexdigest()
    assert done["ETag"] == f'"{md5s}-2"'
    assert s3.get_object(Bucket="unit", Key="mp")["Body"].read() == b"a" * 10 + b"b" * 5
    with pytest.raises(ClientError) as finished:
        s3.upload_part(Bucket="unit", Key="mp", UploadId=upload, PartNumber=3, Body=b"c")
    assert failure(finished)[:2] == (404, "NoSuchUpload")
    aborted = s3.create_multipart_upload(Bucket="unit", Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket="unit", Key="gone", UploadId=aborted)
    with pytest.raises(ClientError) as no_upload:
        s3.abort_multipart_upload(Bucket="unit", Key="gone", UploadId="../../escape")
    assert failure(no_upload)[:2] == (404, "NoSuchUpload")


def test_parts_smaller_than_the_minimum_are_entity_too_small(tmp_path: Path) -> None:
    with running_s3(tmp_path, FakeAuthorizer()) as real_limits:
        client = real_limits.client()
        client.create_bucket(Bucket="parts")
        upload = client.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
        etags = [client.upload_part(Bucket="parts", Key="k", UploadId=upload, PartNumber=n, Body=b"x")["ETag"]
                 for n in (1, 2)]  # fmt: skip
        with pytest.raises(ClientError) as small:
            client.complete_multipart_upload(Bucket="parts", Key="k", UploadId=upload, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]})  # fmt: skip
        assert failure(small)[:2] == (400, "EntityTooSmall")
        client.upload_fileobj(io.BytesIO(b"y" * (9 << 20)), "parts", "ok")  # 8 MiB + 1 MiB: fine
        assert client.head_object(Bucket="parts", Key="ok")["ContentLength"] == 9 << 20


# -- bucket policies --------------------------------------------------------------------------------

_STMT = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/x"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::unit/*"}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Principal": None}, "Missing required field Principal"),
        ({"Resource": "*"}, "Policy has invalid resource"),
        ({"Resource": "arn:aws:s3:::other-bucket/*"}, "Policy has invalid resource"),
        ({"Action": "iam:CreateUser"}, "Policy has invalid action"),
        ({"Action": "s3:GetObjekt"}, "Policy has invalid action"),
        ({"Action": "s3:ListBucket"}, "Action does not apply to any resource(s) in statement"),
        ({"Condition": {"StringEquals": {"s3:nosuchkey": "x"}}}, "Policy has an invalid condition key"),
        ({"Principal": {"AWS": "not-a-principal"}}, "Invalid principal in policy"),
    ],
)
def test_bucket_policies_are_validated_in_s3s_words(s3: Any, change: dict[str, Any], message: str) -> None:
    import json

    statement = {k: v for k, v in {**_STMT, **change}.items() if v is not None}
    with pytest.raises(ClientError) as bad:
        s3.put_bucket_policy(Bucket="unit", Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert failure(bad) == (400, "MalformedPolicy", message)


def test_public_policies_are_blocked_and_a_missing_policy_is_404(s3: Any) -> None:
    import json

    public = {**_STMT, "Principal": "*"}
    with pytest.raises(ClientError) as blocked:
        s3.put_bucket_policy(Bucket="unit", Policy=json.dumps({"Version": "2012-10-17", "Statement": [public]}))
    assert failure(blocked)[:2] == (403, "AccessDenied") and "BlockPublicPolicy" in failure(blocked)[2]
    restricted = {**public, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}
    s3.put_bucket_policy(Bucket="unit", Policy=json.dumps({"Version": "2012-10-17", "Statement": [restricted]}))
    assert s3.get_bucket_policy_status(Bucket="unit")["PolicyStatus"]["IsPublic"] is False
    s3.delete_bucket_policy(Bucket="unit")
    with pytest.raises(ClientError) as none:
        s3.get_bucket_policy(Bucket="unit")
    assert failure(none)[:2] == (404, "NoSuchBucketPolicy")


# -- authorization comes from the authorizer only ---------------------------------------------------


def test_what_the_service_asks_and_a_denial(tmp_path: Path) -> None:
    fake = FakeAuthorizer(denied={"s3:PutObject"})
    with running_s3(tmp_path, fake) as svc:
        client = svc.client()
        client.create_bucket(Bucket="asked")
        fake.asked.clear()
        client.list_objects_v2(Bucket="asked", Prefix="p/", Delimiter="/", MaxKeys=5)
        ((_, checks),) = fake.asked
        (check,) = checks
        assert (check.action, check.resource) == ("s3:ListBucket", "arn:aws:s3:::asked")
        assert check.resource_account == fake.account and check.resource_policy is None
        assert check.context is not None
        assert {k: check.context[k] for k in ("s3:prefix", "s3:delimiter", "s3:max-keys", "aws:SourceIp",
                                               "aws:SecureTransport")} == {
            "s3:prefix": "p/", "s3:delimiter": "/", "s3:max-keys": "5", "aws:SourceIp": "127.0.0.1",
            "aws:SecureTransport": "false"}  # fmt: skip
        with pytest.raises(ClientError) as denied:
            client.put_object(Bucket="asked", Key="k", Body=b"x")
        assert failure(denied)[:2] == (403, "AccessDenied")
        assert "Contents" not in client.list_objects_v2(Bucket="asked")
