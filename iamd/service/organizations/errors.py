"""AWS Organizations' exceptions (Organizations API "Common Errors" and each operation's Errors).

Every one answers HTTP 400 (the API reference prints 400 for each; the model gives none) with
``{"__type": <name>, "Message": …}`` and, where the model has one, a ``Reason``
(docs/organizations.md, errors). ``InvalidInputException`` is the protocol codec's.
"""

from __future__ import annotations

from iamd.errors import AwsError
from iamd.protocol.json_codec import InvalidInputException

__all__ = [
    "AccessDeniedException",
    "AWSOrganizationsNotInUseException",
    "AccountAlreadyRegisteredException",
    "AccountNotFoundException",
    "AccountNotRegisteredException",
    "AlreadyInOrganizationException",
    "ChildNotFoundException",
    "ConstraintViolationException",
    "CreateAccountStatusNotFoundException",
    "DestinationParentNotFoundException",
    "DuplicateAccountException",
    "DuplicateOrganizationalUnitException",
    "DuplicatePolicyAttachmentException",
    "DuplicatePolicyException",
    "InvalidInputException",
    "MalformedPolicyDocumentException",
    "MasterCannotLeaveOrganizationException",
    "OrganizationNotEmptyException",
    "OrganizationalUnitNotEmptyException",
    "OrganizationalUnitNotFoundException",
    "OrganizationsError",
    "ParentNotFoundException",
    "ResourcePolicyNotFoundException",
    "PolicyInUseException",
    "PolicyNotAttachedException",
    "PolicyNotFoundException",
    "PolicyTypeAlreadyEnabledException",
    "PolicyTypeNotAvailableForOrganizationException",
    "PolicyTypeNotEnabledException",
    "RootNotFoundException",
    "SourceParentNotFoundException",
    "TargetNotFoundException",
]


class OrganizationsError(AwsError):
    """An Organizations exception; ``reason`` becomes the response's ``Reason`` member."""

    status = 400

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.extra = {"Reason": reason} if reason is not None else {}


class AWSOrganizationsNotInUseException(OrganizationsError):
    code = "AWSOrganizationsNotInUseException"


class AlreadyInOrganizationException(OrganizationsError):
    code = "AlreadyInOrganizationException"


class ConstraintViolationException(OrganizationsError):
    code = "ConstraintViolationException"


class DuplicateOrganizationalUnitException(OrganizationsError):
    code = "DuplicateOrganizationalUnitException"


class OrganizationalUnitNotFoundException(OrganizationsError):
    code = "OrganizationalUnitNotFoundException"


class OrganizationalUnitNotEmptyException(OrganizationsError):
    code = "OrganizationalUnitNotEmptyException"


class ParentNotFoundException(OrganizationsError):
    code = "ParentNotFoundException"


class ChildNotFoundException(OrganizationsError):
    code = "ChildNotFoundException"


class AccountNotFoundException(OrganizationsError):
    code = "AccountNotFoundException"


class SourceParentNotFoundException(OrganizationsError):
    code = "SourceParentNotFoundException"


class DestinationParentNotFoundException(OrganizationsError):
    code = "DestinationParentNotFoundException"


class DuplicateAccountException(OrganizationsError):
    code = "DuplicateAccountException"


class MasterCannotLeaveOrganizationException(OrganizationsError):
    code = "MasterCannotLeaveOrganizationException"


class OrganizationNotEmptyException(OrganizationsError):
    code = "OrganizationNotEmptyException"


class PolicyNotFoundException(OrganizationsError):
    code = "PolicyNotFoundException"


class DuplicatePolicyException(OrganizationsError):
    code = "DuplicatePolicyException"


class MalformedPolicyDocumentException(OrganizationsError):
    code = "MalformedPolicyDocumentException"


class PolicyInUseException(OrganizationsError):
    code = "PolicyInUseException"


class DuplicatePolicyAttachmentException(OrganizationsError):
    code = "DuplicatePolicyAttachmentException"


class PolicyNotAttachedException(OrganizationsError):
    code = "PolicyNotAttachedException"


class PolicyTypeNotEnabledException(OrganizationsError):
    code = "PolicyTypeNotEnabledException"


class PolicyTypeAlreadyEnabledException(OrganizationsError):
    code = "PolicyTypeAlreadyEnabledException"


class PolicyTypeNotAvailableForOrganizationException(OrganizationsError):
    code = "PolicyTypeNotAvailableForOrganizationException"


class RootNotFoundException(OrganizationsError):
    code = "RootNotFoundException"


class TargetNotFoundException(OrganizationsError):
    code = "TargetNotFoundException"


class CreateAccountStatusNotFoundException(OrganizationsError):
    code = "CreateAccountStatusNotFoundException"


class AccessDeniedException(OrganizationsError):
    """A member account calling a management-account operation (the engine's denials are ``AccessDenied``)."""

    code = "AccessDeniedException"


class AccountAlreadyRegisteredException(OrganizationsError):
    code = "AccountAlreadyRegisteredException"


class AccountNotRegisteredException(OrganizationsError):
    code = "AccountNotRegisteredException"


class ResourcePolicyNotFoundException(OrganizationsError):
    code = "ResourcePolicyNotFoundException"
