"""Which resource an IAM request is authorized against (docs/iam-api.md, authorization details).

The rule is read off the request's parameters, driven by which entity names it carries;
the few operations that differ are listed explicitly.

IAM looks names up case-insensitively, but policies match resource ARNs case-sensitively.
So a request is authorized against the ARN of the entity **as stored** (its stored path and
name, through ``stored_arn``), never against the request's spelling: a Deny on
``user/Admin`` then also holds for ``UserName=admin``. Only an entity that does not exist
yet (Create*, the new name of a rename) is authorized under the requested spelling
(docs/security.md, names and case).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from iamd.service import service_linked

__all__ = ["KeyOwner", "StoredArn", "Target", "canonical_arn", "creates_by_name", "iam_target", "taken_target"]

# (kind, name or ARN) -> the ARN of the stored entity, None if there is none. Kinds named by
# name: user, group, role, instance-profile, server-certificate; by ARN: policy,
# oidc-provider, saml-provider, mfa (its serial number).
StoredArn = Callable[[str, str], str | None]
KeyOwner = Callable[[str], str | None]  # access key id -> owning user's name, "" for root, None if unknown

# Entity parameters, strongest first: AddUserToGroup targets the group, GetMFADevice the user…
_NAMED = (
    ("InstanceProfileName", "instance-profile"),
    ("GroupName", "group"),
    ("RoleName", "role"),
    ("UserName", "user"),
)
_CREATE = {
    "CreateUser": ("user", "UserName"),
    "CreateGroup": ("group", "GroupName"),
    "CreateRole": ("role", "RoleName"),
    "CreatePolicy": ("policy", "PolicyName"),
    "CreateInstanceProfile": ("instance-profile", "InstanceProfileName"),
    "CreateVirtualMFADevice": ("mfa", "VirtualMFADeviceName"),
    "UploadServerCertificate": ("server-certificate", "ServerCertificateName"),
}
_LIST_BY_PATH = {
    "ListUsers": "user",
    "ListGroups": "group",
    "ListRoles": "role",
    "ListInstanceProfiles": "instance-profile",
    "ListVirtualMFADevices": "mfa",
    "ListServerCertificates": "server-certificate",
}
# Operations on a user that default to the caller when UserName is omitted (the operation's page in the IAM API
# Reference).
USER_DEFAULTS_TO_CALLER = frozenset(
    {
        "GetUser", "ListAccessKeys", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "ListMFADevices",
        "DeactivateMFADevice", "GetLoginProfile", "CreateLoginProfile", "DeleteLoginProfile", "ChangePassword",
        "ListSigningCertificates", "ListSSHPublicKeys", "ListServiceSpecificCredentials", "ListGroupsForUser",
        "GetMFADevice",
        # signing certificates and service-specific credentials
        "UploadSigningCertificate", "UpdateSigningCertificate", "DeleteSigningCertificate",
        "ResetServiceSpecificCredential", "UpdateServiceSpecificCredential", "DeleteServiceSpecificCredential",
    }
)  # fmt: skip
# Operations on a virtual MFA device by serial number: the resource is the device's
# ARN (its serial), and its tags are aws:ResourceTag.
_MFA_DEVICE_OPS = frozenset({"DeleteVirtualMFADevice", "TagMFADevice", "UntagMFADevice", "ListMFADeviceTags"})


@dataclass(frozen=True, slots=True)
class Target:
    arn: str  # what policies match against
    display: str  # what AWS's denial message shows
    context: tuple[tuple[str, str | list[str]], ...] = ()  # request-specific condition keys
    kind: str | None = None  # an existing entity the request names (for aws:ResourceTag)
    name: str | None = None
    # Further actions the request needs, each on its own resource: iam:Tag* when a Create*
    # carries Tags, the new name's ARN when UpdateUser/UpdateGroup renames or moves.
    also: tuple[tuple[str, Target], ...] = ()


# Create* operations whose Tags also need the Tag* permission (AWS "Tags for AWS Identity and Access Management
# resources").
_TAG_ON_CREATE = {
    "CreateUser": "TagUser",
    "CreateRole": "TagRole",
    "CreatePolicy": "TagPolicy",
    "CreateInstanceProfile": "TagInstanceProfile",
    "CreateVirtualMFADevice": "TagMFADevice",
    # identity providers (federation)
    "CreateOpenIDConnectProvider": "TagOpenIDConnectProvider",
    "CreateSAMLProvider": "TagSAMLProvider",
    "UploadServerCertificate": "TagServerCertificate",
}
# Renames need permission on the old and the new ARN (IAM API "CreateUser", "UpdateUser", "DeleteUser").
_RENAMES = {
    "UpdateUser": ("user", "UserName", "NewUserName"),
    "UpdateGroup": ("group", "GroupName", "NewGroupName"),
    "UpdateServerCertificate": ("server-certificate", "ServerCertificateName", "NewServerCertificateName"),
}


def _arn(partition: str, account: str, kind: str, path: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:{kind}{path}{name}"


def _named(stored_arn: StoredArn, partition: str, account: str, kind: str, name: str) -> tuple[str, str]:
    """(ARN, name) of the entity ``name`` denotes: the stored one's, else the requested spelling."""
    arn = stored_arn(kind, name)
    if arn is None:
        return _arn(partition, account, kind, "/", name), name
    return arn, arn.rsplit("/", 1)[1]


_BY_NAME = frozenset({"user", "group", "role", "instance-profile", "server-certificate"})
_BY_ARN = frozenset({"policy", "oidc-provider", "saml-provider", "mfa"})


def canonical_arn(stored_arn: StoredArn, account: str, arn: str) -> str:
    """The stored spelling of an IAM ``arn`` of ``account`` (path and name), else ``arn`` as given.

    Entities named by name are found by their name alone (the last segment), as the
    operations that take such ARNs (SimulatePrincipalPolicy) find them.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return arn
    kind = parts[5].split("/", 1)[0]
    if kind in _BY_NAME and "/" in parts[5] and parts[4] == account:
        return stored_arn(kind, parts[5].rsplit("/", 1)[1]) or arn
    if kind in _BY_ARN:  # the store reads the ARN itself (policies: AWS managed ones too)
        return stored_arn(kind, arn) or arn
    return arn


def iam_target(
    operation: str,
    params: Mapping[str, Any],
    account: str,
    caller_user: tuple[str, str] | None,
    stored_arn: StoredArn,
    key_owner: KeyOwner | None = None,
    *,
    partition: str = "aws",
    taken_name: bool = True,
) -> Target:
    """The resource and extra context keys for ``operation`` with ``params``.

    ``caller_user`` is ``(path, name)`` when an IAM user signed the request; ``partition``
    is the server's (iamd.partitions). ``taken_name`` False: a create by name leaves out the entity
    that may have the name already (no read of it); the caller then authorizes it with
    :func:`taken_target` if the create fails (the core does, inside the write's transaction).
    """
    target = _target(operation, params, partition, account, caller_user, stored_arn, key_owner)
    also: list[tuple[str, Target]] = []
    if taken_name:
        # The new entity's ARN as requested (as AWS), and, when the name exists already in
        # another spelling or path, the existing entity's too: a Deny on it answers before
        # EntityAlreadyExists.
        holder = _taken(operation, params, stored_arn, target)
        if holder is not None:
            also.append((operation, holder))
    if operation in _TAG_ON_CREATE and params.get("Tags"):
        also.append((_TAG_ON_CREATE[operation], Target(target.arn, target.display, target.context)))
    if operation in _RENAMES:
        kind, member, new_member = _RENAMES[operation]
        if params.get(new_member) is not None or params.get("NewPath") is not None:
            # The old ARN (the target) is the stored one; the new one keeps whatever the
            # request does not change from the stored entity.
            old_arn, old_name = _named(stored_arn, partition, account, kind, params[member])
            name = params.get(new_member) or old_name
            path = params.get("NewPath") or old_arn.split(":", 5)[5][len(kind) : -len(old_name)] or "/"
            arn = _arn(partition, account, kind, path, name)
            also.append((operation, Target(arn, f"{kind} {name}" if kind == "user" else arn, target.context)))
            taken = stored_arn(kind, name) if params.get(new_member) else None
            if taken is not None and taken not in (arn, old_arn):  # another entity's spelling
                also.append((operation, Target(taken, taken, target.context)))
    if also:
        return Target(target.arn, target.display, target.context, target.kind, target.name, tuple(also))
    return target


def creates_by_name(operation: str) -> bool:
    """Whether ``operation`` creates an entity named by name (whose name may be taken already,
    in another spelling or path: :func:`taken_target`)."""
    return operation in _CREATE and _CREATE[operation][0] in _BY_NAME


def taken_target(
    operation: str,
    params: Mapping[str, Any],
    account: str,
    caller_user: tuple[str, str] | None,
    stored_arn: StoredArn,
    key_owner: KeyOwner | None = None,
    *,
    partition: str = "aws",
) -> Target | None:
    """A create by name: the entity that has the requested name already in another spelling or
    path, as stored (the resource :func:`iam_target` adds to the target unless ``taken_name``
    is False), with the request's context keys; None if there is none (or the operation creates
    nothing by name). A Deny on it answers before EntityAlreadyExists."""
    if not creates_by_name(operation):
        return None
    target = _target(operation, params, partition, account, caller_user, stored_arn, key_owner)
    return _taken(operation, params, stored_arn, target)


def _taken(operation: str, params: Mapping[str, Any], stored_arn: StoredArn, target: Target) -> Target | None:
    """The stored entity holding the name ``operation`` creates (``target``: the request's),
    when it differs from the request's spelling or path; None otherwise (or no create by name)."""
    if not creates_by_name(operation):
        return None
    kind, member = _CREATE[operation]
    existing = stored_arn(kind, str(params.get(member, "")))
    if existing is None or existing == target.arn:  # none, or the request's own: authorized as the target
        return None
    return Target(existing, existing, target.context)


def _target(
    operation: str,
    params: Mapping[str, Any],
    partition: str,
    account: str,
    caller_user: tuple[str, str] | None,
    stored_arn: StoredArn,
    key_owner: KeyOwner | None,
) -> Target:
    context: list[tuple[str, str | list[str]]] = []
    tags = params.get("Tags")
    if tags:
        for tag in tags:
            context.append((f"aws:RequestTag/{tag['Key']}", tag["Value"]))
        context.append(("aws:TagKeys", [t["Key"] for t in tags]))
    elif params.get("TagKeys"):
        context.append(("aws:TagKeys", list(params["TagKeys"])))
    # The condition keys name the stored policy too: a condition on the ARN of one policy
    # cannot be sidestepped by spelling its name in another case.
    if "PolicyArn" in params and operation.startswith(("Attach", "Detach")):
        context.append(("iam:PolicyARN", canonical_arn(stored_arn, account, str(params["PolicyArn"]))))
    if "PermissionsBoundary" in params:
        boundary = canonical_arn(stored_arn, account, str(params["PermissionsBoundary"]))
        context.append(("iam:PermissionsBoundary", boundary))

    provider = _provider_target(operation, params, partition, account, tuple(context), stored_arn)
    if provider is not None:
        return provider
    if operation in _CREATE:
        kind, member = _CREATE[operation]
        arn = _arn(partition, account, kind, params.get("Path") or "/", params.get(member, ""))
        return Target(arn, arn, tuple(context))
    if operation in _LIST_BY_PATH:
        arn = f"arn:{partition}:iam::{account}:{_LIST_BY_PATH[operation]}{params.get('PathPrefix') or '/'}"
        return Target(arn, arn, tuple(context))
    if "PolicySourceArn" in params:  # SimulatePrincipalPolicy, GetContextKeysForPrincipalPolicy
        arn = canonical_arn(stored_arn, account, str(params["PolicySourceArn"]))
        return Target(arn, arn, tuple(context))
    if operation in _SERVICE_LINKED:
        return _service_linked_target(operation, params, partition, account, context)
    if operation in ("ListPoliciesGrantingServiceAccess", "GenerateServiceLastAccessedDetails"):  # the entity asked of
        arn = canonical_arn(stored_arn, account, str(params["Arn"]))
        return Target(arn, arn, tuple(context))
    if operation == "ListPolicies":
        return Target("*", f"policy path {params.get('PathPrefix') or '/'}", tuple(context))
    for member, kind in _NAMED:
        requested = params.get(member)
        if requested is None:
            continue
        arn, name = _named(stored_arn, partition, account, kind, str(requested))
        display = f"{kind} {name}" if kind in ("user", "role") else arn
        return Target(arn, display, tuple(context), kind, name)
    if operation == "GetAccessKeyLastUsed":
        # The key's owner is the resource, whoever asks (AWS: a user may be allowed this on
        # their own user ARN only). An unknown key gets the account's wildcard user resource;
        # the operation then answers AccessDenied as AWS does (AWS "Manage access keys for IAM users").
        key_id = str(params.get("AccessKeyId", ""))
        owner = key_owner(key_id) if key_owner is not None else None
        if owner:
            arn, owner = _named(stored_arn, partition, account, "user", owner)
            return Target(arn, f"user {owner}", tuple(context), "user", owner)
        if owner == "":
            arn = f"arn:{partition}:iam::{account}:root"
            return Target(arn, arn, tuple(context))
        return Target(f"arn:{partition}:iam::{account}:user/*", f"access key {key_id}", tuple(context))
    if operation in USER_DEFAULTS_TO_CALLER and caller_user is not None:
        path, name = caller_user
        return Target(_arn(partition, account, "user", path, name), f"user {name}", tuple(context), "user", name)
    if operation in _MFA_DEVICE_OPS and "SerialNumber" in params:
        serial = canonical_arn(stored_arn, account, str(params["SerialNumber"]))
        return Target(serial, serial, tuple(context), "mfa", serial)
    if "PolicyArn" in params:
        arn = canonical_arn(stored_arn, account, str(params["PolicyArn"]))
        return Target(arn, f"policy {arn}", tuple(context), "policy", arn)
    if "SerialNumber" in params:
        serial = canonical_arn(stored_arn, account, str(params["SerialNumber"]))
        return Target(serial, serial, tuple(context))
    if "ServerCertificateName" in params:
        arn, _ = _named(stored_arn, partition, account, "server-certificate", str(params["ServerCertificateName"]))
        return Target(arn, arn, tuple(context))
    return Target("*", "*", tuple(context))


# -- service-linked roles ----------------------------------------------------------
_SERVICE_LINKED = frozenset({"CreateServiceLinkedRole", "GetServiceLinkedRoleDeletionStatus"})


def _service_linked_target(
    operation: str, params: Mapping[str, Any], partition: str, account: str, context: list[tuple[str, str | list[str]]]
) -> Target:
    """The role a service-linked role request is about (AWS "Actions, resources, and condition keys for AWS Identity
    and Access Management"): the new role, with ``iam:AWSServiceName``; the role a deletion task deleted."""
    if operation == "CreateServiceLinkedRole":
        service = str(params.get("AWSServiceName", ""))
        name = service_linked.role_name(service, params.get("CustomSuffix"))
        arn = _arn(partition, account, "role", service_linked.role_path(service), name)
        return Target(arn, f"role {name}", (*context, ("iam:AWSServiceName", service)))
    found = service_linked.deletion_task_role(str(params.get("DeletionTaskId", "")))
    if found is None:
        return Target("*", "*", tuple(context))
    service, name = found
    arn = _arn(partition, account, "role", service_linked.role_path(service), name)
    return Target(arn, f"role {name}", tuple(context))


# -- identity providers (federation) -----------------------------------------------
_PROVIDER_ARNS = {"OpenIDConnectProviderArn": "oidc-provider", "SAMLProviderArn": "saml-provider"}


def _provider_target(
    operation: str,
    params: Mapping[str, Any],
    partition: str,
    account: str,
    context: tuple[tuple[str, str | list[str]], ...],
    stored_arn: StoredArn,
) -> Target | None:
    """OIDC/SAML providers: the provider's ARN, with its tags for aws:ResourceTag (kind + ARN)."""
    if operation == "CreateOpenIDConnectProvider":
        url = str(params.get("Url", ""))
        rest = url[len("https://") :] if url.lower().startswith("https://") else url
        arn = f"arn:{partition}:iam::{account}:oidc-provider/{rest.rstrip('/')}"
        return Target(arn, arn, context)
    if operation == "CreateSAMLProvider":
        arn = f"arn:{partition}:iam::{account}:saml-provider/{params.get('Name', '')}"
        return Target(arn, arn, context)
    for member, kind in _PROVIDER_ARNS.items():
        if member in params:
            arn = canonical_arn(stored_arn, account, str(params[member]))
            return Target(arn, arn, context, kind, arn)
    return None
