"""The root user's console password: an argon2id hash in the data directory, set by an operator.

AWS gives a new account's root user a password chosen at sign-up (or none, for accounts made
by Organizations, until recovered by email). iamd has no e-mail: the root user has **no**
console password until an operator with the data directory runs ``iamd root set-password``
(docs/console.md, "The root user"). The file ``<data-dir>/root-console-password`` (mode 0600)
holds only the hash; the password itself is never stored, logged or printed again. Every
server process on the machine reads the file at each root sign-in, so a new password takes
effect at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from iamd.service.passwords import DEFAULT_POLICY, check_password, hash_password

__all__ = ["ROOT_PASSWORD_FILE", "read_root_password_hash", "set_root_password"]

ROOT_PASSWORD_FILE = "root-console-password"
_MAX_FILE = 4096  # an argon2id hash is about 100 characters


def read_root_password_hash(data_dir: Path | None) -> str | None:
    if data_dir is None:
        return None
    try:
        with open(data_dir / ROOT_PASSWORD_FILE, encoding="ascii") as f:
            text = f.read(_MAX_FILE).strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return text if text.startswith("$argon2") else None


def set_root_password(data_dir: Path, password: str, *, forbidden: tuple[str, ...] = ()) -> None:
    """Check ``password`` against AWS's default rules (8+ characters, three character classes; the IAM
    password policy does not apply to root) and store its hash, replacing any earlier one."""
    check_password(DEFAULT_POLICY, password, forbidden=forbidden)
    path = data_dir / ROOT_PASSWORD_FILE
    tmp = data_dir / f".{ROOT_PASSWORD_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(hash_password(password) + "\n")
    os.replace(tmp, path)


def clear_root_password(data_dir: Path) -> bool:
    try:
        (data_dir / ROOT_PASSWORD_FILE).unlink()
    except FileNotFoundError:
        return False
    return True


__all__ += ["clear_root_password"]
