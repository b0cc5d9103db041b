"""Pre-signed raw HTTP/1.1 requests: SigV4 (botocore's ``SigV4Auth``) computed before timing.

A signature stays valid for 15 minutes after its ``X-Amz-Date`` (both iamd and AWS refuse
older ones), so every phase signs its requests just before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["Key", "query_body", "sign_query"]

IAM_VERSION = "2010-05-08"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Key:
    access_key_id: str
    secret_access_key: str


def query_body(action: str, params: Mapping[str, str] | None = None, *, version: str = IAM_VERSION) -> str:
    return urlencode({"Action": action, "Version": version, **(params or {})})


def sign_query(
    host: str, port: int, key: Key, bodies: Iterable[str], *, user_agent: str = "iamd-bench", service: str = "iam"
) -> list[bytes]:
    """One complete raw request (request line, headers, body) per form body, each signed for ``service``."""
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    signer = SigV4Auth(credentials, service, "us-east-1")
    authority = f"{host}:{port}"
    out: list[bytes] = []
    for body in bodies:
        request = AWSRequest(
            method="POST",
            url=f"http://{authority}/",
            data=body.encode(),
            headers={"Content-Type": CONTENT_TYPE, "User-Agent": user_agent},
        )
        signer.add_auth(request)
        prepared = request.prepare()
        payload = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
        lines = ["POST / HTTP/1.1", f"Host: {authority}"]
        for name, value in prepared.headers.items():
            if name.lower() in ("host", "content-length"):
                continue
            lines.append(f"{name}: {value if isinstance(value, str) else value.decode()}")
        lines.append(f"Content-Length: {len(payload)}")
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
    return out
