"""Round trips with botocore's real signers, then one mutation at a time (AWS "AWS Signature Version 4 for API
requests").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from botocore.utils import percent_encode_sequence

from iamd.auth import Credential, SignedRequest, SigV4Verifier, canonical
from iamd.auth.sigv4 import MISMATCH, PAYLOAD_MISMATCH
from iamd.errors import (
    AwsError,
    ExpiredToken,
    IncompleteSignature,
    InvalidClientTokenId,
    RequestExpired,
    SignatureDoesNotMatch,
)
from tests.auth.signing import KEY, NOW, SECRET, TEMP_KEY, TOKEN, lookup, replace_header, session, sign, user

IAM_BODY = "Action=ListUsers&MaxItems=10&Version=2010-05-08"
STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
BODIES = {"iam": IAM_BODY, "sts": STS_BODY}
USERS = lookup((KEY, user()), (TEMP_KEY, session()))
INVALID = "The security token included in the request is invalid."


def verify(request: SignedRequest, *, now: datetime = NOW, table: Any = USERS, **kwargs: Any) -> Any:
    return SigV4Verifier(**kwargs).verify(request, now=now, lookup=table)


def refused(error: type[AwsError], message: str, request: SignedRequest, **kwargs: Any) -> None:
    with pytest.raises(error) as caught:
        verify(request, **kwargs)
    assert type(caught.value) is error
    assert caught.value.message == message
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


# -- acceptance ---------------------------------------------------------------------------------
QUERIES = [
    [("Action", "ListUsers"), ("Version", "2010-05-08")],
    [("PathPrefix", "/a b/"), ("Marker", "x~y+z"), ("Note", "ünïcødé ☃ 𝄞"), ("Empty", "")],
    [("Tags.member.1", "b"), ("Tags.member.1", "a"), ("Tags.member.1", "a"), ("Z", "1"), ("a", "2")],
    [("k", "=&?#%/"), ("~", "~"), ("+", "+")],
]


@pytest.mark.parametrize("service", ["iam", "sts"])
@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_botocore_header_signing_with_varied_queries_verifies(service: str, query: list[tuple[str, str]]) -> None:
    url = f"https://{service}.amazonaws.com/?{percent_encode_sequence(query)}"
    verified = verify(sign(service, method="GET", url=url, headers={}))
    assert verified.service == service and verified.principal.endswith(":user/alice")


@pytest.mark.parametrize("service", ["iam", "sts"])
@pytest.mark.parametrize(
    "body",
    [b"", IAM_BODY.encode(), b"Action=X&UserName=%C3%BC+b&Tag=a%7Eb", "ünï ☃\n\t raw".encode(), bytes(range(256))],
)
def test_botocore_header_signing_with_varied_bodies_verifies(service: str, body: bytes) -> None:
    assert verify(sign(service, body)).payload_signed


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_session_credentials_verify_and_report_the_token(service: str) -> None:
    verified = verify(sign(service, BODIES[service], key=TEMP_KEY, token=TOKEN))
    assert verified.session_token == TOKEN and verified.access_key_id == TEMP_KEY
    assert "x-amz-security-token" in verified.signed_headers


@pytest.mark.parametrize("service", ["iam", "sts"])
@pytest.mark.parametrize("token", [None, TOKEN])
def test_botocore_presigned_urls_verify(service: str, token: str | None) -> None:
    url = f"https://{service}.amazonaws.com/?{percent_encode_sequence(QUERIES[1])}"
    key = TEMP_KEY if token else KEY
    verified = verify(sign(service, method="GET", url=url, headers={}, key=key, token=token, presign_expires=900))
    assert verified.presigned and verified.session_token == token
    assert verified.url_expires_at == NOW + timedelta(seconds=900)


def test_sts_accepts_any_region_shaped_scope_and_iam_only_us_east_1() -> None:
    for region in ("eu-west-1", "ap-southeast-2", "us-gov-west-1", "il-central-1"):
        assert verify(sign("sts", STS_BODY, region=region)).region == region
    refused(
        SignatureDoesNotMatch,
        "Credential should be scoped to a valid region. ",
        sign("iam", IAM_BODY, region="us-west-2"),
    )
    for region in ("moon", "us-east-\u0661", "US-EAST-1", "us-east-1a", "us-east-"):
        refused(
            SignatureDoesNotMatch,
            f"Credential should be scoped to a valid region, not '{region}'. ",
            sign("sts", STS_BODY, region=region),
        )


def test_configured_region_sets_and_service_narrowing() -> None:
    request = sign("sts", STS_BODY, region="eu-west-1")
    only_global = {"sts": frozenset({"us-east-1"})}
    refused(
        SignatureDoesNotMatch,
        "Credential should be scoped to a valid region, not 'eu-west-1'. ",
        request,
        services=only_global,
    )
    with pytest.raises(SignatureDoesNotMatch) as caught:
        SigV4Verifier().verify(request, now=NOW, lookup=USERS, service="iam")
    assert caught.value.message == "Credential should be scoped to correct service: 'iam'. "


def test_the_date_header_is_accepted_in_place_of_x_amz_date() -> None:
    request = sign("iam", IAM_BODY, headers={"Content-Type": "text/plain", "Date": "x"})
    assert not any(name.lower() == "x-amz-date" for name, _ in request.headers)
    assert verify(request).signed_at == NOW


def test_unsigned_payload_is_accepted_and_reported_unless_configured_off() -> None:
    request = sign("iam", IAM_BODY, unsigned_payload=True)
    assert dict(request.headers)["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    tampered = replace(request, body=b"Action=DeleteUser&UserName=bob&Version=2010-05-08")
    assert verify(tampered).payload_signed is False  # by definition the body is not covered
    refused(
        IncompleteSignature,
        "This service requires a signed payload; UNSIGNED-PAYLOAD is not accepted.",
        request,
        allow_unsigned_payload=False,
    )


def test_a_declared_payload_hash_must_match_the_body() -> None:
    request = sign("iam", IAM_BODY, headers={"Content-Type": "text/plain", "X-Amz-Content-SHA256": "0" * 64})
    refused(SignatureDoesNotMatch, PAYLOAD_MISMATCH, request)
    honest = {"Content-Type": "text/plain", "X-Amz-Content-SHA256": hashlib.sha256(IAM_BODY.encode()).hexdigest()}
    request = sign("iam", IAM_BODY, headers=honest)
    assert verify(request).payload_signed
    refused(SignatureDoesNotMatch, PAYLOAD_MISMATCH, replace(request, body=b"Action=DeleteUser"))


def test_unsigned_headers_may_change_and_whitespace_in_signed_ones_is_folded() -> None:
    request = sign("iam", IAM_BODY, headers={"Content-Type": "a   b\t c ", "X-Custom": "x", "X-Custom2": "  "})
    request = replace_header(request, "User-Agent", "anything/1.0")
    assert verify(request)
    refolded = replace_header(request, "Content-Type", "  a b  c")
    assert verify(refolded)


def test_repeated_signed_headers_are_joined_in_order() -> None:
    base = sign("iam", IAM_BODY)
    verifier = SigV4Verifier()
    twice = SignedRequest(base.method, base.path, base.query, (*base.headers, ("X-Extra", " 1 "), ("x-extra", "2")))
    assert "x-extra" not in verifier.describe(twice).canonical_request  # not signed
    auth = dict(base.headers)["Authorization"].replace("SignedHeaders=", "SignedHeaders=x-extra;")
    signed = replace_header(twice, "Authorization", auth)
    assert verifier.describe(signed).canonical_request.count("x-extra:1,2\n") == 1


def test_uri_is_normalized_like_the_sdks() -> None:
    url = "https://iam.amazonaws.com/a/./b/../c//d%20e/%7E/"
    request = sign("iam", IAM_BODY, url=url)
    assert request.path == "/a/./b/../c//d%20e/%7E/"
    assert SigV4Verifier().describe(request).canonical_request.split("\n")[1] == "/a/c/d%2520e/%257E/"
    assert verify(request)


# -- one mutation at a time ---------------------------------------------------------------------
Mutation = Callable[[SignedRequest], SignedRequest]


def _auth(request: SignedRequest, old: str, new: str) -> SignedRequest:
    return replace_header(request, "Authorization", dict(request.headers)["Authorization"].replace(old, new))


MUTATIONS: dict[str, Mutation] = {
    "body byte": lambda r: replace(r, body=r.body[:-1] + bytes([r.body[-1] ^ 1])),
    "body appended": lambda r: replace(r, body=r.body + b"&UserName=mallory"),
    "signed header value": lambda r: replace_header(r, "Content-Type", "text/plain"),
    "signed header removed": lambda r: replace_header(r, "Content-Type", None),
    "host": lambda r: replace_header(r, "Host", "evil.example.com"),
    "method": lambda r: replace(r, method="PUT"),
    "path": lambda r: replace(r, path="/x"),
    "query added": lambda r: replace(r, query="Action=DeleteUser"),
    "time within the same day": lambda r: replace_header(r, "X-Amz-Date", "20240115T120001Z"),
    "signed headers list": lambda r: _auth(r, "SignedHeaders=content-type;", "SignedHeaders="),
    "signature": lambda r: _auth(r, "Signature=", "Signature=0"),
}


@pytest.mark.parametrize("service", ["iam", "sts"])
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_any_signed_part_changed_is_a_mismatch(service: str, name: str) -> None:
    request = sign(service, BODIES[service])
    assert verify(request)
    refused(SignatureDoesNotMatch, MISMATCH, MUTATIONS[name](request))


def test_scope_terminator_service_and_date() -> None:
    request = sign("iam", IAM_BODY)
    refused(
        SignatureDoesNotMatch,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        _auth(request, "/aws4_request", "/aws5_request"),
    )
    refused(
        SignatureDoesNotMatch,
        "Credential should be scoped to correct service: 'iam' or 'organizations' or 'sts'. ",
        sign("s3", IAM_BODY, url="https://iam.amazonaws.com/"),
    )
    refused(
        SignatureDoesNotMatch,
        "Credential should be scoped to correct service: 'iam'. ",
        sign("sts", IAM_BODY, url="https://iam.amazonaws.com/"),
        services={"iam": frozenset({"us-east-1"})},
    )
    refused(
        SignatureDoesNotMatch,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20240115' != '20240116', from '20240116T000000Z'.",
        replace_header(request, "X-Amz-Date", "20240116T000000Z"),
        now=datetime(2024, 1, 16, tzinfo=UTC),
    )
    # The order of AWS "AWS Signature Version 4 for API requests": scope problems are reported before an unknown key.
    refused(
        SignatureDoesNotMatch,
        "Credential should be scoped to a valid region. ",
        sign("iam", IAM_BODY, region="us-west-2", key="AKIAUNKNOWNKEY000000"),
    )


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_clock_skew_boundaries(service: str) -> None:
    request = sign(service, BODIES[service])
    fifteen = timedelta(minutes=15)
    assert verify(request, now=NOW + fifteen)
    assert verify(request, now=NOW - fifteen)
    assert verify(request, now=NOW + fifteen + timedelta(microseconds=999_999))  # whole seconds
    refused(
        SignatureDoesNotMatch,
        "Signature expired: 20240115T120000Z is now earlier than 20240115T120001Z (20240115T121501Z - 15 min.)",
        request,
        now=NOW + fifteen + timedelta(seconds=1),
    )
    refused(
        SignatureDoesNotMatch,
        "Signature not yet current: 20240115T120000Z is still later than 20240115T115959Z (20240115T114459Z + 15 min.)",
        request,
        now=NOW - fifteen - timedelta(seconds=1),
    )


def test_skew_is_checked_before_the_key_is_looked_up() -> None:
    table = mock.Mock(side_effect=AssertionError("no lookup for a stale request"))
    request = sign("iam", IAM_BODY)
    expired = "Signature expired: 20240115T120000Z is now earlier than 20240115T124500Z (20240115T130000Z - 15 min.)"
    refused(SignatureDoesNotMatch, expired, request, now=NOW + timedelta(hours=1), table=table)
    table.assert_not_called()


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_presigned_expiry_boundaries(service: str) -> None:
    request = sign(
        service, method="GET", url=f"https://{service}.amazonaws.com/?Action=X", headers={}, presign_expires=60
    )
    assert verify(request, now=NOW + timedelta(seconds=60))
    assert verify(request, now=NOW - timedelta(minutes=15))
    refused(RequestExpired, "Request has expired", request, now=NOW + timedelta(seconds=61))
    refused(
        SignatureDoesNotMatch,
        "Signature not yet current: 20240115T120000Z is still later than 20240115T115959Z (20240115T114459Z + 15 min.)",
        request,
        now=NOW - timedelta(minutes=15, seconds=1),
    )
    long_lived = sign(
        service, method="GET", url=f"https://{service}.amazonaws.com/", headers={}, presign_expires=604800
    )
    assert verify(long_lived, now=NOW + timedelta(days=7))  # header-form skew does not apply
    refused(RequestExpired, "Request has expired", long_lived, now=NOW + timedelta(days=7, seconds=1))


@pytest.mark.parametrize("expires", [0, 604801])
def test_presigned_expiry_out_of_range_is_incomplete(expires: int) -> None:
    request = sign("sts", method="GET", url="https://sts.amazonaws.com/", headers={}, presign_expires=expires)
    refused(
        IncompleteSignature,
        f"X-Amz-Expires must be a whole number of seconds from 1 to 604800, not '{expires}'.",
        request,
    )


def test_key_lookup_and_status() -> None:
    request = sign("iam", IAM_BODY)
    refused(InvalidClientTokenId, INVALID, request, table=lookup())
    refused(InvalidClientTokenId, INVALID, request, table=lookup((KEY, user(active=False))))
    refused(SignatureDoesNotMatch, MISMATCH, request, table=lookup((KEY, user("another secret"))))
    refused(InvalidClientTokenId, INVALID, sign("iam", IAM_BODY, key="AKIAOTHERKEY00000000"))


def test_session_tokens() -> None:
    with_token = sign("sts", STS_BODY, key=TEMP_KEY, token=TOKEN)
    refused(InvalidClientTokenId, INVALID, sign("sts", STS_BODY, key=TEMP_KEY))  # ASIA without a token
    refused(InvalidClientTokenId, INVALID, sign("sts", STS_BODY, key=TEMP_KEY, token=TOKEN + "x"))
    refused(InvalidClientTokenId, INVALID, sign("sts", STS_BODY, key=TEMP_KEY, token="ü" + TOKEN))
    refused(InvalidClientTokenId, INVALID, sign("sts", STS_BODY, key=KEY, token=TOKEN))  # AKIA with a token
    # An ASIA id whose credential has no session (a lookup bug) is refused, not trusted.
    refused(InvalidClientTokenId, INVALID, sign("sts", STS_BODY, key=TEMP_KEY), table=lookup((TEMP_KEY, user())))
    expiry = NOW + timedelta(minutes=5)
    table = lookup((TEMP_KEY, session(expires_at=expiry)))
    assert verify(with_token, now=expiry - timedelta(seconds=1), table=table)
    expired = "The security token included in the request is expired"
    refused(ExpiredToken, expired, with_token, now=expiry, table=table)
    # A wrong token is reported as invalid even when the session has also expired.
    wrong = sign("sts", STS_BODY, key=TEMP_KEY, token="nope", at=expiry)
    refused(InvalidClientTokenId, INVALID, wrong, now=expiry, table=table)


def test_presigned_session_token_travels_in_the_query() -> None:
    request = sign(
        "sts", method="GET", url="https://sts.amazonaws.com/", headers={}, key=TEMP_KEY, token=TOKEN, presign_expires=60
    )
    assert "X-Amz-Security-Token=" in request.query
    assert verify(request).session_token == TOKEN
    refused(
        InvalidClientTokenId, INVALID, replace(request, query=request.query.replace("EXAMPLETOKEN", "EXAMPLETOKEX"))
    )


def test_signatures_and_tokens_are_compared_in_constant_time() -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    request = sign("iam", IAM_BODY, key=TEMP_KEY, token=TOKEN)
    with mock.patch("iamd.auth.sigv4.hmac.compare_digest", side_effect=spy):
        verify(request)
    assert (TOKEN.encode(), TOKEN.encode()) in calls
    signature = dict(request.headers)["Authorization"].rsplit("=", 1)[1]
    assert any(b == signature.encode() for _, b in calls)


def test_signing_keys_are_cached_per_secret_and_bounded() -> None:
    verifier = SigV4Verifier(cache_size=2)
    table = lookup((KEY, user()))
    request = sign("iam", IAM_BODY)
    with mock.patch("iamd.auth.canonical.derive_signing_key", wraps=canonical.derive_signing_key) as derive:
        for _ in range(3):
            verifier.verify(request, now=NOW, lookup=table)
        assert derive.call_count == 1
        # Same key id, rotated secret: the cached key of the old secret is never used for the new one.
        with pytest.raises(SignatureDoesNotMatch):
            verifier.verify(request, now=NOW, lookup=lookup((KEY, user("rotated"))))
        assert derive.call_count == 2
        for region in ("eu-west-1", "eu-west-2", "eu-west-3"):
            verifier.verify(sign("sts", STS_BODY, region=region), now=NOW, lookup=table)
        assert derive.call_count == 5
        verifier.verify(sign("sts", STS_BODY, region="eu-west-1"), now=NOW, lookup=table)
        assert derive.call_count == 6  # evicted: the cache holds two entries


def test_reprs_hide_secrets_and_tokens() -> None:
    credential = session()
    assert SECRET not in repr(credential) and TOKEN not in repr(credential)
    assert "secret hidden" in repr(credential) and "assumed-role" in repr(credential)
    request = sign("iam", "Action=ChangePassword&NewPassword=hunter2", key=TEMP_KEY, token=TOKEN)
    verified = verify(request)
    for text in (repr(request), repr(verified), str(verified)):
        assert TOKEN not in text and "hunter2" not in text and SECRET not in text


def test_verify_requires_an_aware_now_and_a_configured_service() -> None:
    request = sign("iam", IAM_BODY)
    with pytest.raises(ValueError, match="timezone-aware"):
        SigV4Verifier().verify(request, now=NOW.replace(tzinfo=None), lookup=USERS)
    with pytest.raises(ValueError, match="not configured"):
        SigV4Verifier().verify(request, now=NOW, lookup=USERS, service="s3")
    with pytest.raises(ValueError, match="whole number of minutes"):
        SigV4Verifier(max_skew=timedelta(seconds=90))
    five = SigV4Verifier(max_skew=timedelta(minutes=5))
    with pytest.raises(SignatureDoesNotMatch, match=r"\(20240115T120600Z - 5 min\.\)$"):
        five.verify(request, now=NOW + timedelta(minutes=6), lookup=USERS)
    with pytest.raises(ValueError, match="expiry"):
        Credential(SECRET, "p", session_token=TOKEN)


def test_an_accepted_request_is_checked_in_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request every check accepts calls none of the helpers that raise the checks' errors
    (bench/README.md, "Session 17: the single check's steps"); the time window is the
    verifier's kept one (same second)."""
    from iamd.auth import sigv4

    verifier = SigV4Verifier()
    request = sign("iam", IAM_BODY)
    assert verifier.verify(request, now=NOW, lookup=USERS).access_key_id == KEY  # the window kept
    for name in ("_check_scope", "_check_time", "_candidates", "_payload_hash"):
        monkeypatch.setattr(SigV4Verifier, name, mock.Mock(side_effect=AssertionError(name)))
    monkeypatch.setattr(sigv4, "_check_scope_date", mock.Mock(side_effect=AssertionError("scope date")))
    again = verifier.verify(request, now=NOW, lookup=USERS, service="iam")
    assert again == verifier.verify(request, now=NOW, lookup=USERS)


def test_a_reused_verifier_refuses_what_a_new_one_refuses() -> None:
    """The in-line checks against the kept window and scope give the helpers' answers: the
    same verifier, the same second, at the skew's edges, a wrong scope or service."""
    verifier = SigV4Verifier()
    fifteen = timedelta(minutes=15)
    for now in (NOW + fifteen + timedelta(seconds=1), NOW - fifteen - timedelta(seconds=1)):
        edge = sign("iam", IAM_BODY)
        verifier.verify(sign("iam", IAM_BODY, at=now), now=now, lookup=USERS)  # the window of `now` kept
        with pytest.raises(SignatureDoesNotMatch) as caught:
            verifier.verify(edge, now=now, lookup=USERS)
        with pytest.raises(SignatureDoesNotMatch) as fresh:
            SigV4Verifier().verify(edge, now=now, lookup=USERS)
        assert caught.value.message == fresh.value.message
        assert caught.value.message.startswith(("Signature expired", "Signature not yet current"))
    verifier.verify(sign("iam", IAM_BODY), now=NOW, lookup=USERS)
    for request, message in (
        (sign("iam", IAM_BODY, region="us-west-2"), "Credential should be scoped to a valid region. "),
        (sign("sts", STS_BODY, region="moon"), "Credential should be scoped to a valid region, not 'moon'. "),
    ):
        with pytest.raises(SignatureDoesNotMatch) as caught:
            verifier.verify(request, now=NOW, lookup=USERS)
        assert caught.value.message == message
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verifier.verify(sign("sts", STS_BODY), now=NOW, lookup=USERS, service="iam")
    assert caught.value.message == "Credential should be scoped to correct service: 'iam'. "
    with pytest.raises(ValueError, match="not configured"):
        verifier.verify(sign("iam", IAM_BODY), now=NOW, lookup=USERS, service="s3")
