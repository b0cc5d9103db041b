"""References to what a cached value was built from, and to what a write touched.

Caches (the backend's entities and credentials, the compiled policy sets) index their
entries by these; an invalidation names the refs a write touched (iamd.store.changes).
IAM names are unique case-insensitively and looked up ignoring case, so refs lower-case them.
"""

from __future__ import annotations

__all__ = ["Ref", "key_ref", "policy_ref", "ref"]

Ref = tuple[str, str, str]  # (kind, account, lower-cased name); ("policy", "", arn); ("key", "", key id)


def ref(kind: str, account: str, name: str) -> Ref:
    """``kind``: user, group, role or instance-profile."""
    low = name.lower()
    return (kind, account, name if low == name else low)  # a name already lower case: the one string, not a copy


def policy_ref(arn: str) -> Ref:
    low = arn.lower()
    return ("policy", "", arn if low == arn else low)


def key_ref(key_id: str) -> Ref:
    return ("key", "", key_id)
