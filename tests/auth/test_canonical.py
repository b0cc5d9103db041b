"""Canonical forms (AWS "Create a signed AWS API request") against botocore's signer and by hand."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamd.auth.canonical import canonical_headers, canonical_query, canonical_uri, parse_query, uri_encode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=10&a=1", "a=1&a=10&a=2"),  # repeated names sort by encoded value
        ("a=b+c", "a=b%2Bc"),  # + is not a space in a URI
        ("a=b%20c&c=%7e&d=~&e=%2f", "a=b%20c&c=~&d=~&e=%2F"),
        ("flag&x=", "flag=&x="),
        ("a=%E2%98%83&%C3%BC=1", "%C3%BC=1&a=%E2%98%83"),
        ("a=%zz", "a=%25zz"),  # a malformed escape stays literal
        ("&&a=1&", "a=1"),
        ("a=1=2", "a=1%3D2"),
        ("B=1&a=1&_=1&-=1&.=1", "-=1&.=1&B=1&_=1&a=1"),  # byte order of the encoded names
    ],
)
def test_canonical_query(raw: str, expected: str) -> None:
    assert canonical_query(parse_query(raw)) == expected


def test_canonical_query_excludes_only_the_named_parameter() -> None:
    pairs = parse_query("X-Amz-Signature=abc&x-amz-signature=keep&a=1")
    assert canonical_query(pairs, exclude=b"X-Amz-Signature") == "a=1&x-amz-signature=keep"


def test_uri_encoding_is_rfc_3986() -> None:
    assert uri_encode(bytes(range(128))) == "".join(
        chr(b) if chr(b).isalnum() or chr(b) in "-_.~" else f"%{b:02X}" for b in range(128)
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a/./b/../c", "/a/c"),
        ("//a//b//", "/a/b/"),
        ("/..", "/"),
        ("/a%20b/~/", "/a%2520b/~/"),
        ("/ü", "/%C3%BC"),
    ],
)
def test_canonical_uri_matches_botocore(raw: str, expected: str) -> None:
    assert canonical_uri(raw) == expected
    signer = SigV4Auth(Credentials("a", "b"), "iam", "us-east-1")
    assert signer._normalize_url_path(raw) == expected


def test_canonical_headers_trim_fold_and_join() -> None:
    text = canonical_headers(["host", "x-a", "x-b"], [["h"], ["  a   b\t\tc  ", " d "], [""]])
    assert text == "host:h\nx-a:a b c,d\nx-b:\n"


def test_canonical_headers_agree_with_botocore() -> None:
    request = AWSRequest("GET", "https://iam.amazonaws.com/", headers={"X-A": " 1   2 ", "Host": "iam.amazonaws.com"})
    signer = SigV4Auth(Credentials("a", "b"), "iam", "us-east-1")
    expected = signer.canonical_headers(signer.headers_to_sign(request)) + "\n"
    assert canonical_headers(["host", "x-a"], [["iam.amazonaws.com"], [" 1   2 "]]) == expected


def test_canonical_headers_refuse_names_and_values_of_different_lengths() -> None:
    """As ``zip(strict=True)`` did: a name without its values, or values without a name, is an error."""
    with pytest.raises(ValueError):
        canonical_headers(["host", "x-a"], [["h"]])
    with pytest.raises(ValueError):
        canonical_headers(["host"], [["h"], ["a"]])
