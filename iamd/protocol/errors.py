"""The one place an exception becomes an HTTP response (STYLE.md point 6).

:func:`error_response` takes whatever a request raised: an :class:`~iamd.errors.AwsError`
answers with its own code, status and message; anything else is a bug, and answers
``InternalFailure`` (500) with AWS's generic text, never the exception's (no internals
leak to clients). Logging the unexpected exception is the caller's business: it has the
request context.
"""

from __future__ import annotations

from typing import NamedTuple

from iamd.errors import AwsError, InternalFailure
from iamd.protocol.xml import serialize_error

__all__ = ["INTERNAL_FAILURE_MESSAGE", "WireResponse", "error_response", "response_headers"]

INTERNAL_FAILURE_MESSAGE = "The request processing has failed because of an unknown error, exception or failure."


class WireResponse(NamedTuple):
    """An HTTP answer: status, headers (in order) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def response_headers(request_id: str) -> tuple[tuple[str, str], ...]:
    """The headers of every Query response, success or error."""
    return (("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id))


def error_response(error: BaseException, namespace: str, request_id: str) -> WireResponse:
    """The response for ``error`` raised while serving a request of service ``namespace``."""
    if not isinstance(error, AwsError):
        error = InternalFailure(INTERNAL_FAILURE_MESSAGE)
    return WireResponse(error.status, response_headers(request_id), serialize_error(error, namespace, request_id))
