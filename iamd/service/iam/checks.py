"""Checks the model cannot express: policy documents, sizes, tags, quotas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from iamd import errors as aws
from iamd.policy import DocumentKind, PolicyDocument, PolicyValidationError, parse_policy, policy_size
from iamd.policy.document import check_policy_characters
from iamd.store import Tag

__all__ = [
    "MANAGED_POLICY_SIZE",
    "TRUST_POLICY_SIZE",
    "check_document",
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


def check_tags(new: Sequence[Tag], existing: Sequence[Tag] = ()) -> None:
    """Duplicate keys (case-insensitive) and the 50-tag quota (api.md §5.8)."""
    keys = [t.key.lower() for t in new]
    if len(set(keys)) != len(keys):
        raise aws.InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    for t in new:
        if t.key.lower().startswith("aws:"):
            raise aws.InvalidInput("User-defined tag keys can't start with 'aws:'.")
    merged = {t.key.lower() for t in existing} | set(keys)
    if len(merged) > MAX_TAGS:
        raise aws.LimitExceeded(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
