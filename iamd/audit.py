"""Audit events: CloudTrail-shaped records of every call, with secrets redacted.

A record is built from what the API layer knows about one call (AWS "Logging IAM and AWS STS API calls with AWS
CloudTrail"). Request
parameters and response elements are converted to lowerCamelCase JSON; every member that
carries a secret is replaced by ``HIDDEN_DUE_TO_SECURITY_REASONS`` and named in the
record's ``redacted`` list, so nothing secret reaches the database or a log.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iamd.frozen import fast_init
from iamd.ids import derived_uuid4, new_uuid4
from iamd.moment import whole_seconds_text
from iamd.policy import Blocking, Decision
from iamd.policy.compile import CompiledStatement

__all__ = [
    "DECISION_FIELD",
    "FAILURE_FIELD",
    "HIDDEN",
    "SECRET_MEMBERS",
    "CallEvent",
    "Wire",
    "CheckEvents",
    "camel",
    "check_ids",
    "decision_summary",
    "redact",
    "summary_without_resource",
    "wire_checks",
    "wire_event",
    "wired",
]

# iamd's extension fields beside CloudTrail's, which keep their AWS shapes (docs/iam-api.md, audit trail).
DECISION_FIELD = "iamdDecision"  # why the engine allowed or denied the call
FAILURE_FIELD = "iamdAuthentication"  # why a credential was refused

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

# Members (lowerCamelCase) whose values are secrets wherever they appear.
SECRET_MEMBERS = frozenset(
    {
        "secretAccessKey",
        "sessionToken",
        "password",
        "oldPassword",
        "newPassword",
        "privateKey",
        "sAMLAssertion",
        "samlAssertion",
        "webIdentityToken",
        "base32StringSeed",
        "qRCodePNG",
        "authenticationCode1",
        "authenticationCode2",
        "tokenCode",
        "serviceSpecificCredential",
        "servicePassword",
        "serviceCredentialSecret",
    }
)

_READ_PREFIXES = ("Get", "List", "Simulate", "Generate", "Decode")


@functools.lru_cache(maxsize=4096)
def camel(name: str) -> str:
    """AWS member name → CloudTrail's lowerCamelCase (``UserName`` → ``userName``)."""
    if not name:
        return name
    if name.isupper():
        return name.lower()
    return name[0].lower() + name[1:]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        if value.year >= 1000:  # the same text as strftime's, at a fifth of its cost (CreateUser's CreateDate)
            return whole_seconds_text(value)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # (its %Y pads no year below 1000)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def redact(value: Any, path: str = "", found: list[str] | None = None) -> tuple[Any, list[str]]:
    """A lowerCamelCase copy of ``value`` with secrets hidden, and the paths hidden."""
    hidden: list[str] = [] if found is None else found
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the common leaves, quickly
        return value, hidden
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = camel(key if type(key) is str else str(key))
            if name in SECRET_MEMBERS:
                out[name] = HIDDEN
                hidden.append(f"{path}.{name}" if path else name)
                continue
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:  # a leaf: no call, no path
                out[name] = item
            else:
                out[name] = redact(item, f"{path}.{name}" if path else name, hidden)[0]
        return out, hidden
    if isinstance(value, (list, tuple)):
        return [redact(item, f"{path}[{i}]", hidden)[0] for i, item in enumerate(value)], hidden
    return _plain(value), hidden


# Credential-issuing STS calls are recorded as writes, with their (redacted) response (AWS "Logging IAM and AWS STS API
# calls with AWS CloudTrail").
_NOT_READS = frozenset({"GenerateCredentialReport", "GetSessionToken", "GetFederationToken"})


def is_read_only(event_name: str) -> bool:
    return event_name.startswith(_READ_PREFIXES) and event_name not in _NOT_READS


# The members of ``iamdDecision``, in the order of the compact tuple a decision travels as.
_DECISION_MEMBERS = (
    "decision", "action", "resource", "blockingPolicyType", "blockingPolicyTypes", "statements",
    "missingContextKeys", "errors",
)  # fmt: skip

Summary = tuple[Any, ...]  # a decision summarized as plain values, in _DECISION_MEMBERS' order


def compact_decision(decision: Decision | Summary) -> Summary:
    """A decision as plain values (what crosses to the writer process): the verdict, the action
    and resource, the blocking types, the deciding statements, missing keys and errors."""
    if not isinstance(decision, Decision):
        return decision
    block = decision.decisive_block
    req = decision.request
    # The enums' ``_value_`` (their documented sunder attribute), not ``.value``: enum's ``value``
    # is a property written in Python, a call of its own (0.19 against 0.06 µs), three per write
    # (bench/README.md, "Session 18: iamd's CPU per write, the request's small costs").
    return (
        decision.verdict._value_, req.action, req.resource, block.type._value_ if block is not None else None,
        _blocking(decision.blocking) if decision.blocking else (),
        _statements(decision.matched) if decision.matched else (), decision.missing_context_keys, decision.errors,
    )  # fmt: skip


def decision_summary(decision: Decision | Summary) -> dict[str, Any]:
    """The ``iamdDecision`` member: the verdict, what blocked, the statements that decided
    (policy name, ARN, type, Sid, index and position in the document), the context keys the
    deciding statements missed, and evaluation errors (e.g. a stored policy that cannot be read)."""
    return dict(zip(_DECISION_MEMBERS, compact_decision(decision), strict=True))


@functools.lru_cache(maxsize=256)
def _blocking(blocking: tuple[Blocking, ...]) -> tuple[dict[str, str], ...]:
    """What blocked, as JSON, once per distinct set of blocks (a handful: the types and effects)."""
    return tuple(b.to_json() for b in blocking)


@functools.lru_cache(maxsize=1024)
def _statements(matched: tuple[CompiledStatement, ...]) -> tuple[dict[str, Any], ...]:
    """The deciding statements, described once per compiled set of them (one object, which a
    batch of events on its way to the writer process pickles once)."""
    return tuple(
        {
            "policyName": cs.policy.id,
            "policyArn": cs.policy.arn,
            "policyType": cs.ptype.value,
            "policyKind": cs.policy.kind,
            "policyOwner": cs.policy.owner,
            "sid": cs.statement.sid,
            "statementIndex": cs.statement.index,
            "effect": cs.statement.effect,
            "start": cs.statement.start.to_json(),
        }
        for cs in matched
    )


@fast_init
@dataclass(frozen=True, slots=True)
class CallEvent:
    """One API call, as CloudTrail records it, and why it was allowed, denied or refused.

    The one event type of the audit trail: the pipeline builds it, the writer ships it, and
    :meth:`record` (called by the store's side only) turns it into the stored record.
    ``decision`` is the engine's :class:`Decision`, summarized only when the record is built
    (off the request path); ``authentication`` says why a credential was refused.
    """

    request_id: str
    event_time: datetime
    event_source: str  # iam.amazonaws.com | sts.amazonaws.com
    event_name: str
    aws_region: str
    source_ip: str
    user_agent: str
    user_identity: Mapping[str, Any]
    account_id: str
    request_parameters: Mapping[str, Any] | None = None
    response_elements: Mapping[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    decision: Decision | Summary | None = None
    authentication: Mapping[str, Any] | None = None
    event_id: str = field(default_factory=new_uuid4)

    @property
    def read_only(self) -> bool:
        return is_read_only(self.event_name)

    def __reduce__(self) -> tuple[type[CallEvent], tuple[Any, ...]]:
        # One tuple of fields, not the slots-dataclass default (a Python-level __getstate__ /
        # __setstate__ per event); the decision summarized (plain data). The writer process is
        # sent the cheaper :func:`wire_event` instead.
        decision = compact_decision(self.decision) if self.decision is not None else None
        return CallEvent, (
            self.request_id, self.event_time, self.event_source, self.event_name, self.aws_region, self.source_ip,
            self.user_agent, self.user_identity, self.account_id, self.request_parameters, self.response_elements,
            self.error_code, self.error_message, decision, self.authentication, self.event_id,
        )  # fmt: skip

    def record(self) -> dict[str, Any]:
        """The CloudTrail JSON record (secrets already redacted)."""
        hidden: list[str] = []
        params = redact(self.request_parameters, "requestParameters", hidden)[0] if self.request_parameters else None
        response = None
        if self.response_elements and not self.read_only:
            response = redact(self.response_elements, "responseElements", hidden)[0]
        rec: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": redact(dict(self.user_identity), "userIdentity", hidden)[0],
            "eventTime": _plain(self.event_time),
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "awsRegion": self.aws_region,
            "sourceIPAddress": self.source_ip,
            "userAgent": self.user_agent,
            "requestParameters": params,
            "responseElements": response,
            "requestID": self.request_id,
            "eventID": self.event_id,
            "readOnly": self.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.account_id,
            "eventCategory": "Management",
        }
        if self.error_code is not None:
            rec["errorCode"] = self.error_code
            rec["errorMessage"] = (self.error_message or "")[:1024]
        if self.decision is not None:
            rec[DECISION_FIELD] = decision_summary(self.decision)
        if self.authentication is not None:
            rec[FAILURE_FIELD] = redact(dict(self.authentication), FAILURE_FIELD, hidden)[0]
        rec["redacted"] = hidden
        return rec


Wire = tuple[Any, ...]
"""A :class:`CallEvent` as it travels to the writer process (:func:`wire_event`): a plain tuple of
its fields in their order, the time as whole seconds since the epoch and the decision summarized.
Pickle writes and reads a tuple of plain values in C: no class to look up, no ``__reduce__`` to
call, no frozen dataclass to build again on the other side."""


def wire_event(event: CallEvent) -> Wire:
    """``event`` as it travels to the writer process (:data:`Wire`)."""
    decision = event.decision
    return (
        event.request_id, int(event.event_time.timestamp()), event.event_source, event.event_name, event.aws_region,
        event.source_ip, event.user_agent, event.user_identity, event.account_id, event.request_parameters,
        event.response_elements, event.error_code, event.error_message,
        None if decision is None else compact_decision(decision), event.authentication, event.event_id,
    )  # fmt: skip


def wired(wire: Wire) -> CallEvent:
    """The :class:`CallEvent` a :data:`Wire` tuple came from (its time in whole seconds, as every
    record has it)."""
    fields = list(wire)
    fields[1] = datetime.fromtimestamp(wire[1], UTC)
    return CallEvent(*fields)


# One check of an authorization (iamd/authz/operation.py): its event name, resource, the resource's
# account, the error answered (code, message), the engine's decision (or its summary, whole or without
# the resource, which is then the check's: summary_without_resource), and the client's address when
# the check's context gives one (``aws:SourceIp``; None: the shared one).
Check = tuple[str, str, str, str | None, str | None, "Decision | Summary | None", str | None]


@fast_init
@dataclass(frozen=True, slots=True)
class CheckEvents:
    """The trail events of one authorization's checks, one :class:`CallEvent` per check, in the
    compact form they travel in: what the checks share once (the client's request, the
    authorizing service), then a small tuple per check. The writer expands them
    (:meth:`events`); a batch of a hundred checks pickles as one object, not a hundred events
    (docs/authorization-api.md, "The trail").

    ``event_ids``: each check's event id, or one id (a :func:`~iamd.ids.new_uuid4`) from which
    check ``i``'s is derived (:func:`~iamd.ids.derived_uuid4`): one random draw per call, not
    one per check, and the same ids however often the events are built (a batch stored again
    by the server after the writer process died skips the events stored already).
    """

    request_id: str
    event_time: datetime
    event_source: str
    aws_region: str
    source_ip: str
    user_agent: str
    user_identity: Mapping[str, Any]
    authorized_by: str  # the service's ARN (``iamdAuthorizedBy``)
    checks: tuple[Check, ...]
    event_ids: str | tuple[str, ...]

    def ids(self) -> tuple[str, ...]:
        """Each check's event id."""
        return check_ids(self.event_ids, len(self.checks))

    def events(self) -> list[CallEvent]:
        by = {"arn": self.authorized_by, "requestId": self.request_id}
        out: list[CallEvent] = []
        for (name, resource, owner, code, message, decision, ip), event_id in zip(self.checks, self.ids(), strict=True):
            params = {"resource": resource, "iamdAuthorizedBy": by}
            if decision is not None:
                decision = _with_resource(decision, resource)
            event = CallEvent(
                self.request_id, self.event_time, self.event_source, name, self.aws_region, ip or self.source_ip,
                self.user_agent, self.user_identity, owner, params, None, code, message, decision, None, event_id,
            )  # fmt: skip
            out.append(event)
        return out

    def sampled(self, keep: Callable[[], bool]) -> CheckEvents | None:
        """The events a read-sampling policy keeps (``keep()``: keep one more successful read);
        a check that failed, or whose event is not a read, is always kept. None: none kept."""
        picked = [i for i, c in enumerate(self.checks) if c[3] is not None or not is_read_only(c[0]) or keep()]
        if len(picked) == len(self.checks):
            return self
        if not picked:
            return None
        ids = self.ids()
        return CheckEvents(
            self.request_id, self.event_time, self.event_source, self.aws_region, self.source_ip, self.user_agent,
            self.user_identity, self.authorized_by, tuple(self.checks[i] for i in picked),
            tuple(ids[i] for i in picked),
        )  # fmt: skip

    def __reduce__(self) -> tuple[type[CheckEvents], tuple[Any, ...]]:
        return CheckEvents, (
            self.request_id, self.event_time, self.event_source, self.aws_region, self.source_ip, self.user_agent,
            self.user_identity, self.authorized_by, _summarized(self.checks), self.event_ids,
        )  # fmt: skip


def check_ids(given: str | tuple[str, ...], count: int) -> tuple[str, ...]:
    """The event ids of ``count`` checks given as :attr:`CheckEvents.event_ids`."""
    if isinstance(given, tuple):
        return given
    if count == 1:  # a single check's: the family's first id (derived_uuid4(given, 0))
        return (given,)
    return tuple(derived_uuid4(given, i) for i in range(count))


def _summarized(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """Decisions travel summarized (plain data), as a CallEvent's do; the Authorize operation
    gives its checks' summaries so already (without the resource, one object for the checks
    decided alike: pickled once)."""
    for c in checks:
        if isinstance(c[5], Decision):
            return tuple(c if not isinstance(c[5], Decision) else (*c[:5], compact_decision(c[5]), c[6])
                         for c in checks)  # fmt: skip
    return checks


WireChecks = tuple[Any, ...]
"""A :class:`CheckEvents` as it travels to the writer process (:func:`wire_checks`): a plain tuple
of its ten fields, the time as whole seconds since the epoch and the decisions summarized (a
:data:`Wire` has sixteen). Pickled without a class to look up or ``__reduce__`` to call, and no
``datetime``; unpickled without the object built again."""


def wire_checks(item: CheckEvents) -> WireChecks:
    """``item`` as it travels to the writer process (:data:`WireChecks`)."""
    return (
        item.request_id, int(item.event_time.timestamp()), item.event_source, item.aws_region, item.source_ip,
        item.user_agent, item.user_identity, item.authorized_by, _summarized(item.checks), item.event_ids,
    )  # fmt: skip


def wired_checks(wire: WireChecks) -> CheckEvents:
    """The :class:`CheckEvents` a :data:`WireChecks` tuple came from (its time in whole seconds)."""
    return CheckEvents(wire[0], datetime.fromtimestamp(wire[1], UTC), *wire[2:])


def summary_without_resource(decision: Decision) -> Summary:
    """:func:`compact_decision` without the resource (7 members): what a check of
    :class:`CheckEvents` may carry, whose resource is the check's own."""
    full = compact_decision(decision)
    return (*full[:2], *full[3:])


def _with_resource(summary: Decision | Summary, resource: str) -> Decision | Summary:
    """A summary without its resource (7 members) with ``resource`` put back; a whole one as it is."""
    if isinstance(summary, Decision) or len(summary) == len(_DECISION_MEMBERS):
        return summary
    return (*summary[:2], resource, *summary[2:])
