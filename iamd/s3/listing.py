"""ListObjects and ListObjectsV2: prefixes, delimiters, pages (docs/s3.md, "Listing")."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from dataclasses import dataclass
from urllib.parse import quote

from .errors import S3Error
from .store import ObjectInfo

__all__ = ["Page", "decode_token", "encode_token", "list_page", "url_encode"]


@dataclass(frozen=True, slots=True)
class Page:
    contents: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    last: str  # the last key or common prefix returned (the next page starts after it)


def _utf8(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def list_page(objects: list[ObjectInfo], prefix: str, delimiter: str, after: str, max_keys: int) -> Page:
    """``objects`` in ascending UTF-8 byte order; keys after ``after`` (exclusive) under
    ``prefix``, each key sharing ``prefix + … + delimiter`` rolled up into one common prefix;
    keys and common prefixes together at most ``max_keys``."""
    contents: list[ObjectInfo] = []
    prefixes: list[str] = []
    keys = [_utf8(o.key) for o in objects]
    start = bisect.bisect_right(keys, _utf8(after)) if after else 0
    begin = bisect.bisect_left(keys, _utf8(prefix)) if prefix else 0
    last = ""
    i = max(start, begin)
    while i < len(objects):
        key = objects[i].key
        if not key.startswith(prefix):
            break
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if after and after == common:  # resuming after this common prefix: skip it whole
                    i = bisect.bisect_left(keys, _utf8(common) + b"\xff", i)
                    continue
                if len(contents) + len(prefixes) >= max_keys:
                    return Page(contents, prefixes, True, last)
                prefixes.append(common)
                last = common
                # skip every key under this common prefix
                i = bisect.bisect_left(keys, _utf8(common) + b"\xff", i)
                continue
        if len(contents) + len(prefixes) >= max_keys:
            return Page(contents, prefixes, True, last)
        contents.append(objects[i])
        last = key
        i += 1
    return Page(contents, prefixes, False, last)


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last}).encode()).decode()


def decode_token(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        after = data["after"]
        if not isinstance(after, str):
            raise TypeError
        return after
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token", ArgumentValue=token[:1024]) from None  # fmt: skip


def url_encode(value: str) -> str:
    """``encoding-type=url``: botocore decodes with ``unquote_plus``, so ``+`` must be ``%2B``."""
    return quote(value, safe="/")
