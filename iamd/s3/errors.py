"""S3's errors: one exception, its XML body (docs/s3.md, "Errors").

S3 answers ``<Error><Code/><Message/>…<RequestId/><HostId/></Error>`` with no wrapper (unlike
IAM), ``Content-Type: application/xml``; elements after the message name the subject
(``BucketName``, ``Key``, ``UploadId``…) and clients expose them. A HEAD request's error has
no body (Amazon S3 API Reference, "Error responses").
"""

from __future__ import annotations

from xml.sax.saxutils import escape

__all__ = ["S3Error", "error_xml"]

# code -> (HTTP status, default message), as Amazon S3 API Reference "Error responses" lists them.
_ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "AccessControlListNotSupported": (400, "The bucket does not allow ACLs"),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received."),
    "BucketAlreadyExists": (
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the "
        "system. Please select a different name and try again.",
    ),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty"),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed object size."),
    "ExpiredToken": (400, "The provided token has expired."),
    "IncompleteBody": (400, "You did not provide the number of bytes specified by the Content-Length HTTP header"),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "InvalidAccessKeyId": (403, "The AWS Access Key Id you provided does not exist in our records."),
    "InvalidArgument": (400, "Invalid Argument"),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the "
        "specified entity tag may not match the part's entity tag.",
    ),
    "InvalidPartOrder": (
        400,
        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
    ),
    "InvalidRange": (416, "The requested range is not satisfiable"),
    "InvalidRequest": (400, "Invalid Request"),
    "InvalidToken": (400, "The provided token is malformed or otherwise invalid."),
    "KeyTooLongError": (400, "Your key is too long"),
    "MalformedPolicy": (400, "Policies must be valid JSON and the first byte must be '{'"),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "MissingSecurityHeader": (400, "Your request is missing a required header."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchUpload": (
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
    ),
    "NotImplemented": (501, "A header you provided implies functionality that is not implemented"),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
    "RequestTimeTooSkewed": (403, "The difference between the request time and the current time is too large."),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided. Check your key and "
        "signing method.",
    ),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "XAmzContentSHA256Mismatch": (400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    "SlowDown": (503, "Please reduce your request rate."),
    "ServiceUnavailable": (503, "Service is unable to handle request."),
}


class S3Error(Exception):
    """An S3 error: code, HTTP status, message and the elements that name its subject."""

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None, **fields: str) -> None:
        known_status, known_message = _ERRORS.get(code, (400, code))
        self.code = code
        self.status = status if status is not None else known_status
        self.message = message if message is not None else known_message
        self.fields = fields
        super().__init__(f"{code}: {self.message}")

    def xml(self, request_id: str, host_id: str) -> bytes:
        return error_xml(self.code, self.message, request_id, host_id, self.fields)


def error_xml(code: str, message: str, request_id: str, host_id: str, fields: dict[str, str] | None = None) -> bytes:
    parts = [f"<Code>{escape(code)}</Code>", f"<Message>{escape(message)}</Message>"]
    for name, value in (fields or {}).items():
        parts.append(f"<{name}>{escape(value)}</{name}>")
    parts.append(f"<RequestId>{escape(request_id)}</RequestId><HostId>{escape(host_id)}</HostId>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()
