"""Property: whatever botocore signs (queries, bodies, header whitespace) verifies."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from botocore.utils import percent_encode_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.auth import SigV4Verifier
from iamd.errors import SignatureDoesNotMatch
from tests.auth.signing import KEY, NOW, TEMP_KEY, TOKEN, lookup, session, sign, user

VERIFIER = SigV4Verifier()
TABLE = lookup((KEY, user()), (TEMP_KEY, session(expires_at=NOW + timedelta(days=30))))
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
ascii_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8)
params = st.lists(st.tuples(text, text), max_size=6)
spacing = st.text(" \t", max_size=3)
header_values = st.tuples(spacing, ascii_text, spacing, ascii_text, spacing).map("".join)
services = st.sampled_from(["iam", "sts"])
tokens = st.sampled_from([None, TOKEN])
skews = st.integers(min_value=-900, max_value=900).map(lambda s: timedelta(seconds=s))
common = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


@common
@given(services, params, st.binary(max_size=64), header_values, header_values, tokens, skews)
def test_header_signed_requests_verify(
    service: str,
    query: list[tuple[str, str]],
    body: bytes,
    custom: str,
    content_type: str,
    token: str | None,
    skew: timedelta,
) -> None:
    url = f"https://{service}.amazonaws.com/" + (f"?{percent_encode_sequence(query)}" if query else "")
    headers = {"Content-Type": content_type, "X-Custom": custom}
    key = TEMP_KEY if token else KEY
    request = sign(service, body, method="POST", url=url, headers=headers, key=key, token=token)
    verified = VERIFIER.verify(request, now=NOW + skew, lookup=TABLE)
    assert verified.access_key_id == key and verified.session_token == token


@common
@given(services, st.dictionaries(text, text, max_size=6), st.integers(1, 604800), tokens)
def test_presigned_requests_verify(service: str, query: dict[str, str], expires: int, token: str | None) -> None:
    url = f"https://{service}.amazonaws.com/" + (f"?{percent_encode_sequence(query)}" if query else "")
    key = TEMP_KEY if token else KEY
    request = sign(service, method="GET", url=url, headers={}, key=key, token=token, presign_expires=expires)
    assert VERIFIER.verify(request, now=NOW + timedelta(seconds=expires), lookup=TABLE).presigned


@common
@given(services, st.binary(min_size=1, max_size=32), st.data())
def test_any_changed_body_octet_is_refused(service: str, body: bytes, data: st.DataObject) -> None:
    request = sign(service, body)
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = bytes(b ^ (1 if i == index else 0) for i, b in enumerate(body))
    with pytest.raises(SignatureDoesNotMatch):
        VERIFIER.verify(replace(request, body=flipped), now=NOW, lookup=TABLE)
