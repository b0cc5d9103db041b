"""A large account written straight into the server's database before the server starts.

Users go in through the store's bulk helper (``Tx.bulk_create_users``, 5,000 per statement);
roles through ``Tx.create_role``, 2,000 per transaction. The account is iamd's --dev account,
so ``iamd serve --dev`` adopts it (and adds its root key and AWS managed policies on start).
The API refuses a 5,001st user (AWS's default quota, UsersPerAccount), so the benchmark
creates its caller through the API first, stops the server, loads, and starts it again.
"""

from __future__ import annotations

import json
import time

from iamd.store import migrate, open_store

__all__ = ["ACCOUNT", "preload", "role_names", "user_names"]

ACCOUNT = "123456789012"
TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})  # fmt: skip


def user_names(n: int) -> list[str]:
    return [f"user{i:06d}" for i in range(n)]


def role_names(n: int) -> list[str]:
    return [f"role{i:05d}" for i in range(n)]


def preload(url: str, users: int, roles: int) -> dict[str, float]:
    """Create the account with ``users`` users (paths ``/`` and ``/bulk/``) and ``roles`` roles."""
    t0 = time.perf_counter()
    migrate.upgrade(url)
    store = open_store(url)
    try:
        with store.read() as rtx:
            exists = any(a.id == ACCOUNT for a in rtx.list_accounts())
        if not exists:
            with store.transaction() as tx:
                tx.create_account(ACCOUNT)
        names = user_names(users)
        for i, start in enumerate(range(0, users, 5000)):
            with store.transaction() as tx:
                tx.bulk_create_users(ACCOUNT, names[start : start + 5000], path="/bulk/" if i % 2 else "/")
        t1 = time.perf_counter()
        rnames = role_names(roles)
        for start in range(0, roles, 2000):
            with store.transaction() as tx:
                for name in rnames[start : start + 2000]:
                    tx.create_role(ACCOUNT, name, assume_role_policy=TRUST)
        t2 = time.perf_counter()
        if store.dialect == "postgresql":
            from sqlalchemy import text

            from iamd.store.store import SqlStore

            assert isinstance(store, SqlStore)
            with store.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
    finally:
        store.close()
    return {"users_s": round(t1 - t0, 2), "roles_s": round(t2 - t1, 2)}
