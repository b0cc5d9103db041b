"""What the Organizations handlers share: the caller's organization, lookups, paging, tags."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from iamd.protocol.json_codec import InvalidInputException
from iamd.service.call import Call
from iamd.store import OrgPolicy, OrgTree, ReadTx

from .errors import AccessDeniedException, AWSOrganizationsNotInUseException, ConstraintViolationException
from .model import MANAGED, ManagedPolicy

__all__ = ["MAX_TAGS", "caller_tree", "check_tags", "page", "policy_of", "require_management", "target_kind"]

T = TypeVar("T")
MAX_TAGS = 50  # per root, OU, account or policy (AWS Organizations User Guide, "Quotas and service limits")
NOT_IN_USE = "Your account is not a member of an organization."
NO_PERMISSION = "You don't have permissions to access this resource."
DEFAULT_PAGE = 20


def caller_tree(call: Call, tx: ReadTx) -> OrgTree:
    """The organization of the caller's account, read whole; ``AWSOrganizationsNotInUseException`` if none."""
    org = tx.organization_of(call.account)
    if org is None:
        raise AWSOrganizationsNotInUseException(NOT_IN_USE)
    return tx.org_tree(org.id)


def require_management(call: Call, tree: OrgTree) -> None:
    """Management-account operations refuse member accounts with AWS's observed answer."""
    if call.account != tree.organization.management_account_id:
        raise AccessDeniedException(NO_PERMISSION)


def target_kind(tree: OrgTree, target_id: str) -> str | None:
    """``ROOT``, ``ORGANIZATIONAL_UNIT`` or ``ACCOUNT`` for a target of this organization, else None."""
    if target_id == tree.root.id:
        return "ROOT"
    if target_id in tree.units:
        return "ORGANIZATIONAL_UNIT"
    if target_id in tree.accounts:
        return "ACCOUNT"
    return None


def policy_of(tree: OrgTree, policy_id: str) -> OrgPolicy | ManagedPolicy | None:
    return MANAGED.get(policy_id) or tree.policies.get(policy_id)


def page(
    call: Call, items: Sequence[T], key: str, shape: Callable[[T], Any], limit_key: str = "MaxResults"
) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with ``NextToken`` while more remain (an opaque offset)."""
    params: Mapping[str, Any] = call.params
    start = 0
    token = params.get("NextToken")
    if token is not None:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4)).decode("ascii")
            if not raw.startswith("iamd:"):
                raise ValueError(raw)
            start = int(raw[5:])
        except (ValueError, binascii.Error, UnicodeError):
            raise InvalidInputException("The specified pagination token isn't valid.", "INVALID_NEXT_TOKEN") from None
    size = int(params.get(limit_key) or DEFAULT_PAGE)
    chunk = items[start : start + size]
    out: dict[str, Any] = {key: [shape(item) for item in chunk]}
    if start + size < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(f"iamd:{start + size}".encode()).decode().rstrip("=")
    return out


def check_tags(existing: Sequence[tuple[str, str]], new: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """``existing`` with ``new`` applied (a key's value replaced), checked as AWS checks them."""
    keys = [t["Key"] for t in new]
    if len(set(keys)) != len(keys):
        raise InvalidInputException("You specified the same tag key more than once.", "DUPLICATE_TAG_KEY")
    if any(k.lower().startswith("aws:") for k in keys):
        raise InvalidInputException("Tag keys that begin with aws: are reserved for AWS use.",
                                    "INVALID_SYSTEM_TAGS_PARAMETER")  # fmt: skip
    merged = dict(existing)
    for t in new:
        merged[t["Key"]] = t.get("Value", "")
    if len(merged) > MAX_TAGS:
        raise ConstraintViolationException("You have exceeded the maximum number of tags allowed on this resource.",
                                           "MAX_TAG_LIMIT_EXCEEDED")  # fmt: skip
    return sorted(merged.items())
