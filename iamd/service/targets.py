"""Which resource an IAM request is authorized against (spec/evaluation.md §2.3).

The rule is read off the request's parameters, driven by which entity names it carries;
the few operations that differ are listed explicitly. The resource's path comes from the
store through ``path_of`` so that ARNs include it, as AWS's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "iam_target"]

PathOf = Callable[[str, str], str | None]  # (kind, name) -> path, None if the entity does not exist
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
}
_LIST_BY_PATH = {
    "ListUsers": "user",
    "ListGroups": "group",
    "ListRoles": "role",
    "ListInstanceProfiles": "instance-profile",
    "ListVirtualMFADevices": "mfa",
    "ListServerCertificates": "server-certificate",
}
# Operations on a user that default to the caller when UserName is omitted (api.md §5).
USER_DEFAULTS_TO_CALLER = frozenset(
    {
        "GetUser", "ListAccessKeys", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "ListMFADevices",
        "DeactivateMFADevice", "GetLoginProfile", "CreateLoginProfile", "DeleteLoginProfile", "ChangePassword",
        "ListSigningCertificates", "ListSSHPublicKeys", "ListServiceSpecificCredentials", "ListGroupsForUser",
        "GetMFADevice",
    }
)  # fmt: skip
# Operations on a virtual MFA device by serial number (issue 5): the resource is the device's
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


# Create* operations whose Tags also need the Tag* permission (api.md §5.8).
_TAG_ON_CREATE = {
    "CreateUser": "TagUser",
    "CreateRole": "TagRole",
    "CreatePolicy": "TagPolicy",
    "CreateInstanceProfile": "TagInstanceProfile",
    "CreateVirtualMFADevice": "TagMFADevice",
    # identity providers (issue 4, federation)
    "CreateOpenIDConnectProvider": "TagOpenIDConnectProvider",
    "CreateSAMLProvider": "TagSAMLProvider",
}
# Renames need permission on the old and the new ARN (api.md §5.1).
_RENAMES = {"UpdateUser": ("user", "UserName", "NewUserName"), "UpdateGroup": ("group", "GroupName", "NewGroupName")}


def _arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def iam_target(
    operation: str,
    params: Mapping[str, Any],
    account: str,
    caller_user: tuple[str, str] | None,
    path_of: PathOf,
    key_owner: KeyOwner | None = None,
) -> Target:
    """The resource and extra context keys for ``operation`` with ``params``.

    ``caller_user`` is ``(path, name)`` when an IAM user signed the request.
    """
    target = _target(operation, params, account, caller_user, path_of, key_owner)
    also: list[tuple[str, Target]] = []
    if operation in _TAG_ON_CREATE and params.get("Tags"):
        also.append((_TAG_ON_CREATE[operation], Target(target.arn, target.display, target.context)))
    if operation in _RENAMES:
        kind, member, new_member = _RENAMES[operation]
        if params.get(new_member) is not None or params.get("NewPath") is not None:
            name = params.get(new_member) or params[member]
            path = params.get("NewPath") or path_of(kind, params[member]) or "/"
            arn = _arn(account, kind, path, name)
            also.append((operation, Target(arn, f"{kind} {name}" if kind == "user" else arn, target.context)))
    if also:
        return Target(target.arn, target.display, target.context, target.kind, target.name, tuple(also))
    return target


def _target(
    operation: str,
    params: Mapping[str, Any],
    account: str,
    caller_user: tuple[str, str] | None,
    path_of: PathOf,
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
    if "PolicyArn" in params and operation.startswith(("Attach", "Detach")):
        context.append(("iam:PolicyARN", params["PolicyArn"]))
    if "PermissionsBoundary" in params:
        context.append(("iam:PermissionsBoundary", params["PermissionsBoundary"]))

    provider = _provider_target(operation, params, account, tuple(context))
    if provider is not None:
        return provider
    if operation in _CREATE:
        kind, member = _CREATE[operation]
        arn = _arn(account, kind, params.get("Path") or "/", params.get(member, ""))
        return Target(arn, arn, tuple(context))
    if operation in _LIST_BY_PATH:
        arn = f"arn:aws:iam::{account}:{_LIST_BY_PATH[operation]}{params.get('PathPrefix') or '/'}"
        return Target(arn, arn, tuple(context))
    if "PolicySourceArn" in params:  # SimulatePrincipalPolicy, GetContextKeysForPrincipalPolicy
        arn = str(params["PolicySourceArn"])
        return Target(arn, arn, tuple(context))
    if operation == "ListPolicies":
        return Target("*", f"policy path {params.get('PathPrefix') or '/'}", tuple(context))
    for member, kind in _NAMED:
        name = params.get(member)
        if name is None:
            continue
        path = path_of(kind, name) or "/"
        arn = _arn(account, kind, path, name)
        display = f"{kind} {name}" if kind in ("user", "role") else arn
        return Target(arn, display, tuple(context), kind, name)
    if operation == "GetAccessKeyLastUsed":
        # The key's owner is the resource, whoever asks (AWS: a user may be allowed this on
        # their own user ARN only). An unknown key gets the account's wildcard user resource;
        # the operation then answers AccessDenied as AWS does (api.md §5.6).
        key_id = str(params.get("AccessKeyId", ""))
        owner = key_owner(key_id) if key_owner is not None else None
        if owner:
            arn = _arn(account, "user", path_of("user", owner) or "/", owner)
            return Target(arn, f"user {owner}", tuple(context), "user", owner)
        if owner == "":
            arn = f"arn:aws:iam::{account}:root"
            return Target(arn, arn, tuple(context))
        return Target(f"arn:aws:iam::{account}:user/*", f"access key {key_id}", tuple(context))
    if operation in USER_DEFAULTS_TO_CALLER and caller_user is not None:
        path, name = caller_user
        return Target(_arn(account, "user", path, name), f"user {name}", tuple(context), "user", name)
    if operation in _MFA_DEVICE_OPS and "SerialNumber" in params:
        serial = str(params["SerialNumber"])
        return Target(serial, serial, tuple(context), "mfa", serial)
    if "PolicyArn" in params:
        arn = params["PolicyArn"]
        return Target(arn, f"policy {arn}", tuple(context), "policy", arn)
    for member in ("SerialNumber", "OpenIDConnectProviderArn", "SAMLProviderArn"):
        if member in params:
            return Target(params[member], params[member], tuple(context))
    if "ServerCertificateName" in params:
        name = params["ServerCertificateName"]
        arn = _arn(account, "server-certificate", path_of("server-certificate", name) or "/", name)
        return Target(arn, arn, tuple(context))
    return Target("*", "*", tuple(context))


# -- identity providers (issue 4, federation) -----------------------------------------------
_PROVIDER_ARNS = {"OpenIDConnectProviderArn": "oidc-provider", "SAMLProviderArn": "saml-provider"}


def _provider_target(
    operation: str, params: Mapping[str, Any], account: str, context: tuple[tuple[str, str | list[str]], ...]
) -> Target | None:
    """OIDC/SAML providers: the provider's ARN, with its tags for aws:ResourceTag (kind + ARN)."""
    if operation == "CreateOpenIDConnectProvider":
        url = str(params.get("Url", ""))
        rest = url[len("https://") :] if url.lower().startswith("https://") else url
        arn = f"arn:aws:iam::{account}:oidc-provider/{rest.rstrip('/')}"
        return Target(arn, arn, context)
    if operation == "CreateSAMLProvider":
        arn = f"arn:aws:iam::{account}:saml-provider/{params.get('Name', '')}"
        return Target(arn, arn, context)
    for member, kind in _PROVIDER_ARNS.items():
        if member in params:
            arn = str(params[member])
            return Target(arn, arn, context, kind, arn)
    return None
