"""Where an OIDC provider's signing keys come from, fetched with a timeout and cached.

AWS fetches an IdP's keys from the network: ``https://<provider url>/.well-known/
openid-configuration`` names the ``jwks_uri``. iamd does the same by default, and an
operator can instead name a source per issuer (``iamd serve --oidc-jwks ISSUER=SOURCE``):

* an ``https://`` URL of a JWKS document (``http://`` only for loopback hosts), or
* a file path of a JWKS document (keys kept on disk, re-read when the file changes).

Fetched key sets are cached for ``ttl`` seconds; a token whose ``kid`` is not in the cached
set triggers one refetch (key rotation), at most once per ``refetch_interval``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

__all__ = ["JwksError", "JwksResolver", "KeyUnavailable", "default_resolver", "issuer_key", "parse_source_option"]

MAX_DOCUMENT = 1 << 20


class JwksError(Exception):
    """The IdP could not be reached (STS: IDPCommunicationError, retryable)."""


class KeyUnavailable(Exception):
    """The IdP answered, but offers no usable key for the token (STS: InvalidIdentityToken)."""


def issuer_key(url: str) -> str:
    """An issuer / provider URL without scheme and trailing slash: how providers are keyed."""
    for scheme in ("https://", "http://"):
        if url.lower().startswith(scheme):
            url = url[len(scheme) :]
            break
    return url.rstrip("/")


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return
    raise KeyUnavailable(f"refusing to fetch keys from {url!r}: https only (http for loopback hosts)")


Fetch = Callable[[str, float], bytes]


def _http_get(url: str, timeout: float) -> bytes:
    _check_url(url)
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "iamd"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme was checked above
            body: bytes = response.read(MAX_DOCUMENT + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise JwksError(f"could not fetch {url}: {e}") from None
    if len(body) > MAX_DOCUMENT:
        raise KeyUnavailable(f"{url} answered more than {MAX_DOCUMENT} bytes")
    return body


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise KeyUnavailable(f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise KeyUnavailable(f"{what} is not a JSON object")
    return data


@dataclass
class _Cached:
    keys: dict[str, jwt.PyJWK]  # kid ("" when the key has none) -> key
    fetched: float
    stamp: object = None  # a file source's (mtime, size)


def _key_set(data: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    out: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys") or ():
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(raw)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # a key type this build cannot use; the others may still serve
        out[str(raw.get("kid") or "")] = key
    if not out:
        raise KeyUnavailable("the JWKS holds no usable signing key")
    return out


class JwksResolver:
    """Keys per issuer, from configured sources or OIDC discovery; thread-safe."""

    def __init__(
        self,
        sources: Mapping[str, str] | None = None,
        *,
        timeout: float = 5.0,
        ttl: float = 3600.0,
        refetch_interval: float = 30.0,
        fetch: Fetch = _http_get,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources = {issuer_key(k): v for k, v in (sources or {}).items()}
        self._timeout = timeout
        self._ttl = ttl
        self._refetch = refetch_interval
        self._fetch = fetch
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    def configure(self, issuer: str, source: str | None) -> None:
        """Name (or, with None, forget) the key source of one issuer."""
        with self._lock:
            key = issuer_key(issuer)
            self._cache.pop(key, None)
            if source is None:
                self._sources.pop(key, None)
            else:
                self._sources[key] = source

    def key_for(self, issuer: str, kid: str | None) -> jwt.PyJWK:
        """The key the token's ``kid`` names (or the only key, when the token names none)."""
        name = issuer_key(issuer)
        cached = self._load(name, force=False)
        key = self._pick(cached.keys, kid)
        if key is None and self._monotonic() - cached.fetched >= self._refetch:
            key = self._pick(self._load(name, force=True).keys, kid)
        if key is None:
            raise KeyUnavailable("no key in the JWKS matches the token's kid")
        return key

    @staticmethod
    def _pick(keys: Mapping[str, jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
        if kid:
            return keys.get(kid)
        return next(iter(keys.values())) if len(keys) == 1 else None

    def _load(self, name: str, *, force: bool) -> _Cached:
        source = self._sources.get(name)
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(name)
        if source is not None and not source.startswith(("https://", "http://")):
            stamp = self._file_stamp(source)
            if cached is not None and cached.stamp == stamp and not force:
                return cached
            keys = _key_set(_json(self._read_file(source), f"JWKS file {source}"))
            fresh = _Cached(keys, now, stamp)
        else:
            if cached is not None and not force and now - cached.fetched < self._ttl:
                return cached
            url = source if source is not None else self._discover(name)
            fresh = _Cached(_key_set(_json(self._fetch(url, self._timeout), f"JWKS at {url}")), now)
        with self._lock:
            self._cache[name] = fresh
        return fresh

    @staticmethod
    def _file_stamp(path: str) -> object:
        try:
            st = os.stat(path)
        except OSError as e:
            raise KeyUnavailable(f"JWKS file {path}: {e.strerror}") from None
        return (st.st_mtime_ns, st.st_size)

    @staticmethod
    def _read_file(path: str) -> bytes:
        try:
            return Path(path).read_bytes()[: MAX_DOCUMENT + 1]
        except OSError as e:
            raise KeyUnavailable(f"JWKS file {path}: {e.strerror}") from None

    def _discover(self, name: str) -> str:
        config_url = f"https://{name}/.well-known/openid-configuration"
        config = _json(self._fetch(config_url, self._timeout), f"OpenID configuration at {config_url}")
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise KeyUnavailable(f"{config_url} names no jwks_uri")
        _check_url(jwks_uri)
        return jwks_uri


def parse_source_option(value: str) -> tuple[str, str]:
    """``ISSUER=SOURCE`` (the ``--oidc-jwks`` option) → (issuer, source)."""
    issuer, sep, source = value.partition("=")
    if not sep or not issuer or not source:
        raise ValueError(f"expected ISSUER=URL-or-FILE, got {value!r}")
    if source.startswith(("http://", "https://")):
        _check_url(source)
    return issuer, source


_DEFAULT = JwksResolver()


def default_resolver() -> JwksResolver:
    """The server process's resolver (``iamd serve --oidc-jwks`` configures it)."""
    return _DEFAULT
