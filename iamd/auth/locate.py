"""Locating the signature (AWS "AWS Signature Version 4 for API requests"): the Authorization header or the presigned
query.

:func:`locate` turns a request into the signature's parts or raises the AWS error for a
request that carries none (``MissingAuthenticationToken``), both forms, or a malformed one
(``IncompleteSignature``). Messages follow AWS's observed wording (IAM API "Common Errors").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from iamd.auth.canonical import ALGORITHM, parse_query
from iamd.auth.request import SignedRequest
from iamd.errors import IncompleteSignature, MissingAuthenticationToken
from iamd.frozen import fast_init, maker
from iamd.seen import remember

__all__ = ["MAX_EXPIRES", "Located", "carries_signature", "locate"]

MAX_EXPIRES = 604800  # seven days, in seconds
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_ALGORITHM_PARAM = b"X-Amz-Algorithm"
_CREDENTIAL_PARAM = b"X-Amz-Credential"
_SIGNATURE_PARAM = b"X-Amz-Signature"
_QUERY_PARAMS = (
    _ALGORITHM_PARAM,
    _CREDENTIAL_PARAM,
    b"X-Amz-Date",
    b"X-Amz-Expires",
    b"X-Amz-SignedHeaders",
    _SIGNATURE_PARAM,
)
_TOKEN_PARAM = b"X-Amz-Security-Token"
_QUERY_MARKERS = frozenset((_ALGORITHM_PARAM, _CREDENTIAL_PARAM, _SIGNATURE_PARAM))
_HEADER_PARAMS = ("Credential", "Signature", "SignedHeaders")  # AWS lists missing ones in this order
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SEPARATORS = re.compile(r"[\s,]+")


@fast_init
@dataclass(frozen=True, slots=True)
class Located:
    """What the request claims: who signed, for which scope, when, over which headers."""

    presigned: bool
    access_key_id: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: str  # as sent, ``;``-separated
    signature: str
    raw_date: str  # the X-Amz-Date (or Date) value as sent
    amz_date: str  # the same instant in ISO 8601 basic format, as in the string to sign
    signed_at: datetime
    expires: int | None  # presigned only: X-Amz-Expires seconds
    session_token: str | None = field(repr=False)
    query_pairs: tuple[tuple[bytes, bytes], ...] = field(repr=False)

    @property
    def credential_scope(self) -> str:
        return scope_of(self)


def scope_of(located: Located) -> str:
    """``located.credential_scope``, for the verifier: a plain call, not a property's from C."""
    return f"{located.scope_date}/{located.region}/{located.service}/{located.terminator}"


def carries_signature(request: SignedRequest) -> bool:
    """Whether the request attempts SigV4 in either form (unsigned STS operations need not)."""
    if request.header_values("authorization"):
        return True
    return any(name in _QUERY_MARKERS for name, _ in parse_query(request.query))


def locate(request: SignedRequest) -> Located:
    pairs = tuple(parse_query(request.query)) if request.query else ()
    in_query = bool(pairs) and any(name in _QUERY_MARKERS for name, _ in pairs)
    authorization = request.header_values("authorization")
    if authorization and in_query:
        raise IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
            "or the Authorization header should be specified."
        )
    if authorization:
        return _from_header(request, authorization, pairs)
    if in_query:
        return _from_query(pairs)
    raise MissingAuthenticationToken("Request is missing Authentication Token")


def _from_header(request: SignedRequest, values: tuple[str, ...], pairs: tuple[tuple[bytes, bytes], ...]) -> Located:
    if len(values) > 1:
        raise IncompleteSignature("Authorization header must be sent only once.")
    header = values[0]
    # The common shape ends in ``Signature=<64 hex digits>``; everything before it repeats
    # from one request of a client to the next, so its parse is kept (see _template). Any
    # other shape, and every malformed one, takes the full parse and its AWS error.
    cut = len(header) - 64
    if cut > 0 and header.endswith("Signature=", 0, cut) and _HEX64.fullmatch(header, cut):
        head = header[: cut - 10]  # len("Signature=")
        # The key id is the part that differs between callers: with it cut out, one parse serves
        # every caller of the same scope and signed headers (not 1,024 callers, then one parse per
        # request). Only where the Credential is the first parameter and its id is plain
        # upper-case letters and digits (no separator, '=' or '/': the parse cannot change).
        key_id = None
        if head.startswith(_FIRST):
            end = head.find("/", _AFTER_FIRST)
            if end > 0:
                cut_out = head[_AFTER_FIRST:end]
                if cut_out in _KEY_IDS_SEEN or _key_id_shaped(cut_out):
                    key_id, head = cut_out, _FIRST + head[end:]
        template = _template(head)
        raw_date, from_date_header = _date_header(request)
        if template is not None and raw_date is not None:
            tokens = request.header_values("x-amz-security-token")
            signed_at, amz_date = _parse_date(raw_date, from_date_header)
            return _new_located(
                False, template.access_key_id if key_id is None else key_id, template.scope_date, template.region,
                template.service, template.terminator, template.signed_headers, header[cut:], raw_date, amz_date,
                signed_at, None, ",".join(tokens) if tokens else None, pairs,
            )  # fmt: skip
    return _parse_header(request, header, pairs)


_new_located = maker(Located)  # Located(...) made cheaper (iamd.frozen.maker): twice per authorization


@fast_init
@dataclass(frozen=True, slots=True)
class _Template:
    """The parse of an Authorization header up to its signature: well formed, host signed."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: str


_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIRST = f"{ALGORITHM} Credential="
_AFTER_FIRST = len(_FIRST)
_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")  # AWS's key id length; the upper-case ids of AKIA and ASIA keys
# The key ids _KEY_ID matched already: a caller's next request is checked by a set lookup instead
# of the pattern (bench/README.md, "Session 17: the single check's steps"). Only matched ids go
# in; bounded (emptied when full: a shortcut, never an answer).
_KEY_IDS_SEEN: set[str] = set()


def _key_id_shaped(text: str) -> bool:
    if not _KEY_ID.fullmatch(text):
        return False
    remember(_KEY_IDS_SEEN, text)
    return True


@functools.lru_cache(maxsize=1024)
def _template(head: str) -> _Template | None:
    """What ``head + "Signature=<hex>"`` parses to, or None where the full parse must answer."""
    scheme, _, rest = head.strip().partition(" ")
    if scheme != ALGORITHM:
        return None
    params, malformed = _header_params(rest)
    if malformed is not None:
        return None
    if "Signature" in params or "Credential" not in params or "SignedHeaders" not in params:
        return None  # the signature at the end must be the only one
    parts = params["Credential"].split("/")
    if len(parts) != 5 or not _signs_host(params["SignedHeaders"]):
        return None
    access_key_id, scope_date, region, service, terminator = parts
    return _Template(access_key_id, scope_date, region, service, terminator, params["SignedHeaders"])


def _header_params(rest: str) -> tuple[dict[str, str], str | None]:
    """The ``key=value`` parameters after the algorithm (the first of a repeated key wins), and
    the first token without ``=`` (None when there is none)."""
    params: dict[str, str] = {}
    for token in _SEPARATORS.split(rest.strip()):
        if not token:
            continue
        if "=" not in token:
            return params, token
        key, _, value = token.partition("=")
        params.setdefault(key, value)
    return params, None


def _signs_host(signed_headers: str) -> bool:
    names = {name.lower() for name in signed_headers.split(";")}
    return "host" in names or ":authority" in names


def _parse_header(request: SignedRequest, header: str, pairs: tuple[tuple[bytes, bytes], ...]) -> Located:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.startswith("AWS4-") and scheme != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{scheme}'.")
    params: dict[str, str] = {}
    if scheme == ALGORITHM:
        params, malformed = _header_params(rest)
        if malformed is not None:
            raise IncompleteSignature(
                f"'{malformed}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
            )
    raw_date, from_date_header = _date_header(request)
    problems = [f"Authorization header requires '{name}' parameter." for name in _HEADER_PARAMS if name not in params]
    if raw_date is None:
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if problems or raw_date is None:
        raise IncompleteSignature(" ".join([*problems, f"Authorization={header}"]))
    tokens = request.header_values("x-amz-security-token")
    return _located(
        presigned=False,
        credential=params["Credential"],
        signed_headers=params["SignedHeaders"],
        signature=params["Signature"],
        raw_date=raw_date,
        http_date_allowed=from_date_header,
        expires=None,
        session_token=",".join(tokens) if tokens else None,
        pairs=pairs,
    )


def _date_header(request: SignedRequest) -> tuple[str | None, bool]:
    amz = request.header_values("x-amz-date")
    if amz:
        return ",".join(amz), False
    date = request.header_values("date")
    return (",".join(date), True) if date else (None, False)


def _from_query(pairs: tuple[tuple[bytes, bytes], ...]) -> Located:
    found: dict[bytes, str] = {}
    for name, value in pairs:
        if name in _QUERY_PARAMS or name == _TOKEN_PARAM:
            if name in found:
                raise IncompleteSignature(
                    f"AWS query-string parameter '{name.decode()}' must appear only once. "
                    "Re-examine the query-string parameters."
                )
            found[name] = value.decode("utf-8", "replace")
    missing = [f"AWS query-string parameters must include '{n.decode()}'." for n in _QUERY_PARAMS if n not in found]
    if missing:
        raise IncompleteSignature(" ".join([*missing, "Re-examine the query-string parameters."]))
    if found[_ALGORITHM_PARAM] != ALGORITHM:
        raise IncompleteSignature(f"X-Amz-Algorithm only supports '{ALGORITHM}'.")
    raw_expires = found[b"X-Amz-Expires"]
    if not (raw_expires.isascii() and raw_expires.isdigit() and 1 <= int(raw_expires) <= MAX_EXPIRES):
        raise IncompleteSignature(
            f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES}, not '{raw_expires}'."
        )
    return _located(
        presigned=True,
        credential=found[_CREDENTIAL_PARAM],
        signed_headers=found[b"X-Amz-SignedHeaders"],
        signature=found[_SIGNATURE_PARAM],
        raw_date=found[b"X-Amz-Date"],
        http_date_allowed=False,
        expires=int(raw_expires),
        session_token=found.get(_TOKEN_PARAM),
        pairs=pairs,
    )


def _located(
    *,
    presigned: bool,
    credential: str,
    signed_headers: str,
    signature: str,
    raw_date: str,
    http_date_allowed: bool,
    expires: int | None,
    session_token: str | None,
    pairs: tuple[tuple[bytes, bytes], ...],
) -> Located:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    signed_at, amz_date = _parse_date(raw_date, http_date_allowed)
    if not _signs_host(signed_headers):
        raise IncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    access_key_id, scope_date, region, service, terminator = parts
    # Positional, in field order: a frozen dataclass built from keywords costs twice as much.
    return _new_located(
        presigned, access_key_id, scope_date, region, service, terminator, signed_headers, signature, raw_date,
        amz_date, signed_at, expires, session_token, pairs,
    )  # fmt: skip


@functools.lru_cache(maxsize=256)  # requests signed in the same second share the value
def _parse_date(raw: str, http_date_allowed: bool) -> tuple[datetime, str]:
    """The instant and its ISO 8601 basic form; ``Date`` may also be an HTTP date (botocore sends one)."""
    if _AMZ_DATE.fullmatch(raw):
        try:
            moment = datetime(
                int(raw[0:4]),
                int(raw[4:6]),
                int(raw[6:8]),
                int(raw[9:11]),
                int(raw[11:13]),
                int(raw[13:15]),
                tzinfo=UTC,
            )
        except ValueError:
            pass
        else:
            return moment, raw
    elif http_date_allowed:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            pass
        else:
            moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            return moment, moment.strftime(AMZ_DATE_FORMAT)
    raise IncompleteSignature(
        f"Date must be in ISO-8601 'basic format'. Got '{raw}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )
