"""Store errors → AWS errors, with AWS's messages (the Errors of each operation in the IAM API Reference)."""

from __future__ import annotations

from iamd import errors as aws
from iamd.store import AlreadyExists, Conflict, ConflictReason, InvalidMarker, LimitExceeded, NotFound, StoreError

__all__ = ["INVALID_MARKER", "aws_error"]

INVALID_MARKER = "Invalid Marker."

_NOT_FOUND = {
    "user": "The user with name {} cannot be found.",
    "group": "The group with name {} cannot be found.",
    "role": "The role with name {} cannot be found.",
    "policy": "Policy {} was not found.",
    "policy attachment": "Policy {} was not found.",
    "instance profile": "Instance Profile {} cannot be found.",
    "role in instance profile": "The role with name {} cannot be found in the instance profile.",
    "access key": "The Access Key with id {} cannot be found",
    "user policy": "The user policy with name {} cannot be found.",
    "group policy": "The group policy with name {} cannot be found.",
    "role policy": "The role policy with name {} cannot be found.",
    # virtual MFA devices (AWS's wording unconfirmed, docs/mfa.md)
    "virtual mfa device": "VirtualMFADevice with serial number {} doesn't exist.",
    "mfa device assignment": "MFA Device with serial number {} not found.",
    "login profile": "Login Profile for User {} cannot be found.",
    # other credentials, server certificates (docs/iam-api.md, "Other credentials")
    "ssh public key": "The Public Key with id {} cannot be found.",
    "signing certificate": "The Certificate with id {} cannot be found.",
    "service specific credential": "No such credential {} exists.",
    "server certificate": "The Server Certificate with name {} cannot be found.",
}
_EXISTS = {
    "user": "User with name {} already exists.",
    "group": "Group with name {} already exists.",
    "role": "Role with name {} already exists.",
    "policy": "A policy called {} already exists. Duplicate names are not allowed.",
    "instance profile": "Instance Profile {} already exists.",
    "account alias": "The account alias {} already exists.",
    "role in instance profile": "The role with name {} is already associated with the instance profile.",
    # virtual MFA devices (the Errors of each operation in the IAM API Reference)
    "virtual mfa device": "MFADevice entity at the same path and name already exists.",
    "mfa device assignment": "MFA device is already in use.",
    "login profile": "Login Profile for user {} already exists.",
    "server certificate": "The Server Certificate with name {} already exists.",
}
_CONFLICT = {
    ConflictReason.HAS_ACCESS_KEYS: "Cannot delete entity, must delete access keys first.",
    ConflictReason.HAS_INLINE_POLICIES: "Cannot delete entity, must delete policies first.",
    ConflictReason.HAS_ATTACHED_POLICIES: "Cannot delete entity, must detach all policies first.",
    ConflictReason.HAS_GROUP_MEMBERSHIPS: "Cannot delete entity, must remove users from group first.",
    ConflictReason.HAS_MEMBERS: "Cannot delete entity, must remove users from group first.",
    ConflictReason.IN_INSTANCE_PROFILE: "Cannot delete entity, must remove roles from instance profile first.",
    ConflictReason.HAS_ROLE: "Cannot delete entity, must remove roles from instance profile first.",
    ConflictReason.POLICY_ATTACHED: "Cannot delete a policy attached to entities.",
    ConflictReason.POLICY_USED_AS_BOUNDARY: "Cannot delete a policy attached to entities.",
    ConflictReason.POLICY_HAS_VERSIONS: (
        "This policy has more than one version. Before you delete a policy, you must delete the policy's "
        "versions. The default version is deleted with the policy."
    ),
    ConflictReason.DEFAULT_VERSION: "Cannot delete the default version of a policy.",
    # virtual MFA devices (the Errors of each operation in the IAM API Reference; the second text is unconfirmed)
    ConflictReason.HAS_MFA_DEVICES: "Cannot delete entity, must delete MFA device first.",
    ConflictReason.MFA_DEVICE_ASSIGNED: "MFA device is still in use.",
    # login profiles
    ConflictReason.HAS_LOGIN_PROFILE: "Cannot delete entity, must delete login profile first.",
    ConflictReason.HAS_SIGNING_CERTIFICATES: "Cannot delete entity, must delete signing certificates first.",
    ConflictReason.HAS_SSH_PUBLIC_KEYS: "Cannot delete entity, must delete SSH public keys first.",
    ConflictReason.HAS_SERVICE_SPECIFIC_CREDENTIALS: (
        "Cannot delete entity, must delete service specific credentials first."
    ),
}


def aws_error(error: StoreError) -> aws.AwsError:
    # a marker this listing did not issue (the Errors of each operation in the IAM API Reference)
    if isinstance(error, InvalidMarker):
        return aws.ValidationError(INVALID_MARKER)
    if isinstance(error, NotFound):
        if error.entity == "policy version":
            arn, _, version = error.name.rpartition(" ")
            return aws.NoSuchEntity(f"Policy {arn} version {version} does not exist or is not attachable.")
        template = _NOT_FOUND.get(error.entity, "The {entity} {name} cannot be found.")
        return aws.NoSuchEntity(template.format(error.name, entity=error.entity, name=error.name))
    if isinstance(error, AlreadyExists):
        template = _EXISTS.get(error.entity, "{entity} {name} already exists.")
        return aws.EntityAlreadyExists(template.format(error.name, entity=error.entity, name=error.name))
    if isinstance(error, Conflict):
        if error.reason is ConflictReason.AWS_MANAGED:
            return aws.UnmodifiableEntity(f"Cannot modify the AWS managed policy {error.name}.")
        return aws.DeleteConflict(_CONFLICT.get(error.reason, "Cannot delete entity: it is still in use."))
    if isinstance(error, LimitExceeded):
        if error.limit == "VersionsPerPolicy":
            return aws.LimitExceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
                "existing version."
            )
        return aws.LimitExceeded(f"Cannot exceed quota for {error.limit}: {error.value}")
    return aws.ServiceFailure("The request could not be completed.")
