"""One error tree for the whole service; exactly one place turns it into a response.

Every AWS error iamd can return is a subclass of :class:`AwsError` carrying AWS's code,
HTTP status and fault (``Sender`` for 4xx, ``Receiver`` for 5xx) as in botocore's
models (IAM API "Common Errors" and each operation's Errors). ``iamd.protocol`` renders them; nothing else builds error
bodies.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDenied",
    "AccountNotManagementOrDelegatedAdministratorException",
    "AwsError",
    "CallerIsNotManagementAccountException",
    "ConcurrentModification",
    "DeleteConflict",
    "DuplicateCertificate",
    "DuplicateSSHPublicKey",
    "EntityAlreadyExists",
    "EntityTemporarilyUnmodifiable",
    "ExpiredToken",
    "ExpiredTokenException",
    "ExpiredTradeInTokenException",
    "FeatureDisabled",
    "FeatureEnabled",
    "IDPCommunicationError",
    "IDPRejectedClaim",
    "IncompleteSignature",
    "InsufficientSessionLifetime",
    "InternalFailure",
    "InvalidAction",
    "InvalidAuthenticationCode",
    "InvalidAuthorizationMessageException",
    "InvalidCertificate",
    "InvalidClientTokenId",
    "InvalidContextAssertion",
    "InvalidIdentityToken",
    "InvalidInput",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "InvalidPublicKey",
    "InvalidQueryParameter",
    "InvalidSubjectCredentials",
    "InvalidUserType",
    "JWTPayloadSizeExceededException",
    "KeyPairMismatch",
    "LimitExceeded",
    "MalformedCertificate",
    "MalformedPolicyDocument",
    "MalformedQueryString",
    "MissingAction",
    "MissingAuthenticationToken",
    "NotImplementedOperation",
    "MissingParameter",
    "NameConflict",
    "NoSuchEntity",
    "NotAuthorized",
    "NotSupportedService",
    "OpenIdIdpCommunicationError",
    "OptInRequired",
    "OrganizationNotFoundException",
    "OrganizationNotInAllFeaturesModeException",
    "OutboundWebIdentityFederationDisabledException",
    "PackedPolicyTooLarge",
    "PasswordPolicyViolation",
    "PolicyEvaluation",
    "PolicyNotAttachable",
    "RegionDisabledException",
    "ReportExpired",
    "ReportGenerationLimitExceeded",
    "ReportInProgress",
    "ReportNotPresent",
    "RequestExpired",
    "RoleModified",
    "RoleTemplateDisabled",
    "ServiceAccessNotEnabledException",
    "ServiceFailure",
    "ServiceUnavailable",
    "SessionDurationEscalationException",
    "SignatureDoesNotMatch",
    "Throttling",
    "UnmodifiableEntity",
    "UnrecognizedPublicKeyEncoding",
    "ValidationError",
]


class AwsError(Exception):
    """An error answered to the client in AWS's shape."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    # A refused credential: what the request presented (iamd.auth.Presented), for the audit trail.
    presented: object | None = None

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

    def __init__(self, message: str, decision: object | None = None) -> None:
        super().__init__(message)
        self.decision = decision  # the engine's Decision, when a policy evaluation denied (for the audit trail)


class InternalFailure(AwsError):
    code, status = "InternalFailure", 500


class MissingParameter(AwsError):
    code, status = "MissingParameter", 400


class InvalidParameterValue(AwsError):
    code, status = "InvalidParameterValue", 400


class InvalidParameterCombination(AwsError):
    code, status = "InvalidParameterCombination", 400


class InvalidQueryParameter(AwsError):
    code, status = "InvalidQueryParameter", 400


class MalformedQueryString(AwsError):
    code, status = "MalformedQueryString", 404


class Throttling(AwsError):
    code, status = "Throttling", 400

    def __init__(self, message: str = "Rate exceeded") -> None:
        super().__init__(message)


class OptInRequired(AwsError):
    code, status = "OptInRequired", 403


class NotAuthorized(AwsError):
    code, status = "NotAuthorized", 400


class ServiceUnavailable(AwsError):
    code, status = "ServiceUnavailable", 503


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


class PolicyNotAttachable(AwsError):
    code, status = "PolicyNotAttachable", 400


class EntityTemporarilyUnmodifiable(AwsError):
    code, status = "EntityTemporarilyUnmodifiable", 409


class ConcurrentModification(AwsError):
    code, status = "ConcurrentModification", 409


class PasswordPolicyViolation(AwsError):
    code, status = "PasswordPolicyViolation", 400


class InvalidAuthenticationCode(AwsError):
    code, status = "InvalidAuthenticationCode", 403


class InvalidUserType(AwsError):
    code, status = "InvalidUserType", 400


class ReportNotPresent(AwsError):
    """``CredentialReportNotPresentException`` in the model: no report was generated."""

    code, status = "ReportNotPresent", 410


class ReportExpired(AwsError):
    """``CredentialReportExpiredException`` in the model: the report is older than 4 hours."""

    code, status = "ReportExpired", 410


class ReportInProgress(AwsError):
    """``CredentialReportNotReadyException`` in the model: generation is still running."""

    code, status = "ReportInProgress", 404


class ReportGenerationLimitExceeded(AwsError):
    code, status = "ReportGenerationLimitExceeded", 409


class PolicyEvaluation(AwsError):
    code, status = "PolicyEvaluation", 500


class MalformedCertificate(AwsError):
    code, status = "MalformedCertificate", 400


class InvalidCertificate(AwsError):
    code, status = "InvalidCertificate", 400


class DuplicateCertificate(AwsError):
    code, status = "DuplicateCertificate", 409


class KeyPairMismatch(AwsError):
    code, status = "KeyPairMismatch", 400


class InvalidPublicKey(AwsError):
    code, status = "InvalidPublicKey", 400


class DuplicateSSHPublicKey(AwsError):
    code, status = "DuplicateSSHPublicKey", 400


class UnrecognizedPublicKeyEncoding(AwsError):
    code, status = "UnrecognizedPublicKeyEncoding", 400


class NotSupportedService(AwsError):
    """``ServiceNotSupportedException`` in the model."""

    code, status = "NotSupportedService", 404


class OpenIdIdpCommunicationError(AwsError):
    code, status = "OpenIdIdpCommunicationError", 400


class FeatureDisabled(AwsError):
    code, status = "FeatureDisabled", 404


class FeatureEnabled(AwsError):
    code, status = "FeatureEnabled", 409


class RoleModified(AwsError):
    code, status = "RoleModified", 409


class NameConflict(AwsError):
    code, status = "NameConflict", 409


class RoleTemplateDisabled(AwsError):
    code, status = "RoleTemplateDisabled", 400


# The model gives these (centralized root access) neither a code nor a status: the code is
# the shape name, and the status is 400 (the Errors of each operation in the IAM API Reference).
class ServiceAccessNotEnabledException(AwsError):
    code, status = "ServiceAccessNotEnabledException", 400


class AccountNotManagementOrDelegatedAdministratorException(AwsError):
    code, status = "AccountNotManagementOrDelegatedAdministratorException", 400


class OrganizationNotFoundException(AwsError):
    code, status = "OrganizationNotFoundException", 400


class OrganizationNotInAllFeaturesModeException(AwsError):
    code, status = "OrganizationNotInAllFeaturesModeException", 400


class CallerIsNotManagementAccountException(AwsError):
    code, status = "CallerIsNotManagementAccountException", 400


# -- STS modeled errors (MalformedPolicyDocument is shared with IAM) ----------------------
class PackedPolicyTooLarge(AwsError):
    code, status = "PackedPolicyTooLarge", 400


class RegionDisabledException(AwsError):
    code, status = "RegionDisabledException", 403


class ExpiredTokenException(AwsError):
    """The *presented* token (SAML assertion, web identity token) is expired.

    Not :class:`ExpiredToken`, which is the 403 for expired request credentials.
    """

    code, status = "ExpiredTokenException", 400


class IDPRejectedClaim(AwsError):
    code, status = "IDPRejectedClaim", 403


class IDPCommunicationError(AwsError):
    code, status = "IDPCommunicationError", 400


class InvalidIdentityToken(AwsError):
    code, status = "InvalidIdentityToken", 400


class InvalidAuthorizationMessageException(AwsError):
    code, status = "InvalidAuthorizationMessageException", 400


class InvalidContextAssertion(AwsError):
    code, status = "InvalidContextAssertion", 400


class ExpiredTradeInTokenException(AwsError):
    code, status = "ExpiredTradeInTokenException", 400


class InsufficientSessionLifetime(AwsError):
    code, status = "InsufficientSessionLifetime", 400


class InvalidSubjectCredentials(AwsError):
    code, status = "InvalidSubjectCredentials", 400


class SessionDurationEscalationException(AwsError):
    code, status = "SessionDurationEscalationException", 403


class OutboundWebIdentityFederationDisabledException(AwsError):
    code, status = "OutboundWebIdentityFederationDisabledException", 403


class JWTPayloadSizeExceededException(AwsError):
    code, status = "JWTPayloadSizeExceededException", 400


class NotImplementedOperation(AwsError):
    """A real AWS operation this iamd server does not offer (yet). 501: botocore does not retry it."""

    code, status = "NotImplemented", 501
