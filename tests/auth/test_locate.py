"""Locating the signature (AWS "AWS Signature Version 4 for API requests"): missing, doubled and malformed forms."""

from __future__ import annotations

from typing import Any

import pytest

from iamd.auth import SignedRequest, SigV4Verifier, carries_signature
from iamd.errors import AwsError, IncompleteSignature, MissingAuthenticationToken
from tests.auth.signing import NOW, lookup, replace_header, sign, user

GOOD = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240115/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"  # noqa: E501
HOST = ("Host", "iam.amazonaws.com")
DATE = ("X-Amz-Date", "20240115T120000Z")


def refused(error: type[AwsError], message: str, request: SignedRequest) -> None:
    with pytest.raises(error) as caught:
        SigV4Verifier().verify(request, now=NOW, lookup=lookup(("AKIAIOSFODNN7EXAMPLE", user())))
    assert type(caught.value) is error
    assert caught.value.message == message


def with_auth(value: str, *headers: tuple[str, str], query: str = "") -> SignedRequest:
    return SignedRequest("POST", "/", query, (HOST, *headers, ("Authorization", value)), b"")


def test_no_signature_at_all() -> None:
    request = SignedRequest.of("POST", headers=[HOST], body=b"Action=ListUsers")
    assert not carries_signature(request)
    refused(MissingAuthenticationToken, "Request is missing Authentication Token", request)
    # Query parameters that merely look like auth (no algorithm/credential/signature) are not a signature.
    refused(
        MissingAuthenticationToken,
        "Request is missing Authentication Token",
        SignedRequest.of("GET", "/", "X-Amz-Date=1"),
    )


def test_both_forms_at_once() -> None:
    presigned = sign("sts", method="GET", url="https://sts.amazonaws.com/", headers={}, presign_expires=60)
    assert carries_signature(presigned)
    both = replace_header(presigned, "Authorization", GOOD)
    refused(
        IncompleteSignature,
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
        "or the Authorization header should be specified.",
        both,
    )


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc", ["Credential"]),
        ("AWS4-HMAC-SHA256 Credential=A/20240115/us-east-1/iam/aws4_request, SignedHeaders=host", ["Signature"]),
        ("AWS4-HMAC-SHA256 Credential=A/20240115/us-east-1/iam/aws4_request,Signature=abc", ["SignedHeaders"]),
        ("AWS4-HMAC-SHA256", ["Credential", "Signature", "SignedHeaders"]),
        ("Bearer eyJhbGciOi", ["Credential", "Signature", "SignedHeaders"]),
        ("", ["Credential", "Signature", "SignedHeaders"]),
    ],
)
def test_missing_authorization_parts_are_each_named(header: str, missing: list[str]) -> None:
    expected = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
    refused(IncompleteSignature, f"{expected} Authorization={header}", with_auth(header, DATE))


def test_missing_date_is_named_with_the_other_parts() -> None:
    header = "AWS4-HMAC-SHA256 Credential=A/20240115/us-east-1/iam/aws4_request, SignedHeaders=host"
    refused(
        IncompleteSignature,
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={header}",
        with_auth(header),
    )


def test_a_token_without_equal_sign() -> None:
    header = GOOD.replace("Credential=AKIAIOSFODNN7EXAMPLE/", "Credential=AKIAIOSFODNN7EXAMPLE /")
    refused(
        IncompleteSignature,
        "'/20240115/us-east-1/iam/aws4_request' not a valid key=value pair (missing equal-sign) "
        f"in Authorization header: '{header}'.",
        with_auth(header, DATE),
    )


@pytest.mark.parametrize(
    ("credential", "parts"),
    [
        ("AKIAIOSFODNN7EXAMPLE/20240115/us-east-1/iam", 4),
        ("AKIAIOSFODNN7EXAMPLE/20240115/us-east-1/iam/aws4_request/x", 6),
    ],
)
def test_credential_must_have_five_parts(credential: str, parts: int) -> None:
    header = GOOD.replace("AKIAIOSFODNN7EXAMPLE/20240115/us-east-1/iam/aws4_request", credential)
    assert header.count("/") == parts - 1
    refused(
        IncompleteSignature,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        f"got '{credential}'",
        with_auth(header, DATE),
    )


def test_other_algorithms_and_repeated_authorization() -> None:
    refused(
        IncompleteSignature,
        "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'.",
        with_auth(GOOD.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"), DATE),
    )
    refused(
        IncompleteSignature,
        "Authorization header must be sent only once.",
        with_auth(GOOD, DATE, ("Authorization", GOOD)),
    )


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-15T12:00:00Z",
        "20241315T120000Z",
        "\uff120240115T120000Z",
        "2024011\uff15T120000Z",
        "1705320000",
        "Mon, 15 Jan 2024 12:00:00 GMT",
    ],
)
def test_x_amz_date_must_be_iso_basic(value: str) -> None:
    refused(
        IncompleteSignature,
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601",
        with_auth(GOOD, ("X-Amz-Date", value)),
    )


def test_host_must_be_signed() -> None:
    refused(
        IncompleteSignature,
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        with_auth(GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"), DATE),
    )


def _presigned_query(**overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE%2F20240115%2Fus-east-1%2Fsts%2Faws4_request",
        "X-Amz-Date": "20240115T120000Z",
        "X-Amz-Expires": "60",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "abc",
    }
    params.update(overrides)
    return "&".join(f"{k}={v}" for k, v in params.items() if v is not None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"X-Amz-Date": None, "X-Amz-Expires": None},
            "AWS query-string parameters must include 'X-Amz-Date'. "
            "AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters.",
        ),
        (
            {"X-Amz-Algorithm": None},
            "AWS query-string parameters must include 'X-Amz-Algorithm'. Re-examine the query-string parameters.",
        ),
        ({"X-Amz-Algorithm": "AWS4-HMAC-SHA1"}, "X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'."),
        ({"X-Amz-Expires": "1e3"}, "X-Amz-Expires must be a whole number of seconds from 1 to 604800, not '1e3'."),
        ({"X-Amz-Expires": "-5"}, "X-Amz-Expires must be a whole number of seconds from 1 to 604800, not '-5'."),
        (
            {"X-Amz-SignedHeaders": "x-amz-date"},
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            {"X-Amz-Date": "2024-01-15"},
            "Date must be in ISO-8601 'basic format'. Got '2024-01-15'. See http://en.wikipedia.org/wiki/ISO_8601",
        ),
    ],
)
def test_malformed_presigned_queries(overrides: dict[str, str | None], message: str) -> None:
    refused(
        IncompleteSignature, message, SignedRequest.of("GET", "/", _presigned_query(**overrides), [("Host", "sts")])
    )


def test_a_repeated_presigned_parameter() -> None:
    query = _presigned_query() + "&X-Amz-Credential=AKIAOTHER%2F20240115%2Fus-east-1%2Fsts%2Faws4_request"
    refused(
        IncompleteSignature,
        "AWS query-string parameter 'X-Amz-Credential' must appear only once. Re-examine the query-string parameters.",
        SignedRequest.of("GET", "/", query, [("Host", "sts")]),
    )


def test_from_asgi_keeps_the_raw_target_and_every_header() -> None:
    scope: dict[str, Any] = {
        "method": "POST",
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"x=%2B&y=+",
        "headers": [(b"host", b"iam.amazonaws.com"), (b"x-a", b"1"), (b"X-A", b"2")],
    }
    request = SignedRequest.from_asgi(scope, b"body")
    assert (request.method, request.path, request.query, request.body) == ("POST", "/a%20b", "x=%2B&y=+", b"body")
    assert request.header_values("x-a") == ("1", "2")
    assert SignedRequest.from_asgi({**scope, "raw_path": None}, b"").path == "/a%20b"
