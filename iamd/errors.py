"""One error tree for the whole service; exactly one place turns it into a response.

Every AWS error iamd can return is a subclass of :class:`AwsError` carrying AWS's code,
HTTP status and fault (``Sender`` for 4xx, ``Receiver`` for 5xx) as in botocore's
models (errors.md §2). ``iamd.protocol`` renders them; nothing else builds error bodies.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDenied",
    "AwsError",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ExpiredToken",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidInput",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "MissingAction",
    "MissingAuthenticationToken",
    "NoSuchEntity",
    "RequestExpired",
    "ServiceFailure",
    "SignatureDoesNotMatch",
    "UnmodifiableEntity",
    "ValidationError",
]


class AwsError(Exception):
    """An error answered to the client in AWS's shape."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def fault(self) -> str:
        return "Receiver" if self.status >= 500 else "Sender"


# -- protocol and authentication (common to IAM and STS) ----------------------------------
class MissingAction(AwsError):
    code, status = "MissingAction", 400


class InvalidAction(AwsError):
    code, status = "InvalidAction", 400


class ValidationError(AwsError):
    code, status = "ValidationError", 400


class MissingAuthenticationToken(AwsError):
    code, status = "MissingAuthenticationToken", 403


class IncompleteSignature(AwsError):
    code, status = "IncompleteSignature", 400


class InvalidClientTokenId(AwsError):
    code, status = "InvalidClientTokenId", 403

    def __init__(self, message: str = "The security token included in the request is invalid.") -> None:
        super().__init__(message)


class SignatureDoesNotMatch(AwsError):
    code, status = "SignatureDoesNotMatch", 403


class RequestExpired(AwsError):
    code, status = "RequestExpired", 400


class ExpiredToken(AwsError):
    code, status = "ExpiredToken", 403

    def __init__(self, message: str = "The security token included in the request is expired") -> None:
        super().__init__(message)


class AccessDenied(AwsError):
    code, status = "AccessDenied", 403


class InternalFailure(AwsError):
    code, status = "InternalFailure", 500


# -- IAM modeled errors -------------------------------------------------------------------
class NoSuchEntity(AwsError):
    code, status = "NoSuchEntity", 404


class EntityAlreadyExists(AwsError):
    code, status = "EntityAlreadyExists", 409


class LimitExceeded(AwsError):
    code, status = "LimitExceeded", 409


class DeleteConflict(AwsError):
    code, status = "DeleteConflict", 409


class MalformedPolicyDocument(AwsError):
    code, status = "MalformedPolicyDocument", 400


class InvalidInput(AwsError):
    code, status = "InvalidInput", 400


class UnmodifiableEntity(AwsError):
    code, status = "UnmodifiableEntity", 400


class ServiceFailure(AwsError):
    code, status = "ServiceFailure", 500
