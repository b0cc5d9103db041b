"""The input of ``iamd:Authorize``: the wire format checked, bounded, and what the trail keeps of it.

docs/authorization-api.md, "The call" (the JSON Schema) and "Bounds and errors of the call":
every violation is a ``ValidationError`` naming the member, before anything is verified or
evaluated; no regex here can backtrack (each is a bounded character class or an alternation
of fixed strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from iamd import errors as aws
from iamd.seen import remember

__all__ = ["ACCOUNT", "MAX_BODY", "MAX_CHECKS", "MAX_POLICY", "audited_input", "check_input", "invalid", "read_body"]

MAX_BODY = 2 * 1024 * 1024
MAX_CHECKS = 100  # per call (a batch)
MAX_POLICY = 20 * 1024  # characters of one resource policy (S3's bucket policy limit: 20 KB)
MAX_HEADERS = 200
MAX_HEADER_BYTES = 64 * 1024  # every forwarded name and value together
MAX_CONTEXT_KEYS = 64
MAX_CONTEXT_VALUES = 64
MAX_TEXT = 2048  # an action, a resource ARN, a key, a value, a tag
MAX_TAGS = 50

_MEMBERS = frozenset({"Request", "PresignedUrl", "Checks", "AllowAnonymous", "Service"})
_REQUEST_MEMBERS = frozenset({"Method", "Path", "Query", "Headers", "PayloadHash"})
_CHECK_MEMBERS = frozenset({"Action", "Resource", "ResourcePolicy", "ResourceAccount", "ResourceTags", "Context"})
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ACTION = re.compile(r"[A-Za-z0-9-]{1,64}:[A-Za-z0-9_*?-]{1,128}")
ACCOUNT = re.compile(r"[0-9]{12}")
CALLER = "Caller"  # ResourceAccount: the client's own account (a resource the request creates)
_HASH = re.compile(r"[0-9a-f]{64}|UNSIGNED-PAYLOAD|STREAMING-[A-Z0-9-]{1,64}")
_METHOD = re.compile(r"[A-Z]{1,16}")
# Keys iamd resolves itself and a service may not give: who the client is, its credentials,
# the time, the resource's account and tags (ResourceTags) and the signing region.
_RESOLVED_PREFIXES = (
    "aws:principal", "aws:userid", "aws:username", "aws:multifactorauth", "aws:tokenissuetime",
    "aws:sourceidentity", "aws:federatedprovider", "aws:resourceaccount", "aws:resourceorg", "aws:resourcetag/",
    "aws:currenttime", "aws:epochtime", "aws:requestedregion", "aws:useragent", "aws:viaawsservice", "aws:calledvia",
)  # fmt: skip


def invalid(message: str) -> aws.ValidationError:
    return aws.ValidationError(message)


def _text(value: Any, what: str, *names: object, limit: int = MAX_TEXT, empty: bool = False) -> str:
    """``value`` if it is a string within the bounds; else the ValidationError naming the member:
    ``what`` with ``names`` formatted in (``str.format``), only then (a check's member names
    would otherwise be formatted for every check of every call)."""
    if not isinstance(value, str) or (not value and not empty) or len(value) > limit:
        member = what.format(*names) if names else what
        raise invalid(f"{member} must be a {'' if empty else 'non-empty '}string of at most {limit} characters.")
    return value


def read_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, checked: its shape, the bounds (ValidationError otherwise)."""
    if len(body) > MAX_BODY:
        raise invalid(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
    try:
        # orjson parses what json does, several times faster, and refuses what it cannot make
        # valid Unicode of (a lone surrogate): text it parses needs no second look. What it
        # refuses (also NaN, an object nested too deep) is read by json, as before, for the same answer.
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    else:
        if not isinstance(parsed, dict):
            raise invalid("The body must be a JSON object.")
        _check(parsed, escapes=False)
        return parsed  # parsed here: no copy
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise invalid("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise invalid("The body must be a JSON object.")
    return check_input(data, escapes=b"\\u" in body)


def _valid_unicode(data: Mapping[str, Any]) -> bool:
    """Whether every text in ``data`` encodes as UTF-8: orjson answers fast (it refuses surrogates);
    what it refuses for another reason (an integer over 64 bits) is asked of json, as before."""
    try:
        orjson.dumps(data)
        return True
    except (TypeError, ValueError):
        pass
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
        return True
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        return False


def check_input(data: Mapping[str, Any], *, escapes: bool = True) -> dict[str, Any]:
    """``data`` checked against the wire format (docs/authorization-api.md); the same for every
    door. A copy: the caller's object is its own."""
    _check(data, escapes=escapes)
    return dict(data)


def _check(data: Mapping[str, Any], *, escapes: bool) -> None:
    if not _MEMBERS.issuperset(data):  # (no set made for a body without unknown members)
        raise invalid(f"Unknown members: {', '.join(sorted(set(data) - _MEMBERS)[:10])}.")
    if escapes and not _valid_unicode(data):  # JSON can spell a lone surrogate (\ud800), which no text can be
        raise invalid("The body must be JSON text of valid Unicode (no lone surrogates).")
    if ("Request" in data) == ("PresignedUrl" in data):
        raise invalid("Give exactly one of Request or PresignedUrl.")
    if "Request" in data:
        _check_request(data["Request"])
    else:
        _text(data["PresignedUrl"], "PresignedUrl", limit=16 * 1024)
    checks = data.get("Checks")
    if not isinstance(checks, list) or not checks or len(checks) > MAX_CHECKS:
        raise invalid(f"Checks must be a list of 1 to {MAX_CHECKS} checks.")
    for i, check in enumerate(checks):
        _check_check(check, i)
    if not isinstance(data.get("AllowAnonymous", False), bool):
        raise invalid("AllowAnonymous must be true or false.")
    service = data.get("Service")
    if service is not None and (type(service) is not str or service not in _SERVICES_SEEN):
        if not isinstance(service, str) or not _SERVICE.fullmatch(service):
            raise invalid("Service must be a service prefix: lower-case letters, digits and hyphens (e.g. s3).")
        remember(_SERVICES_SEEN, service)


# The services and actions already found well formed (their patterns above), so that a call
# naming one again is checked by one set lookup instead of a regex match (a single check names
# one of each: bench/README.md, "Session 17: the single check's steps"). Only valid
# text goes in; each set is bounded (emptied when full: it is a shortcut, never an answer).
_SERVICES_SEEN: set[str] = set()
_ACTIONS_SEEN: set[str] = set()
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})  # all match _METHOD


_HEADER_PAIR = "Each of Request.Headers must be a [name, value] pair of strings."


def _check_request(request: Any) -> None:
    if not isinstance(request, dict):
        raise invalid("Request must be an object with Method, Path, Query and Headers.")
    if not _REQUEST_MEMBERS.issuperset(request):
        raise invalid(f"Unknown members of Request: {', '.join(sorted(set(request) - _REQUEST_MEMBERS)[:10])}.")
    # A common method, a plain string path and query: checked here (no call per member); any
    # other value by _text and the patterns, which raise the member's error.
    method = request.get("Method")
    if type(method) is not str or method not in _METHODS:  # (a list or an object is no key of a set)
        method = _text(method, "Request.Method", limit=16)
        if not _METHOD.fullmatch(method):
            raise invalid("Request.Method must be an HTTP method in upper case.")
    path = request.get("Path")
    if type(path) is not str or not 0 < len(path) <= 8192:
        path = _text(path, "Request.Path", limit=8192)
    if not path.startswith("/"):
        raise invalid("Request.Path must start with /.")
    query = request.get("Query", "")
    if type(query) is not str or len(query) > 16 * 1024:
        _text(query, "Request.Query", limit=16 * 1024, empty=True)
    headers = request.get("Headers")
    if not isinstance(headers, list) or len(headers) > MAX_HEADERS:
        raise invalid(f"Request.Headers must be a list of at most {MAX_HEADERS} [name, value] pairs.")
    size = 0
    for pair in headers:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise invalid(_HEADER_PAIR)
        name, value = pair
        if not (isinstance(name, str) and isinstance(value, str) and name):
            raise invalid(_HEADER_PAIR)
        size += len(name) + len(value)
    if size > MAX_HEADER_BYTES:
        raise invalid(f"Request.Headers are too large: at most {MAX_HEADER_BYTES} characters together.")
    payload_hash = request.get("PayloadHash")
    if payload_hash is not None and not (isinstance(payload_hash, str) and _HASH.fullmatch(payload_hash)):
        raise invalid("Request.PayloadHash must be the lower-case hex SHA-256 of the body, or UNSIGNED-PAYLOAD.")


def _check_check(check: Any, i: int) -> None:
    # Member names (Checks[i]...) are formatted only for an error: a batch has a hundred checks.
    if not isinstance(check, dict):
        raise invalid(f"Checks[{i}] must be an object with Action and Resource.")
    if not _CHECK_MEMBERS.issuperset(check):
        raise invalid(f"Unknown members of Checks[{i}]: {', '.join(sorted(set(check) - _CHECK_MEMBERS)[:10])}.")
    action = check.get("Action")
    if type(action) is not str or action not in _ACTIONS_SEEN:
        action = _text(action, "Checks[{}].Action", i, limit=200)
        if not _ACTION.fullmatch(action) or "*" in action or "?" in action:
            raise invalid(f"Checks[{i}].Action must be one action, service:Name (e.g. s3:GetObject).")
        remember(_ACTIONS_SEEN, action)
    resource = check.get("Resource")
    if type(resource) is not str or not 0 < len(resource) <= MAX_TEXT:
        _text(resource, "Checks[{}].Resource", i)
    if len(check) == 2:  # Action and Resource only (the members are known): nothing else to check
        return
    where = f"Checks[{i}]"
    policy = check.get("ResourcePolicy")
    if policy is not None and (not isinstance(policy, str) or len(policy) > MAX_POLICY):
        raise invalid(
            f"{where}.ResourcePolicy must be a policy document (JSON text) of at most {MAX_POLICY} characters."
        )
    account = check.get("ResourceAccount")
    if account is not None and not (isinstance(account, str) and (ACCOUNT.fullmatch(account) or account == CALLER)):
        raise invalid(f'{where}.ResourceAccount must be a 12-digit account id, or "{CALLER}".')
    tags = check.get("ResourceTags")
    if tags is not None:
        if not isinstance(tags, dict) or len(tags) > MAX_TAGS:
            raise invalid(f"{where}.ResourceTags must be an object of at most {MAX_TAGS} key: value strings.")
        for k, v in tags.items():
            _text(k, "{}.ResourceTags key", where, limit=128)
            _text(v, "{}.ResourceTags value", where, limit=256, empty=True)
    context = check.get("Context")
    if context is not None:
        if not isinstance(context, dict) or len(context) > MAX_CONTEXT_KEYS:
            raise invalid(f"{where}.Context must be an object of at most {MAX_CONTEXT_KEYS} keys.")
        for key, value in context.items():
            _text(key, "{}.Context key", where, limit=256)
            if key.lower().startswith(_RESOLVED_PREFIXES):
                raise invalid(f"{where}.Context may not give {key}: iamd resolves it from the request.")
            values = value if isinstance(value, list) else [value]
            if len(values) > MAX_CONTEXT_VALUES:
                raise invalid(f"{where}.Context {key} has too many values (at most {MAX_CONTEXT_VALUES}).")
            for item in values:
                _text(item, "{}.Context value of {}", where, key, empty=True)


def audited_input(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the trail keeps of an Authorize call: the checks asked, never the forwarded headers,
    query or URL (a signature, a session token) nor the resource policies given."""
    request = data.get("Request")
    out: dict[str, Any] = {}
    if type(request) is dict or isinstance(request, Mapping):  # parsed JSON's dict: no ABC check
        out["request"] = {"method": request.get("Method"), "path": str(request.get("Path", ""))[:1024]}
    elif "PresignedUrl" in data:
        out["request"] = {"presigned": True}
    out["checks"] = [
        {"action": c.get("Action"), "resource": c.get("Resource")}
        for c in data.get("Checks") or ()
        if type(c) is dict or isinstance(c, Mapping)  # parsed JSON's dicts without the ABC's check
    ]
    if data.get("Service") is not None:
        out["service"] = data["Service"]
    if data.get("AllowAnonymous"):
        out["allowAnonymous"] = True
    return out
