"""Callers with temporary credentials: who they are, what they carry, what they may call.

Authentication opens the session token without touching the store (``Backend.lookup``);
:func:`resolve_caller` then completes the caller from (cached) reads when the request is
served: the user behind a GetSessionToken session, and the tags of the role or user that
``aws:PrincipalTag`` overlays with the session's tags (AWS "AWS global condition context keys" (properties of the
principal)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from iamd import errors as aws
from iamd.policy import Principal
from iamd.sessions import SessionClaims, SessionKind
from iamd.store import NotFound, ReadTx, TagTarget

from .call import Caller

__all__ = [
    "check_iam_allowed",
    "check_sts_allowed",
    "principal_for_session",
    "resolve_caller",
    "session_context_items",
]


def overlay_tags(base: Sequence[tuple[str, str]], session: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Entity tags overlaid by session tags; keys compare case-insensitively, the session wins."""
    overridden = {k.lower() for k, _ in session}
    return tuple((k, v) for k, v in base if k.lower() not in overridden) + tuple(session)


def principal_for_session(claims: SessionClaims, entity_tags: Sequence[tuple[str, str]] = ()) -> Principal:
    """The engine's principal of a session (entity tags overlaid by session tags)."""
    tags = overlay_tags(entity_tags, claims.tags)
    if claims.kind is SessionKind.ASSUMED_ROLE:
        return Principal.from_arn(claims.arn, unique_id=claims.role_id, tags=tags, role_arn=claims.role_arn)
    if claims.kind is SessionKind.FEDERATED_USER:
        return Principal.from_arn(claims.arn, tags=tags, parent_user_arn=claims.user_arn)
    if claims.kind is SessionKind.USER:
        return Principal.from_arn(claims.arn, unique_id=claims.user_id, tags=tags)
    return Principal.from_arn(claims.arn)


def resolve_caller(caller: Caller, tx: ReadTx) -> Caller:
    """The caller with what authorization needs from the store (no change for long-term keys)."""
    claims = caller.session
    if claims is None:
        return caller
    tags: list[tuple[str, str]] = []
    user = None
    try:
        if claims.kind is SessionKind.ASSUMED_ROLE and claims.role_arn:
            role = tx.get_role(claims.account, claims.role_arn.rsplit("/", 1)[1])
            if role.id == claims.role_id:
                tags = [(t.key, t.value) for t in tx.list_tags(TagTarget.ROLE, role.account_id, role.name)]
        elif claims.user_name is not None:
            found = tx.get_user(claims.account, claims.user_name)
            if found.id == claims.user_id:  # a user recreated under the same name is someone else
                tags = [(t.key, t.value) for t in tx.list_tags(TagTarget.USER, found.account_id, found.name)]
                user = found if claims.kind is SessionKind.USER else None
    except NotFound:
        pass  # the entity was deleted: the session keeps its identity and loses every permission
    return replace(caller, principal=principal_for_session(claims, tags), user=user)


def session_context_items(caller: Caller, now: datetime) -> list[tuple[str, str | Sequence[str]]]:
    """The credential keys of the caller (AWS "AWS global condition context keys" (properties of the role session)):
    absent for long-term keys.
    """
    claims = caller.session
    if claims is None:
        return []
    items: list[tuple[str, str | Sequence[str]]] = [
        ("aws:TokenIssueTime", claims.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("aws:MultiFactorAuthPresent", "true" if claims.mfa else "false"),
    ]
    if claims.mfa and claims.mfa_time is not None:
        items.append(("aws:MultiFactorAuthAge", str(max(0, int((now - claims.mfa_time).total_seconds())))))
    if claims.source_identity:
        items.append(("aws:SourceIdentity", claims.source_identity))
    if claims.federated_provider:
        items.append(("aws:FederatedProvider", claims.federated_provider))
    if claims.extra.get("assumedRoot"):  # a privileged root session (STS AssumeRoot)
        items.append(("aws:AssumedRoot", "true"))
    return items


# -- what temporary credentials may call (AWS "Compare AWS STS credentials") ------------------------------------------

_USER_SESSION_STS = frozenset({"AssumeRole", "GetCallerIdentity", "GetWebIdentityToken"})
_FEDERATED_STS = frozenset({"GetCallerIdentity"})
_NEVER_WITH_SESSIONS = frozenset({"GetSessionToken", "GetFederationToken"})


def check_iam_allowed(caller: Caller) -> None:
    """GetSessionToken sessions without MFA and federated users cannot call IAM (AWS "Compare AWS STS credentials").

    AWS's answer is observed as InvalidClientTokenId (AWS "Troubleshoot IAM" (AWS STS and MFA errors)); iamd answers the
    same.
    """
    claims = caller.session
    if claims is None:
        return
    if claims.kind is SessionKind.FEDERATED_USER or (
        claims.kind in (SessionKind.USER, SessionKind.ROOT) and not claims.mfa and not claims.extra.get("assumedRoot")
    ):  # an AssumeRoot session exists to call IAM (its task policy scopes it)
        raise aws.InvalidClientTokenId()


def check_sts_allowed(caller: Caller, operation: str) -> None:
    """Which STS operations each kind of session may call (AWS "Compare AWS STS credentials")."""
    claims = caller.session
    if claims is None:
        return
    if operation in _NEVER_WITH_SESSIONS:
        raise aws.AccessDenied(f"Cannot call {operation} with session credentials")
    if claims.kind is SessionKind.FEDERATED_USER:
        allowed: frozenset[str] | None = _FEDERATED_STS
    elif claims.kind in (SessionKind.USER, SessionKind.ROOT):
        allowed = _USER_SESSION_STS
    else:
        allowed = None  # role sessions: everything but the two above
    if allowed is not None and operation not in allowed:
        raise aws.AccessDenied(f"Cannot call {operation} with session credentials")
