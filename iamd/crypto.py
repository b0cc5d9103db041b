"""Secrets at rest, the master key, and AWS-shaped identifiers.

* :class:`SecretBox` seals secrets (secret access keys, TOTP seeds…) with AES-256-GCM: a
  random 96-bit nonce per message, associated data binding the ciphertext to its row, and a
  key id in the sealed text so master keys can rotate. Sealed form::

      v1:<key id>:<base64url(nonce || ciphertext || tag)>

  The AES key is derived from the master key with HKDF-SHA256 (info ``iamd/secretbox/v1``),
  so the same master key can feed other purposes under other labels.
* :func:`load_master_key` reads ``IAMD_MASTER_KEY`` or ``<data_dir>/master.key`` (created
  atomically, mode 0600; an existing file open to group or others is refused).
* Identifiers follow AWS "IAM identifiers" (unique identifiers); AWS "Manage access keys for IAM users"; everything
  random comes from
  :mod:`secrets`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE",
    "MasterKeyError",
    "SecretBox",
    "SecretBoxError",
    "account_from_access_key_id",
    "decode_master_key",
    "key_id_for",
    "load_master_key",
    "new_access_key_id",
    "new_secret_access_key",
    "new_unique_id",
    "read_key_file",
    "write_key_file",
]

MASTER_KEY_ENV = "IAMD_MASTER_KEY"
MASTER_KEY_FILE = "master.key"
KEY_BYTES = 32
_VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")  # unpadded, URL-safe alphabet: the one encoding seal makes
_GENERATE_HINT = "the base64 encoding of 32 random bytes (for example: openssl rand -base64 32)"


class SecretBoxError(Exception):
    """A sealed value cannot be opened: malformed, unknown key, tampered, or another row's."""


class MasterKeyError(Exception):
    """The master key is missing, malformed or insecurely stored."""


class SecretBox:
    """Seal with the primary key; open with any known key (rotation: keep old keys listed)."""

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(f"key id {key_id!r} must be 1-64 characters of [A-Za-z0-9_-]")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes")
        if primary not in keys:
            raise ValueError(f"primary key id {primary!r} is not among the keys")
        self._primary = primary
        self._aeads = {key_id: AESGCM(_derive(key)) for key_id, key in keys.items()}

    @property
    def primary(self) -> str:
        return self._primary

    def seal(self, plaintext: str, *, context: bytes) -> str:
        """Encrypt ``plaintext`` bound to ``context`` (for example the access key id)."""
        return self.seal_bytes(plaintext.encode(), context=context)

    def open(self, sealed: str, *, context: bytes) -> str:
        """Decrypt a value from :meth:`seal`; the same ``context`` must be given."""
        return self.open_bytes(sealed, context=context).decode()

    def seal_bytes(self, plaintext: bytes, *, context: bytes) -> str:
        """:meth:`seal` for binary plaintext (STS session tokens seal compressed JSON)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aeads[self._primary].encrypt(nonce, plaintext, _aad(self._primary, context))
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{_VERSION}:{self._primary}:{body}"

    def open_bytes(self, sealed: str, *, context: bytes) -> bytes:
        """Decrypt a value from :meth:`seal_bytes` (or :meth:`seal`), under any known key."""
        key_id, payload = _split(sealed)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise SecretBoxError(f"sealed with unknown key id {key_id!r}")
        try:
            return aead.decrypt(payload[:_NONCE_BYTES], payload[_NONCE_BYTES:], _aad(key_id, context))
        except InvalidTag:
            raise SecretBoxError(
                "sealed value failed authentication (tampered, or sealed for another context)"
            ) from None

    def needs_rewrap(self, sealed: str) -> bool:
        """Whether ``sealed`` was made with a key other than the primary (re-seal it)."""
        return _split(sealed)[0] != self._primary

    def __repr__(self) -> str:
        return f"SecretBox(keys={sorted(self._aeads)!r}, primary={self._primary!r})"


def key_id_for(key: bytes) -> str:
    """A stable, non-secret id for a master key (12 hex digits of a labelled hash)."""
    return hashlib.sha256(b"iamd/key-id/v1\x00" + key).hexdigest()[:12]


def _derive(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"iamd/secretbox/v1").derive(master)


def _aad(key_id: str, context: bytes) -> bytes:
    return f"iamd/secretbox/{_VERSION}:{key_id}:".encode() + context


def _split(sealed: str) -> tuple[str, bytes]:
    version, _, rest = sealed.partition(":")
    key_id, _, body = rest.partition(":")
    if version != _VERSION or not _KEY_ID.fullmatch(key_id):
        raise SecretBoxError("not a sealed value (expected v1:<key id>:<data>)")
    # Exactly the encoding seal_bytes writes: no padding, no standard-alphabet or other
    # characters (the decoder would skip them), no non-zero trailing bits. A sealed value has
    # one spelling, so a token cannot be varied and still authenticate (docs/security.md).
    try:
        if not _BASE64URL.fullmatch(body):
            raise ValueError("not base64url")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if base64.urlsafe_b64encode(payload).rstrip(b"=") != body.encode("ascii"):
            raise ValueError("not the canonical encoding")
    except (binascii.Error, ValueError):
        raise SecretBoxError("sealed value is not valid base64url") from None
    if len(payload) < _NONCE_BYTES + _TAG_BYTES:
        raise SecretBoxError("sealed value is truncated")
    return key_id, payload


# -- master key ------------------------------------------------------------------------------
def load_master_key(data_dir: Path, env: Mapping[str, str]) -> bytes:
    """``IAMD_MASTER_KEY`` if set, else ``<data_dir>/master.key`` (created on first use)."""
    if MASTER_KEY_ENV in env:
        return decode_master_key(env[MASTER_KEY_ENV], MASTER_KEY_ENV)
    path = data_dir / MASTER_KEY_FILE
    try:
        return read_key_file(path)
    except FileNotFoundError:
        return _create_key_file(data_dir, path)


def decode_master_key(text: str, source: str) -> bytes:
    cleaned = "".join(text.split()).replace("-", "+").replace("_", "/")
    if not cleaned:
        raise MasterKeyError(f"{source} is empty; it must be {_GENERATE_HINT}")
    try:
        key = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{source} is not valid base64; it must be {_GENERATE_HINT}") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} decodes to {len(key)} bytes, not {KEY_BYTES}; it must be {_GENERATE_HINT}")
    return key


def read_key_file(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MasterKeyError(f"{path} is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise MasterKeyError(
                f"{path} is accessible by group or others (mode {mode:04o}); "
                f"restrict it with: chmod 600 {path}, or set {MASTER_KEY_ENV}"
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MasterKeyError(f"{path} is not base64 text; it must contain {_GENERATE_HINT}") from None
    return decode_master_key(text, str(path))


def _create_key_file(data_dir: Path, path: Path) -> bytes:
    """A new key in ``path``, unless a concurrent starter got there first (then its key).

    No reader ever sees a partial file (see :func:`write_key_file`).
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    if not write_key_file(path, key, replace=False):
        return read_key_file(path)
    return key


def write_key_file(path: Path, key: bytes, *, replace: bool) -> bool:
    """Write ``key`` (base64) to ``path`` with mode 0600, atomically; False if it exists and not ``replace``.

    The key goes to a private temporary file (fsynced) first, then into place: hard-linked
    when ``replace`` is false (``link`` fails if the name exists, so of two concurrent
    writers one wins with a complete file), renamed over the old file when true.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            os.write(fd, base64.b64encode(key) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- identifiers (AWS "IAM identifiers" (unique identifiers); AWS "Manage access keys for IAM users")
# -------------------------------------------
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_PREFIX = re.compile(r"[A-Z]{4}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_ACCESS_KEY_ID = re.compile(r"[A-Z]{4}[A-Z2-7]{16}")
_ACCOUNT_MASK = 0x7FFFFFFFFF80  # bits 7-46 of the first six decoded bytes
_NEW_FORMAT_BIT = 1 << 47  # set in every key AWS issues in the current format


def new_access_key_id(*, account_id: str, prefix: str = "AKIA") -> str:
    """``prefix`` + 16 base32 characters encoding ``account_id`` as AWS does, plus 39 random bits.

    Those 39 bits make collisions rare, not impossible: the store must enforce uniqueness.
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("prefix must be four uppercase letters, such as AKIA or ASIA")
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError("account_id must be 12 digits")
    head = _NEW_FORMAT_BIT | (int(account_id) << 7) | secrets.randbits(7)
    raw = head.to_bytes(6, "big") + secrets.token_bytes(4)
    return prefix + base64.b32encode(raw).decode("ascii")


def account_from_access_key_id(access_key_id: str) -> str:
    """The 12-digit account encoded in a key id (for GetAccessKeyInfo)."""
    if not _ACCESS_KEY_ID.fullmatch(access_key_id):
        raise ValueError("an access key id is 4 uppercase letters and 16 characters of [A-Z2-7]")
    head = int.from_bytes(base64.b32decode(access_key_id[4:])[:6], "big")
    account = (head & _ACCOUNT_MASK) >> 7
    if account > 999_999_999_999:
        raise ValueError("the key id does not encode an account")
    return f"{account:012d}"


def new_secret_access_key() -> str:
    """40 characters of the base64 alphabet (240 random bits)."""
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def new_unique_id(prefix: str) -> str:
    """An entity id: ``prefix`` (AIDA, AROA, ANPA, …) + 17 base32 characters (85 random bits)."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("prefix must be four uppercase letters, such as AIDA or AROA")
    # The first 85 bits of 11 random bytes in base32 (_BASE32 is RFC 4648's alphabet): one read
    # of the system's random source, where a choice per character was 17 (about 80 µs of a
    # CreateUser's CPU).
    return prefix + base64.b32encode(secrets.token_bytes(11)).decode("ascii")[:17]


def access_key_context(key_id: str) -> bytes:
    """The associated data that binds a sealed secret access key to its key id."""
    return f"access-key:{key_id}".encode()
