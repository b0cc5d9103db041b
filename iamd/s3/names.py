"""Bucket names, object keys, upload ids: what S3 accepts (docs/s3.md, "Names").

Every check is a plain loop or a linear regular expression on bounded input (no backtracking
on what a client sends).
"""

from __future__ import annotations

import re

from .errors import S3Error

__all__ = ["MAX_KEY_BYTES", "check_bucket_name", "check_key", "check_upload_id", "valid_bucket_name"]

MAX_KEY_BYTES = 1024
_BUCKET_CHARS = re.compile(r"[a-z0-9.\-]{3,63}")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def valid_bucket_name(name: str) -> bool:
    """Amazon S3 User Guide, "General purpose bucket naming rules"."""
    if not _BUCKET_CHARS.fullmatch(name):
        return False
    if not (name[0].isalnum() and name[-1].isalnum()):
        return False
    if ".." in name or _IPV4.fullmatch(name):
        return False
    return not name.startswith(_BAD_PREFIXES) and not name.endswith(_BAD_SUFFIXES)


def check_bucket_name(name: str) -> None:
    if not valid_bucket_name(name):
        raise S3Error("InvalidBucketName", BucketName=name[:255])


def check_key(key: str) -> None:
    """1 to 1,024 bytes of UTF-8; any characters, ``/``, ``.`` and ``..`` included (they are
    part of the key: keys never become paths, docs/s3.md "Storage")."""
    if not key:
        raise S3Error("InvalidArgument", "Key cannot be empty", ArgumentName="key")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", Size=str(size), MaxSizeAllowed=str(MAX_KEY_BYTES))


def check_upload_id(upload_id: str) -> None:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise S3Error("NoSuchUpload", UploadId=upload_id[:128])
