"""The request "as it was": the principal's policies rebuilt from the policy history at the
event's time (the store's ``policy_history``; docs/troubleshooting.md, as it was).

What is replayed: the user's or role's inline policies, attached managed policies (each with
its default document at that time), the permissions boundary, the user's groups and theirs,
and a role's trust policy. What is not: tags (the principal's and the resource's are today's), the
organization's SCPs and RCPs (today's are used: their history is not kept),
and anything before the history began — a principal created before this version of iamd has
no ``create`` row, and is not replayed (the answer says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from iamd.policy import Policy, PolicySet, PolicyType
from iamd.service.policy_loader import Levels, PolicyLoader, unreadable
from iamd.store import PolicyChange, ReadTx

__all__ = ["PROPAGATION_WINDOW", "Replayed", "replay"]

# A change this close before the event may not have reached every process serving requests
# (docs/architecture.md, several processes: the propagation bound is the cache poll interval).
PROPAGATION_WINDOW = timedelta(seconds=2)


@dataclass(slots=True)
class _Owner:
    """What one user, group or role had at a time."""

    inline: dict[str, str] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)
    boundary: str | None = None
    groups: list[str] = field(default_factory=list)
    trust: str | None = None
    created: bool = False
    recent: list[PolicyChange] = field(default_factory=list)  # changes within the propagation window


@dataclass(slots=True)
class Replayed:
    policies: PolicySet
    trust: Policy | None
    notes: list[str]
    recent: list[PolicyChange]


def _fold(changes: tuple[PolicyChange, ...], until: datetime) -> _Owner:
    owner = _Owner()
    for c in changes:
        if c.event != "create" and c.changed_at > until - PROPAGATION_WINDOW - timedelta(seconds=1):
            owner.recent.append(c)
        if c.event == "create":
            owner.created = True
        elif c.event == "inline" and c.subject is not None:
            if c.document is None:
                owner.inline.pop(c.subject, None)
            else:
                owner.inline[c.subject] = c.document
        elif c.event == "attach" and c.subject is not None and c.subject not in owner.attached:
            owner.attached.append(c.subject)
        elif c.event == "detach" and c.subject in owner.attached:
            owner.attached.remove(c.subject)
        elif c.event == "boundary":
            owner.boundary = c.subject
        elif c.event == "join" and c.subject is not None and c.subject not in owner.groups:
            owner.groups.append(c.subject)
        elif c.event == "leave" and c.subject in owner.groups:
            owner.groups.remove(c.subject)
        elif c.event == "trust":
            owner.trust = c.document
    return owner


class _Builder:
    def __init__(self, tx: ReadTx, loader: PolicyLoader, when: datetime) -> None:
        self.tx, self.loader, self.when = tx, loader, when
        self.notes: list[str] = []
        self.recent: list[PolicyChange] = []

    def owner(self, kind: str, owner_id: str) -> _Owner:
        folded = _fold(self.tx.policy_history(kind, owner_id, self.when), self.when)
        self.recent += folded.recent
        return folded

    def managed(self, arn: str, ptype: PolicyType) -> Policy | None:
        changes = self.tx.policy_history("policy", arn, self.when)
        self.recent += [c for c in changes if c.changed_at > self.when - PROPAGATION_WINDOW - timedelta(seconds=1)]
        defaults = [c for c in changes if c.event == "default"]
        name = arn.rsplit("/", 1)[-1]
        if not defaults:
            self.notes.append(f"no history of {arn} before the event: its document now stands in for it")
            return self.loader.managed(self.tx, arn, ptype)
        document = defaults[-1].document
        if document is None:  # deleted before the event
            return None
        return self.loader.stored(document, ptype, name, f"managed policy {arn} as it was", kind="managed", arn=arn)

    def identity(self, kind: str, owner: _Owner) -> list[Policy]:
        out = [
            self.loader.stored(
                doc, PolicyType.IDENTITY, name, f"inline policy {name} as it was", kind="inline", owner=kind
            )
            for name, doc in sorted(owner.inline.items())
        ]
        for arn in owner.attached:
            found = self.managed(arn, PolicyType.IDENTITY)
            if found is not None:
                out.append(found)
        return out


def _cutoff(when: datetime) -> datetime:
    """Trail times are whole seconds: the event happened somewhere in its second, so what was in
    force is read as of the end of that second; changes in the window before it are reported."""
    return when.replace(microsecond=0) + timedelta(seconds=1) - timedelta(microseconds=1)


def replay(
    tx: ReadTx,
    loader: PolicyLoader,
    when: datetime,
    *,
    user_id: str | None = None,
    role_id: str | None = None,
    session: list[Policy] | None = None,
    trusting_role_id: str | None = None,
    org: tuple[Levels, Levels] = ((), ()),
) -> Replayed | None:
    """The principal's policy set as of ``when`` (None: the history does not reach back that far)."""
    b = _Builder(tx, loader, _cutoff(when))
    boundary: Policy | None = None
    if user_id is not None:
        user = b.owner("user", user_id)
        if not user.created:
            return None
        identity = b.identity("user", user)
        for group_id in user.groups:
            identity += b.identity("group", b.owner("group", group_id))
        owner = user
    elif role_id is not None:
        role = b.owner("role", role_id)
        if not role.created:
            return None
        identity = b.identity("role", role)
        owner = role
    else:
        return None
    if owner.boundary is not None:
        boundary = b.managed(owner.boundary, PolicyType.BOUNDARY)
        if boundary is None:  # as the loader does: a boundary that cannot be read allows nothing
            boundary = unreadable(
                f"permissions boundary {owner.boundary}",
                "no such policy then",
                "unreadable-boundary",
                PolicyType.BOUNDARY,
                kind="managed",
                arn=owner.boundary,
            )
    trust: Policy | None = None
    if trusting_role_id is not None:
        target = b.owner("role", trusting_role_id)
        if target.trust is not None:
            trust = loader.stored(target.trust, PolicyType.TRUST, "TrustPolicy", "trust policy as it was")
    policies = loader.build(identity, boundary, session or [], trust, org[0], org[1])
    return Replayed(policies, trust, b.notes, b.recent)
