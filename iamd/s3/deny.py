"""How a denial by iamd looks to an S3 client (docs/s3.md, "Denials").

* A refused signature or credential: iamd's error as S3 names it (``SignatureDoesNotMatch``,
  ``InvalidAccessKeyId``, ``ExpiredToken``, ``RequestTimeTooSkewed``…) with its status.
* A policy denial: ``403 AccessDenied``. To a caller of the bucket owner's account, S3 says
  why, in iamd's words with the resource ARN in double quotes as S3 writes it (``User: … is
  not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because …``); to
  another account or an anonymous caller only ``Access Denied`` (Amazon S3 User Guide,
  "Troubleshoot access denied (403 Forbidden) errors").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamd.authz.client import Answer, Result

__all__ = ["access_denied_message", "signature_error"]

_POLICY_CODES = (None, "", "AccessDenied")


def signature_error(answer: Answer) -> Result | None:
    """The result carrying an authentication error, if the request was refused as such."""
    for result in answer.results:
        if not result.allowed and result.error_code not in _POLICY_CODES:
            return result
    return None


def _account(principal: Mapping[str, Any]) -> str:
    return str(principal.get("accountId") or principal.get("account") or "")


def access_denied_message(result: Result | None, answer: Answer | None, owner: str | None) -> str:
    if result is None or answer is None or not result.message:
        return "Access Denied"
    caller = _account(answer.principal)
    if not caller or (owner is not None and caller != owner):
        return "Access Denied"
    head, sep, rest = result.message.partition(" on resource: ")
    if not sep:
        return result.message
    for tail in (" because ", " with an explicit deny", " with an implicit deny"):
        resource, found, after = rest.partition(tail)
        if found:
            return f'{head}{sep}"{resource.strip(chr(34))}"{found}{after}'
    return f'{head}{sep}"{rest.strip(chr(34))}"'
