"""Statements compiled once and run on the driver's cursor: the commit's hot path.

Executing even a prebuilt Core statement costs several times what the driver does with the same
SQL (an execution context, result set-up and parameter processing per call): about 0.5 ms per
checkpoint against 0.08 ms through the DB-API, measured on SQLite. A checkpoint is a handful of
statements per wait state, so the store runs those few on the driver's cursor, inside the
transaction SQLAlchemy opened, with the SQL and the bind processors (dates to UTC, JSON through
the variable codec) that SQLAlchemy compiled for the dialect once. Driver errors are wrapped as
SQLAlchemy wraps them, so the store's error translation reads both alike.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import JSON, Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.types import TypeEngine

from retailflow.stores.errors import require_aware
from retailflow.stores.sql.schema import UtcDateTime


class PreparedStatement:
    """One statement compiled for one dialect (and, for INSERT and an UPDATE without
    ``values()``, one set of column keys), executed straight on a DB-API cursor."""

    def __init__(
        self,
        statement: Executable,
        dialect: Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        compiled = cast(
            SQLCompiler,
            cast(ClauseElement, statement).compile(
                dialect=dialect, column_keys=list(column_keys or ()) or None
            ),
        )
        self.sql = compiled.string
        positional = compiled.positiontup
        self._positional = positional is not None
        names = positional if positional is not None else list(compiled.binds)
        # (name, processor, value used when the parameters do not name it: a literal's)
        self._binds: list[tuple[str, Callable[[Any], Any] | None, Any]] = [
            (
                name,
                bind_processor(compiled.binds[name].type, dialect),
                compiled.binds[name].effective_value,
            )
            for name in names
        ]
        self._names = tuple(name for name, _, _ in self._binds)
        # When the parameters name every bind (no literal's default needed), one itemgetter
        # reads them all and only the values that need it are converted: a history row or a
        # job is bound at every step, and a lookup and a test per column add up.
        given = column_keys is not None and set(self._names) <= set(column_keys)
        self._every: Callable[[Mapping[str, Any]], Any] | None = (
            itemgetter(*self._names) if given and len(self._names) > 1 else None
        )
        self._converted = [
            (index, processor)
            for index, (_, processor, _) in enumerate(self._binds)
            if processor is not None
        ]
        # The columns a statement returns (RETURNING, SELECT), converted as SQLAlchemy would.
        entries = cast(Any, compiled)._result_columns
        self._row = namedtuple("Row", [entry.keyname for entry in entries], rename=True)  # type: ignore[misc]
        self._results = [
            entry.type.dialect_impl(dialect).result_processor(dialect, None) for entry in entries
        ]
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error

    def execute(self, cursor: Any, params: Mapping[str, Any]) -> Any:
        """Run with one set of parameters; returns the cursor (rows, ``rowcount``)."""
        bound = self._bind(params)
        try:
            cursor.execute(self.sql, bound)
        except self._dbapi_error as error:
            raise DBAPIError.instance(self.sql, bound, error, self._dbapi_error) from error
        return cursor

    def executemany(self, cursor: Any, many: Sequence[Mapping[str, Any]]) -> None:
        """Run once per set of parameters, in one driver call."""
        bound = [self._bind(params) for params in many]
        try:
            cursor.executemany(self.sql, bound)
        except self._dbapi_error as error:
            raise DBAPIError.instance(self.sql, bound, error, self._dbapi_error) from error

    def rows(self, cursor: Any) -> list[Any]:
        """The rows the last execution on ``cursor`` returned, each value converted to its
        column's Python type (an aware datetime, a decoded JSON value) and named by column."""
        make, results = self._row, self._results
        return [
            make(
                *(
                    value if convert is None else convert(value)
                    for convert, value in zip(results, row, strict=True)
                )
            )
            for row in cursor.fetchall()
        ]

    def _bind(self, params: Mapping[str, Any]) -> Any:
        if self._every is not None:
            values = list(self._every(params))
            for index, processor in self._converted:
                values[index] = processor(values[index])
        else:
            values = [
                params.get(name, default)
                if processor is None
                else processor(params.get(name, default))
                for name, processor, default in self._binds
            ]
        if self._positional:
            return tuple(values)
        return dict(zip(self._names, values, strict=True))


def bind_processor(bind_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy would convert a value of ``bind_type`` with before the driver binds it,
    in fewer calls where every step binds it a dozen times: ``UtcDateTime`` on SQLite in one
    call instead of three (the type's own conversion, then the dialect's formatting), and a
    JSON ``None`` (most history rows' variables) as the text SQLAlchemy makes of it, once."""
    if dialect.name == "sqlite" and isinstance(bind_type, UtcDateTime):
        return sqlite_utc_text
    processor = bind_type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None or not isinstance(bind_type, JSON):
        return processor
    serialize = processor
    none_bound = serialize(None)

    def json_bind(value: Any) -> Any:
        return none_bound if value is None else serialize(value)

    return json_bind


def sqlite_utc_text(value: datetime | None) -> str | None:
    """An aware datetime as ``UtcDateTime`` stores it on SQLite: UTC wall time in SQLAlchemy's
    SQLite format (``YYYY-MM-DD HH:MM:SS.ffffff``); a naive one is refused."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = require_aware(value).astimezone(UTC)
    # Cut before the "+00:00" offset: the date part is always four digits of year.
    return value.isoformat(" ", "microseconds")[:26]


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the DB-API connection under ``conn``, inside its open transaction."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


class DriverConnections:
    """Where the driver's transactions get their DB-API connection: the engine's pool, and
    with ``keep`` (SQLite) up to that many connections kept checked out between transactions,
    since a pool checkout and check-in cost several times what a SQLite transaction does
    (about 17 us against 3, measured) and every step takes one or two transactions. A
    connection whose transaction failed goes back to the pool, which discards it if it was
    invalidated; ``close`` gives the kept ones back."""

    def __init__(self, engine: Engine, *, keep: int = 0) -> None:
        self.engine = engine
        self._keep = keep
        self._idle: list[PoolProxiedConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> PoolProxiedConnection:
        """A connection for one transaction: a kept one if any is idle."""
        if self._idle:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        return self.engine.raw_connection()

    def give_back(self, connection: PoolProxiedConnection, *, reusable: bool) -> None:
        """Keep ``connection`` for the next transaction if it is ``reusable`` (its transaction
        ended cleanly) and there is room; else return it to the pool."""
        if reusable:
            with self._lock:
                if not self._closed and len(self._idle) < self._keep:
                    self._idle.append(connection)
                    return
        connection.close()

    def close(self) -> None:
        """Return the kept connections to the pool; none is kept from now on."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


@contextmanager
def driver_transaction(
    connections: DriverConnections,
    statements: PreparedStatements,
    *,
    begin: Executable | None,
    commit: bool = True,
) -> Iterator[DriverWrites]:
    """One transaction on a DB-API connection, without SQLAlchemy's per-statement
    machinery: ``begin`` is the statement that opens it (SQLite's ``BEGIN IMMEDIATE``;
    ``None`` where the driver opens transactions itself); committed if the block succeeds
    (unless not to ``commit``: a read in SQLite's autocommit mode, which has none to end),
    rolled back otherwise."""
    connection = connections.take()
    ended_cleanly = False
    try:
        try:
            writes = DriverWrites(statements.call(connection.cursor), statements)
            if begin is not None:
                writes.execute(begin, {})
            yield writes
            if commit:
                statements.call(connection.commit)
            ended_cleanly = True
        except BaseException as error:
            _give_up(connections.engine, connection, error)
            raise
    finally:
        connections.give_back(connection, reusable=ended_cleanly)


def _give_up(engine: Engine, connection: PoolProxiedConnection, error: BaseException) -> None:
    """End a transaction that failed with ``error``, as SQLAlchemy's ``Connection`` does for
    its own statements: a connection the database dropped is discarded with every pooled one
    opened before it (all likely dead, as after a restart) and ``error`` marked so, which the
    store reports as the database being unavailable; otherwise the transaction is rolled back.
    A rollback that fails too never hides ``error``: its connection is discarded instead."""
    if (
        isinstance(error, DBAPIError)
        and error.orig is not None
        and engine.dialect.is_disconnect(cast(Any, error.orig), connection.dbapi_connection, None)
    ):
        error.connection_invalidated = True
        engine.pool._invalidate(connection, error.orig)  # as Connection does: no public API
        return
    try:
        connection.rollback()
    except Exception as failed:
        connection.invalidate(failed)


class PreparedStatements:
    """Each statement prepared once per set of parameter names, for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.sqlite = dialect.name == "sqlite"
        self._prepared: dict[tuple[Executable, tuple[str, ...]], PreparedStatement] = {}
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error

    def call(self, operation: Callable[[], Any]) -> Any:
        """A driver call other than a statement (a commit), its errors wrapped alike."""
        try:
            return operation()
        except self._dbapi_error as error:
            raise DBAPIError.instance(None, None, error, self._dbapi_error) from error

    def get(self, statement: Executable, params: Mapping[str, Any]) -> PreparedStatement:
        """The prepared form of ``statement`` for parameters named as ``params`` are."""
        key = (statement, tuple(params))
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = PreparedStatement(statement, self.dialect, key[1])
        return prepared


class DriverWrites:
    """The statements of one transaction, run on the driver's cursor."""

    def __init__(self, cursor: Any, statements: PreparedStatements) -> None:
        self._cursor = cursor
        self._statements = statements
        # Whether the database is SQLite, where BEGIN IMMEDIATE makes a writer the only one.
        self.sqlite = statements.sqlite

    def execute(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """Run one statement; returns the cursor (its rows, its ``rowcount``)."""
        return self._statements.get(statement, params).execute(self._cursor, params)

    def rows(self, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
        """Run one statement; returns its rows, converted (``PreparedStatement.rows``)."""
        prepared = self._statements.get(statement, params)
        return prepared.rows(prepared.execute(self._cursor, params))

    def executemany(self, statement: Executable, many: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement per set of parameters (all named alike), in one driver call."""
        if many:
            self._statements.get(statement, many[0]).executemany(self._cursor, many)
