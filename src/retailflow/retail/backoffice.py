"""Backoffice: the retail handlers' database, and the one way they change it exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from retailflow.engine.clock import Clock, SystemClock
from retailflow.retail.records import AppliedEffect, Record

Effect = Callable[[Session], dict[str, Any] | None]


class Backoffice:
    """The shop's systems of record (stock, orders, CRM, tickets, purchasing) in one database.

    ``url`` is any SQLAlchemy URL; ``sqlite://`` (the default) keeps it in memory, shared by
    every thread. ``clock`` is the engine's, so a simulated fortnight stamps simulated times.
    The tables are created on first use.
    """

    def __init__(self, url: str = "sqlite://", *, clock: Clock | None = None) -> None:
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        self.clock = clock or SystemClock()
        self._engine = create_engine(
            url,
            poolclass=StaticPool if in_memory else None,
            connect_args={"check_same_thread": False} if url.startswith("sqlite") else {},
        )
        if url.startswith("sqlite"):
            event.listen(
                self._engine, "connect", _sqlite_pragmas if in_memory else _sqlite_file_pragmas
            )
        Record.metadata.create_all(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def once(self, key: str, effect: Effect) -> dict[str, Any]:
        """Run ``effect`` and record its result under ``key``, in one transaction; a second call
        with the same key returns the recorded result and changes nothing.

        Handlers run at least once, so every handler that changes the back office goes through
        here with its ``HandlerContext.idempotency_key``. An effect that raises (a ``BpmnError``
        too) changes nothing and records nothing, so a retry starts afresh.
        """
        try:
            with self.session() as session:
                done = session.get(AppliedEffect, key)
                if done is not None:
                    return dict(done.result)
                result = effect(session) or {}
                session.add(AppliedEffect(key=key, result=result))
        except IntegrityError:
            # Another worker applied the same key between our read and our commit.
            with self.session() as session:
                done = session.get(AppliedEffect, key)
                if done is None:
                    raise
                return dict(done.result)
        return result

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()


def _sqlite_file_pragmas(connection: Any, record: object) -> None:
    """A file as the engine's store keeps one: write-ahead log, no fsync per commit."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    _sqlite_pragmas(connection, record)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
