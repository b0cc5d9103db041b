"""Trust policies name users and roles by unique id, as IAM stores them (AWS "AWS JSON policy elements: Principal").

When a trust policy names ``arn:aws:iam::<acct>:user/<name>`` or ``…:role/<name>``, IAM
resolves it to the entity's unique id on save and renders the ARN back on read. If the
entity is deleted, reads show the raw id (``AIDA…``/``AROA…``) and recreating an entity
with the same name does not restore the trust. iamd does the same, on the document text:
only the quoted principal strings change, the rest of the document stays as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

from iamd.policy.source import JsonSyntaxError, Position, parse_json
from iamd.store import InstanceProfile, NotFound, ReadTx, Role

__all__ = ["render_trust_policy", "shown_profile", "shown_role", "store_trust_policy"]

_ENTITY_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):(user|role)/(?:[^/]*/)*([^/]+)")
_UNIQUE_ID = re.compile(r"A(?:IDA|ROA)[A-Z2-7]{17}")


def _principal_strings(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, value)`` offsets of every string under a ``Principal``'s ``AWS`` key.

    Only those change: an ARN in a condition (``aws:PrincipalArn``) stays as written.
    """
    try:
        root = parse_json(text)
    except JsonSyntaxError:
        return []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def offset(pos: Position) -> int:
        return line_starts[pos.line - 1] + pos.column - 1

    found: list[tuple[int, int, str]] = []
    top = root.value if isinstance(root.value, dict) else {}
    statements = top.get("Statement")
    nodes = [] if statements is None else statements.value if isinstance(statements.value, list) else [statements]
    for st in nodes:
        principal = st.value.get("Principal") if isinstance(st.value, dict) else None
        aws = principal.value.get("AWS") if principal is not None and isinstance(principal.value, dict) else None
        if aws is None:
            continue
        for node in aws.value if isinstance(aws.value, list) else [aws]:
            if isinstance(node.value, str):
                found.append((offset(node.start), offset(node.end), node.value))
    return found


def _replace(text: str, change: Callable[[str], str | None]) -> str:
    out = text
    for start, end, value in sorted(_principal_strings(text), reverse=True):
        new = change(value)
        if new is not None:
            out = out[:start] + json.dumps(new) + out[end:]
    return out


def store_trust_policy(text: str, tx: ReadTx) -> str:
    """The text to store: every user/role ARN in a Principal replaced by its unique id."""

    def to_id(value: str) -> str | None:
        m = _ENTITY_ARN.fullmatch(value)
        if m is None:
            return None
        account, kind, name = m.groups()
        try:
            entity = tx.get_user(account, name) if kind == "user" else tx.get_role(account, name)
        except NotFound:
            return None
        return entity.id if entity.arn == value else None

    return _replace(text, to_id)


def render_trust_policy(text: str, tx: ReadTx) -> str:
    """The text to return: unique ids of entities that still exist shown as their ARNs."""

    def to_arn(value: str) -> str | None:
        if not _UNIQUE_ID.fullmatch(value):
            return None
        try:
            entity = tx.get_user_by_id(value) if value.startswith("AIDA") else tx.get_role_by_id(value)
        except NotFound:
            return None
        return entity.arn

    return _replace(text, to_arn)


def shown_role(tx: ReadTx, role: Role) -> Role:
    """The role as the API returns it: its trust policy with ARNs rendered back."""
    return replace(role, assume_role_policy=render_trust_policy(role.assume_role_policy, tx))


def shown_profile(tx: ReadTx, profile: InstanceProfile) -> InstanceProfile:
    return replace(profile, role=shown_role(tx, profile.role)) if profile.role is not None else profile
