"""How a denial by iamd looks to an S3 client (docs/s3.md, "Denials").

* A refused signature or credential: iamd's error as S3 names it (``SignatureDoesNotMatch``,
  ``InvalidAccessKeyId``, ``ExpiredToken``, ``RequestTimeTooSkewed``…) with its status.
* A policy denial: ``403 AccessDenied`` with iamd's message, which for ``service="s3"`` is
  already S3's: the resource ARN in double quotes for a caller of the bucket owner's account,
  only ``Access Denied`` for another account or an anonymous caller (Amazon S3 User Guide,
  "Troubleshoot access denied (403 Forbidden) errors").
"""

from __future__ import annotations

from iamd.authz.client import Answer, Result

__all__ = ["access_denied_message", "signature_error"]

_POLICY_CODES = (None, "", "AccessDenied")


def signature_error(answer: Answer) -> Result | None:
    """The result carrying an authentication error, if the request was refused as such."""
    for result in answer.results:
        if not result.allowed and result.error_code not in _POLICY_CODES:
            return result
    return None


def access_denied_message(result: Result | None) -> str:
    return (result.message if result is not None else "") or "Access Denied"
