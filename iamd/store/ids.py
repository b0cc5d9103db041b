"""Unique ids as AWS shapes them: a 4-letter prefix and 17 base32 characters."""

from __future__ import annotations

import base64
import secrets

__all__ = ["new_unique_id"]


def new_unique_id(prefix: str) -> str:
    return prefix + base64.b32encode(secrets.token_bytes(11)).decode()[:17]
