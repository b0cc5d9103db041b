"""The PostgreSQL statement benchmarks run against the store's driver as it is now.

A benchmark that calls the driver the way an earlier session's driver wanted fails here, not
the next time someone measures with it: ``bench/server/pg_statement.py`` called
``driver.commit_after`` with its session-14 signature for a whole session after the driver
took a list of statements."""

from __future__ import annotations

import os

import pytest

from bench.server import pg_own, pg_statement
from tests.store.postgres import find_bindir


@pytest.fixture(autouse=True)
def _postgres() -> None:
    if find_bindir() is None:
        if os.environ.get("IAMD_REQUIRE_POSTGRES") == "1":
            pytest.fail("IAMD_REQUIRE_POSTGRES=1 but initdb/pg_ctl were not found")
        pytest.skip("PostgreSQL's initdb/pg_ctl not found")


def test_pg_statement_measures_each_way_of_each_statement() -> None:
    results = pg_statement.measure(calls=3, rounds=1)
    assert set(results) == {"select", "lock+commit", "lock+read", "event+commit"}
    for name, r in results.items():
        assert r["old"] > 0 and r["new"] > 0, name  # iamd's CPU of each way: it ran


def test_pg_own_measures_both_foreign_key_actions() -> None:
    results = pg_own.measure(calls=3, rounds=2)
    assert set(results) == {"old", "new"}
    assert all(v >= 0 for v in results.values())  # the backend's CPU from /proc, in clock ticks
