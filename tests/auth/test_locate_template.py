"""The kept parse of Authorization headers (locate._template) changes nothing but the cost.

``locate`` parses the part of an Authorization header before ``Signature=<64 hex>`` once
and keeps it; every header, well formed or not, must locate to exactly what the full parse
(``_parse_header``) gives: the same Located, or the same AWS error and message.
"""

from __future__ import annotations

from typing import Any

import pytest

from iamd.auth import SignedRequest
from iamd.auth.locate import _parse_header, _template, locate
from iamd.errors import AwsError
from iamd.seen import SEEN_MAX
from tests.auth.signing import TOKEN, replace_header, sign

SIGNATURE = "0123456789abcdef" * 4
PREFIX = "AWS4-HMAC-SHA256 "
CREDENTIAL = "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"
SIGNED = "SignedHeaders=content-type;host;x-amz-date"
KEY = "AKIAIOSFODNN7EXAMPLE"

HEADERS = [
    f"{PREFIX}{CREDENTIAL}, {SIGNED}, Signature={SIGNATURE}",  # botocore's shape
    f"{PREFIX}{CREDENTIAL},{SIGNED},Signature={SIGNATURE}",  # no spaces
    f"{PREFIX}{SIGNED}, {CREDENTIAL}, Signature={SIGNATURE}",  # another order
    f"{PREFIX}{CREDENTIAL}, {SIGNED}, Signature={SIGNATURE.upper()}",  # upper-case hex: full parse
    f"{PREFIX}{CREDENTIAL}, {SIGNED}, Signature={SIGNATURE} ",  # trailing space: full parse
    f"{PREFIX}{CREDENTIAL}, {SIGNED}, Signature={SIGNATURE[:-1]}",  # 63 digits
    f"{PREFIX}{CREDENTIAL}, Signature={'f' * 64}, {SIGNED}, Signature={SIGNATURE}",  # two signatures
    f"{PREFIX}{SIGNED}, Signature={SIGNATURE}",  # no Credential
    f"{PREFIX}{CREDENTIAL}, Signature={SIGNATURE}",  # no SignedHeaders
    f"{PREFIX}Credential=AKIDEXAMPLE/20150830/us-east-1/iam, {SIGNED}, Signature={SIGNATURE}",  # 4 parts
    f"{PREFIX}{CREDENTIAL}, SignedHeaders=content-type;x-amz-date, Signature={SIGNATURE}",  # host unsigned
    f"{PREFIX}{CREDENTIAL}, {SIGNED}, junk, Signature={SIGNATURE}",  # a token without '='
    f"AWS4-HMAC-SHA512 {CREDENTIAL}, {SIGNED}, Signature={SIGNATURE}",  # another algorithm
    f"Bearer {CREDENTIAL}, {SIGNED}, Signature={SIGNATURE}",  # another scheme
    f"Signature={SIGNATURE}",  # nothing else
    # a key id of the common shape (16+ upper-case letters and digits first): cut out of the kept parse
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE', KEY)}, {SIGNED}, Signature={SIGNATURE}",
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE', KEY)}, Credential=ASIA{KEY[4:]}/20150830/us-east-1/iam/aws4_request, "
    f"{SIGNED}, Signature={SIGNATURE}",  # two Credentials: the first wins
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE', KEY.lower())}, {SIGNED}, Signature={SIGNATURE}",  # lower case
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE', KEY + ',X')}, {SIGNED}, Signature={SIGNATURE}",  # a separator
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE', KEY + '=X')}, {SIGNED}, Signature={SIGNATURE}",
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE', 'A' * 129)}, {SIGNED}, Signature={SIGNATURE}",  # too long
    f"{PREFIX}{CREDENTIAL.replace('AKIDEXAMPLE/', KEY)}, {SIGNED}, Signature={SIGNATURE}",  # no '/' after it
    f"{PREFIX}Credential={KEY}/20150830/us-east-1, {SIGNED}, Signature={SIGNATURE}",  # 3 parts
    f"{PREFIX} {CREDENTIAL.replace('AKIDEXAMPLE', KEY)}, {SIGNED}, Signature={SIGNATURE}",  # two spaces
]


def _outcome(call: Any) -> object:
    try:
        return call()
    except AwsError as error:
        return (type(error).__name__, str(error))


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("date", ["20150830T123600Z", "Sun, 30 Aug 2015 12:36:00 GMT", "yesterday", None])
@pytest.mark.parametrize("token", [None, TOKEN])
def test_kept_parse_locates_as_the_full_parse(header: str, date: str | None, token: str | None) -> None:
    request = replace_header(sign("iam", "Action=ListUsers&Version=2010-05-08"), "Authorization", header)
    request = replace_header(request, "X-Amz-Date", None)
    if date is not None:
        request = replace_header(request, "X-Amz-Date" if date[0].isdigit() else "Date", date)
    if token is not None:
        request = replace_header(request, "X-Amz-Security-Token", token)
    for _ in range(2):  # the second time from the kept parse
        assert _outcome(lambda: locate(request)) == _outcome(lambda: _parse_header(request, header, ()))


def test_the_parse_is_kept_per_header_prefix() -> None:
    _template.cache_clear()
    request = sign("iam", "Action=ListUsers&Version=2010-05-08")
    located = locate(request)
    other = replace_header(request, "Authorization", dict(request.headers)["Authorization"][:-64] + SIGNATURE)
    assert locate(other).signature == SIGNATURE and locate(other).access_key_id == located.access_key_id
    info = _template.cache_info()
    assert info.misses == 1 and info.hits == 2  # one parse for two different signatures
    assert isinstance(request, SignedRequest)


def test_one_parse_serves_every_key_id() -> None:
    """The key id, the part that differs between callers, is not in the kept parse's key: with
    100,000 callers the 1,024 kept parses no longer miss on every request."""
    _template.cache_clear()
    request = sign("iam", "Action=ListUsers&Version=2010-05-08")
    header = dict(request.headers)["Authorization"]
    key_id = header.split("Credential=", 1)[1].split("/", 1)[0]
    ids = [f"AKIA{n:016d}" for n in range(3)] + [f"ASIA{n:016d}" for n in range(3)]
    for other in ids:
        changed = replace_header(request, "Authorization", header.replace(key_id, other))
        assert locate(changed).access_key_id == other
        assert locate(changed) == _parse_header(changed, header.replace(key_id, other), ())
    info = _template.cache_info()
    assert info.misses == 1 and info.currsize == 1


def test_key_ids_seen_skip_the_pattern_and_only_matched_ones_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key id the pattern matched once is taken by a set lookup on the next request; ids the
    pattern refuses are never kept and still take the full parse; the set is bounded."""
    from unittest import mock

    from iamd.auth import locate as module

    request = sign("iam", "Action=ListUsers&Version=2010-05-08")
    first = locate(request)
    assert first.access_key_id in module._KEY_IDS_SEEN
    pattern = mock.Mock(wraps=module._KEY_ID)
    monkeypatch.setattr(module, "_KEY_ID", pattern)
    assert locate(request) == first
    pattern.fullmatch.assert_not_called()
    header = request.header_values("authorization")[0]
    lower = replace_header(request, "Authorization", header.replace(first.access_key_id, "akiaexamplelower0"))
    assert (
        locate(lower).access_key_id
        == "akiaexamplelower0"
        == _parse_header(lower, lower.header_values("authorization")[0], ()).access_key_id
    )
    assert "akiaexamplelower0" not in module._KEY_IDS_SEEN
    monkeypatch.setattr(module, "_KEY_ID", module.re.compile(r"[A-Z0-9]{16,128}"))
    for i in range(SEEN_MAX + 5):
        assert module._key_id_shaped(f"AKIA{i:016d}")
        assert len(module._KEY_IDS_SEEN) <= SEEN_MAX
