"""Requests signed by botocore's own signers, turned into the verifier's input."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials

from iamd.auth import Credential, SignedRequest

NOW = datetime(2024, 1, 15, 12, 0, 0, tzinfo=UTC)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY = "AKIAIOSFODNN7EXAMPLE"
TEMP_KEY = "ASIAIOSFODNN7EXAMPLE"
TOKEN = "FQoGZXIvYXdzEXAMPLETOKEN"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
ENDPOINTS = {"iam": "https://iam.amazonaws.com/", "sts": "https://sts.amazonaws.com/"}


def sign(
    service: str,
    body: bytes | str = b"",
    *,
    method: str = "POST",
    url: str | None = None,
    region: str = "us-east-1",
    headers: Mapping[str, str] | None = None,
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    at: datetime = NOW,
    presign_expires: int | None = None,
    unsigned_payload: bool = False,
) -> SignedRequest:
    """Sign with SigV4Auth (header form) or, given ``presign_expires``, SigV4QueryAuth."""
    request = AWSRequest(
        method=method,
        url=url or ENDPOINTS[service],
        data=body,
        headers=dict(headers) if headers is not None else ({"Content-Type": FORM} if body else {}),
    )
    if unsigned_payload:
        request.context["payload_signing_enabled"] = False
    credentials = Credentials(key, secret, token)
    signer: SigV4Auth
    if presign_expires is None:
        signer = SigV4Auth(credentials, service, region)
    else:
        signer = SigV4QueryAuth(credentials, service, region, expires=presign_expires)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.astimezone(UTC).replace(tzinfo=None)):
        signer.add_auth(request)
    return to_signed(request.prepare())


def to_signed(prepared: AWSPreparedRequest) -> SignedRequest:
    """What a server would receive: raw path and query, headers incl. Host, body octets."""
    parts = urlsplit(prepared.url)
    headers = [(name, str(value)) for name, value in prepared.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", parts.netloc))
    body = prepared.body or b""
    return SignedRequest(
        prepared.method, parts.path, parts.query, tuple(headers), body.encode() if isinstance(body, str) else body
    )


def lookup(*entries: tuple[str, Credential[str]]) -> Callable[[str, str | None], Credential[str] | None]:
    table = dict(entries)
    return lambda key_id, _token: table.get(key_id)


def user(secret: str = SECRET, *, active: bool = True) -> Credential[str]:
    return Credential(secret, "arn:aws:iam::123456789012:user/alice", active=active)


def session(secret: str = SECRET, token: str = TOKEN, expires_at: datetime | None = None) -> Credential[str]:
    expiry = expires_at or datetime(2024, 1, 15, 13, 0, 0, tzinfo=UTC)
    return Credential(secret, "arn:aws:sts::123456789012:assumed-role/R/s", session_token=token, expires_at=expiry)


def replace_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    """A copy with header ``name`` set to ``value`` (or removed when None)."""
    kept = tuple((n, v) for n, v in request.headers if n.lower() != name.lower())
    added = ((name, value),) if value is not None else ()
    return SignedRequest(request.method, request.path, request.query, kept + added, request.body)
