"""The audit trail's compact record: what is kept of an event, and its CloudTrail JSON rebuilt.

An event is stored as the parts its CloudTrail record is made of (docs/audit.md, "The stored
record"), not as the record's JSON text: the strings that repeat from event to event (the
account, event name and source, region, source address, user agent, the caller's whole
``userIdentity``, the error code, the decision's statements and its resource) are interned
(:mod:`iamd.store.audit_strings`, one small integer each), the event and request ids are kept
as 16 bytes, the time as whole seconds, and what varies per event (parameters, response,
error message, why a credential was refused) as compact JSON text. The constant members
(``eventVersion``, ``eventType``, ``managementEvent``, ``eventCategory``) are not stored.

:func:`rebuild` gives back exactly the JSON text the trail stored before (sorted keys, no
spaces): every reader sees the same record. A record that does not fit the usual shape (a
member missing, one more, another constant) is kept whole (:data:`WHOLE`), so nothing is
ever changed by storing it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from iamd.audit import (
    DECISION_FIELD,
    FAILURE_FIELD,
    SECRET_MEMBERS,
    Check,
    CheckEvents,
    Wire,
    WireChecks,
    _with_resource,
    camel,
    check_ids,
    compact_decision,
    decision_summary,
    is_read_only,
    redact,
    wire_event,
    wired,
    wired_checks,
)

if TYPE_CHECKING:
    from iamd.audit import CallEvent
    from iamd.store.records import AuditEvent

__all__ = [
    "WIRE_CHECKS",
    "compact_check_events",
    "compact_wire_checks",
    "NO_REQUEST_ID",
    "ODD_READ",
    "READ_ONLY",
    "WHOLE",
    "CompactEvent",
    "compact_call_event",
    "compact_stored_event",
    "compact_wire_event",
    "id_blob",
    "id_key",
    "id_text",
    "read_flags",
    "rebuild",
]

READ_ONLY = 1  # flags: the event is a read
WHOLE = 2  # flags: ``extra`` is the record's JSON text, kept whole
NO_REQUEST_ID = 4  # flags: the record has no requestID member (a console sign-in's)
# flags: a read (READ_ONLY) although its event name is not a read's (iamd.audit.is_read_only): an
# event given as its record, never a call's own (a call's readOnly is its name's). It keeps the
# event in the partial indexes by event name and user (schema.LISTED), which a listing of a name
# that is not a read's uses without looking for its successful reads (docs/audit.md, "Indexes").
ODD_READ = 8

_TIME = "%Y-%m-%dT%H:%M:%SZ"
_CONSTANTS = {"eventVersion": "1.08", "eventType": "AwsApiCall", "managementEvent": True, "eventCategory": "Management"}


_encoder = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def _make_dumps() -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"), sort_keys=True)``, the same text, in a third less
    time: the C encoder ``JSONEncoder.encode`` makes on every call (with a dictionary for its check
    of circular references, and two Python calls around it) is made once here and called as it
    is. The values are plain data (nothing refers to itself); one that did would fail with a
    ``RecursionError`` instead of a ``ValueError``. Where the C encoder is missing, ``encode``."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it
        return _encoder.encode
    text = encoder.encode_basestring_ascii
    iterencode = make(None, _encoder.default, text, None, ":", ",", True, False, True)
    join = "".join

    def dumps(value: Any) -> str:
        if type(value) is str:  # as ``encode`` does: the text's JSON alone
            return text(value)
        return join(iterencode(value, 0))

    return dumps


_dumps = _make_dumps()


def id_key(text: str) -> bytes:
    """An event or request id as stored: a canonical (lower-case) UUID as its 16 bytes, any other
    text as its UTF-8 bytes behind a prefix that keeps it from being 16 bytes long."""
    if len(text) == 36 and text[8:24:5] == "----":  # the dashes at 8, 13, 18 and 23
        digits = text.replace("-", "")
        if len(digits) == 32 and digits == digits.lower():
            try:
                key = bytes.fromhex(digits)
            except ValueError:
                key = b""
            if len(key) == 16:  # fromhex skips blanks: "…5f  " is 15 bytes, and stays text
                return key
    data = text.encode("utf-8", "surrogatepass")
    return (b"\x01\x01" if len(data) == 15 else b"\x00") + data


def id_blob(text: str) -> bytearray:
    """:func:`id_key` as a bytearray (what Python's sqlite3 binds without looking for an adapter).
    Two ids per event: the dashes become the spaces ``fromhex`` skips (the same bytes, one string
    less), and a lower-case check of the whole text (the dashes have no case)."""
    if len(text) == 36 and text[8:24:5] == "----" and text == text.lower():
        try:
            blob = bytearray.fromhex(text.replace("-", " "))
        except ValueError:  # not hex, or a dash elsewhere too (id_key's text form)
            blob = bytearray()
        if len(blob) == 16:  # blanks in the text are skipped too: id_key's text form then
            return blob
    return bytearray(id_key(text))


def id_text(key: bytes) -> str:
    """The id :func:`id_key` stored as ``key``. A key no version of :func:`id_key` makes that way
    (before session 11, a UUID-shaped id with blanks was stored as its 15 bytes of hex) reads
    back as its bytes in hex rather than failing the trail's reader."""
    if len(key) == 16:
        h = key.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if key[:1] not in (b"\x00", b"\x01"):
        return key.hex()
    try:
        return key[2 if key[:1] == b"\x01" else 1 :].decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return key.hex()


class CompactEvent(NamedTuple):
    """An audit event as stored (before interning: the interned members are their text here).

    A named tuple: the writer makes one per event, and a tuple is made in a fraction of the time
    of a frozen dataclass."""

    event_id: str
    request_id: str | None
    account_id: str
    event_time: int  # seconds since the epoch (the record's eventTime has whole seconds)
    event_name: str
    event_source: str
    user_name: str | None  # userIdentity.userName: what ``list_audit_events(user_name=...)`` matches
    identity: str  # userIdentity, JSON
    region: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    decision: str | None = None  # iamdDecision without its resource, JSON
    resource: str | None = None
    params: str | None = None  # requestParameters, JSON (None: null)
    response: str | None = None  # responseElements, JSON (None: null)
    authentication: str | None = None  # iamdAuthentication, JSON
    redacted: str | None = None  # the redacted paths, JSON (None: none)
    extra: str | None = None  # members beyond the usual ones, JSON; the whole record with WHOLE
    flags: int = 0

    @property
    def read_only(self) -> bool:
        return bool(self.flags & READ_ONLY)

    @property
    def is_failure(self) -> bool:
        return self.error_code is not None


def _seconds(when: datetime) -> int:
    return int(when.timestamp())


Memo = dict[Any, Any]
"""What the events of one batch share, by object: the caller's ``userIdentity`` dictionary (the
same object for every call of a caller, and once per batch after pickling) and the deciding
statements (described once per compiled set). Valid while the batch's events are alive."""


_IDENTITIES: dict[tuple[tuple[str, str], ...], tuple[str, list[str], str | None]] = {}  # flat ones, by value
_IDENTITIES_MAX = 4096


def _flat_text(items: tuple[tuple[Any, Any], ...]) -> bool:
    """Whether every key and value is text (what may be remembered by value: 1 == True)."""
    return all(type(k) is str and type(v) is str for k, v in items)


def _identity(identity: Mapping[str, Any], memo: Memo | None) -> tuple[str, list[str], str | None]:
    """``userIdentity`` as JSON, the paths hidden in it, its ``userName``: once per object in a batch
    (:data:`Memo`), and a flat one of text (an IAM user's, the root's) once per process, by value
    (a table of at most :data:`_IDENTITIES_MAX`): every batch has its own copies after pickling."""
    key = ("identity", id(identity))
    got = memo.get(key) if memo is not None else None
    if got is None or got[0] is not identity:
        try:
            flat: tuple[tuple[str, str], ...] | None = tuple(identity.items())
            known = _IDENTITIES.get(flat)  # type: ignore[arg-type]
        except TypeError:  # a value that is a mapping (a role session's sessionContext): not kept
            flat = known = None
        if known is None:
            hidden: list[str] = []
            value = redact(dict(identity), "userIdentity", hidden)[0]
            user_name = value.get("userName")
            known = (_dumps(value), hidden, user_name if isinstance(user_name, str) else None)
            if flat is not None and _flat_text(flat):
                if len(_IDENTITIES) >= _IDENTITIES_MAX:
                    _IDENTITIES.clear()
                _IDENTITIES[flat] = known
        got = (identity, *known)
        if memo is not None:
            memo[key] = got
    return got[1], got[2], got[3]


def _decision(decision: Any, memo: Memo | None) -> tuple[str, Any]:
    """iamdDecision as its template (JSON, without the resource) and its resource."""
    compact = compact_decision(decision)
    verdict, action, resource, block, blocking, statements, missing, errors = compact
    key: tuple[Any, ...] | None = None
    same: tuple[Any, ...] | None = None
    if memo is not None:
        # The same objects of what blocked and the statements (a batch's events share them: the
        # server's are one object per distinct set, pickled once per batch): no key by value.
        same = ("same decision", verdict, action, block, id(blocking), id(statements), missing, errors)
        try:
            got = memo.get(same)
        except TypeError:  # not the usual shape (a list of missing keys): not kept
            got = same = None
        if got is not None and got[0] is statements and got[1] is blocking:
            return got[2], resource
        # What blocked (a denial's: flat dictionaries of text), by value: every event has its own.
        blocked: tuple[Any, ...] | None = ()
        if blocking:
            blocked = tuple(tuple(b.items()) for b in blocking) if all(type(b) is dict for b in blocking) else None
            if blocked is not None and not all(_flat_text(b) for b in blocked):
                blocked = None
        if blocked is not None:
            key = ("decision", verdict, action, block, blocked, id(statements), missing, errors)
            try:
                got = memo.get(key)
            except TypeError:  # not the usual shape (a list of missing keys): not kept
                got = key = None
            if got is not None and got[0] is statements:
                if same is not None:
                    memo[same] = (statements, blocking, got[1])
                return got[1], resource
    summary = decision_summary(compact)
    del summary["resource"]
    template = _dumps(summary)
    if key is not None and memo is not None:
        memo[key] = (statements, template)
    if same is not None and memo is not None:
        memo[same] = (statements, blocking, template)
    return template, resource


_PARAMS: dict[tuple[tuple[str, Any], ...], tuple[str, list[str]]] = {}  # flat parameters -> JSON, hidden paths
_PARAMS_MAX = 4096


_CLEAN_KEYS: set[str] = set()  # keys seen to be lowerCamelCase and no secret member's (at most 4096)


def _clean_key(key: Any) -> bool:
    if type(key) is not str:
        return False
    if key in _CLEAN_KEYS:
        return True
    if key in SECRET_MEMBERS or camel(key) != key:
        return False
    if len(_CLEAN_KEYS) < 4096:
        _CLEAN_KEYS.add(key)
    return True


def _clean(value: Any) -> bool:
    """Whether ``redact`` leaves ``value`` as it is, as JSON: plain dictionaries (keys already
    lowerCamelCase text, none a secret), lists and tuples of them and of text, numbers, booleans
    and None. Checked without building the copy ``redact`` makes (nor its paths); a text member
    is passed over without a call."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (key not in _CLEAN_KEYS and not _clean_key(key)):
                return False
            if type(item) is not str and not _clean(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # noqa: SIM110 - a loop, not all() over a generator: a third less time
            if type(item) is not str and not _clean(item):
                return False
        return True
    return kind is str or kind is int or kind is bool or value is None or kind is float


def _params(request: Mapping[str, Any], hidden: list[str]) -> str:
    """requestParameters as JSON; the flat ones of text (most reads: a name, a marker) are
    remembered by value (a process-wide table of at most :data:`_PARAMS_MAX`: only those of text,
    so one with another value, nested or not, is not looked up: no tuple hashed, no ``TypeError``
    of a nested one caught, the third of an ``Authorize`` event's parameters' cost)."""
    for value in request.values():
        if type(value) is not str:
            if _clean(request):  # nothing to rename or hide (an Authorize's): dumped as it is
                return _dumps(request)
            key = None
            break
    else:
        key = tuple(request.items())
        got = _PARAMS.get(key)
        if got is not None:
            if got[1]:
                hidden += got[1]
            return got[0]
    found: list[str] = []
    got = (_dumps(redact(request, "requestParameters", found)[0]), found)
    if key is not None and all(type(k) is str for k, _ in key):  # text only (1 == True)
        if len(_PARAMS) >= _PARAMS_MAX:
            _PARAMS.clear()
        _PARAMS[key] = got
    if got[1]:
        hidden += got[1]
    return got[0]


def _text_column(value: str | None) -> bool:
    """Whether a text that is interned as it is (not as JSON) can go into a text column of either
    database: no NUL, no lone surrogate (a user agent is whatever the client sent)."""
    if value is None or (value.isascii() and "\x00" not in value):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _texts_ok(*values: str | None) -> bool:
    return all(_text_column(v) for v in values)


@functools.lru_cache(maxsize=4096)
def _read_only(event_name: str) -> bool:
    return is_read_only(event_name)


def read_flags(read_only: bool, event_name: str) -> int:
    """The flags of an event given as its record: :data:`READ_ONLY`, and :data:`ODD_READ` when
    its name is not a read's."""
    if not read_only:
        return 0
    return READ_ONLY if _read_only(event_name) else READ_ONLY | ODD_READ


_new = tuple.__new__  # a CompactEvent made in C (its generated ``__new__`` is a Python function)


def compact_call_event(event: CallEvent, memo: Memo | None = None) -> CompactEvent:
    """The stored form of a call's event, built straight from it (no record dict, no JSON of the
    whole): the same record :meth:`CallEvent.record` describes, as :func:`rebuild` gives it back.
    ``memo``: shared by the events of one batch (:data:`Memo`)."""
    return compact_wire_event(wire_event(event), memo)


def compact_wire_event(wire: Wire, memo: Memo | None = None) -> CompactEvent:
    """:func:`compact_call_event` of the event that travelled as ``wire`` (:func:`iamd.audit.wire_event`:
    what the writer process is sent)."""
    (request_id, seconds, source, name, region, ip, agent, user_identity, account, request, response_elements,
     code, message, decision, authentication, event_id) = wire  # fmt: skip
    hidden: list[str] = []
    params = _params(request, hidden) if request else None
    read_only = _read_only(name)
    response = None
    if response_elements and not read_only:
        response = _dumps(redact(response_elements, "responseElements", hidden)[0])
    identity, identity_hidden, user_name = _identity(user_identity, memo)
    if identity_hidden:
        hidden += identity_hidden
    summary = resource = None
    if decision is not None:
        summary, resource = _decision(decision, memo)
        if resource is not None and not isinstance(resource, str):  # not the usual shape: keep it as it is
            whole = json.loads(summary)
            whole["resource"] = resource
            summary, resource = _dumps(whole), None
    if authentication is not None:
        authentication = _dumps(redact(dict(authentication), FAILURE_FIELD, hidden)[0])
    message = None if code is None else (message or "")[:1024]
    # What is interned as it is must be storable text: one check of all of them joined (the usual case).
    client = (region, ip, agent)  # the same for many events of a batch: checked once
    if memo is None or client not in memo:
        texts = f"{region or ''}{ip or ''}{agent or ''}"
        if (not texts.isascii() or "\x00" in texts) and not _texts_ok(region, ip, agent):
            return _whole(wired(wire))
        if memo is not None:
            memo[client] = True
    if resource is not None and (not resource.isascii() or "\x00" in resource) and not _text_column(resource):
        return _whole(wired(wire))
    return _new(CompactEvent, (
        event_id, request_id, account, seconds, name, source, user_name, identity, region, ip, agent, code, message,
        summary, resource, params, response, authentication, _dumps(hidden) if hidden else None, None,
        READ_ONLY if read_only else 0,
    ))  # fmt: skip


def compact_check_events(item: CheckEvents, memo: Memo | None = None) -> list[CompactEvent]:
    """``[compact_call_event(e, memo) for e in item.events()]``, the same events field for field,
    built straight from the checks: no :class:`CallEvent`, wire tuple, or ``redact`` of each
    check's ``requestParameters`` (``resource`` and ``iamdAuthorizedBy``: fixed members, none a
    secret; their JSON is the service's part once per call, then the resource). A check not of
    the usual shape (a resource that is not a string, a decision's resource or a client's address
    that cannot be interned as text) is built the general way."""
    return _compact_checks(
        item.request_id, int(item.event_time.timestamp()), item.event_source, item.aws_region, item.source_ip,
        item.user_agent, item.user_identity, item.authorized_by, item.checks, item.ids(), item.events, memo,
    )  # fmt: skip


WIRE_CHECKS = 10
"""The members of a :data:`iamd.audit.WireChecks` tuple (a :data:`iamd.audit.Wire` has 16)."""


def compact_wire_checks(wire: WireChecks, memo: Memo | None = None) -> list[CompactEvent]:
    """:func:`compact_check_events` of the checks that travelled as ``wire`` (:func:`iamd.audit.wire_checks`)."""
    request_id, seconds, source, region, ip, agent, user_identity, by, checks, event_ids = wire
    return _compact_checks(
        request_id, seconds, source, region, ip, agent, user_identity, by, checks, check_ids(event_ids, len(checks)),
        lambda: wired_checks(wire).events(), memo,
    )  # fmt: skip


def _compact_checks(
    request_id: Any, seconds: int, source: str, region: str, shared_ip: str, agent: str, user_identity: Any, by: Any,
    checks: tuple[Check, ...], ids: tuple[str, ...], events: Callable[[], list[CallEvent]], memo: Memo | None,
) -> list[CompactEvent]:  # fmt: skip
    if type(by) is not str or type(request_id) is not str:
        return [compact_call_event(e, memo) for e in events()]
    identity, identity_hidden, user_name = _identity(user_identity, memo)
    redacted = _dumps(identity_hidden) if identity_hidden else None
    prefix = f'{{"iamdAuthorizedBy":{{"arn":{_dumps(by)},"requestId":{_dumps(request_id)}}},"resource":'
    account_checked: dict[Any, bool] = {} if memo is None else memo
    out: list[CompactEvent] = []
    general: list[CallEvent] | None = None
    for i, ((name, resource, owner, code, message, decision, ip), event_id) in enumerate(zip(checks, ids, strict=True)):
        ip = ip or shared_ip
        usual = type(resource) is str
        summary = where = None
        if usual and decision is not None:
            summary, where = _decision(_with_resource(decision, resource), memo)
            usual = where is None or (
                isinstance(where, str) and ((where.isascii() and "\x00" not in where) or _text_column(where))
            )
        client = (region, ip, agent)
        if usual and client not in account_checked:
            texts = f"{region or ''}{ip or ''}{agent or ''}"
            usual = (texts.isascii() and "\x00" not in texts) or _texts_ok(region, ip, agent)
            if usual:
                account_checked[client] = True
        if not usual:
            if general is None:
                general = events()
            out.append(compact_call_event(general[i], memo))
            continue
        read_only = _read_only(name)
        out.append(_new(CompactEvent, (
            event_id, request_id, owner, seconds, name, source, user_name, identity, region, ip, agent, code,
            None if code is None else (message or "")[:1024], summary, where, f"{prefix}{_dumps(resource)}}}",
            None, None, redacted, None, READ_ONLY if read_only else 0,
        )))  # fmt: skip
    return out


def _whole(event: CallEvent) -> CompactEvent:
    """The event of a call kept as its record's JSON text (what cannot be interned as it is)."""
    from iamd.store.audit import audit_event_from_record

    stored = audit_event_from_record(event.record(), event_time=event.event_time)
    identity = _dumps(json.loads(stored.record).get("userIdentity") or {})
    return CompactEvent(
        stored.event_id, stored.request_id, stored.account_id, _seconds(stored.event_time), stored.event_name,
        stored.event_source, stored.user_name, identity, error_code=stored.error_code, extra=stored.record,
        flags=WHOLE | read_flags(stored.read_only, stored.event_name),
    )  # fmt: skip


def compact_stored_event(event: AuditEvent) -> CompactEvent:
    """The stored form of an event given as its record's JSON text (sign-in events, a failed
    call's event, the rows the migration converts): taken apart, and kept whole if putting it
    back together would not give exactly the same text."""
    record = json.loads(event.record)
    seconds = _seconds(event.event_time)
    identity_value = record.get("userIdentity") if isinstance(record, dict) else None
    identity = _dumps(identity_value) if isinstance(identity_value, dict) else "{}"
    whole = CompactEvent(
        event.event_id, event.request_id, event.account_id, seconds, event.event_name, event.event_source,
        event.user_name, identity, error_code=event.error_code, extra=event.record,
        flags=WHOLE | read_flags(event.read_only, event.event_name),
    )  # fmt: skip
    if not isinstance(record, dict):
        return whole
    try:
        parts = _parts(record, event, identity, seconds)
    except (KeyError, TypeError, ValueError):
        return whole
    if parts is None or rebuild(parts) != event.record:
        return whole
    return parts


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError("not text")
    return value


def _parts(record: dict[str, Any], event: AuditEvent, identity: str, seconds: int) -> CompactEvent | None:
    """``record`` taken apart as :func:`rebuild` puts it together; None if it cannot be."""
    rest = dict(record)
    flags = read_flags(event.read_only, event.event_name)
    if "requestID" not in rest and event.request_id is None:
        flags |= NO_REQUEST_ID
        rest["requestID"] = None
    for key in ("userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly",
                "recipientAccountId", "redacted"):  # fmt: skip
        if key not in rest:
            return None
        del rest[key]
    for key, value in _CONSTANTS.items():
        if rest.get(key) == value and type(rest.get(key)) is type(value):
            del rest[key]
        elif key not in rest:
            return None  # absent: rebuild would add it
    error_code = message = None
    if "errorCode" in rest:
        error_code, message = _text(rest.pop("errorCode")), _text(rest.pop("errorMessage"))
    decision = resource = None
    if DECISION_FIELD in rest:
        summary = dict(rest.pop(DECISION_FIELD))
        resource = _text(summary.pop("resource"))
        decision = _dumps(summary)
    authentication = _dumps(rest.pop(FAILURE_FIELD)) if FAILURE_FIELD in rest else None
    params, response = record["requestParameters"], record["responseElements"]
    for text in (record["awsRegion"], record["sourceIPAddress"], record["userAgent"], resource):
        if isinstance(text, str) and not _text_column(text):
            return None
    redacted = record["redacted"]
    return CompactEvent(
        event.event_id, event.request_id, event.account_id, seconds, event.event_name, event.event_source,
        event.user_name, identity, _text(record["awsRegion"]), _text(record["sourceIPAddress"]),
        _text(record["userAgent"]), error_code, message, decision, resource,
        None if params is None else _dumps(params), None if response is None else _dumps(response),
        authentication, _dumps(redacted) if redacted else None, _dumps(rest) if rest else None, flags,
    )  # fmt: skip


def _time_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(_TIME)


def rebuild(event: CompactEvent) -> str:
    """The record's CloudTrail JSON text, exactly as the trail stored it before it was compact."""
    if event.flags & WHOLE:
        assert event.extra is not None
        return event.extra
    rec: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": json.loads(event.identity),
        "eventTime": _time_text(event.event_time),
        "eventSource": event.event_source,
        "eventName": event.event_name,
        "awsRegion": event.region,
        "sourceIPAddress": event.source_ip,
        "userAgent": event.user_agent,
        "requestParameters": None if event.params is None else json.loads(event.params),
        "responseElements": None if event.response is None else json.loads(event.response),
        "requestID": event.request_id,
        "eventID": event.event_id,
        "readOnly": event.read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": event.account_id,
        "eventCategory": "Management",
    }
    if event.flags & NO_REQUEST_ID:
        del rec["requestID"]
    if event.error_code is not None:
        rec["errorCode"] = event.error_code
        rec["errorMessage"] = event.error_message
    if event.decision is not None:
        summary = json.loads(event.decision)
        summary["resource"] = event.resource
        rec[DECISION_FIELD] = summary
    if event.authentication is not None:
        rec[FAILURE_FIELD] = json.loads(event.authentication)
    rec["redacted"] = json.loads(event.redacted) if event.redacted else []
    if event.extra:
        extra: Mapping[str, Any] = json.loads(event.extra)
        rec.update(extra)
    return _dumps(rec)
