"""Worker liveness on PostgreSQL: a claim of a dead process is free at once, not at its lease.

Every owner that claims jobs (a worker thread, an embedded ``Engine.run()``) holds a shared
session advisory lock on its name, on a connection of its own that lives as long as the store.
A process that dies, even by ``kill -9``, closes its connection and the server drops the lock
with it; ``CLAIMABLE_FROM_THE_DEAD`` lets a claimer take over the unexpired claims of an owner
whose lock nobody holds. The lease stays the backstop: it frees claims whatever liveness says
(a frozen process, a network that keeps a half-open connection alive).

Shared locks, so that two owners whose names hash alike both hold theirs; a claimer's exclusive
try-lock fails while any holder lives, and then waits for the lease: a collision only costs the
speed-up, never a double run.
"""

from __future__ import annotations

import logging
import selectors
import threading
from typing import Any

from sqlalchemy import Connection, Engine, func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from retailflow.model import StoreUnavailableError
from retailflow.stores.sql.schema import jobs

logger = logging.getLogger(__name__)

# The first key of the two-key advisory locks that say "this owner is alive".
_LIVENESS_CLASS = 0x6C76
_HOLD = text("SELECT pg_advisory_lock_shared(:b_class, hashtext(:b_owner))")

CLAIMABLE_FROM_THE_DEAD: ColumnElement[Any] = func.pg_try_advisory_xact_lock(
    _LIVENESS_CLASS, func.hashtext(jobs.c.lock_owner)
)
"""True for a claimed job whose owner holds no liveness lock: its process is gone. The
claimer's transaction keeps the lock it took until it commits, so no one else takes over the
same owner's jobs in the meantime."""


class Liveness:
    """The liveness locks of the owners that claimed through one store, on one connection.

    ``hold`` is called before each claim and each commit that claims: it costs no round trip
    unless the connection was lost (the server sends a last message or closes the socket), in
    which case a new one takes every lock again.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._owners: set[str] = set()
        self._connection: Connection | None = None
        # Watches the connection's socket, registered once per connection: the check before
        # each claim and commit is then one non-blocking poll, not a selector built and torn
        # down (four system calls) every time.
        self._watch: selectors.BaseSelector | None = None
        self._lock = threading.Lock()

    def hold(self, owner: str) -> None:
        """Make sure ``owner``'s liveness lock is held; ``StoreUnavailableError`` if the
        database cannot be reached to take it."""
        with self._lock:
            if self._connection is not None and self._lost(self._connection):
                logger.warning("liveness connection lost; taking the liveness locks again")
                self._drop()
            if self._connection is None:
                self._connection = self._connect()
                driver_error = self._connection.dialect.loaded_dbapi.Error
                try:
                    self._watch = _watch(self._connection)
                except (OSError, ValueError, driver_error) as error:
                    # The socket closed as it was being watched: psycopg says "the connection
                    # is lost", a closed descriptor is -1 (ValueError) or gone (OSError).
                    self._drop()
                    raise StoreUnavailableError(f"liveness connection lost: {error}") from error
            if owner in self._owners:
                return
            self._owners.add(owner)
            try:
                self._connection.execute(_HOLD, {"b_class": _LIVENESS_CLASS, "b_owner": owner})
            except SQLAlchemyError as error:
                self._drop()
                raise StoreUnavailableError(
                    f"could not take the liveness lock of {owner}: {error}"
                ) from error

    def close(self) -> None:
        """Release every lock: the owners' claims wait for their leases from now on."""
        with self._lock:
            self._drop()

    def _connect(self) -> Connection:
        """A connection outside the pool (it never goes back), in autocommit mode so that it
        never idles inside a transaction; with every known owner's lock taken again."""
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            connection.detach()
            for owner in sorted(self._owners):
                connection.execute(_HOLD, {"b_class": _LIVENESS_CLASS, "b_owner": owner})
        except SQLAlchemyError as error:
            raise StoreUnavailableError(
                f"could not open the liveness connection: {error}"
            ) from error
        return connection

    def _lost(self, connection: Connection) -> bool:
        """Whether the idle connection has anything to read: a server that terminates a
        backend sends an error and closes the socket, and nothing else arrives unasked."""
        driver = _driver(connection)
        if driver is None or getattr(driver, "closed", False) or self._watch is None:
            return True
        return bool(self._watch.select(timeout=0))

    def _drop(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._connection is not None:
            try:
                self._connection.close()
            except SQLAlchemyError:  # already broken: nothing left to release
                logger.debug("closing the liveness connection failed", exc_info=True)
            self._connection = None


def _driver(connection: Connection) -> Any:
    """The DB-API connection (for psycopg, the driver's own) that a detached connection keeps."""
    return connection.connection.dbapi_connection


def _watch(connection: Connection) -> selectors.BaseSelector:
    """A selector that says when the connection's socket has something to read. A selector,
    not select(): a busy process may number its sockets past FD_SETSIZE."""
    selector = selectors.DefaultSelector()
    try:
        selector.register(_driver(connection).fileno(), selectors.EVENT_READ)
    except BaseException:
        selector.close()
        raise
    return selector
