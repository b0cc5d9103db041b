"""SigV4 verification for IAM and STS (AWS "AWS Signature Version 4 for API requests"): a pure verifier.

:meth:`SigV4Verifier.verify` takes the request, the current time and a credential lookup
(``lookup(access_key_id, presented session token or None)``),
runs the checks of AWS "AWS Signature Version 4 for API requests" in order and returns a :class:`VerifiedRequest` or
raises
the AWS error (IAM API "Common Errors"; AWS "Troubleshoot Signature Version 4 signing")::

    locate (MissingAuthenticationToken, IncompleteSignature)
    1 scope: terminator, service, region        SignatureDoesNotMatch
    2 scope date = request date                  SignatureDoesNotMatch
    3 time: skew (header) / expiry (presigned)   SignatureDoesNotMatch / RequestExpired
    4 credential: key, status, session token     InvalidClientTokenId / ExpiredToken
    5 signature, constant-time                   SignatureDoesNotMatch

It reads no clock, does no I/O except through ``lookup``, and logs nothing. Secrets never
reach a message or a repr; the only state is a bounded cache of derived signing keys.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Generic, TypeVar

from iamd.auth import canonical
from iamd.auth.locate import AMZ_DATE_FORMAT, Located, locate
from iamd.auth.request import SignedRequest
from iamd.errors import (
    AwsError,
    ExpiredToken,
    IncompleteSignature,
    InvalidClientTokenId,
    RequestExpired,
    SignatureDoesNotMatch,
)
from iamd.frozen import fast_init, maker
from iamd.moment import whole_second_utc

__all__ = [
    "DEFAULT_SERVICES",
    "REGION_SHAPE",
    "Credential",
    "Presented",
    "SigV4Verifier",
    "SigningDetails",
    "VerifiedRequest",
]

P = TypeVar("P")

REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# Service name -> acceptable scope regions; None means any region of AWS's shape. A server
# passes its partition's regions (iamd.partitions, Backend); this default is the verifier's own.
# Organizations: botocore signs with the client's region when given an endpoint URL (docs/organizations.md).
DEFAULT_SERVICES: Mapping[str, frozenset[str] | None] = MappingProxyType(
    {"iam": frozenset({"us-east-1"}), "sts": None, "organizations": None}
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."


@dataclass(frozen=True, slots=True, eq=False)
class Credential(Generic[P]):
    """What ``lookup(access_key_id, session_token)`` answers: the secret, its state, and who it
    stands for. The lookup receives the presented session token (or None) so that
    self-contained session tokens can be opened; the verifier still checks it below.

    A temporary (STS) credential carries its session token and expiry; a long-term one
    carries neither. ``principal`` is opaque to the verifier and handed back verified.
    """

    secret_access_key: str
    principal: P
    active: bool = True
    session_token: str | None = None
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.session_token is not None and self.expires_at is None:
            raise ValueError("a temporary credential needs its expiry")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")

    def __repr__(self) -> str:
        kind = "temporary" if self.session_token is not None else "long-term"
        return (
            f"Credential(<{kind}, secret hidden>, principal={self.principal!r}, active={self.active}, "
            f"expires_at={self.expires_at!r})"
        )


@fast_init
@dataclass(frozen=True, slots=True)
class VerifiedRequest(Generic[P]):
    """Who signed the request, for which scope, and when."""

    access_key_id: str
    principal: P
    date: str  # credential scope date, YYYYMMDD
    region: str
    service: str
    signed_at: datetime
    presigned: bool
    session_token: str | None = field(repr=False)
    signed_headers: tuple[str, ...]
    payload_signed: bool  # False for x-amz-content-sha256: UNSIGNED-PAYLOAD
    url_expires_at: datetime | None  # presigned only


_new_verified = maker(VerifiedRequest)  # VerifiedRequest(...) made cheaper (iamd.frozen.maker)


@dataclass(frozen=True, slots=True)
class Presented(Generic[P]):
    """What a refused request presented, as far as verification got: the located signature
    (key id, scope, session token) and, once looked up, what the lookup answered."""

    located: Located
    credential: Credential[P] | None
    looked_up: bool  # False: refused before the lookup (scope, date, time)


@fast_init
@dataclass(frozen=True, slots=True)
class SigningDetails:
    """The canonical request and string to sign iamd computes for a request (for debugging)."""

    canonical_request: str
    string_to_sign: str
    credential_scope: str


class SigV4Verifier:
    """Verifies SigV4 requests for the configured services; owns the signing-key cache."""

    def __init__(
        self,
        services: Mapping[str, frozenset[str] | None] = DEFAULT_SERVICES,
        *,
        max_skew: timedelta = timedelta(minutes=15),
        cache_size: int = 1024,
        allow_unsigned_payload: bool = True,
    ) -> None:
        if not services:
            raise ValueError("at least one service is required")
        if cache_size < 1:
            raise ValueError("cache_size must be positive")
        if max_skew <= timedelta(0) or max_skew.total_seconds() % 60:
            raise ValueError("max_skew must be a positive whole number of minutes")
        self._services = dict(services)
        self._max_skew = max_skew
        self._skew_text = f"{int(max_skew.total_seconds() // 60)} min."
        self._allow_unsigned_payload = allow_unsigned_payload
        self._cache: OrderedDict[tuple[str, str, str, str], canonical.Signer] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._window = (_EPOCH, _EPOCH, _EPOCH)

    def verify(
        self,
        request: SignedRequest,
        *,
        now: datetime,
        lookup: Callable[[str, str | None], Credential[P] | None],
        service: str | None = None,
        payload_hash: str | None = None,
    ) -> VerifiedRequest[P]:
        """Authenticate ``request`` at time ``now`` (aware); ``service`` narrows the configured ones.

        ``payload_hash``: the hashed-payload line of the canonical request, when the caller
        verifies the body itself (a service forwarding its client's request to iamd without
        the body; docs/authorization-api.md): the body is then not hashed here."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = whole_second_utc(now)
        located = locate(request)
        found: Credential[P] | None = None
        looked_up = False
        names = _header_names(located.signed_headers)
        try:
            # Each check in AWS's order; where it passes (every accepted request) it is made here,
            # and only a request it refuses goes through the helper that raises AWS's error for it
            # (bench/README.md, "Session 17: the single check's steps"): no call per check.
            if service is not None and service not in self._services:
                raise ValueError(f"service {service!r} is not configured")
            if located.terminator != canonical.TERMINATOR or (
                located.service != service if service is not None else located.service not in self._services
            ):
                self._check_scope(located, self._candidates(service))
            regions = self._services[located.service]
            if regions is None or located.region not in regions:
                self._check_scope(located, self._candidates(service))
            if located.scope_date != located.amz_date[:8]:
                _check_scope_date(located)
            window = self._window  # (now, earliest, latest): see _check_time
            if window[0] == now and located.expires is None and window[1] <= located.signed_at <= window[2]:
                url_expires_at = None
            else:
                url_expires_at = self._check_time(located, now)
            found, looked_up = lookup(located.access_key_id, located.session_token), True
            credential = _checked_credential(located, found, now)
            if payload_hash is not None:  # the caller's to check against the body
                payload_signed, declared = payload_hash != canonical.UNSIGNED_PAYLOAD, False
            elif request.header_values("x-amz-content-sha256"):
                payload_hash, payload_signed, declared = self._payload_hash(request)
            else:  # none declared (self._payload_hash's first case): the body's own
                payload_hash, payload_signed, declared = hashlib.sha256(request.body).hexdigest(), True, False
            text = _canonical_request(request, located, payload_hash, names)  # (no SigningDetails object per request)
            key = self._signing_key(credential.secret_access_key, located)
            # canonical.string_to_sign, in line
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            scope = f"{located.scope_date}/{located.region}/{located.service}/{located.terminator}"  # scope_of
            expected = key.sign(f"{canonical.ALGORITHM}\n{located.amz_date}\n{scope}\n{digest}")
            if not hmac.compare_digest(expected.encode(), located.signature.encode("utf-8", "surrogatepass")):
                raise SignatureDoesNotMatch(MISMATCH)
            if (
                declared
                and payload_signed
                and not hmac.compare_digest(
                    payload_hash.lower().encode("utf-8", "surrogatepass"),
                    hashlib.sha256(request.body).hexdigest().encode(),
                )
            ):
                raise SignatureDoesNotMatch(PAYLOAD_MISMATCH)
        except AwsError as refused:
            # What authentication learned before it refused (for the audit trail: which key was
            # presented and why it was refused), so that nobody has to locate and look it up again.
            refused.presented = Presented(located, found, looked_up)
            raise
        # Positional, in field order (access key, principal, date, region, service, signed at,
        # presigned, token, signed headers, payload signed, URL expiry): half the cost of keywords.
        return _new_verified(
            located.access_key_id, credential.principal, located.scope_date, located.region, located.service,
            located.signed_at, located.presigned, located.session_token, names[0], payload_signed, url_expires_at,
        )  # fmt: skip

    def describe(self, request: SignedRequest) -> SigningDetails:
        """The canonical request and string to sign for ``request``; needs no credential."""
        located = locate(request)
        names = _header_names(located.signed_headers)
        text = _canonical_request(request, located, self._payload_hash(request, strict=False)[0], names)
        scope = located.credential_scope
        return SigningDetails(text, canonical.string_to_sign(located.amz_date, scope, text), scope)

    # -- checks, in the order of AWS "AWS Signature Version 4 for API requests"
    # ------------------------------------------------

    def _candidates(self, service: str | None) -> Collection[str]:
        if service is None:
            return self._services
        if service not in self._services:
            raise ValueError(f"service {service!r} is not configured")
        return (service,)

    def _check_scope(self, located: Located, candidates: Collection[str]) -> None:
        if located.terminator != canonical.TERMINATOR:
            raise SignatureDoesNotMatch(
                f"Credential should be scoped with a valid terminator: '{canonical.TERMINATOR}', "
                f"not '{located.terminator}'. "
            )
        if located.service not in candidates:
            expected = "' or '".join(sorted(candidates))
            raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{expected}'. ")
        regions = self._services[located.service]
        valid = REGION_SHAPE.fullmatch(located.region) if regions is None else located.region in regions
        if not valid:
            if located.service == "iam":  # IAM's global endpoint does not name the region (errors: SigV4 messages)
                raise SignatureDoesNotMatch("Credential should be scoped to a valid region. ")
            raise SignatureDoesNotMatch(f"Credential should be scoped to a valid region, not '{located.region}'. ")

    def _check_time(self, located: Located, now: datetime) -> datetime | None:
        signed_at, skew = located.signed_at, self._max_skew
        window = self._window  # (now, earliest, latest): one tuple, replaced whole (threads read either)
        if window[0] != now:  # whole seconds: the bounds once a second, not twice a request
            window = self._window = (now, now - skew, now + skew)
        if signed_at > window[2]:
            raise SignatureDoesNotMatch(
                f"Signature not yet current: {located.amz_date} is still later than {_fmt(now + skew)} "
                f"({_fmt(now)} + {self._skew_text})"
            )
        if located.expires is not None:
            expires_at = signed_at + timedelta(seconds=located.expires)
            if now > expires_at:
                raise RequestExpired("Request has expired")
            return expires_at
        if signed_at < window[1]:
            raise SignatureDoesNotMatch(
                f"Signature expired: {located.amz_date} is now earlier than {_fmt(now - skew)} "
                f"({_fmt(now)} - {self._skew_text})"
            )
        return None

    def _payload_hash(self, request: SignedRequest, *, strict: bool = True) -> tuple[str, bool, bool]:
        """(hash for the canonical request, whether it covers the body, whether it was declared)."""
        declared = request.header_values("x-amz-content-sha256")
        if not declared:
            return hashlib.sha256(request.body).hexdigest(), True, False
        value = ",".join(declared)
        if value == canonical.UNSIGNED_PAYLOAD:
            if strict and not self._allow_unsigned_payload:
                raise IncompleteSignature("This service requires a signed payload; UNSIGNED-PAYLOAD is not accepted.")
            return value, False, True
        return value, True, True  # the body must then hash to the declared value

    def _signing_key(self, secret: str, located: Located) -> canonical.Signer:
        # Keyed by the secret itself (its hash is computed once per string object and kept
        # by Python): the cache lives in this process's memory next to the credentials it
        # came from, and holds derived keys, which are as secret. Reads take no lock (one
        # dict lookup is atomic); the oldest entry goes first when the cache is full.
        cache_key = (secret, located.scope_date, located.region, located.service)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        derived = canonical.Signer(
            canonical.derive_signing_key(secret, located.scope_date, located.region, located.service)
        )
        with self._lock:
            self._cache[cache_key] = derived
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return derived


def _check_scope_date(located: Located) -> None:
    if located.scope_date != located.amz_date[:8]:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{located.scope_date}' != '{located.amz_date[:8]}', from '{located.raw_date}'."
        )


def _checked_credential(located: Located, credential: Credential[P] | None, now: datetime) -> Credential[P]:
    if credential is None or not credential.active:
        raise InvalidClientTokenId()
    presented = located.session_token
    if credential.session_token is None:
        # A long-term key takes no token; an ASIA id without a session is refused (fail closed).
        if presented is not None or located.access_key_id.startswith("ASIA"):
            raise InvalidClientTokenId()
        return credential
    if presented is None or not hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), credential.session_token.encode("utf-8", "surrogatepass")
    ):
        raise InvalidClientTokenId()
    if credential.expires_at is not None and now >= credential.expires_at:
        raise ExpiredToken()
    return credential


@functools.lru_cache(maxsize=256)
def _header_names(signed_headers: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """SignedHeaders' names as sent and lower-cased (a client sends the same list every time)."""
    names = tuple(signed_headers.split(";"))
    return names, tuple(name.lower() for name in names)


def _canonical_request(
    request: SignedRequest, located: Located, payload_hash: str, names: tuple[tuple[str, ...], tuple[str, ...]]
) -> str:
    """``names``: :func:`_header_names` of the located SignedHeaders."""
    values = request.headers_values(names[1])
    if not all(values):
        raise SignatureDoesNotMatch(MISMATCH)  # a signed header is absent
    exclude = b"X-Amz-Signature" if located.presigned else None
    # S3 signs the path as sent, neither normalized nor encoded again (S3 API "Signature Calculations for the
    # Authorization Header"; docs/authorization-api.md); every other service, the generic rule.
    uri = (request.path or "/") if located.service == "s3" else canonical.canonical_uri(request.path)
    query = canonical.canonical_query(located.query_pairs, exclude=exclude) if located.query_pairs else ""
    headers = canonical.canonical_headers(names[0], values)
    # canonical.canonical_request's six lines, in line (twice per authorization)
    return f"{request.method}\n{uri}\n{query}\n{headers}\n{located.signed_headers}\n{payload_hash}"


def _fmt(moment: datetime) -> str:
    return moment.strftime(AMZ_DATE_FORMAT)
