"""What is being asked: the principal, the action, the resource and the request context.

Everything the engine needs arrives here, time included (as ``aws:CurrentTime`` in the
context); the engine reads no clock.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, final

__all__ = ["Context", "OrgMembership", "Principal", "PrincipalKind", "Request", "build_context"]


_NO_NAMES: Mapping[str, str] = MappingProxyType({})  # one read-only empty mapping for every principal


class PrincipalKind(StrEnum):
    ROOT = "root"
    USER = "user"
    ROLE = "role"
    ASSUMED_ROLE = "assumed-role"
    FEDERATED_USER = "federated-user"
    SERVICE = "service"
    WEB_IDENTITY = "federated"  # a web-identity or SAML caller of AssumeRoleWith*
    ANONYMOUS = "anonymous"

    @property
    def principal_type(self) -> str:
        """The value of ``aws:PrincipalType``."""
        return {
            "root": "Account",
            "user": "User",
            "role": "AssumedRole",
            "assumed-role": "AssumedRole",
            "federated-user": "FederatedUser",
            "service": "Service",
            "federated": "WebIdentityUser",
            "anonymous": "Anonymous",
        }[self.value]


# How strongly a name in a resource policy's Principal binds the caller (AWS "Policy evaluation logic" (identity-based
# policies with resource-based policies)).
GRANT_FINAL = "final"  # user, session, federated user, *, service, provider: allowed outright
GRANT_ENTITY = "entity"  # role ARN for its sessions, parent user for a federated user
GRANT_ACCOUNT = "account"  # delegation to the account's identity policies


_ARN = re.compile(r"arn:(?P<partition>[^:]+):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    arn: str  # the name in AWS's denial message
    account: str | None = None
    partition: str = "aws"
    entity_arn: str | None = None  # user ARN, role ARN (for a role or its sessions)
    session_arn: str | None = None  # assumed-role or federated-user ARN
    unique_id: str | None = None
    parent_user_arn: str | None = None
    service: str | None = None
    provider: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    session_name: str | None = None

    # Derived once, read on every decision.
    _context: Context | None = field(default=None, init=False, repr=False, compare=False)  # derived_context, built
    is_session: bool = field(init=False, compare=False)
    service_linked: bool = field(init=False, compare=False)  # SCPs and RCPs do not apply
    has_account_side: bool = field(init=False, compare=False)  # identity policies and SCPs can concern it
    # an IAM user or role session of an account, not service-linked: the evaluator's usual caller (evaluate._conclude)
    usual_caller: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        kind = self.kind
        object.__setattr__(self, "is_session", kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.FEDERATED_USER))
        linked = self.entity_arn is not None and ":role/aws-service-role/" in self.entity_arn
        object.__setattr__(self, "service_linked", linked)
        side = kind not in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS, PrincipalKind.WEB_IDENTITY)
        object.__setattr__(self, "has_account_side", side)
        usual = kind in (PrincipalKind.USER, PrincipalKind.ASSUMED_ROLE) and not linked and self.account is not None
        object.__setattr__(self, "usual_caller", usual)

    @property
    def identities(self) -> frozenset[str]:
        """What NotPrincipal must list for this caller to escape (AWS "AWS JSON policy elements: NotPrincipal")."""
        if self.kind is PrincipalKind.SERVICE:
            return frozenset({self.service or ""})
        if self.kind is PrincipalKind.WEB_IDENTITY:
            return frozenset({self.provider or ""})
        if self.kind is PrincipalKind.ANONYMOUS:
            return frozenset({"anonymous"})
        out = {f"arn:{self.partition}:iam::{self.account}:root"}
        for arn in (self.entity_arn, self.session_arn, self.parent_user_arn):
            if arn:
                out.add(arn)
        return frozenset(out)

    @classmethod
    def service_principal(cls, service: str) -> Principal:
        return cls(PrincipalKind.SERVICE, service, service=service)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalKind.ANONYMOUS, "anonymous")

    @classmethod
    def federated(cls, provider: str, account: str | None = None) -> Principal:
        return cls(PrincipalKind.WEB_IDENTITY, provider, account=account, provider=provider)

    @classmethod
    def from_arn(
        cls,
        arn: str,
        *,
        unique_id: str | None = None,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        role_arn: str | None = None,
        parent_user_arn: str | None = None,
    ) -> Principal:
        """A principal from its ARN; raise ``ValueError`` for anything else."""
        m = _ARN.fullmatch(arn)
        if m is None:
            raise ValueError(f"{arn!r} is not the ARN of a root user, user, role, role session or federated user")
        partition, service, account, resource = m["partition"], m["service"], m["account"], m["resource"]
        tag_items = tuple(tags.items()) if isinstance(tags, Mapping) else tuple(tags)
        kw: dict[str, str | None] = {}
        if service == "iam" and resource == "root":
            kind = PrincipalKind.ROOT
        elif service == "iam" and resource.startswith("user/") and len(resource) > 5:
            kind = PrincipalKind.USER
            kw["entity_arn"] = arn
        elif service == "iam" and resource.startswith("role/") and len(resource) > 5:
            kind = PrincipalKind.ROLE
            kw["entity_arn"] = arn
        elif service == "sts" and resource.startswith("assumed-role/") and resource.count("/") >= 2:
            kind = PrincipalKind.ASSUMED_ROLE
            _, role_name, session = resource.split("/", 2)
            role = role_arn or f"arn:{partition}:iam::{account}:role/{role_name}"
            if not role.endswith("/" + role_name):
                raise ValueError(f"roleArn {role!r} does not name the role {role_name!r} of {arn!r}")
            kw.update(entity_arn=role, session_arn=arn, session_name=session)
        elif service == "sts" and resource.startswith("federated-user/") and len(resource) > 15:
            kind = PrincipalKind.FEDERATED_USER
            kw.update(session_arn=arn, entity_arn=arn, parent_user_arn=parent_user_arn,
                      session_name=resource.split("/", 1)[1])  # fmt: skip
        else:
            raise ValueError(f"{arn!r} is not the ARN of a root user, user, role, role session or federated user")
        # The account and partition are the same few strings in every principal: one object each
        # (a principal is kept with its credential, one per active caller).
        return cls(kind, arn, account=sys.intern(account), partition=sys.intern(partition), unique_id=unique_id,
                   tags=tag_items, **kw)  # fmt: skip

    def grant(self, name: str) -> str | None:
        """How strongly ``name``, a value of a resource policy's ``Principal.AWS``, binds this
        principal (``GRANT_*``; None: it does not name it). Derived from the principal's fields on
        each call rather than kept as a mapping: most principals are cached for their signatures
        and never meet a resource policy."""
        kind = self.kind
        if self.account is None or kind in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS, PrincipalKind.WEB_IDENTITY):
            return None
        if name == self.arn:  # the root user's ARN is its account's; a role's binds its sessions too
            if kind is PrincipalKind.ROOT:
                return GRANT_ACCOUNT
            return GRANT_ENTITY if kind is PrincipalKind.ROLE else GRANT_FINAL
        if name and name == self.unique_id and kind in (PrincipalKind.USER, PrincipalKind.ROLE,
                                                        PrincipalKind.ASSUMED_ROLE):  # fmt: skip
            return GRANT_FINAL if kind is PrincipalKind.USER else GRANT_ENTITY
        if kind is PrincipalKind.ASSUMED_ROLE and name == self.entity_arn:  # the session's role
            return GRANT_ENTITY
        if kind is PrincipalKind.FEDERATED_USER and name and name == self.parent_user_arn:
            return GRANT_ENTITY
        if name == self.account or (
            name.endswith(":root") and name == f"arn:{self.partition}:iam::{self.account}:root"
        ):
            return GRANT_ACCOUNT
        return None

    @property
    def names(self) -> Mapping[str, str]:
        """Every ``Principal.AWS`` value that names this principal and its grant (:meth:`grant`),
        built on each read (tests and diagnostics; evaluation asks :meth:`grant`)."""
        if self.account is None or self.kind in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS,
                                                 PrincipalKind.WEB_IDENTITY):  # fmt: skip
            return _NO_NAMES
        candidates = (self.account, f"arn:{self.partition}:iam::{self.account}:root", self.arn, self.entity_arn,
                      self.unique_id, self.parent_user_arn)  # fmt: skip
        out = {}
        for n in candidates:
            if n:
                g = self.grant(n)
                if g is not None:
                    out[n] = g
        return MappingProxyType(out)

    @property
    def context(self) -> Context:
        """:meth:`derived_context` as a :class:`Context`, built the first time it is read: a
        principal signs many requests (it is kept with its credential), its keys never change."""
        built = self._context
        if built is None:
            built = Context.build(self.derived_context())
            built._values = _roomy(built._values)
            object.__setattr__(self, "_context", built)
        return built

    def derived_context(self) -> list[tuple[str, str | list[str]]]:
        """The ``aws:Principal*`` keys this principal implies (AWS "AWS global condition context keys" (properties of
        the principal)).
        """
        out: list[tuple[str, str | list[str]]] = [("aws:PrincipalType", self.kind.principal_type)]
        if self.kind is PrincipalKind.SERVICE:
            out += [("aws:PrincipalIsAWSService", "true"), ("aws:PrincipalServiceName", self.service or "")]
            return out
        if self.kind is PrincipalKind.ANONYMOUS:
            return [("aws:PrincipalType", "Anonymous"), ("aws:userid", "anonymous")]
        if self.kind is PrincipalKind.WEB_IDENTITY:
            return out
        out.append(("aws:PrincipalIsAWSService", "false"))
        out.append(("aws:PrincipalAccount", self.account or ""))
        if self.kind is PrincipalKind.ROOT:
            out += [("aws:PrincipalArn", self.arn), ("aws:userid", self.account or "")]
        elif self.kind is PrincipalKind.USER:
            out += [("aws:PrincipalArn", self.arn), ("aws:username", self.arn.rsplit("/", 1)[1])]
            if self.unique_id:
                out.append(("aws:userid", self.unique_id))
        elif self.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE):
            out.append(("aws:PrincipalArn", self.entity_arn or self.arn))
            if self.unique_id:
                suffix = self.session_name if self.session_name else self.arn.rsplit("/", 1)[1]
                out.append(("aws:userid", f"{self.unique_id}:{suffix}"))
        elif self.kind is PrincipalKind.FEDERATED_USER:
            out += [("aws:PrincipalArn", self.arn), ("aws:userid", f"{self.account}:{self.session_name}")]
        out += [(f"aws:PrincipalTag/{k}", v) for k, v in self.tags]
        return out


def _roomy(values: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """A dict equal to ``values`` whose table has room for more keys, for ``build_context`` to copy.

    ``build_context`` copies the principal's keys and adds the request's: with a table just large
    enough for the principal's, the second or third key added makes the copy grow (a new table,
    every key placed again), on every decision. ``dict.copy`` clones a table as it is (CPython, while
    at most a third of its entries are deleted ones): so this dict is grown one key past its table
    and the extra keys are deleted; its copies start with the larger table. The content is
    ``values``'s, in the same order; only the size differs (and nothing if it cannot be done)."""
    out = dict(values)
    size, n, pads = sys.getsizeof(out), len(out), 0
    while sys.getsizeof(out) == size and pads <= n // 2:
        out[f"\0pad{pads}"] = ()
        pads += 1
    if sys.getsizeof(out) == size or n < (2 * (n + pads)) // 3:
        return dict(values)  # growing would leave too many deleted entries for copy() to clone the table
    for i in range(pads):
        del out[f"\0pad{i}"]
    return out


class Context:
    """Condition keys → values. Keys are lower-case; a key given twice in different case
    keeps both values and is marked ambiguous (AWS "IAM JSON policy elements: Condition")."""

    __slots__ = ("_ambiguous", "_pending", "_values")

    def __init__(self, values: Mapping[str, tuple[str, ...]], ambiguous: frozenset[str] = frozenset()) -> None:
        self._values = values
        self._ambiguous = ambiguous
        self._pending: Callable[[], Context] | None = None

    @classmethod
    def deferred(cls, build: Callable[[], Context]) -> Context:
        """A context that ``build`` makes the first time it is read (``build`` must answer the
        same whenever it is called: iamd's authorization reads the resource's tags in it).

        Evaluation reads the context only for a statement, among those whose action matches,
        that has conditions, condition keys or policy variables in its resources; a request
        whose matching statements have none is decided without building it at all.
        """
        ctx = cls.__new__(cls)
        ctx._values = {}
        ctx._ambiguous = frozenset()
        ctx._pending = build
        return ctx

    @property
    def unread(self) -> bool:
        """Whether this is a deferred context that nothing has read (so never built): a decision
        made with it depended on no condition key."""
        return self._pending is not None

    def _build(self) -> None:
        build = self._pending
        assert build is not None
        built = build()  # a build that fails leaves the context unbuilt (never empty)
        self._pending = None
        self._values, self._ambiguous = built.values, built.ambiguous

    @property
    def values(self) -> Mapping[str, tuple[str, ...]]:
        if self._pending is not None:
            self._build()
        return self._values

    @property
    def ambiguous(self) -> frozenset[str]:
        if self._pending is not None:
            self._build()
        return self._ambiguous

    @classmethod
    def build(cls, items: Iterable[tuple[str, str | Sequence[str]]]) -> Context:
        values: dict[str, tuple[str, ...]] = {}
        spelled: dict[str, str] = {}
        ambiguous: set[str] = set()
        for key, raw in items:
            low = key.lower()
            vals = (raw,) if isinstance(raw, str) else tuple(raw)
            if low in values and spelled[low] != key:
                if set(vals) != set(values[low]):  # the same value twice is not ambiguous
                    ambiguous.add(low)
                values[low] = values[low] + vals
            else:
                values[low] = vals
                spelled[low] = key
        return cls(values, frozenset(ambiguous))

    def __contains__(self, key: str) -> bool:
        return bool(self.values.get(key))

    def __repr__(self) -> str:
        return f"Context({dict(self.values)!r})"


@dataclass(frozen=True, slots=True)
class OrgMembership:
    """Where an account sits in an AWS Organizations organization: the organization's id and the
    path of the account's parent, ``o-…/r-…/ou-…/`` (docs/organizations.md, "Condition keys").

    The caller reads it from wherever organizations are kept; an account in no organization has
    none, and then the organization keys are absent from the context (not empty).
    """

    org_id: str
    paths: tuple[str, ...]
    # the keys, lower-cased as a Context keeps them, made once: (principal side, resource side)
    _keys: tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids, paths = (self.org_id,), self.paths
        keys = tuple({f"aws:{side}orgid": ids, f"aws:{side}orgpaths": paths} for side in ("principal", "resource"))
        object.__setattr__(self, "_keys", keys)

    def items(self, side: str) -> list[tuple[str, str | Sequence[str]]]:
        """``aws:<side>OrgID`` and the multivalued ``aws:<side>OrgPaths`` (side: Principal or Resource)."""
        return [(f"aws:{side}OrgID", self.org_id), (f"aws:{side}OrgPaths", list(self.paths))]


def build_context(
    principal: Principal,
    given: Iterable[tuple[str, str | Sequence[str]]] = (),
    *,
    resource_account: str | None = None,
    resource_tags: Iterable[tuple[str, str]] = (),
    principal_org: OrgMembership | None = None,
    resource_org: OrgMembership | None = None,
) -> Context:
    """The request context: derived principal and resource keys, overridden by ``given``.

    ``principal_org``: the organization of the principal's account (``aws:PrincipalOrgID``,
    ``aws:PrincipalOrgPaths``; only for a principal of an account: not a service, web identity or
    anonymous caller); ``resource_org``: that of the resource's account (``aws:ResourceOrgID``,
    ``aws:ResourceOrgPaths``). None: the account is in no organization, the keys are absent.
    """
    # The principal's keys are built once per principal (Principal.context) and the organization
    # keys once per membership; only the request's own keys are read here each time.
    base = principal._context or principal.context  # built once, by Context.build: never deferred
    values = _copy(base._values)  # a dict with room for the request's keys (_roomy): no resize below
    ambiguous = base._ambiguous
    if principal_org is not None and principal.has_account_side:
        values.update(principal_org._keys[0])
    if resource_account:
        values["aws:resourceaccount"] = (resource_account,)
    if resource_org is not None:
        values.update(resource_org._keys[1])
    # Given keys replace derived ones of the same name, in any case. Each layer is first written as
    # if all its keys were new once lower-cased (the usual request: none was there before, none comes
    # twice); if the dict did not grow by one key per item, _layer writes the layer again the general
    # way (each key's first write there overwrites, so what this pass wrote does not matter). While
    # only new keys are written, no ambiguous key is replaced. tests/policy/test_context.py compares
    # both with Context.build.
    if resource_tags:
        if resource_tags.__class__ is not tuple and resource_tags.__class__ is not list:
            resource_tags = tuple(resource_tags)  # len() and, maybe, read twice
        n = len(values) + len(resource_tags)
        for key, raw in resource_tags:
            values["aws:resourcetag/" + key.lower()] = (raw,) if isinstance(raw, str) else tuple(raw)
        if len(values) != n:
            ambiguous = _layer(values, ambiguous, resource_tags, "aws:resourcetag/")
    if given:
        if given.__class__ is not tuple and given.__class__ is not list:
            given = tuple(given)
        n = len(values) + len(given)
        for key, raw in given:
            values[key.lower()] = (raw,) if isinstance(raw, str) else tuple(raw)
        if len(values) != n:
            ambiguous = _layer(values, ambiguous, given)
    ctx = _new_context(Context)  # Context(values, ambiguous) without a Python __init__ frame
    ctx._values = values
    ctx._ambiguous = ambiguous
    ctx._pending = None
    return ctx


_new_context = object.__new__
_copy: Callable[[Mapping[str, tuple[str, ...]]], dict[str, tuple[str, ...]]] = dict.copy  # type: ignore[assignment]


def _layer(
    values: dict[str, tuple[str, ...]],
    ambiguous: frozenset[str],
    items: Iterable[tuple[str, str | Sequence[str]]],
    prefix: str = "",
) -> frozenset[str]:
    """``values`` updated in place with ``Context.build`` of ``items`` (each key after a lower-case
    ``prefix``): a key of the layer replaces the value and the ambiguity it had before. Returns the
    ambiguous keys (a new set only if they change)."""
    spelled: dict[str, str] = {}  # this layer's keys, lower-cased -> as first written
    layer_ambiguous: list[str] | None = None  # made for the first key written twice
    for key, raw in items:
        low = prefix + key.lower()
        vals = (raw,) if isinstance(raw, str) else tuple(raw)
        first = spelled.get(low)
        if first is not None and first != key:
            if set(vals) != set(values[low]):  # the same value twice is not ambiguous
                if layer_ambiguous is None:
                    layer_ambiguous = []
                layer_ambiguous.append(low)
            values[low] = values[low] + vals
        else:
            values[low] = vals
            if first is None:
                spelled[low] = key
    if ambiguous and not ambiguous.isdisjoint(spelled):
        ambiguous = ambiguous.difference(spelled)
    if layer_ambiguous:
        ambiguous = ambiguous.union(layer_ambiguous)
    return ambiguous


@final
@dataclass(frozen=True, slots=True, init=False)
class Request:
    principal: Principal
    action: str
    resource: str = "*"
    context: Context = field(default_factory=lambda: Context({}))
    resource_account: str | None = None  # None: the principal's account
    resource_display: str | None = None  # how denial messages name the resource (IAM: "user Bob")

    def __new__(
        cls,
        principal: Principal,
        action: str,
        resource: str = "*",
        context: Context | None = None,
        resource_account: str | None = None,
        resource_display: str | None = None,
    ) -> Request:
        # The dataclass's own __init__, without its cost (see draft_class): made a draft, the fields
        # are plain slot stores, then it is a Request. A __new__ rather than an __init__: the object is
        # made here (one class assignment, not two) and type() calls no Python __init__ after it.
        return make_request(principal, action, resource, context, resource_account, resource_display)

    def __reduce__(self) -> tuple[type[Request], tuple[object, ...]]:
        # copy and pickle remake a Request through __new__, with its fields (the default reduction
        # would call __new__ without them)
        return (Request, (self.principal, self.action, self.resource, self.context, self.resource_account,
                          self.resource_display))  # fmt: skip

    @property
    def owner_account(self) -> str | None:
        return self.resource_account or self.principal.account


def slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The ``__set__`` of each named slot of a frozen slotted dataclass, for its hand-written
    ``__init__``: the generated one calls ``object.__setattr__``, looked up on ``object`` for every
    field, which costs several times the assignment (Request and Decision are made per decision)."""
    return tuple(cls.__dict__[name].__set__ for name in names)


def draft_class(cls: type) -> type:
    """A class with the slots of ``cls``, a frozen slotted dataclass, and no ``__setattr__`` of its
    own. An object of either class can be made the other by assigning its ``__class__`` (CPython
    allows it between classes whose slots, hence memory layout, are the same). Request and Decision
    are made per decision: filled in as a draft with plain slot stores, then made frozen, costs about
    half of the generated ``__init__`` (``object.__setattr__`` looked up for every field) or of a
    descriptor call per field. A test checks that both make the same objects. The draft has the
    class's bases (a generic class's declared with its type parameters, as it was): CPython compares
    the layouts from the first base that adds slots. (``iamd.frozen.fast_init`` makes its drafts here.)"""
    declared = {k: cls.__dict__[k] for k in ("__slots__", "__orig_bases__") if k in cls.__dict__}
    return type(f"_{cls.__name__}Draft", cls.__bases__, declared)


_RequestDraft = draft_class(Request)
_new_object = object.__new__


def make_request(
    principal: Principal,
    action: str,
    resource: str = "*",
    context: Context | None = None,
    resource_account: str | None = None,
    resource_display: str | None = None,
) -> Request:
    """``Request(...)``, called from Python without ``type.__call__`` entering its ``__new__``
    from C (about 2,000 instructions less; an authorization makes two per call), as
    ``make_decision`` makes a Decision."""
    d: Any = _new_object(_RequestDraft)
    d.principal = principal
    d.action = action
    d.resource = resource
    d.context = Context({}) if context is None else context
    d.resource_account = resource_account
    d.resource_display = resource_display
    d.__class__ = Request
    made: Request = d
    return made
