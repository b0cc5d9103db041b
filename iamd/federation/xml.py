"""Parsing untrusted XML: no DTD, no entity, no network, bounded size (XXE, billion laughs).

A document that declares a DOCTYPE is refused before it reaches the parser; the parser
itself resolves no entities and loads nothing, so nothing in the input can make it read a
file, reach the network or expand exponentially.
"""

from __future__ import annotations

import re

from lxml import etree

__all__ = ["UnsafeXml", "parse_untrusted"]

_DECLARATIONS = re.compile(rb"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


class UnsafeXml(ValueError):
    """Not well-formed, or carries a DTD / entity declaration."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )  # fmt: skip


def parse_untrusted(data: bytes) -> etree._Element:
    if _DECLARATIONS.search(data):
        raise UnsafeXml("DTDs and entity declarations are not accepted")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as e:
        raise UnsafeXml(f"not well-formed XML: {e.msg}") from None
    if root is None:
        raise UnsafeXml("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # e.g. a UTF-16 document the byte scan cannot read
        raise UnsafeXml("DTDs are not accepted")
    return root
