"""One call of any service, whoever makes it: ``Core.invoke(caller, service, operation, input, context)``.

The transport (the HTTP Query endpoint, the command line, a test) decodes and authenticates;
the core does everything else the same way for every service and every door
(docs/architecture.md, "The core"):

1. the service's credential restrictions (``ServiceDef.admit``), then the session caller
   completed from cached reads (``sessions.resolve_caller``);
2. the service's input checks (``ServiceDef.check``);
3. a read snapshot (cached reads) or a write transaction, as the operation says;
4. authorization: the service's rule (IAM) or the handler's own checks (STS), whose decision
   either way becomes the outcome's and the audit event's;
5. the handler;
6. the audit event (one frozen ``CallEvent``): stored in the write's own transaction, queued
   for a read, stored durably in its own transaction for a failure;
7. after a write commits: nothing more here; the store publishes the write's change set
   (``wtx.changes``) to the process's cache and watcher as it commits (``Store.subscribe``).

A failure never escapes as an exception: the outcome carries the AWS error (an unexpected
exception is logged and becomes InternalFailure), and its audit event is already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from iamd import errors as aws
from iamd.audit import CallEvent, is_read_only
from iamd.cache import Cache
from iamd.frozen import fast_init, maker
from iamd.moment import whole_second_utc
from iamd.policy import Decision, Verdict
from iamd.protocol.errors import INTERNAL_FAILURE_MESSAGE
from iamd.service.authorize import DecisionCounter, PolicyCache
from iamd.service.call import Call, Caller, Env
from iamd.service.errors import aws_error
from iamd.service.sessions import resolve_caller
from iamd.store import (
    Change,
    NotAsAssumed,
    Store,
    StoreBusy,
    StoreError,
    compact_audit_event,
    stored_audit_event,
)

from .lint_on_write import lint_written
from .reads import CachedReads
from .registry import OperationLike, Registry, ServiceDef

__all__ = ["AuditSink", "CallContext", "Core", "CoreResources", "Outcome"]

log = logging.getLogger("iamd.core")

# Seconds a failed call's audit event waits for a lock another writer holds (SQLite's one write
# lock) before it is queued for the audit writer instead: a slow write must not hold up every
# denial and failure behind it (docs/iam-api.md, "Audit writes").
FAILURE_LOCK_WAIT = 0.25


class AuditSink(Protocol):
    """Where the events of successful reads go (a writer thread or process; it stores them)."""

    def submit(self, event: Any) -> None: ...


class CoreResources(Protocol):
    """What the core uses of the process it runs in (``iamd.api.backend.Backend`` provides it)."""

    @property
    def store(self) -> Store: ...

    @property
    def account_id(self) -> str: ...

    @property
    def env(self) -> Env: ...

    @property
    def policies(self) -> PolicyCache: ...

    @property
    def decisions(self) -> DecisionCounter: ...

    @property
    def audit(self) -> AuditSink | None: ...

    @property
    def cache(self) -> Cache: ...


@fast_init
@dataclass(frozen=True, slots=True)
class CallContext:
    """Where a call comes from: what the transport knows besides the caller and the input."""

    request_id: str
    now: datetime
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    secure: bool = False
    region: str = "us-east-1"  # the signing scope's region (regional services: STS)
    lint: bool = False  # the caller asked for lint findings of the documents it writes (iamd.core.lint_on_write)


@fast_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call came to: its result or AWS error, the decision that allowed or denied it,
    what a committed write changed (the store's change set; None for reads and failures), and its audit
    event (None only when the event could not even be built, which is logged)."""

    result: dict[str, Any] | None
    decision: Decision | None
    changes: tuple[Change, ...] | None
    event: CallEvent | None
    error: aws.AwsError | None = None
    lint: tuple[dict[str, Any], ...] = ()  # lint findings of a written document, when asked (CallContext.lint)

    @property
    def ok(self) -> bool:
        return self.error is None

    def value(self) -> dict[str, Any]:
        """The result, or the AWS error raised (for in-process callers that want exceptions)."""
        if self.error is not None:
            raise self.error
        return self.result or {}


# The objects of every call made by iamd.frozen.maker (a plain function: no C-to-Python call of
# __init__ through type.__call__; bench/README.md, "Session 16: the authorization API's CPU"):
# the call, its event and its outcome, on every read and write.
_new_call = maker(Call)
_new_event = maker(CallEvent)
_new_outcome = maker(Outcome)


class Core:
    """The transport-neutral application core: one ``invoke`` for every service and door."""

    def __init__(self, resources: CoreResources, registry: Registry) -> None:
        self._r = resources
        self.registry = registry

    def invoke(
        self, caller: Caller, service: str, operation: str, input: Mapping[str, Any], context: CallContext
    ) -> Outcome:
        """Run ``operation`` of ``service`` for an authenticated ``caller`` with a validated ``input``."""
        spec = self.registry.get(service)
        try:
            op = spec.operations.get(operation)
            if op is None:
                message = f"iamd does not implement the {spec.title} operation {operation} yet."
                raise aws.NotImplementedOperation(message)
            spec.admit(caller, operation)
            r = self._r
            who = caller  # completed from the store for a session (its tags, its user)
            if caller.session is not None:
                with CachedReads(r.cache, r.store) as reads:
                    who = resolve_caller(caller, reads)
            call = _new_call(
                context.request_id, service, operation, input, who, context.now, context.source_ip,
                context.user_agent, context.secure, r.env, context.region,
            )  # fmt: skip
            if spec.check is not None:
                spec.check(operation, input)
            authorize = spec.authorize
            if not op.writes:
                # Counted once the call is done, allowed or denied: a read tried on the event loop that
                # needs the database is given up (NeedsDatabase, iamd/store/guard.py) and run again.
                counted = _Decisions()
                try:
                    with CachedReads(r.cache, r.store) as tx:
                        decision = authorize(call, tx, counted) if authorize is not None else None
                        result = op.handler(call, tx)
                except Exception:
                    counted.report(r.decisions)
                    raise
                counted.report(r.decisions)
                if decision is None and call.decisions:
                    decision = call.decisions[0]
                event = _event(spec, call, result, decision)
                audit = r.audit
                assert audit is not None
                audit.submit(event)
                return _new_outcome(result, decision, None, event)
            counted = _Decisions()  # the answered attempt's
            try:
                try:
                    result, decision, changes, event = self._write(spec, op, call, counted, assume=True)
                except _ReadFirst:  # its target, taken as stored unread, was not so stored, or was denied
                    counted = _Decisions()
                    result, decision, changes, event = self._write(spec, op, call, counted, assume=False)
            finally:
                counted.report(r.decisions)
            lint = lint_written(service, operation, input) if context.lint else ()
            return _new_outcome(result, decision, changes, event, lint=lint)
        except Exception as error:
            failure = self.failure(error, context.request_id)
            recorded = self.record_failure(service, operation, context, failure, caller=caller, params=input)
            denied = getattr(failure, "decision", None)
            return Outcome(None, denied if isinstance(denied, Decision) else None, None, recorded, failure)

    def _write(
        self, spec: ServiceDef, op: OperationLike, call: Call, counted: DecisionCounter, *, assume: bool
    ) -> tuple[dict[str, Any] | None, Decision | None, tuple[Change, ...], CallEvent]:
        """A write call in its transaction: (result, decision, what it changed, its event), committed.

        The writers' lock (PostgreSQL) is taken after the authorization's reads, not before:
        writers wait for each other only for what must hold until the commit
        (docs/architecture.md, "Writes on PostgreSQL"). ``assume``: the authorization may take
        the target as stored without reading it (``Tx.assume_user``); :class:`_ReadFirst` if that
        was wrong (the write's statement found it otherwise: nothing written) or the call was
        denied so: the caller then writes again without (docs/architecture.md, "Session 16:
        DeleteUser's target assumed, checked by its delete"). The authorization's decisions go to
        ``counted``, reported by the caller for the attempt it answers."""
        r = self._r
        authorize = spec.authorize
        handled = False
        try:
            with r.store.transaction(lock_later=True, assume=assume) as wtx:
                try:
                    decision = authorize(call, wtx, counted) if authorize is not None else None
                except aws.AccessDenied:
                    if wtx.assumed:  # denied what may not be the target as stored: authorized again, read
                        raise _ReadFirst() from None
                    raise
                wtx.lock_writers()
                try:
                    result = op.handler(call, wtx)
                except Exception:
                    # Its denial is answered instead of the handler's error; so is its own failure
                    # (fail closed: the handler's error might tell what the denial would hide).
                    if spec.authorize_failed is not None:
                        spec.authorize_failed(call, wtx, counted)
                    raise
                if decision is None and call.decisions:
                    decision = call.decisions[0]
                event = _event(spec, call, result, decision)
                wtx.add_audit_event_last(compact_audit_event(event))  # PostgreSQL: sent with the commit
                handled = True
        except NotAsAssumed:
            raise _ReadFirst() from None
        except StoreError:
            # A check that failed in the commit's round trip (PostgreSQL: a write's statement
            # sent whole with its commit, Ops._defer_first; a name taken): as a handler's error,
            # authorized against what is stored now, in a snapshot (nothing was written).
            if handled and spec.authorize_failed is not None:
                with r.store.read() as rtx:
                    spec.authorize_failed(call, rtx, counted)
            raise
        # Committed: the store has published wtx.changes; the process's cache dropped what they touched.
        return result, decision, wtx.changes, event

    @staticmethod
    def failure(error: BaseException, request_id: str) -> aws.AwsError:
        """The AWS error answered for ``error``: store errors in AWS's words, anything unexpected
        logged and answered InternalFailure."""
        if isinstance(error, aws.AwsError):
            return error
        if isinstance(error, StoreError):
            return aws_error(error)
        log.error("request %s failed", request_id, exc_info=error)
        return aws.InternalFailure(INTERNAL_FAILURE_MESSAGE)

    def record_failure(
        self,
        service: str,
        operation: str | None,
        context: CallContext,
        error: aws.AwsError,
        *,
        caller: Caller | None = None,
        params: Mapping[str, Any] | None = None,
        authentication: Mapping[str, Any] | None = None,
    ) -> CallEvent | None:
        """Store the audit event of a failed call, durably, before the answer is sent.

        Also for calls that failed before they reached :meth:`invoke` (the transport could not
        decode, authenticate or validate them): whatever was known when it failed. A denial
        carries the engine's decision; a refused credential, the key id presented and why
        (``authentication``; never the secret or the token). The event is stored in its own
        small transaction, so that no denial or failure is lost with a crashed audit writer
        (docs/iam-api.md, "The why of a call"); only if that fails is it queued.
        """
        identity: Mapping[str, Any] = caller.user_identity() if caller else {"type": "Unknown"}
        if caller is None and authentication is not None:
            identity = {"type": "Unknown", "accessKeyId": authentication["accessKeyId"]}
        decision = getattr(error, "decision", None)
        spec = self.registry.get(service) if service in self.registry else None
        regional = spec is not None and spec.regional
        if params is not None and spec is not None and spec.audited_input is not None:
            params = spec.audited_input(params)
        record = CallEvent(
            request_id=context.request_id,
            event_time=context.now,
            event_source=f"{service}.amazonaws.com",
            event_name=operation or "Unknown",
            aws_region=context.region if regional else self._r.env.partition.iam_region,  # IAM: its home region
            source_ip=context.source_ip,
            user_agent=context.user_agent,
            user_identity=identity,
            account_id=caller.account_id if caller else self._r.account_id,
            request_parameters=params,
            error_code=error.code,
            error_message=error.message,
            decision=decision if isinstance(decision, Decision) else None,
            authentication=authentication,
        )
        try:
            stored = stored_audit_event(record, untrusted=True)
        except Exception:
            log.exception("could not build the audit event of request %s", context.request_id)
            return None
        try:
            # Not held up by another writer's lock for long (a slow write must not stall every
            # failure and denial behind it, on SQLite): past FAILURE_LOCK_WAIT it is queued.
            self._r.store.append_audit_event(stored, lock_wait=FAILURE_LOCK_WAIT)
        except Exception as error:
            if isinstance(error, StoreBusy):
                log.warning("the audit event of request %s waited for another writer: queued", context.request_id)
            else:
                log.exception("could not store the audit event of request %s; queued instead", context.request_id)
            try:
                audit = self._r.audit
                assert audit is not None
                audit.submit(stored)
            except Exception:
                log.exception("could not queue the audit event of request %s", context.request_id)
        return record


class _ReadFirst(Exception):
    """A write's target taken as stored without reading it was not, or the call was denied so:
    to be written again, the target read (:meth:`Core._write`)."""


class _Decisions(DecisionCounter):
    """The verdicts of one call, reported to the process's counter when the call is done."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def add(self, verdict: Verdict) -> None:
        self.verdicts.append(verdict)

    def report(self, counter: DecisionCounter) -> None:
        for verdict in self.verdicts:
            counter.add(verdict)


def _event(spec: ServiceDef, call: Call, result: Mapping[str, Any] | None, decision: Decision | None) -> CallEvent:
    """The CloudTrail-shaped record of a successful call (AWS "Logging IAM and AWS STS API calls with AWS
    CloudTrail"); read-only calls carry no responseElements."""
    identity = spec.audit_identity(call.operation, result, call.account) if spec.audit_identity is not None else None
    # Positional, in field order (a frozen dataclass built from keywords costs twice as much):
    # request id, time, source, name, region, source IP, user agent, identity, account,
    # request parameters, response elements, error code, error message, decision (summarized
    # when the record is built, off the request path).
    return _new_event(
        call.request_id, whole_second_utc(call.now), f"{call.service}.amazonaws.com",
        call.operation, call.region if spec.regional else call.env.partition.iam_region, call.source_ip,
        call.user_agent,
        identity or call.caller.user_identity(), call.account,
        (spec.audited_input(call.params) if spec.audited_input is not None else dict(call.params)) or None,
        dict(result) if result and spec.audit_responses and not is_read_only(call.operation) else None, None, None,
        decision,
    )  # fmt: skip
