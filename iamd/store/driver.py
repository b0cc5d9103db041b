"""Hot statements run on the DB-API driver's cursor, below SQLAlchemy's execution layer.

Writes: the write path's hot statements on PostgreSQL, run through the driver (psycopg) directly.

SQLAlchemy Core costs about 100 µs of CPU per statement beyond psycopg's own 30 µs (building
the execution context, the cache key, the result's metadata: bench/README.md, "PostgreSQL
writes, driver-level"), and a write runs about ten of them. The statements stay SQLAlchemy
constructs, written once beside the tables they use; each is compiled once per process for
the connection's dialect (the SQL text SQLAlchemy would send, its bound defaults) and, on
PostgreSQL, executed on the connection's psycopg connection in the SQLAlchemy transaction
already begun — since session 13 on its libpq connection, as iamd's own prepared statements
(:func:`execute_sql`, :class:`_Prepared`; docs/architecture.md, "Session 13: the statements on
libpq"). Listeners of ``before_cursor_execute`` still see every statement (tests count them;
the cursor they are given is None on libpq), and a driver error is handled as SQLAlchemy handles its own (wrapped in
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

import select
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement

__all__ = [
    "IDLE",
    "IN_ERROR",
    "IN_TRANSACTION",
    "DriverQuery",
    "begin_and_commit",
    "begin_with",
    "commit_after",
    "execute_sql",
    "first",
    "first_begun",
    "roll_back",
    "round_trips",
    "rows",
    "run",
    "scalar",
    "sql_of",
]

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
    by ``before_cursor_execute`` listeners; a cursor, or on PostgreSQL a :class:`_Result` (its
    rows, read: ``fetchone``, ``fetchall``, ``description``). The write statements use it on
    PostgreSQL only, :class:`DriverQuery` on both backends. ``bound`` None: ``sql`` may be several
    statements (PostgreSQL's simple query protocol, one round trip), and the result is the last
    one's.

    PostgreSQL: the statement runs on libpq directly (psycopg's ``pgconn``): with parameters as a
    prepared statement of iamd's own (:class:`_Prepared`), without as a simple query. psycopg's
    cursor, its query conversion and its prepared-statement bookkeeping cost about 25 µs of CPU
    per statement beyond libpq's own 14 (bench/README.md, "Session 13: PostgreSQL statements on
    libpq"). Only when the connection is in a transaction or in autocommit: psycopg sends its own
    ``BEGIN`` before the first statement of a transaction, so that one still goes through
    psycopg's cursor, as does any statement while iamd's prepared statements may have been
    dropped (:func:`rolled_back`) and the connection is in a transaction."""
    driver: Any = conn.connection.dbapi_connection  # = driver_connection (psycopg, sqlite3), two property calls less
    if conn.dialect.name == "postgresql":
        pgconn = driver.pgconn
        idle = pgconn.transaction_status == IDLE
        prepared = _prepared(driver)
        if prepared.suspect and idle:
            try:
                prepared.check()
            except conn.dialect.loaded_dbapi.Error as error:
                _raise(conn, error, "DESCRIBE", None, None)
        if (driver.autocommit or not idle) and (bound is None or (prepared.room and not prepared.suspect)):
            if conn._has_events or conn.engine._has_events:
                for listener in conn.dispatch.before_cursor_execute:
                    listener(conn, None, sql, bound, None, False)
            try:
                return prepared.simple(sql) if bound is None else prepared.run(sql, bound)
            except conn.dialect.loaded_dbapi.Error as error:
                _raise(conn, error, sql, bound, None)
    cursor = driver.cursor()
    if conn._has_events or conn.engine._has_events:
        for listener in conn.dispatch.before_cursor_execute:
            listener(conn, cursor, sql, bound, None, False)
    try:
        cursor.execute(sql, bound)
    except conn.dialect.loaded_dbapi.Error as error:
        _raise(conn, error, sql, bound, cursor)
    if bound is None:
        while cursor.nextset():  # to the last statement's result, as on libpq
            pass
    return cursor


def _raise(conn: Connection, error: Exception, sql: str, bound: Any, cursor: Any) -> NoReturn:
    """The driver's ``error`` raised as SQLAlchemy raises its own statements' (wrapped, a lost
    connection invalidated). PostgreSQL: in a SQLAlchemy transaction, begun here if it is not
    (a write transaction is the driver's alone: ``SqlStore._transaction_on``): outside one,
    SQLAlchemy's handler rolls the driver back at once (its "autorollback"), which would end the
    write's transaction in the middle, with psycopg's rollback (``DEALLOCATE ALL``)."""
    if conn.dialect.name == "postgresql" and not conn.invalidated and not conn.in_transaction():
        conn.begin()  # ended by the write's rollback
    conn._handle_dbapi_exception(error, sql, bound, cursor, None)
    raise error  # pragma: no cover - _handle_dbapi_exception always raises


def simple_query(driver: Any, sql: str) -> None:
    """PostgreSQL: ``sql`` (statements without parameters, one round trip) on the psycopg
    connection ``driver`` through libpq, unseen by listeners; raises psycopg's error for a
    statement that failed (the rest of the string is then not run)."""
    _prepared(driver).simple(sql)


def commit_after(
    conn: Connection, statements: list[tuple[str, Any]], flush: str
) -> tuple[Exception | None, list[_Result]] | None:
    """PostgreSQL, a write transaction's end: ``statements`` (sql, parameters: its last ones),
    then ``COMMIT`` and ``flush`` (a statement without parameters, in a transaction of its own:
    the durable flush, ``SqlStore._commit_durably``) in one round trip, libpq's pipeline mode:
    no result is needed before the commit is sent (bench/README.md, "Session 14: PostgreSQL
    writes in pipelines"). Only once all are prepared on this connection (a statement's first
    run prepares it): else nothing is sent and None returned, for the caller to run them as
    before. Else committed: (the flush's error or None, each statement's rows).

    Raises a statement's error, as SQLAlchemy's (then nothing after it ran, the ``COMMIT``
    neither: the transaction is failed, to be rolled back), a lost connection's, or the
    ``COMMIT``'s (not known to be committed)."""
    n = len(statements)
    sent = _pipeline(conn, statements, [*statements, b"COMMIT", (flush, ())], IN_TRANSACTION, checked=n + 1)
    return None if sent is None else _committed(*sent, 0, n)


def begin_and_commit(
    conn: Connection, lock: str, statements: list[tuple[str, Any]], flush: str
) -> tuple[Any, Exception | None, list[_Result]] | None:
    """PostgreSQL, a whole write transaction in autocommit: ``BEGIN``, ``lock`` (the writers'
    lock, a statement without parameters), ``statements`` (sql, parameters), ``COMMIT`` and
    ``flush`` in one round trip, libpq's pipeline mode (:func:`begin_with` and
    :func:`commit_after` in one): (the lock's first row, the flush's error or None, each
    statement's rows). None, nothing sent: not all prepared on this connection yet. Raises a
    statement's error, as SQLAlchemy's (nothing after it ran, the ``COMMIT`` neither: the
    transaction is failed, to be rolled back), or the ``COMMIT``'s."""
    n = len(statements)
    sent = _begun(conn, lock, statements, flush)
    if sent is None:
        return None
    locked, prepared, results, ready = sent
    return (locked, *_committed(prepared, results, ready, 2, n))


def _committed(
    prepared: _Prepared, results: list[Any], ready: list[Any], start: int, n: int
) -> tuple[Exception | None, list[_Result]]:
    """A pipeline that ends with ``COMMIT`` and the flush, its ``n`` statements from ``start`` on:
    (the flush's error or None, each statement's rows)."""
    end = start + n
    failed = None  # the flush's error: its result, then the pipeline's end (a loop, not a comprehension's function)
    for r in results[end + 1 :]:
        if r.status != _TUPLES_OK and r.status != _PIPELINE_SYNC:
            failed = r
            break
    rows: list[_Result] = [
        _Later(prepared, r, step[3]) if r.status == _TUPLES_OK else _NO_ROWS
        for r, step in zip(results[start:end], ready[start:end], strict=True)
    ]  # loaded only if read: a write reads few of them (its strings' interning)
    return (None if failed is None else prepared.error(failed)), rows


def _step_rows(prepared: _Prepared, result: Any, step: Any) -> _Result:
    """A pipeline's statement's rows, as :func:`execute_sql` gives them (none but for TUPLES_OK)."""
    return prepared.rows_of(result, step[3]) if result.status == _TUPLES_OK else _NO_ROWS


def _begun(
    conn: Connection, lock: str, statements: list[tuple[str, Any]], flush: str | None
) -> tuple[Any, _Prepared, list[Any], list[Any]] | None:
    """From autocommit, in one round trip (:func:`_pipeline`): ``BEGIN``, ``lock``,
    ``statements`` and, given ``flush``, ``COMMIT`` and ``flush`` (the errors of all but the
    flush raised), the listeners seeing ``BEGIN`` and the lock as one statement, as in two round
    trips: (the lock's first row, then :func:`_pipeline`'s). None: nothing sent."""
    seen = [(f"BEGIN; {lock}", None), *statements]
    tail: list[bytes | tuple[str, Any]] = [] if flush is None else [b"COMMIT", (flush, ())]
    steps: list[bytes | tuple[str, Any]] = [b"BEGIN", (lock, ()), *statements, *tail]
    sent = _pipeline(conn, seen, steps, IDLE, checked=len(steps) - (flush is not None))  # all but the flush
    if sent is None:
        return None
    prepared, results, ready = sent
    return prepared.rows_of(results[1], ready[1][3]).fetchone(), prepared, results, ready


def begin_with(conn: Connection, lock: str, sql: str, bound: Any) -> tuple[Any, _Result] | None:
    """PostgreSQL, a write transaction's start in autocommit: ``BEGIN``, ``lock`` (a statement
    without parameters: the writers' lock) and ``sql`` with ``bound`` (the first statement under
    the lock) in one round trip, libpq's pipeline mode; (the lock's first row, ``sql``'s result
    as :func:`execute_sql` gives it). None, nothing sent: not both prepared on this connection
    yet. Raises the first error, as SQLAlchemy's (the transaction is then failed)."""
    sent = _begun(conn, lock, [(sql, bound)], None)
    if sent is None:
        return None
    locked, prepared, results, ready = sent
    return locked, _step_rows(prepared, results[2], ready[2])


def _pipeline(
    conn: Connection,
    seen: list[tuple[str, Any]],
    steps: list[bytes | tuple[str, Any]],
    status: int,
    *,
    checked: int,
) -> tuple[_Prepared, list[Any], list[Any]] | None:
    """``steps`` in one round trip (:meth:`_Prepared.pipeline`), if the connection's transaction
    status is ``status`` and every prepared step is ready (else None, nothing sent); ``seen``
    (statement, parameters) are what the listeners see. Raises the error of any of the first ``checked`` results (as
    SQLAlchemy's); returns the results and the steps sent."""
    driver: Any = conn.connection.dbapi_connection  # = driver_connection (psycopg, sqlite3), two property calls less
    prepared = _prepared(driver)
    try:
        if driver.pgconn.transaction_status != status:
            return None
        ready = [prepared.control(s) if isinstance(s, bytes) else prepared.step(*s) for s in steps]
        if None in ready:
            return None
        if conn._has_events or conn.engine._has_events:
            # The listeners looked up once, not once per statement: the engine has listeners of
            # other events (iamd/store/engine.py), and an empty joined collection costs four
            # Python calls to iterate (bench/README.md, "Session 17: iamd's CPU per write").
            listeners = conn.dispatch.before_cursor_execute
            if listeners:
                for sql, bound in seen:
                    for listener in listeners:
                        listener(conn, None, sql, bound, None, False)
        results = prepared.pipeline(ready)  # type: ignore[arg-type]
        for result in results[:checked]:
            if result.status != _TUPLES_OK and result.status != _COMMAND_OK:
                raise prepared.error(result)
    except conn.dialect.loaded_dbapi.Error as error:
        _raise(conn, error, seen[-1][0], seen[-1][1], None)
    return prepared, results, ready


def round_trips() -> int:
    """Round trips to PostgreSQL through this module's libpq path so far, over the live
    connections (for benchmarks and tests)."""
    with _LOCK:
        return sum(p.trips for p in _PREPARED.values())


def rolled_back(driver: Any) -> None:
    """PostgreSQL: the psycopg connection ``driver`` is about to be rolled back. psycopg then
    forgets its prepared statements, and if it had any, deallocates them all (``DEALLOCATE ALL``):
    iamd's with them. Until checked (:meth:`_Prepared.check`, outside a transaction), iamd's
    are not used."""
    prepared = _PREPARED.get(driver)
    if prepared is not None and prepared.names and driver.pgconn.transaction_status != IDLE:
        prepared.suspect = True


def roll_back(driver: Any) -> None:
    """PostgreSQL: end the failed write transaction of the psycopg connection ``driver`` with a
    ``ROLLBACK`` sent on libpq. psycopg's own rollback (SQLAlchemy's, after it) then finds the
    connection idle and sends nothing: no ``DEALLOCATE ALL``, so the failed write (a name taken,
    an entity not found, a denial after the lock) leaves the connection's prepared statements,
    psycopg's and iamd's, as they were (bench/README.md, "Session 13: failed writes keep their
    statements"). Only for transactions that ran no DDL: a statement prepared against an object
    the rolled-back transaction created would be left pointing at nothing, which is why psycopg
    forgets them all (iamd's write transactions change rows only; prepared statements are not
    transactional in PostgreSQL, they outlive the rollback). Never raises: on any failure (a
    lost connection) the connection is left to psycopg's rollback, as before."""
    try:
        if driver.closed or driver.broken:
            return
        pgconn = driver.pgconn
        if pgconn.transaction_status not in (IN_TRANSACTION, IN_ERROR):
            return
        pgconn.exec_(b"ROLLBACK")
    except Exception:  # psycopg's rollback runs next and says what is wrong
        return


# psycopg.pq.TransactionStatus (psycopg is imported only with PostgreSQL): a driver connection
# idle, in a transaction, in a transaction whose statement failed.
IDLE = 0
IN_TRANSACTION = 2
IN_ERROR = 3
_MAX_PREPARED = 200  # prepared statements per connection (then psycopg's own, which has its own bound)
_COMMAND_OK = 1  # psycopg.pq.ExecStatus
_TUPLES_OK = 2
_EMPTY_QUERY = 0
_IS_PREPARED = b"SELECT 1 FROM pg_prepared_statements WHERE name = $1"


def _to_pg(sql: str) -> tuple[bytes, tuple[str, ...] | None]:
    """``sql`` in psycopg's parameter style (``%(name)s`` or ``%s``, ``%%`` a percent sign) as
    PostgreSQL's (``$1``…), and the names in order (None: positional). A name used twice is one
    parameter."""
    parts = sql.split("%")
    out = [parts[0]]
    names: list[str] = []
    positional = 0
    i = 1
    while i < len(parts):
        part = parts[i]
        if part == "" and i + 1 < len(parts):  # "%%"
            out.append("%" + parts[i + 1])
            i += 2
            continue
        if part.startswith("s"):
            positional += 1
            out.append(f"${positional}{part[1:]}")
        elif part.startswith("("):
            name, sep, rest = part[1:].partition(")")
            if not sep or not rest.startswith("s"):
                raise ValueError(f"unsupported placeholder in {sql!r}")
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}{rest[1:]}")
        else:
            raise ValueError(f"unsupported placeholder in {sql!r}")
        i += 1
    if names and positional:
        raise ValueError(f"mixed placeholders in {sql!r}")
    return "".join(out).encode(), (tuple(names) if names else None)


class _Description:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Result:
    """A statement's rows, read at once (as a psycopg cursor's, for the few uses here)."""

    __slots__ = ("_names", "_rows")

    def __init__(self, rows: list[Any], names: list[str]) -> None:
        self._rows = rows
        self._names = names

    @property
    def description(self) -> list[_Description]:
        return [_Description(name) for name in self._names]

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def close(self) -> None:
        pass


_NO_ROWS = _Result([], [])
_UNLOADED: list[Any] = []  # a _Later's rows before they are loaded (never a result's own list)


class _Later(_Result):
    """A pipelined statement's rows (:func:`commit_after`, :func:`begin_and_commit`), loaded when
    first asked for: a write's commit reads the rows of few of its statements (its strings'
    interning; not its own statement's, its audit event's or its notification's), and loading
    them is psycopg's Transformer's work per result (bench/README.md, "Session 17: iamd's CPU
    per write, fewer calls"). The result stands alone: loaded later, it is the same."""

    __slots__ = ("_prepared", "_result")

    def __init__(self, prepared: _Prepared, result: Any, names: list[str]) -> None:
        self._prepared = prepared
        self._result = result
        self._names = names
        self._rows = _UNLOADED

    def _load(self) -> list[Any]:
        if self._rows is _UNLOADED:
            self._rows = self._prepared.rows_of(self._result, self._names)._rows
        return self._rows

    @property
    def description(self) -> list[_Description]:
        self._load()  # (fills the statement's column names at its first run)
        return [_Description(name) for name in self._names]

    def fetchone(self) -> Any:
        rows = self._load()
        return rows[0] if rows else None

    def fetchall(self) -> list[Any]:
        return self._load()


class _Prepared:
    """One psycopg connection's statements prepared by iamd (named ``iamd_<n>``, apart from
    psycopg's ``_pg3_<n>``), by SQL text and parameter types, and the Transformer that dumps
    parameters and loads rows as psycopg's cursors do (text results, psycopg's types for the
    parameters: a statement is prepared with the types of its first execution, as psycopg does).
    Used by one thread at a time, as its connection is; a connection the pool replaces has a new
    one."""

    def __init__(self, driver: Any) -> None:
        from psycopg.adapt import PyFormat, Transformer

        self._pgconn = driver.pgconn
        self._encoding = driver.info.encoding
        self._tx = Transformer(driver)
        self._auto = PyFormat.AUTO
        self._sql: dict[str, tuple[bytes, tuple[str, ...] | None]] = {}
        self.names: dict[tuple[str, tuple[int, ...]], tuple[bytes, list[str]]] = {}
        self._count = 0  # names are never reused on a connection
        self._simple: dict[str, bytes] = {}  # simple query strings as sent (BEGIN/COMMIT; EXECUTE iamd_<n>)
        self.room = True
        self.suspect = False  # rolled back since: psycopg may have deallocated every prepared statement
        self.trips = 0  # round trips to the server through this object (bench.server.write_cpu, tests)

    def run(self, sql: str, bound: Any) -> _Result:
        converted = self._sql.get(sql)
        if converted is None:
            converted = self._sql[sql] = _to_pg(sql)
        pgsql, order = converted
        params, formats, key = self._bind(sql, order, bound)
        found = self.names.get(key)
        if found is None:
            found = self._prepare(key, pgsql, key[1])
        self.trips += 1
        result = self._pgconn.exec_prepared(found[0], params, param_formats=formats)
        status = result.status
        if status == _TUPLES_OK:
            return self.rows_of(result, found[1])
        if status != _COMMAND_OK:
            self._raise(result)
        return _NO_ROWS

    def _prepare(
        self, key: tuple[str, tuple[int, ...]], pgsql: bytes, types: tuple[int, ...]
    ) -> tuple[bytes, list[str]]:
        found, result = self._new(key, pgsql, types)
        if found is None:
            self._raise(result)
        return found

    def _new(
        self, key: tuple[str, tuple[int, ...]], pgsql: bytes, types: tuple[int, ...]
    ) -> tuple[tuple[bytes, list[str]] | None, Any]:
        """``pgsql`` prepared under a new name and kept as ``key``'s; (None, the result) if it failed."""
        name = f"iamd_{self._count}".encode()
        self._count += 1
        self.trips += 1
        result = self._pgconn.prepare(name, pgsql, param_types=types or None)
        if result.status != _COMMAND_OK:
            return None, result
        found: tuple[bytes, list[str]] = (name, [])
        self.names[key] = found
        self.room = len(self.names) < _MAX_PREPARED
        return found, result

    def _rows(self, result: Any) -> list[Any]:
        """The rows of ``result`` (a TUPLES_OK one), loaded as a psycopg cursor loads them."""
        tx = self._tx
        tx.set_pgresult(result)
        return tx.load_rows(0, result.ntuples, tuple) if result.ntuples else []

    def simple(self, sql: str) -> _Result:
        """``sql`` in the simple query protocol (several statements: the last one's result).

        ``BEGIN; <statement>`` and ``COMMIT; <statement>`` (the writers' lock; the commit and its
        flush: one statement without parameters after them) send the statement as ``EXECUTE`` of
        a prepared statement, planned once per connection rather than at every write (about 40
        µs of PostgreSQL's CPU for the lock's). It is prepared only outside a transaction (a
        failed ``Parse`` would abort one): before ``BEGIN; …``, after ``COMMIT; …``."""
        query = self._simple.get(sql)
        tail = None
        if query is None or self.suspect:
            query = sql.encode(self._encoding)
            head, _, rest = sql.partition("; ")
            if head in _HEADS and rest and ";" not in rest and not self.suspect:
                tail = rest
                if self._pgconn.transaction_status == IDLE:
                    query = self._prepare_tail(sql, head, tail) or query
                    tail = None
        self.trips += 1
        result = self._pgconn.exec_(query)
        status = result.status
        if tail is not None and status != _FATAL_ERROR and self._pgconn.transaction_status == IDLE:
            self._prepare_tail(sql, head, tail)
        if status == _TUPLES_OK:
            return _Result(self._rows(result), [result.fname(i).decode(self._encoding) for i in range(result.nfields)])
        if status != _COMMAND_OK and status != _EMPTY_QUERY:
            self._raise(result)
        return _NO_ROWS

    def step(self, sql: str, bound: Any) -> tuple[bytes, Any, Any, list[str]] | None:
        """A pipeline's step (:meth:`pipeline`) running ``sql`` with ``bound`` (``()``: none) as
        iamd's prepared statement, and its column names (filled at its first run); None: not
        prepared on this connection yet (a statement's first run prepares it), or maybe dropped."""
        converted = self._sql.get(sql) if bound else (sql, None)
        if converted is None or self.suspect:
            return None
        params, formats, key = self._bind(sql, converted[1], bound)
        found = self.names.get(key)
        return None if found is None else (found[0], params, formats, found[1])

    def _bind(
        self, sql: str, order: tuple[str, ...] | None, bound: Any
    ) -> tuple[Any, Any, tuple[str, tuple[int, ...]]]:
        """``bound`` (in ``order``: names, None positional) as libpq's parameters and their
        formats (None, None: no parameters), and the key ``sql``'s prepared statement is kept
        under (its parameters' types are part of it)."""
        values = bound if order is None else [bound[name] for name in order]
        if not values:
            return None, None, (sql, ())
        tx = self._tx
        params = tx.dump_sequence(values, [self._auto] * len(values))
        return params, tx.formats, (sql, tuple(tx.types or ()))

    def control(self, sql: bytes) -> bytes | tuple[bytes, None, None, list[str]]:
        """A pipeline's ``BEGIN`` or ``COMMIT`` (``sql``): as the step of the statement prepared for
        it on this connection (:meth:`_prepare_tail`), else ``sql`` itself (sent unnamed). A
        statement sent unnamed is parsed by the server at every run: about 5 µs of PostgreSQL's
        CPU each, two per write (bench/README.md, "Session 17: PostgreSQL's CPU per write, the
        shared flush and the audit indexes")."""
        key = _CONTROL.get(sql)
        found = None if key is None or self.suspect else self.names.get(key)
        return sql if found is None else (found[0], None, None, found[1])

    def pipeline(self, steps: Sequence[bytes | tuple[bytes, Any, Any, list[str]]]) -> list[Any]:
        """``steps`` (a statement without parameters, or a prepared one's :meth:`step`) in one
        round trip, libpq's pipeline mode; their results, then the pipeline's end (a statement
        skipped after a failed one: PIPELINE_ABORTED; a transaction of its own that the end
        commits may add an error)."""
        pg = self._pgconn
        self.trips += 1
        pg.enter_pipeline_mode()
        try:
            for step in steps:
                if isinstance(step, bytes):
                    pg.send_query_params(step, None)
                else:
                    pg.send_query_prepared(step[0], step[1], param_formats=step[2])
            pg.pipeline_sync()
            self._send_all()
            results = self._results()
        finally:
            with suppress(Exception):  # a connection lost on the way: its error is the one raised
                pg.exit_pipeline_mode()
        return results

    def rows_of(self, result: Any, names: list[str]) -> _Result:
        """A prepared statement's TUPLES_OK ``result`` as :meth:`run` gives it."""
        if not names and result.nfields:
            names.extend(result.fname(i).decode(self._encoding) for i in range(result.nfields))
        return _Result(self._rows(result), names)

    def _results(self) -> list[Any]:
        """A pipeline's results to its end (PIPELINE_SYNC), read past the None that ends each
        statement's results; the socket waited on without the GIL (``poll``, in
        :meth:`_ready_result`) only when libpq has not read a whole result yet. One loop, not
        two calls per result: most results are in the buffer already, read with the first
        (bench/README.md, "Session 15: iamd's CPU per write")."""
        pg = self._pgconn
        results = []
        while True:
            result = self._ready_result() if pg.is_busy() else pg.get_result()
            if result is None:  # between results only when the connection is lost
                from psycopg import errors

                raise errors.OperationalError(pg.error_message.decode(self._encoding, "replace").strip())
            results.append(result)
            if result.status == _PIPELINE_SYNC:
                return results
            if pg.is_busy():  # (else the None is there: read below)
                self._ready_result()
            else:
                pg.get_result()

    def _send_all(self) -> None:
        """Send what libpq holds of the pipeline: psycopg's connections are nonblocking, so a
        flush leaves what the socket's buffer did not take (a large statement), and the server
        answers nothing before it has the whole; read what it sends meanwhile, as psycopg's own
        send does."""
        pg = self._pgconn
        if not pg.flush():
            return
        ready = select.poll()
        ready.register(pg.socket, select.POLLIN | select.POLLOUT)
        while pg.flush():
            for _, events in ready.poll():
                if events & select.POLLIN:
                    pg.consume_input()

    def _ready_result(self) -> Any:
        pg = self._pgconn
        if pg.is_busy():
            readable = select.poll()  # not select.select: a server's descriptors may pass FD_SETSIZE
            readable.register(pg.socket, select.POLLIN)
            while pg.is_busy():
                readable.poll()
                pg.consume_input()
        return pg.get_result()

    def _prepare_tail(self, sql: str, head: str, tail: str) -> bytes | None:
        """Outside a transaction: ``tail`` prepared, and ``sql`` as sent from now on (None: it
        could not be prepared, and is sent as it is). ``head`` too, for the pipelines
        (:meth:`control`): every connection sends ``BEGIN; <the lock>`` and ``COMMIT; <the
        flush>`` so before its first pipeline, which needs those two statements prepared."""
        if (head, ()) not in self.names:
            self._new((head, ()), head.encode(self._encoding), ())  # failed: sent unnamed, as before
        key: tuple[str, tuple[int, ...]] = (tail, ())
        found = self.names.get(key)
        if found is None:
            found = self._new(key, tail.encode(self._encoding), ())[0]
            if found is None:
                return None
        query = self._simple[sql] = f"{head}; EXECUTE {found[0].decode()}".encode()
        return query

    def check(self) -> None:
        """Outside a transaction, after a rollback: are iamd's prepared statements still there?
        One of them is looked up (all or none are: only a ``DEALLOCATE ALL`` drops them), in
        ``pg_prepared_statements`` rather than described (a missing one is an error in the
        server's log)."""
        self.suspect = False
        if not self.names:
            return
        name = next(iter(self.names.values()))[0]
        result = self._pgconn.exec_params(_IS_PREPARED, [name])
        if result.status != _TUPLES_OK:
            self.suspect = True
            self._raise(result)
        if result.ntuples == 0:
            self.names.clear()
            self._simple.clear()
            self.room = True

    def _raise(self, result: Any) -> NoReturn:
        raise self.error(result)

    def error(self, result: Any) -> Exception:
        """psycopg's error for a failed ``result``."""
        from psycopg import errors

        if self._pgconn.status == _BAD:  # as psycopg: the connection is lost
            return errors.OperationalError(result.error_message.decode(self._encoding, "replace").strip())
        return errors.error_from_result(result, encoding=self._encoding)


_BAD = 1  # psycopg.pq.ConnStatus.BAD
_PIPELINE_SYNC = 10  # psycopg.pq.ExecStatus
_HEADS = frozenset({"BEGIN", "COMMIT"})
_CONTROL: dict[bytes, tuple[str, tuple[int, ...]]] = {b"BEGIN": ("BEGIN", ()), b"COMMIT": ("COMMIT", ())}  # names' keys
_FATAL_ERROR = 7  # psycopg.pq.ExecStatus
_PREPARED: weakref.WeakKeyDictionary[Any, _Prepared] = weakref.WeakKeyDictionary()


def _prepared(driver: Any) -> _Prepared:
    """The statements iamd prepared on the psycopg connection ``driver`` (none yet at its first use)."""
    prepared = _PREPARED.get(driver)
    if prepared is None:
        prepared = _Prepared(driver)
        with _LOCK:
            _PREPARED[driver] = prepared
    return prepared


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


def first_begun(conn: Connection, lock: str, stmt: ClauseElement, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """PostgreSQL, in autocommit: ``BEGIN``, ``lock`` and ``stmt`` in one round trip
    (:func:`begin_with`): (the lock's row, ``stmt``'s first row or None); None, nothing
    sent: not prepared on this connection yet."""
    _, sql, defaults, row_class = _compiled(stmt, conn)
    sent = begin_with(conn, lock, sql, {**defaults, **params})
    if sent is None:
        return None
    found = sent[1].fetchone()
    return sent[0], (None if found is None else _named(sent[1], row_class)._make(found))


def sql_of(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> tuple[str, Any]:
    """``stmt``'s SQL and its parameters with ``params``, as :func:`execute_sql` takes them."""
    _, sql, defaults, _ = _compiled(stmt, conn)
    return sql, {**defaults, **params}


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
