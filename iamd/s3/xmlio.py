"""S3's XML: the few request bodies this service reads, and the responses it writes
(botocore's S3 model names every element; docs/s3.md, "Wire format").

Request bodies are parsed with the standard library's expat parser (no external entities;
expat ≥ 2.4.1 refuses entity expansion attacks) after their size was bounded by the reader.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from email.utils import formatdate
from xml.sax.saxutils import escape

from .errors import S3Error

__all__ = ["NS", "http_date", "iso_time", "parse_complete", "parse_create_bucket", "parse_delete", "xml_document"]

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DELETE_KEYS = 1000


def iso_time(epoch: float) -> str:
    """``2024-05-01T12:00:00.000Z``: S3's XML timestamps."""
    whole = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((epoch - whole) * 1000):03d}Z"


def http_date(epoch: float) -> str:
    """``Wed, 01 May 2024 12:00:00 GMT``: S3's header timestamps."""
    return formatdate(int(epoch), usegmt=True)


Node = tuple[str, "str | int | bool | list[Node] | None"]


def _render(nodes: Iterable[Node], out: list[str]) -> None:
    for name, value in nodes:
        if value is None:
            continue
        if isinstance(value, list):
            out.append(f"<{name}>")
            _render(value, out)
            out.append(f"</{name}>")
        elif isinstance(value, bool):
            out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
        else:
            out.append(f"<{name}>{escape(str(value))}</{name}>")


def xml_document(root: str, nodes: Iterable[Node]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<{root} xmlns="{NS}">']
    _render(nodes, out)
    out.append(f"</{root}>")
    return "".join(out).encode()


def _parse(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise S3Error("MalformedXML")
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise S3Error("MalformedXML") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name]


def _text(element: ET.Element, name: str) -> str | None:
    found = _children(element, name)
    return (found[0].text or "") if found else None


def parse_create_bucket(body: bytes) -> str | None:
    """``CreateBucketConfiguration``'s ``LocationConstraint`` (None: none given)."""
    root = _parse(body)
    if _local(root.tag) != "CreateBucketConfiguration":
        raise S3Error("MalformedXML")
    value = _text(root, "LocationConstraint")
    return value or None


def parse_delete(body: bytes) -> tuple[list[str], bool]:
    """``Delete``: the keys (at most 1,000) and ``Quiet``."""
    root = _parse(body)
    if _local(root.tag) != "Delete":
        raise S3Error("MalformedXML")
    objects = _children(root, "Object")
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML")
    keys = []
    for obj in objects:
        key = _text(obj, "Key")
        if not key:
            raise S3Error("MalformedXML")
        if _text(obj, "VersionId"):
            raise S3Error("NotImplemented", "Object versions are not implemented.")
        keys.append(key)
    return keys, (_text(root, "Quiet") or "").strip().lower() == "true"


def parse_complete(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """``CompleteMultipartUpload``: (part number, ETag without quotes, checksums) per part."""
    root = _parse(body)
    if _local(root.tag) != "CompleteMultipartUpload":
        raise S3Error("MalformedXML")
    parts = []
    for part in _children(root, "Part"):
        number, etag = _text(part, "PartNumber"), _text(part, "ETag")
        if number is None or etag is None or not number.strip().isdigit() or len(number.strip()) > 5:
            raise S3Error("MalformedXML")
        checksums = {}
        for alg in ("CRC32", "CRC32C", "SHA1", "SHA256"):
            value = _text(part, f"Checksum{alg}")
            if value:
                checksums[alg] = value
        parts.append((int(number), etag.strip().strip('"'), checksums))
    if not parts:
        raise S3Error("MalformedXML")
    return parts
