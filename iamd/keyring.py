"""The master keys of a data directory: the primary one, the retired ones, and rotation.

iamd seals secrets at rest (secret access keys, TOTP seeds) and STS session tokens with a
:class:`iamd.crypto.SecretBox`. Its keys come from:

* the **primary** key, which seals everything new: ``IAMD_MASTER_KEY`` (base64 of 32
  bytes) or ``<data-dir>/master.key`` (created 0600 on first start);
* **retired** keys, which only open: ``IAMD_RETIRED_MASTER_KEYS`` (whitespace-separated
  base64 keys) and every ``<data-dir>/retired-master-keys/<key id>.key`` (0600 each).

Rotation (:func:`rotate_master_key`, ``iamd db rotate-master-key``) makes a new primary
key, keeps the old one as retired, and re-seals every stored secret under the new key in
one transaction (:func:`reseal_secrets`), so the database no longer
depends on the retired key. Session tokens are not stored: those sealed under the
retired key keep working until they expire (at most 36 hours, GetSessionToken's maximum)
as long as the retired key stays listed; delete its file after that. Run it with the
server stopped (or restart every server process right after): a running process knows only
the keys it started with.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from iamd.crypto import (
    KEY_BYTES,
    MASTER_KEY_ENV,
    MASTER_KEY_FILE,
    MasterKeyError,
    SecretBox,
    decode_master_key,
    key_id_for,
    load_master_key,
    read_key_file,
    write_key_file,
)

if TYPE_CHECKING:
    from iamd.store.store import SqlStore

__all__ = ["RETIRED_DIR", "RETIRED_ENV", "load_secret_box", "reseal_secrets", "rotate_master_key"]

RETIRED_ENV = "IAMD_RETIRED_MASTER_KEYS"
RETIRED_DIR = "retired-master-keys"


def load_secret_box(data_dir: Path, env: Mapping[str, str]) -> SecretBox:
    """The primary key (created on first use) and every retired key of ``data_dir``/``env``."""
    primary = load_master_key(data_dir, env)
    keys = {key_id_for(primary): primary}
    for n, text in enumerate(env.get(RETIRED_ENV, "").split()):
        key = decode_master_key(text, f"{RETIRED_ENV} (key {n + 1})")
        keys.setdefault(key_id_for(key), key)
    retired = data_dir / RETIRED_DIR
    if retired.is_dir():
        for path in sorted(retired.glob("*.key")):
            key = read_key_file(path)
            keys.setdefault(key_id_for(key), key)
    return SecretBox(keys, primary=key_id_for(primary))


def rotate_master_key(data_dir: Path, env: Mapping[str, str]) -> tuple[str, str]:
    """Make a new ``master.key``; keep the old one under ``retired-master-keys/``.

    Returns (old key id, new key id). Refused when the key comes from ``IAMD_MASTER_KEY``:
    then the operator owns the keys (set a new one, list the old in IAMD_RETIRED_MASTER_KEYS,
    and run ``iamd db reseal``).
    """
    if MASTER_KEY_ENV in env:
        raise MasterKeyError(
            f"the master key comes from {MASTER_KEY_ENV}: set it to a new key, put the old one in "
            f"{RETIRED_ENV}, then run 'iamd db reseal'"
        )
    current_path = data_dir / MASTER_KEY_FILE
    old = read_key_file(current_path)
    old_id = key_id_for(old)
    retired = data_dir / RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    write_key_file(retired / f"{old_id}.key", old, replace=True)
    new = secrets.token_bytes(KEY_BYTES)
    write_key_file(current_path, new, replace=True)
    return old_id, key_id_for(new)


def reseal_secrets(store: SqlStore, box: SecretBox) -> dict[str, int]:
    """Re-seal every stored secret not sealed under ``box.primary``, in one transaction.

    Access key secrets and virtual MFA seeds; returns how many of each were re-sealed. A
    value no key of ``box`` opens aborts the whole transaction (nothing half-done): list
    the key it was sealed under as retired and run it again.
    """
    from sqlalchemy import select, update

    from iamd.crypto import access_key_context
    from iamd.service.mfa_codes import mfa_seed_context
    from iamd.store import schema as s
    from iamd.store.engine import WRITE_OPTION

    families = (
        ("access keys", s.access_keys, s.access_keys.c.secret_sealed, access_key_context),
        ("mfa seeds", s.mfa_devices, s.mfa_devices.c.seed_sealed, mfa_seed_context),
    )
    prefix = f"v1:{box.primary}:"
    counts: dict[str, int] = {}
    with store.engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            for name, table, column, context in families:
                counts[name] = 0
                for row_id, sealed in conn.execute(select(table.c.id, column)).all():
                    text = bytes(sealed).decode("ascii")
                    if text.startswith(prefix):
                        continue
                    plain = box.open_bytes(text, context=context(row_id))
                    fresh = box.seal_bytes(plain, context=context(row_id)).encode("ascii")
                    conn.execute(update(table).where(table.c.id == row_id).values({column.name: fresh}))
                    counts[name] += 1
    return counts
