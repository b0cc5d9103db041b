"""PostgreSQL's own CPU for DeleteUser's statement, with the foreign keys to ``users`` as
``ON DELETE NO ACTION`` (old) and ``RESTRICT`` (new, migration 0017), in turns on one connection:
``python -m bench.server.pg_own [--calls N] [--rounds R]``.

Starts a throwaway cluster with fsync on (``tests/store/postgres.py``), migrates a database,
adds a few thousand users and measures the backend's CPU (``/proc/<pid>/schedstat``: nanoseconds
on a CPU) around each ``iamd.store.users._DELETE_USER_PG`` (lookup, blockers, delete and the
foreign keys' triggers) of a user inserted just before, in its own transaction; the constraints
are switched between the two ways' rounds (``ALTER TABLE``; which goes first alternates).

Prints µs of backend CPU per call each way and new/old (bench/README.md, "Session 15:
PostgreSQL's own CPU per write").

``--statements``: the keys ``RESTRICT`` both ways, DeleteUser's statement as the server's writes
send it: old, its lookup, its nine blockers and the delete (``_DELETE_USER_PG``, as before session
16), against new, the lookup and the delete, its blockers left to the foreign keys
(``_DELETE_USER_PG_REFUSING``; bench/README.md, "Session 16: PostgreSQL's CPU per write").
"""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path
from typing import Any

from .pg_statement import migrated_database

__all__ = ["main", "measure"]

_INSERT_USER = (
    "INSERT INTO users (id, account_id, name, name_key, path, create_date)"
    " VALUES (%(id)s, 'aws', %(key)s, %(key)s, '/', now())"
)

# The account as a server's would be after a while: a few thousand users.
_DATA = """
INSERT INTO users (id, account_id, name, name_key, path, create_date)
  SELECT 'AIDAOLD' || g, 'aws', 'old' || g, 'old' || g, '/', now() FROM generate_series(1, 3000) g;
ANALYZE;
"""


def _on_cpu(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def _set_user_fks(conn: Any, action: str) -> None:
    """The foreign keys to ``users`` (0017's) as ``ON DELETE <action>``."""
    referring = importlib.import_module("iamd.store.migrations.versions.0017_users_fk_restrict").REFERRING
    for table, column in referring:
        name = f"fk_{table}_{column}_users"
        conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name}"
                     f" FOREIGN KEY ({column}) REFERENCES users (id) ON DELETE {action}")  # fmt: skip


def measure(calls: int, rounds: int, *, statements: bool = False) -> dict[str, float]:
    import psycopg

    from iamd.store.users import _DELETE_USER_PG, _DELETE_USER_PG_REFUSING

    def sql(stmt: Any) -> str:
        return str(stmt).replace(":account", "%(account)s").replace(":key", "%(key)s").replace(":named", "%(named)s")

    ways = [("old", "NO ACTION", sql(_DELETE_USER_PG)), ("new", "RESTRICT", sql(_DELETE_USER_PG))]
    if statements:
        ways = [("old", "RESTRICT", sql(_DELETE_USER_PG)), ("new", "RESTRICT", sql(_DELETE_USER_PG_REFUSING))]
    with migrated_database("bench_own") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_DATA)
            pid = conn.info.backend_pid
            calls_made = [0]

            def delete_user(delete: str) -> float:
                key = f"u{calls_made[0]}"
                calls_made[0] += 1
                conn.execute(_INSERT_USER, {"id": f"AIDA{key}", "key": key}, prepare=True)
                conn.execute("BEGIN")
                start = _on_cpu(pid)
                conn.execute(delete, {"account": "aws", "key": key, "named": ""}, prepare=True)
                spent = _on_cpu(pid) - start
                conn.execute("COMMIT")
                return spent

            totals = {"old": 0.0, "new": 0.0}
            for n in range(rounds):
                for label, action, delete in ways if n % 2 == 0 else ways[::-1]:
                    _set_user_fks(conn, action)
                    for _ in range(20):  # warm: prepared, planned
                        delete_user(delete)
                    totals[label] += sum(delete_user(delete) for _ in range(calls))
        return {label: total / (calls * rounds) * 1e6 for label, total in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server.pg_own", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="calls per way and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statements", action="store_true", help="the nine blockers' probes against none (RESTRICT)")
    args = parser.parse_args(argv)
    r = measure(args.calls, args.rounds, statements=args.statements)
    old, new = ("with its blockers", "without") if args.statements else ("NO ACTION", "RESTRICT")
    print(f"DeleteUser's statement, PostgreSQL's backend µs CPU per call: {old} {r['old']:.1f} -> "
          f"{new} {r['new']:.1f}, new/old {r['new'] / r['old']:.2f}")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
