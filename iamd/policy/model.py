"""The typed, frozen form of a policy document, as parsed and validated.

Evaluation never sees raw JSON: :func:`iamd.policy.document.parse_policy` turns text into
these values once, at write time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from .operators import ParsedOperator
from .source import Position

__all__ = [
    "ConditionEntry",
    "DocumentKind",
    "PolicyDocument",
    "PrincipalSet",
    "Statement",
    "VERSION_2008",
    "VERSION_2012",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class DocumentKind(StrEnum):
    """What a document is validated as (policy-validation.md)."""

    IDENTITY = "identity"
    BOUNDARY = "boundary"
    SESSION = "session"
    RESOURCE = "resource"
    TRUST = "trust"
    SCP = "scp"
    RCP = "rcp"

    @property
    def has_principal(self) -> bool:
        return self in (DocumentKind.RESOURCE, DocumentKind.TRUST, DocumentKind.RCP)

    @property
    def needs_version_2012(self) -> bool:
        return self not in (DocumentKind.RESOURCE, DocumentKind.TRUST)

    @property
    def needs_resource(self) -> bool:
        return self in (DocumentKind.IDENTITY, DocumentKind.BOUNDARY, DocumentKind.SESSION, DocumentKind.SCP)


@dataclass(frozen=True, slots=True)
class PrincipalSet:
    """The value of a ``Principal`` or ``NotPrincipal`` element."""

    wildcard: bool  # "*" or {"AWS": "*"}
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionEntry:
    """One key under one operator: ``{"StringEquals": {"aws:username": ["a", "b"]}}``."""

    operator: ParsedOperator
    key: str  # as written
    values: tuple[str, ...]  # JSON numbers and booleans in their string form
    position: Position

    @property
    def key_lower(self) -> str:
        return self.key.lower()


@dataclass(frozen=True, slots=True)
class Statement:
    index: int  # 0-based position in the Statement list
    sid: str | None
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: PrincipalSet | None
    not_principal: PrincipalSet | None
    conditions: tuple[ConditionEntry, ...]
    start: Position
    end: Position

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    kind: DocumentKind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    text: str  # the source, as given (AWS returns documents as written)

    @property
    def variables_enabled(self) -> bool:
        return self.version == VERSION_2012

    @property
    def canonical(self) -> str:
        """Compact JSON with the source's key order: the form to compare and hash."""
        return json.dumps(json.loads(self.text), separators=(",", ":"), ensure_ascii=False)
