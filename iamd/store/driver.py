"""Hot reads run on the DB-API cursor, below SQLAlchemy's execution layer.

A caller's first request reads its key (with its user and tags) and the sources of its identity
policies: two small indexed statements whose execution through SQLAlchemy Core cost about 80 and
95 µs of CPU each (events, the execution context, the result's metadata and row objects) against
about 10 µs for the driver alone (bench/README.md, "A caller's first request"). :class:`DriverQuery`
compiles a prebuilt statement once per dialect (SQLAlchemy's own compiler: the same SQL text, the
same parameter style) and runs it on the transaction's own DB-API connection, in the transaction
SQLAlchemy began (the same snapshot), with the column types' result processors applied (the
stored UTC datetimes come back aware, as through SQLAlchemy).

Only reads use it, and a write keeps SQLAlchemy's path. A statement is still told to SQLAlchemy's
``before_cursor_execute`` listeners, if there are any (the statement traces of tests and benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect

__all__ = ["DriverQuery"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # the parameter names in order (positional styles), None: by name
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, result processor)


class DriverQuery:
    """A prebuilt SELECT, run on the DB-API connection of a SQLAlchemy ``Connection``."""

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self.columns: dict[str, int] = {c.key: i for i, c in enumerate(statement.selected_columns)}
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

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as tuples (``columns`` maps a column's label to its index)."""
        compiled = self._compile(conn.dialect)
        driver: Any = conn.connection.driver_connection
        bound: Any = params if compiled.order is None else tuple(params[name] for name in compiled.order)
        cursor = driver.cursor()
        try:
            if conn._has_events or conn.engine._has_events:  # observed (statement traces): as SQLAlchemy tells them
                conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, bound, None, False)
            cursor.execute(compiled.sql, bound)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            cursor.close()
        if not compiled.processors or not rows:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, process in compiled.processors:
                values[i] = process(values[i])
            out.append(tuple(values))
        return out
