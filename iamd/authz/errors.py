"""The error a service should answer when iamd refused its client's signature.

iamd's own endpoints answer refused signatures as IAM does (IAM API "Common Errors"). A
forwarded request to another service is answered in that service's words: S3's are in its
API reference ("Error Responses", list of error codes) and differ from IAM's (an unknown key
is ``InvalidAccessKeyId``, clock skew ``RequestTimeTooSkewed``, an expired presigned URL
``AccessDenied``: docs/authorization-api.md, "Errors of the client's signature"). Any other
service gets IAM's, the generic SigV4 errors.
"""

from __future__ import annotations

from iamd import errors as aws
from iamd.auth import Presented

__all__ = ["client_error", "missing_signature"]

Error = tuple[str, str, int]  # code, message, HTTP status

_S3_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)
_SKEWED = ("Signature expired", "Signature not yet current")


def missing_signature(service: str) -> Error:
    """An unsigned request when the service does not allow anonymous callers."""
    if service == "s3":
        return "AccessDenied", "Access Denied", 403
    return "MissingAuthenticationToken", "Request is missing Authentication Token", 403


def client_error(error: aws.AwsError, service: str) -> Error:
    """The (code, message, status) the service should answer for a refused signature."""
    if service != "s3":
        return error.code, error.message, error.status
    code = error.code
    if code == "InvalidClientTokenId":
        presented = error.presented
        if isinstance(presented, Presented) and presented.located.session_token is not None:
            return "InvalidToken", "The provided token is malformed or otherwise invalid.", 400
        return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403
    if code == "SignatureDoesNotMatch":
        if error.message.startswith(_SKEWED):
            return (
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
            )
        if error.message.startswith("Credential should be scoped") or error.message.startswith("Date in Credential"):
            return "AuthorizationHeaderMalformed", error.message.strip(), 400
        return "SignatureDoesNotMatch", _S3_MISMATCH, 403
    if code == "ExpiredToken":
        return "ExpiredToken", "The provided token has expired.", 400
    if code == "RequestExpired":
        return "AccessDenied", "Request has expired", 403
    if code == "IncompleteSignature":
        return "AuthorizationHeaderMalformed", error.message, 400
    if code == "MissingAuthenticationToken":
        return "AccessDenied", "Access Denied", 403
    return code, error.message, error.status
