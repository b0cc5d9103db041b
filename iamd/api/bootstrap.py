"""The first start of a data directory and a database, and ``--dev`` resets.

Migrates the database, creates the account on first start with the root user's access key
(written to ``<data-dir>/root-credentials``, mode 0600) and installs the AWS managed
policies. Run once per start (``iamd serve --workers N`` runs it in the parent, once).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iamd.api.managed_policies import install_managed_policies
from iamd.crypto import SecretBox, access_key_context, new_access_key_id, new_secret_access_key
from iamd.datadir import make_private
from iamd.keyring import load_secret_box
from iamd.store import Store, migrate, open_store

__all__ = ["DEV_ACCOUNT", "ROOT_CREDENTIALS_FILE", "RootCredentials", "ensure_root_key", "first_start", "reset"]

DEV_ACCOUNT = "123456789012"
ROOT_CREDENTIALS_FILE = "root-credentials"


@dataclass(frozen=True, slots=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    created: bool  # False when the key already existed (the secret is then read back)


def first_start(
    database_url: str, data_dir: Path, env: Mapping[str, str], *, account_id: str | None, dev: bool
) -> tuple[Store, SecretBox, str]:
    """The data directory made private, the database migrated and opened, the master keys
    loaded, the account created if there is none yet (its id given, the --dev one, or random)."""
    make_private(data_dir)
    migrate.upgrade(database_url)
    store = open_store(database_url)
    box = load_secret_box(data_dir, env)  # the primary master key and any retired ones
    with store.read() as tx:
        accounts = [a.id for a in tx.list_accounts() if a.id != "aws"]
    if accounts:
        acct = accounts[0]
    else:
        acct = account_id or (DEV_ACCOUNT if dev else f"{secrets.randbelow(9 * 10**11) + 10**11:012d}")
        with store.transaction() as tx:
            tx.create_account(acct)
    install_managed_policies(store)  # every start: a newer iamd brings newer AWS managed policies
    return store, box, acct


def reset(store: Store, account_id: str) -> None:
    """Wipe all state and create the account again (``--dev`` only; the caller checks)."""
    store.reset()
    with store.transaction() as tx:
        tx.create_account(account_id)
    install_managed_policies(store)


def ensure_root_key(
    store: Store, box: SecretBox, account_id: str, data_dir: Path, env: Mapping[str, str], *, dev: bool
) -> RootCredentials:
    """The root user's access key: from IAMD_ROOT_* in --dev mode, else created once (and
    written to ``<data-dir>/root-credentials``); the caller drops its caches when it was created."""
    wanted_id = env.get("IAMD_ROOT_ACCESS_KEY_ID") if dev else None
    wanted_secret = env.get("IAMD_ROOT_SECRET_ACCESS_KEY") if dev else None
    with store.read() as tx:
        existing = tx.list_access_keys(account_id, None)
    path = data_dir / ROOT_CREDENTIALS_FILE
    for key in existing:
        if wanted_id in (None, key.id):
            secret = box.open(key.secret_sealed.decode(), context=access_key_context(key.id))
            if wanted_secret is None or wanted_secret == secret:
                return RootCredentials(key.id, secret, created=False)
    key_id = wanted_id or new_access_key_id(account_id=account_id)
    secret = wanted_secret or new_secret_access_key()
    sealed = box.seal(secret, context=access_key_context(key_id)).encode()
    with store.transaction() as tx:
        for key in existing:  # --dev with other root credentials: they replace the old ones
            tx.delete_access_key(account_id, None, key.id)
        tx.create_access_key(account_id, None, key_id, sealed)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"AccountId": account_id, "AccessKeyId": key_id, "SecretAccessKey": secret}, f, indent=2)
    return RootCredentials(key_id, secret, created=True)
