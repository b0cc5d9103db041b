"""The application core: every call of every service, from any door, goes through ``Core.invoke``.

``invoke(caller, service, operation, input, context) -> Outcome(result, decision, changes, event,
error)``. Transports (the HTTP Query endpoint in ``iamd.api``, the command line's ``iamd admin``,
tests in process) decode their requests and authenticate their callers; the core owns the
rest (docs/architecture.md, "The core"). Services plug in through a :class:`Registry` of
:class:`ServiceDef`: an operations table and an authorization rule.
"""

from iamd.core.invoke import AuditSink, CallContext, Core, CoreResources, Outcome
from iamd.core.registry import Authorizer, Operation, OperationLike, Registry, ServiceDef, builtin_registry

__all__ = [
    "AuditSink",
    "Authorizer",
    "CallContext",
    "Core",
    "CoreResources",
    "Operation",
    "OperationLike",
    "Outcome",
    "Registry",
    "ServiceDef",
    "builtin_registry",
]
