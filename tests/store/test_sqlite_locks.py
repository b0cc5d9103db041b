"""Opening the store's engine again never drops this process's SQLite locks.

POSIX advisory locks belong to a process and a file, and closing *any* descriptor of the
file releases all of them. SQLite relies on those locks in WAL mode: a connection that
closes checks whether it is the last one (an exclusive lock it can only take when no other
process holds the database open) and, if so, checkpoints and deletes the ``-wal`` and
``-shm`` files. A process whose locks were released by a stray ``open``/``close`` of the
database file looks absent to the others: the next process to close a connection deletes the
write-ahead log under it, and its later reads and writes fail ("disk I/O error") or vanish.
iamd opens an engine more than once in a process (migrations, the partition setting), so the
engine must never open the database file itself once it exists.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from iamd.store import migrate, open_store
from iamd.store.engine import make_engine

_OTHER_PROCESS = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA journal_mode=WAL")
print(con.execute("SELECT count(*) FROM users").fetchone()[0])
con.close()  # the last connection of this process: SQLite checks whether it is the last one anywhere
"""


def _other_process_counts_users(db: Path) -> int:
    out = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(db)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_a_second_engine_in_the_process_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    db = tmp_path / "iamd.db"
    url = f"sqlite:///{db}"
    migrate.upgrade(url)
    store = open_store(url)
    try:
        with store.transaction() as tx:
            tx.create_account("123456789012")
        with store.read() as tx:  # the pool keeps this connection (and its locks) open
            assert tx.list_accounts()
        make_engine(url).dispose()  # as the partition setting and migrations do, later in a process
        assert _other_process_counts_users(db) == 0
        assert Path(f"{db}-wal").exists(), "another process deleted the write-ahead log of an open database"
        with store.transaction() as tx:
            tx.create_user("123456789012", "after")
        assert _other_process_counts_users(db) == 1
    finally:
        store.close()


def test_the_generation_poll_reads_the_last_commit_and_holds_no_transaction(tmp_path: Path) -> None:
    """The watcher's poll (``Store.generation``) on SQLite runs on the thread's kept reader, by the
    driver itself: it sees another store object's (another process's) commit at once, and leaves
    no transaction open that would keep the write-ahead log from being checkpointed."""
    from typing import Any

    from iamd.store.store import SqlStore

    url = f"sqlite:///{tmp_path / 'iamd.db'}"
    migrate.upgrade(url)
    poller, writer = open_store(url), open_store(url)
    try:
        before = poller.generation()
        with writer.transaction() as tx:
            tx.create_account("111122223333")
        assert poller.generation() == before + 1
        assert isinstance(poller, SqlStore)
        kept: Any = poller._local.reader
        assert kept.conn.connection.driver_connection.in_transaction is False
        with poller.read():  # inside the thread's own snapshot: read there, through SQLAlchemy
            assert poller.generation() == before + 1
    finally:
        poller.close()
        writer.close()
