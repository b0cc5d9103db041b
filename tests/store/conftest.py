"""Fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from a throwaway cluster (``postgres.py``). Without it the PostgreSQL
half is skipped with a loud reason — unless ``IAMD_REQUIRE_POSTGRES=1`` (CI), where it
fails instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from iamd.store import Store, migrate, open_store
from iamd.store.engine import make_engine
from iamd.store.schema import metadata
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock
from tests.store.postgres import PostgresCluster, PostgresUnavailable, start_cluster

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        if os.environ.get("IAMD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"IAMD_REQUIRE_POSTGRES=1 but PostgreSQL could not be started: {exc}")
        pytest.skip(f"!!! POSTGRESQL BACKEND NOT TESTED — PostgreSQL unavailable: {exc} !!!")
    yield cluster
    cluster.stop()


class PgDatabases:
    """Creates (and finally drops) databases in the test cluster."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self.admin = make_engine(cluster.url())
        self._count = itertools.count()

    def create(self, prefix: str = "iamd") -> str:
        name = f"{prefix}_{next(self._count)}"
        with self.admin.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            # An ICU collation makes ordering differ from bytewise unless the schema says "C".
            try:
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"))
            except Exception:  # PostgreSQL built without ICU
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE template0"))
        return self.cluster.url(name)


@pytest.fixture(scope="session")
def pg_databases(pg_cluster: PostgresCluster) -> Iterator[PgDatabases]:
    databases = PgDatabases(pg_cluster)
    yield databases
    databases.admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated(pg_databases: PgDatabases) -> Iterator[tuple[str, Engine]]:
    url = pg_databases.create("iamd_test")
    migrate.upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "iamd.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _reset_postgres(engine: Engine) -> None:
    """Empty every table (DELETE beats TRUNCATE on tiny tables) and reseed like the migration."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE policies SET default_version_id = NULL"))
        for table in reversed(metadata.sorted_tables):
            if table.name != "iamd_meta":
                conn.execute(table.delete())
        conn.execute(text("UPDATE iamd_meta SET generation = 0"))
        conn.execute(text("INSERT INTO accounts (id, create_date) VALUES ('aws', now())"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the backend under test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "iamd.db")
        return f"sqlite:///{tmp_path / 'iamd.db'}"
    url, engine = request.getfixturevalue("pg_migrated")
    _reset_postgres(engine)
    return str(url)


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'iamd.db'}"
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    return databases.create("iamd_fresh")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    opened = open_store(store_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def account(store: Store) -> str:
    with store.transaction() as tx:
        tx.create_account(ACCOUNT)
        tx.create_account(OTHER_ACCOUNT)
    return ACCOUNT
