"""Checks the model cannot express: policy documents, sizes, tags, quotas."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from iamd import errors as aws
from iamd.policy import DocumentKind, PolicyDocument, PolicyValidationError, parse_policy, policy_size
from iamd.policy.document import check_policy_characters
from iamd.service.call import Call
from iamd.store import NotFound, ReadTx, Tag, TagTarget

__all__ = [
    "ENTITY_QUOTAS",
    "MANAGED_POLICY_SIZE",
    "TRUST_POLICY_SIZE",
    "check_arn",
    "check_boundary",
    "check_document",
    "check_entity_quota",
    "check_request",
    "check_tags",
    "tags_of",
]

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_AGGREGATE = {"user": 2048, "group": 5120, "role": 10240}
MAX_TAGS = 50


def check_document(text: str, kind: DocumentKind, member: str) -> PolicyDocument:
    """Parse a policy parameter as AWS validates it, or raise AWS's error."""
    bad = check_policy_characters(text)
    if bad is not None:
        raise aws.ValidationError(
            f"The specified value for {member[0].lower() + member[1:]} is invalid. It must contain only printable "
            "ASCII characters."
        )
    try:
        return parse_policy(text, kind)
    except PolicyValidationError as e:
        raise aws.MalformedPolicyDocument(e.message) from None


def check_managed_size(text: str) -> None:
    if policy_size(text) > MANAGED_POLICY_SIZE:
        raise aws.LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")


def check_trust_size(text: str) -> None:
    if policy_size(text) > TRUST_POLICY_SIZE:
        raise aws.LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")


def check_inline_aggregate(kind: str, entity: str, documents: Sequence[str]) -> None:
    limit = INLINE_AGGREGATE[kind]
    if sum(policy_size(d) for d in documents) > limit:
        raise aws.LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {entity}")


def tags_of(params: Mapping[str, Any]) -> list[Tag]:
    return [Tag(t["Key"], t.get("Value", "")) for t in params.get("Tags") or ()]


# The quota name of each taggable resource in LimitExceeded messages. AWS's text for the
# 50-tag quota is unconfirmed (AWS "Tags for AWS Identity and Access Management resources");
# iamd uses its usual "Cannot exceed quota for <Name>: <n>" form. Users and roles compare keys
# case-insensitively, the others exactly (AWS "IAM identifiers" (friendly names and paths)).
TAG_QUOTAS = {
    TagTarget.USER: "TagsPerUser",
    TagTarget.ROLE: "TagsPerRole",
    TagTarget.POLICY: "TagsPerPolicy",
    TagTarget.INSTANCE_PROFILE: "TagsPerInstanceProfile",
    TagTarget.MFA_DEVICE: "TagsPerVirtualMFADevice",
    # identity providers (federation)
    TagTarget.OIDC_PROVIDER: "TagsPerOpenIDConnectProvider",
    TagTarget.SAML_PROVIDER: "TagsPerSAMLProvider",
    TagTarget.SERVER_CERTIFICATE: "TagsPerServerCertificate",
}
_FOLDED = frozenset({TagTarget.USER, TagTarget.ROLE})


def check_tags(target: TagTarget, new: Sequence[Tag], existing: Sequence[Tag] = ()) -> None:
    """Duplicate keys, reserved ``aws:`` keys and the 50-tag quota (AWS "Tags for AWS Identity and Access Management
    resources").

    The whole request fails on any problem, so nothing is tagged.
    """
    fold: Callable[[str], str] = str.lower if target in _FOLDED else str
    keys = [fold(t.key) for t in new]
    if len(set(keys)) != len(keys):
        if target in _FOLDED:
            raise aws.InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        raise aws.InvalidInput("Duplicate tag keys found.")
    for t in new:
        if t.key.lower().startswith("aws:"):
            raise aws.InvalidInput("User-defined tag keys can't start with 'aws:'.")
    merged = {fold(t.key) for t in existing} | set(keys)
    if len(merged) > MAX_TAGS:
        raise aws.LimitExceeded(f"Cannot exceed quota for {TAG_QUOTAS[target]}: {MAX_TAGS}")


# Entity-count quotas per account (AWS "IAM and AWS STS quotas" defaults, the values
# GetAccountSummary reports). Checked inside the write transaction, which is serialized, so
# the count still holds at commit. AWS raises them on request; a self-hosted account sets its
# own with ``iamd db quota`` (docs/iam-api.md, "Quotas").
ENTITY_QUOTAS = {"Users": 5000, "Groups": 300, "Roles": 1000, "Policies": 1500, "InstanceProfiles": 1000}
MAX_ENTITY_QUOTA = 100_000_000  # the largest value ``iamd db quota`` sets


def entity_quotas(tx: ReadTx, account: str) -> dict[str, int]:
    """The account's entity quotas: AWS's defaults, with the ones set for the account."""
    return {**ENTITY_QUOTAS, **{k: v for k, v in tx.get_entity_quotas(account).items() if k in ENTITY_QUOTAS}}


def check_entity_quota(tx: ReadTx, account: str, quota: str, count: Callable[[int], int]) -> None:
    """LimitExceeded when creating one more entity would pass the account's quota; ``count(limit)``
    counts the account's entities up to ``limit`` (no need to count an account of a million users)."""
    limit = entity_quotas(tx, account)[quota]
    if count(limit) >= limit:
        raise aws.LimitExceeded(f"Cannot exceed quota for {quota}PerAccount: {limit}")


_POLICY_ARN = re.compile(r"arn:[a-z-]+:iam::(\d{12}|aws):[^\s]+")


def check_arn(value: str) -> None:
    """A PolicyArn / PermissionsBoundary parameter must at least be an IAM ARN.

    AWS answers InvalidInput "ARN <x> is not valid." for text that is not an ARN
    (AWS "Versioning IAM policies", observed); an IAM ARN that names no attachable policy is the
    operation's NoSuchEntity instead.
    """
    if not _POLICY_ARN.fullmatch(value):
        raise aws.InvalidInput(f"ARN {value} is not valid.")


def check_request(operation: str, params: Mapping[str, Any]) -> None:
    """Checks of the parameters alone that the model cannot express, before authorization.

    AWS validates parameters before it authorizes (IAM API "Common Errors"), so a malformed ARN is
    InvalidInput whoever asks.
    """
    for member in ("PolicyArn", "PermissionsBoundary"):
        value = params.get(member)
        if isinstance(value, str):
            check_arn(value)
    if operation == "CreateVirtualMFADevice":
        check_mfa_serial_length(str(params.get("VirtualMFADeviceName") or ""), str(params.get("Path") or "/"))
    if operation == "UpdateAccessKey" and params.get("Status") not in ("Active", "Inactive"):
        # The model's enum also has "Expired", which no key can be set to (AWS "Manage access keys for IAM users").
        raise aws.ValidationError(
            f"1 validation error detected: Value '{params.get('Status')}' at 'status' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Active, Inactive]"
        )


MAX_SERIAL = 256  # the model's bound on SerialNumber, which every later MFA call passes


def _serial_prefix(partition: str) -> int:
    return len(f"arn:{partition}:iam::123456789012:mfa")


MAX_MFA_DEVICE_NAME = MAX_SERIAL - _serial_prefix("aws") - 1  # with the default path "/", in the aws partition


def max_mfa_device_name(partition: str) -> int:
    """The longest device name whose serial (``arn:<partition>:iam::<acct>:mfa/<name>``) fits."""
    return MAX_SERIAL - _serial_prefix(partition) - 1


def check_mfa_serial_length(name: str, path: str, partition: str = "aws") -> None:
    """A virtual MFA device's serial number (its ARN) must fit SerialNumber's 256 characters.

    The model sets no maximum on VirtualMFADeviceName; a device whose serial no later call can
    name would be useless (and its QR code may not fit): docs/mfa.md. The ARN carries the
    partition, so the bound depends on it: the check before authorization knows no partition and
    uses ``aws``'s (the loosest); CreateVirtualMFADevice checks again with the server's.
    """
    longest = max_mfa_device_name(partition)
    if len(name) > longest:
        raise aws.ValidationError(
            f"1 validation error detected: Value '{name}' at 'virtualMFADeviceName' failed to satisfy constraint: "
            f"Member must have length less than or equal to {longest}"
        )
    if _serial_prefix(partition) + len(path) + len(name) > MAX_SERIAL:
        raise aws.InvalidInput(
            f"The serial number of a virtual MFA device (its path and name) may be at most {MAX_SERIAL} characters."
        )


def check_boundary(tx: ReadTx, arn: str | None) -> None:
    """A permissions boundary must be an existing managed policy (customer or AWS).

    AWS: NoSuchEntity "Scope ARN: <arn> does not exist or is not attachable." (observed).
    """
    if arn is None:
        return
    check_arn(arn)
    try:
        policy = tx.get_policy(arn)
    except NotFound:
        policy = None
    if policy is None or not policy.is_attachable:
        raise aws.NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")


def target_user_name(call: Call) -> str | None:
    """``UserName``, or the signing user's when omitted; None for root."""
    name = call.params.get("UserName")
    if name is not None:
        return str(name)
    if call.caller.user is not None:
        return call.caller.user.name
    if call.caller.is_root:
        return None
    raise aws.ValidationError("Must specify userName when calling with non-User credentials")
