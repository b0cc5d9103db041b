"""PostgreSQL: the write path's statements on libpq, as iamd's own prepared statements.

``iamd/store/driver.py`` runs its statements on psycopg's ``pgconn`` (libpq) directly: those with
parameters as prepared statements named ``iamd_<n>``, the others as simple queries. psycopg's
rollback may deallocate every prepared statement of the session (``DEALLOCATE ALL``, when it had
prepared some of its own): iamd's must then be prepared again, never executed missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Connection, Engine, bindparam, exc, select, text

from iamd.store import driver
from iamd.store import schema as s
from iamd.store.driver import _to_pg
from iamd.store.engine import make_engine
from tests.store.conftest import PgDatabases

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])  # SQLite runs them through SQLAlchemy

_ONE_ACCOUNT = select(s.accounts.c.id).where(s.accounts.c.id == "aws")
_INSERT_ACCOUNT = s.accounts.insert().values(
    id=bindparam("id"), create_date=bindparam("at", type_=s.accounts.c.create_date.type)
)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url, pool_size=1)  # one pooled connection: every use below is on it
    yield engine
    engine.dispose()


def _prepared(conn: Connection) -> set[str]:
    names = conn.exec_driver_sql("SELECT name FROM pg_prepared_statements").scalars().all()
    return {name for name in names if name.startswith("iamd_")}


def test_the_statements_run_as_prepared_statements_of_iamd(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        for _ in range(2):  # the first with psycopg's BEGIN, through psycopg; the second on libpq
            assert driver.first(conn, _ONE_ACCOUNT) == ("aws",)
        assert driver.first(conn, _ONE_ACCOUNT).id == "aws"  # the column's name as an attribute
        assert driver.rows(conn, select(s.accounts.c.create_date).where(s.accounts.c.id == "none")) == []
        assert len(_prepared(conn)) == 2
        assert driver.execute_sql(conn, "SELECT 1; SELECT 2 AS two", None).fetchall() == [(2,)]  # the last one's


@pytest.mark.parametrize("psycopg_prepared", [True, False])
def test_a_rollback_that_deallocates_them_has_them_prepared_again(engine: Engine, psycopg_prepared: bool) -> None:
    with engine.connect() as conn:
        with conn.begin():
            if psycopg_prepared:
                for _ in range(6):  # psycopg prepares a statement of its own after five runs
                    conn.execute(_ONE_ACCOUNT).all()
            for _ in range(2):
                assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
        with pytest.raises(RuntimeError), conn.begin():  # psycopg's rollback: DEALLOCATE ALL if it prepared any
            assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
            raise RuntimeError("rolled back")
        with conn.begin():
            assert bool(_prepared(conn)) is not psycopg_prepared
            for _ in range(2):
                assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
    with engine.connect() as conn, conn.begin():  # the pooled connection again
        for _ in range(2):
            assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
        assert _prepared(conn)


def test_a_failed_statement_is_sqlalchemys_error_and_the_connection_stays_usable(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(exc.IntegrityError), conn.begin():
            assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
            driver.run(conn, _INSERT_ACCOUNT, {"id": "aws", "at": datetime.now(UTC)})  # on libpq: a duplicate
        with conn.begin():
            assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
            driver.run(conn, _INSERT_ACCOUNT, {"id": "other", "at": datetime.now(UTC)})
            assert driver.scalar(conn, select(s.accounts.c.id).where(s.accounts.c.id == "other")) == "other"


def test_a_lost_connection_is_invalidated(engine: Engine, pg_databases: PgDatabases) -> None:
    with engine.connect() as conn:
        with pytest.raises(exc.OperationalError) as lost, conn.begin():
            assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with pg_databases.admin.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            driver.scalar(conn, _ONE_ACCOUNT)  # on libpq
        assert lost.value.connection_invalidated
    with engine.connect() as conn, conn.begin():  # a new connection, its own prepared statements
        for _ in range(2):
            assert driver.scalar(conn, _ONE_ACCOUNT) == "aws"


def test_placeholders_in_postgresql_style(backend: str) -> None:
    assert _to_pg("SELECT %(a)s, %(b)s::int, %(a)s WHERE x LIKE 'a%%'") == (
        b"SELECT $1, $2::int, $1 WHERE x LIKE 'a%'",
        ("a", "b"),
    )
    assert _to_pg("VALUES (%s::bytea, %s::text), (%s, %s)") == (b"VALUES ($1::bytea, $2::text), ($3, $4)", None)
    assert _to_pg("SELECT '%%s' || %s") == (b"SELECT '%s' || $1", None)
    for bad in ("SELECT %d", "SELECT %(a)s, %s", "SELECT %(a"):
        with pytest.raises(ValueError):
            _to_pg(bad)


def test_the_statement_after_begin_or_commit_is_prepared_outside_a_transaction(engine: Engine) -> None:
    """The writers' lock (``BEGIN; UPDATE iamd_meta …``) and the commit's flush (``COMMIT; SELECT
    pg_logical_emit_message(…)``) run as ``EXECUTE`` of a statement planned once per connection."""

    def statements(conn: Connection) -> set[str]:
        return set(conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars())

    with engine.connect() as conn:
        driver_conn = conn.connection.driver_connection
        assert driver_conn is not None
        driver_conn.autocommit = True  # as a write transaction's reads before the lock (Store.transaction)
        try:
            for _ in range(2):
                assert driver.execute_sql(conn, "BEGIN; SELECT 7 AS seven", None).fetchall() == [(7,)]
                driver.simple_query(driver_conn, "COMMIT; SELECT 8")
            assert {"SELECT 7 AS seven", "SELECT 8"} <= statements(conn)
            driver.execute_sql(conn, "BEGIN; SELECT 9", None)
            with pytest.raises(psycopg.errors.DivisionByZero):  # the statement after COMMIT fails: the error is raised
                driver.simple_query(driver_conn, "COMMIT; SELECT 1 / 0")
            assert driver_conn.pgconn.transaction_status == 0  # committed, idle
        finally:
            driver_conn.autocommit = False
