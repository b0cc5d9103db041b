"""Hot statements run on the DB-API driver's cursor, below SQLAlchemy's execution layer.

Writes: the write path's hot statements on PostgreSQL, run through the driver (psycopg) directly.

SQLAlchemy Core costs about 100 µs of CPU per statement beyond psycopg's own 30 µs (building
the execution context, the cache key, the result's metadata: bench/README.md, "PostgreSQL
writes, driver-level"), and a write runs about ten of them. The statements stay SQLAlchemy
constructs, written once beside the tables they use; each is compiled once per process for
the connection's dialect (the SQL text SQLAlchemy would send, its bound defaults) and, on
PostgreSQL, executed on the connection's psycopg connection in the SQLAlchemy transaction
already begun. Listeners of ``before_cursor_execute`` still see every statement (tests count
them), and a driver error is handled as SQLAlchemy handles its own (wrapped in
``sqlalchemy.exc``'s classes; a lost connection invalidated). SQLite runs them through
SQLAlchemy as before (its statements cost less, and its types need SQLAlchemy's processing).

Rows are tuples of the driver's values with the statement's column names as attributes. Only
statements whose parameters and columns need no SQLAlchemy type processing on PostgreSQL
belong here (strings, integers, booleans; ``timestamptz`` comes back as an aware datetime,
which callers normalise to UTC).

Reads take the same way on both backends through :class:`DriverQuery`: a caller's first request
reads its key (with its user and tags) and the sources of its identity policies, two small indexed
statements whose execution through SQLAlchemy Core cost about 80 and 95 µs of CPU each against
about 10 µs for the driver alone (bench/README.md, "A caller's first request"). A ``DriverQuery``
runs in the transaction SQLAlchemy began (the same snapshot) and applies the column types' result
processors (the stored UTC datetimes come back aware, as through SQLAlchemy).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement

__all__ = ["DriverQuery", "execute_sql", "first", "rows", "run", "scalar"]

# id(statement) -> (statement, SQL text, bound defaults, row class or None): the statement is
# kept so that its id is never reused for another (all are module-level constants).
_COMPILED: dict[int, tuple[ClauseElement, str, dict[str, Any], list[Any]]] = {}
_LOCK = threading.Lock()


def _compiled(stmt: ClauseElement, conn: Connection) -> tuple[ClauseElement, str, dict[str, Any], list[Any]]:
    entry = _COMPILED.get(id(stmt))
    if entry is None or entry[0] is not stmt:
        compiled = stmt.compile(dialect=conn.dialect)
        entry = (stmt, str(compiled), dict(compiled.params), [None])
        with _LOCK:
            _COMPILED[id(stmt)] = entry
    return entry


def _execute(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any] | None) -> tuple[Any, list[Any]]:
    _, sql, defaults, row_class = _compiled(stmt, conn)
    return execute_sql(conn, sql, {**defaults, **params} if params else defaults), row_class


def execute_sql(conn: Connection, sql: str, bound: Any) -> Any:
    """``sql`` (the driver's parameter style) with ``bound``, on ``conn``'s driver connection, seen
    by ``before_cursor_execute`` listeners; the driver's cursor. The write statements use it on
    PostgreSQL only, :class:`DriverQuery` on both backends."""
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    if conn._has_events or conn.engine._has_events:
        for listener in conn.dispatch.before_cursor_execute:
            listener(conn, cursor, sql, bound, None, False)
    try:
        cursor.execute(sql, bound)
    except conn.dialect.loaded_dbapi.Error as error:
        # As SQLAlchemy's own statements: wrapped, and a lost connection invalidated (raises).
        conn._handle_dbapi_exception(error, sql, bound, cursor, None)
        raise  # pragma: no cover - _handle_dbapi_exception always raises
    return cursor


def _named(cursor: Any, row_class: list[Any]) -> Any:
    cls = row_class[0]
    if cls is None:
        cls = row_class[0] = namedtuple("Row", [c.name for c in cursor.description], rename=True)
    return cls


def rows(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> list[Any]:
    """Every row of ``stmt`` (attribute access by column name)."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(stmt, params))  # type: ignore[call-overload]
    cursor, row_class = _execute(conn, stmt, params)
    found = cursor.fetchall()
    if not found:
        return []
    make = _named(cursor, row_class)._make
    return [make(r) for r in found]


def first(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> Any:
    """The first row of ``stmt``, or None."""
    if conn.dialect.name != "postgresql":
        return conn.execute(stmt, params).first()  # type: ignore[call-overload]
    cursor, row_class = _execute(conn, stmt, params)
    found = cursor.fetchone()
    return None if found is None else _named(cursor, row_class)._make(found)


def scalar(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> Any:
    """The first column of the first row of ``stmt`` (None: no row)."""
    if conn.dialect.name != "postgresql":
        return conn.execute(stmt, params).scalar()  # type: ignore[call-overload]
    cursor, _ = _execute(conn, stmt, params)
    found = cursor.fetchone()
    return None if found is None else found[0]


def run(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> None:
    """Execute ``stmt`` (no rows wanted)."""
    if conn.dialect.name != "postgresql":
        conn.execute(stmt, params)  # type: ignore[call-overload]
        return
    _execute(conn, stmt, params)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # the parameter names in order (positional styles), None: by name
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, result processor)


class DriverQuery:
    """A prebuilt SELECT, run on the DB-API connection of a SQLAlchemy ``Connection``."""

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        # rows as :func:`rows` gives them: the column labels as attributes
        row: Any = namedtuple("Row", [c.key for c in statement.selected_columns], rename=True)  # type: ignore[misc]
        self._make: Callable[[Any], Any] = row._make
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            with self._lock:
                compiled = self._statement.compile(dialect=dialect)
                order = tuple(compiled.positiontup) if compiled.positional else None
                processors = []
                for i, column in enumerate(self._statement.selected_columns):
                    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                    if process is not None:
                        processors.append((i, process))
                found = _Compiled(compiled.string, order, tuple(processors))
                self._compiled[dialect.name] = found
        return found

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row (attribute access by column label)."""
        compiled = self._compile(conn.dialect)
        bound: Any = params if compiled.order is None else tuple(params[name] for name in compiled.order)
        cursor = execute_sql(conn, compiled.sql, bound)
        try:
            found: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            cursor.close()
        make = self._make
        if not compiled.processors:
            return [make(row) for row in found]
        out = []
        for row in found:
            values = list(row)
            for i, process in compiled.processors:
                value = values[i]
                if value is not None:  # NULL stays None: iamd's types' processors all keep it
                    values[i] = process(value)
            out.append(make(values))
        return out
