"""What a committed write changed, said by the store that made the change.

Every write method of a transaction records, as it writes, one :class:`Change` per entity it
touched: what entity (kind, account, name or ARN or id), and what happened to it (created,
renamed, a policy attached, tagged, last used, ...). A relationship between two entities is
one change on each side (attaching a managed policy to a user changes the user's
permissions and the policy's attachment count). ``Tx.changes`` holds them once the body has
run; when the transaction commits, the store hands them, with the generation it committed
as, to every subscriber (``Store.subscribe``) as a :class:`ChangeSet`. Writes made outside a
write transaction (last-used times, audit events) are published the same way.

The caches (:mod:`iamd.cache`) drop exactly what depends on the changed entities; the same
facts can feed other processes (docs/architecture.md, "Caches").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from iamd.frozen import fast_init
from iamd.refs import Ref, key_ref, policy_ref, ref

__all__ = ["Change", "ChangeSet", "Entity", "Verb"]


class Entity(StrEnum):
    """The kind of thing a change is about (``Change.name`` says which one)."""

    ACCOUNT = "account"  # name: the account id (aliases, password policy)
    USER = "user"  # name: the user name
    GROUP = "group"
    ROLE = "role"
    INSTANCE_PROFILE = "instance-profile"
    POLICY = "policy"  # name: the managed policy's ARN (account "")
    ACCESS_KEY = "key"  # name: the access key id (account: the key's account)
    MFA_DEVICE = "mfa"  # name: the device's serial number
    OIDC_PROVIDER = "oidc-provider"  # name: the provider's ARN
    SAML_PROVIDER = "saml-provider"
    LOGIN_PROFILE = "login-profile"  # name: the user name
    SIGNIN_THROTTLE = "signin-throttle"  # name: the throttle key
    CREDENTIAL_REPORT = "credential-report"  # name: the account id
    CONSOLE_SESSION = "console-session"  # name: the session's id hash (or the principal's id)
    AUDIT_EVENT = "audit-event"  # name: the event id
    # SSH public keys, signing certificates, service-specific credentials; name: the user name
    # ("" for the root user's signing certificates), detail: which kind
    USER_CREDENTIAL = "user-credential"
    SERVER_CERTIFICATE = "server-certificate"  # name: the certificate's name
    # AWS Organizations: name: the organization's id (its root, OUs, accounts, SCPs and RCPs,
    # attachments: what its accounts' SCP and RCP levels and organization keys are built from)
    ORGANIZATION = "organization"
    # an account joined, moved in or left an organization; name: the account id (account "")
    ORG_ACCOUNT = "org-account"


class Verb(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RENAMED = "renamed"  # detail: the new name (the old and the new name are both changed)
    DELETED = "deleted"
    ATTACHED = "attached"  # a managed policy attached; detail: the other side
    DETACHED = "detached"
    MEMBER_ADDED = "member-added"  # group membership, a role in an instance profile; detail: the other side
    MEMBER_REMOVED = "member-removed"
    POLICY_PUT = "policy-put"  # an inline policy; detail: its name
    POLICY_DELETED = "policy-deleted"
    BOUNDARY_SET = "boundary-set"  # detail: the boundary policy's ARN
    BOUNDARY_REMOVED = "boundary-removed"
    VERSION_CREATED = "version-created"  # a managed policy's versions; detail: the version id
    DEFAULT_VERSION_SET = "default-version-set"
    VERSION_DELETED = "version-deleted"
    TAGGED = "tagged"
    UNTAGGED = "untagged"
    USED = "used"  # last-used bookkeeping only (GetRole's RoleLastUsed, a password's, a key's, an MFA step)
    RESET = "reset"  # everything (a --dev reset): account "" and name ""


@fast_init  # made on every write (iamd/frozen.py)
@dataclass(frozen=True, slots=True)
class Change:
    entity: Entity
    account: str
    name: str
    verb: Verb
    detail: str = ""

    @property
    def refs(self) -> tuple[Ref, ...]:
        """The cache references (:mod:`iamd.refs`) of what changed: for a rename, both names."""
        if self.entity is Entity.POLICY:
            return (policy_ref(self.name),)
        if self.entity is Entity.ACCESS_KEY:
            return (key_ref(self.name),)
        kind = self.entity._value_  # not ``.value``: enum's property is a Python call (iamd/audit.py, compact_decision)
        if self.verb is Verb.RENAMED and self.detail:
            return (ref(kind, self.account, self.name), ref(kind, self.account, self.detail))
        return (ref(kind, self.account, self.name),)


@fast_init  # made on every write (iamd/frozen.py)
@dataclass(frozen=True, slots=True)
class ChangeSet:
    """The changes of one committed write; ``generation``: the store generation it committed as
    (None when it bumped none: writes that are not entity changes)."""

    changes: tuple[Change, ...]
    generation: int | None = None

    @property
    def everything(self) -> bool:
        """A reset: every cached thing is gone."""
        for c in self.changes:  # noqa: SIM110 - no generator and any(): asked after every write
            if c.verb is Verb.RESET:
                return True
        return False
