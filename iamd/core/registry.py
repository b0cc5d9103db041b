"""The services the core serves: a name → its operations table and how its calls are authorized.

A service plugs into :func:`iamd.core.Core.invoke` by registering one :class:`ServiceDef`: its
operations (``handler(call, tx) -> dict | None`` and whether it writes), its authorization
rule, the credential restrictions it applies before anything else, and its input checks. The
core does the rest the same way for every service: the read snapshot or write transaction,
running the rule and the handler, the audit event, the cache invalidation and the generation
bookkeeping (docs/architecture.md, "The core").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from iamd.authz.operation import audited_input as _authorize_input
from iamd.authz.operation import authorize_operation
from iamd.explain.operation import explain_operation
from iamd.policy import Decision
from iamd.service.authorize import DecisionCounter, authorize_iam_call, authorize_iam_taken
from iamd.service.call import Call, Caller
from iamd.service.iam import OPERATIONS as IAM_OPERATIONS
from iamd.service.iam.checks import check_request
from iamd.service.organizations import OPERATIONS as ORGANIZATIONS_OPERATIONS
from iamd.service.organizations.authorize import authorize_organizations
from iamd.service.sessions import check_iam_allowed, check_sts_allowed
from iamd.service.sts import STS_OPERATIONS
from iamd.service.sts.audit_identity import federated_user_identity
from iamd.store import ReadTx

__all__ = [
    "Authorizer",
    "Operation",
    "OperationLike",
    "Registry",
    "ServiceDef",
    "builtin_registry",
]

Handler = Callable[..., dict[str, Any] | None]  # handler(call, tx): a ReadTx for reads, a Tx for writes
# The authorization rule of a service: raise AccessDenied (with its decision) unless the call is
# allowed, and return the decision on the call's own action (None: no policy was evaluated).
Authorizer = Callable[[Call, ReadTx, DecisionCounter | None], Decision | None]


class OperationLike(Protocol):
    """What the core needs of an operations-table entry (``iamd.service.iam.Operation`` is one)."""

    @property
    def handler(self) -> Handler: ...

    @property
    def writes(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Operation:
    handler: Handler
    writes: bool


def _admit_all(caller: Caller, operation: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ServiceDef:
    """One service behind the core.

    ``authorize`` is ``None`` for a service whose handlers authorize what they do themselves
    (STS: trust policies, per-operation actions); such a handler appends each decision it
    allowed to ``call.decisions`` (``service.authorize.authorize_action`` does), and the first
    becomes the call's decision, in the outcome and the audit event.
    """

    name: str  # "iam", "sts", "organizations": the audit event's source is <name>.amazonaws.com
    title: str  # in messages: "iamd does not implement the <title> operation X yet."
    operations: Mapping[str, OperationLike]
    authorize: Authorizer | None
    # Restrictions on the credential, before anything else (session credentials; AWS "Compare AWS STS credentials").
    admit: Callable[[Caller, str], None] = _admit_all
    # Checks of the input the model cannot express, before authorization (IAM: checks.check_request).
    check: Callable[[str, Mapping[str, Any]], None] | None = None
    # Whether the call's region is the signing scope's (STS endpoints are regional) or us-east-1 (global services).
    regional: bool = False
    # The audit event's userIdentity when the call's result says who called (unsigned STS federation calls).
    audit_identity: Callable[[str, Mapping[str, Any] | None, str], dict[str, Any] | None] | None = None
    # What the audit trail keeps of a call's input (default: all of it, redacted by the store).
    audited_input: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None
    # Whether a successful write's result is kept as responseElements (CloudTrail's default).
    audit_responses: bool = True
    # Writes: the rule run when a write's handler fails, in its transaction, before the failure
    # is answered (IAM: a create by name authorized against the entity that has the name already
    # only then; its denial is answered instead of the handler's error).
    authorize_failed: Authorizer | None = None


class Registry:
    """Service name → :class:`ServiceDef`. Registered once when the process wires itself up."""

    def __init__(self, services: Iterable[ServiceDef] = ()) -> None:
        self._services: dict[str, ServiceDef] = {}
        for service in services:
            self.register(service)

    def register(self, service: ServiceDef) -> None:
        if service.name in self._services:
            raise ValueError(f"service {service.name!r} is registered already")
        self._services[service.name] = service

    def get(self, name: str) -> ServiceDef:
        try:
            return self._services[name]
        except KeyError:
            raise LookupError(f"no service {name!r} is registered with the core") from None

    def __contains__(self, name: object) -> bool:
        return name in self._services

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._services)


def _admit_sts(caller: Caller, operation: str) -> None:
    if operation != "GetCallerIdentity":  # answered for every credential (STS API "GetCallerIdentity")
        check_sts_allowed(caller, operation)


def _admit_iam(caller: Caller, operation: str) -> None:
    check_iam_allowed(caller)


IAM = ServiceDef(
    "iam", "IAM", IAM_OPERATIONS, authorize_iam_call, admit=_admit_iam, check=check_request,
    authorize_failed=authorize_iam_taken,
)  # fmt: skip
STS = ServiceDef(
    "sts", "STS", {name: Operation(handler, False) for name, handler in STS_OPERATIONS.items()}, None,
    admit=_admit_sts, regional=True, audit_identity=federated_user_identity,
)  # fmt: skip


def _authorize_organizations_call(call: Call, tx: ReadTx, counter: DecisionCounter | None) -> Decision | None:
    """Organizations' rule (``service.organizations.authorize``): the engine on every resource
    the operation acts on, SCPs included; management-only operations refused to members."""
    return authorize_organizations(call, tx, ORGANIZATIONS_OPERATIONS[call.operation], call.env.policies, counter)


# A committed Organizations write names the organization it changed (and any account that
# joined, moved or left); the cache drops what was built from them (iamd.store.changes,
# docs/organizations.md "Caches").
ORGANIZATIONS = ServiceDef(
    "organizations", "Organizations", ORGANIZATIONS_OPERATIONS, _authorize_organizations_call,
)  # fmt: skip


def _explain_input(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The trail keeps an explain call's question, not a CloudTrail event pasted into it."""
    if "Checks" in data:  # Authorize (iamd/authz/operation.py): never the forwarded headers
        return _authorize_input(data)
    return {k: v for k, v in data.items() if k != "Event"} or None


# iamd's own operations (docs/troubleshooting.md, the API): the troubleshooter. Its handler
# authorizes ``iamd:Explain`` on each explained principal itself, like STS's handlers.
IAMD = ServiceDef(
    "iamd", "iamd",
    {"Explain": Operation(explain_operation, False), "Authorize": Operation(authorize_operation, False)},
    None, admit=_admit_iam,
    audited_input=_explain_input, audit_responses=False,
)  # fmt: skip


def builtin_registry() -> Registry:
    """A new registry with IAM, STS, Organizations and iamd's own operations (a process may add others)."""
    return Registry((IAM, STS, ORGANIZATIONS, IAMD))
