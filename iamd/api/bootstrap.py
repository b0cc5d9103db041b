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
from iamd.partitions import partition as partition_named
from iamd.store import Store, migrate, open_store
from iamd.store.settings import settle_partition

__all__ = ["DEV_ACCOUNT", "ROOT_CREDENTIALS_FILE", "RootCredentials", "ensure_root_key", "first_start", "reset"]

DEV_ACCOUNT = "123456789012"
ROOT_CREDENTIALS_FILE = "root-credentials"


@dataclass(frozen=True, slots=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    created: bool  # False when the key already existed (the secret is then read back)


def first_start(
    database_url: str,
    data_dir: Path,
    env: Mapping[str, str],
    *,
    account_id: str | None,
    dev: bool,
    partition: str | None = None,
) -> tuple[Store, SecretBox, str, str]:
    """The data directory made private, the database migrated and opened, the master keys
    loaded, the account created if there is none yet (its id given, the --dev one, or random).

    ``partition`` is recorded on a new database and must match an existing one's; the
    partition settled is answered last (docs/iam-api.md, "Regions and partitions")."""
    make_private(data_dir)
    migrate.upgrade(database_url)
    store = open_store(database_url)
    box = load_secret_box(data_dir, env)  # the primary master key and any retired ones
    with store.read() as tx:
        # The server's own account; those CreateAccount made are members of its organizations.
        accounts = [a.id for a in tx.list_accounts() if a.id != "aws" and a.created_by_organization is None]
    if partition is not None:
        partition_named(partition)  # an unknown name fails before anything is recorded
    settled = settle_partition(database_url, partition, fresh=not accounts)
    if settled != "aws":
        store.close()
        store = open_store(database_url, partition=settled)
    if accounts:
        acct = accounts[0]
    else:
        acct = account_id or (DEV_ACCOUNT if dev else f"{secrets.randbelow(9 * 10**11) + 10**11:012d}")
        with store.transaction() as tx:
            tx.create_account(acct)
    install_managed_policies(store, settled)  # every start: a newer iamd brings newer AWS managed policies
    return store, box, acct, settled


def reset(store: Store, account_id: str, partition: str = "aws") -> None:
    """Wipe all state and create the account again (``--dev`` only; the caller checks)."""
    store.reset()
    with store.transaction() as tx:
        tx.create_account(account_id)
    install_managed_policies(store, partition)


def ensure_root_key(
    store: Store,
    box: SecretBox,
    account_id: str,
    data_dir: Path,
    env: Mapping[str, str],
    *,
    dev: bool,
    region: str = "us-east-1",
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
        # Region: the partition's home region, which `iamd profile` puts in the profile it writes
        json.dump({"AccountId": account_id, "AccessKeyId": key_id, "SecretAccessKey": secret, "Region": region},
                  f, indent=2)  # fmt: skip
    return RootCredentials(key_id, secret, created=True)
