"""``iamd db rotate-master-key`` and ``iamd db reseal``: the master keys (iamd.keyring)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from iamd.crypto import MasterKeyError, SecretBoxError

from .client import data_dir_option
from .server import _database_url, database_errors, database_option, db, sqlite_file

__all__ = ["db_reseal", "db_rotate_master_key"]


def _reseal(data_dir: Path, database: str | None) -> dict[str, int]:
    from iamd.keyring import load_secret_box, reseal_secrets
    from iamd.store import migrate, open_store
    from iamd.store.store import SqlStore

    url = _database_url(data_dir, database)
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.is_file():  # nothing to re-seal: and nothing to create
        raise click.ClickException(f"no iamd database at {db_file.absolute()} (--data-dir / IAMD_DATA_DIR)")
    with database_errors(url):
        migrate.upgrade(url)
        store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        return reseal_secrets(store, load_secret_box(data_dir, os.environ))
    except SecretBoxError as e:
        raise click.ClickException(
            f"a stored secret opens with none of the known master keys ({e}); nothing was changed. "
            "List the key it was sealed under in IAMD_RETIRED_MASTER_KEYS or <data-dir>/retired-master-keys/"
        ) from None
    finally:
        store.close()


@db.command("rotate-master-key")
@data_dir_option
@database_option
def db_rotate_master_key(data_dir: Path, database: str | None) -> None:
    """Make a new master key, keep the old one retired, re-seal every stored secret.

    Run it with the server stopped (or restart every server process right after). Session
    tokens sealed under the old key keep working while its file stays in
    <data-dir>/retired-master-keys/; delete it once they have expired (36 hours at most).
    """
    from iamd.keyring import rotate_master_key

    try:
        old_id, new_id = rotate_master_key(data_dir, os.environ)
    except (MasterKeyError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None
    counts = _reseal(data_dir, database)
    click.echo(f"master key {old_id} retired, {new_id} is the primary key now")
    click.echo(f"re-sealed {counts['access keys']} access key secret(s) and {counts['mfa seeds']} MFA seed(s)")


@db.command("reseal")
@data_dir_option
@database_option
def db_reseal(data_dir: Path, database: str | None) -> None:
    """Re-seal every stored secret under the current primary master key.

    For keys managed in the environment: set IAMD_MASTER_KEY to the new key, list the old one
    in IAMD_RETIRED_MASTER_KEYS, run this, restart the servers.
    """
    try:
        counts = _reseal(data_dir, database)
    except MasterKeyError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"re-sealed {counts['access keys']} access key secret(s) and {counts['mfa seeds']} MFA seed(s)")
