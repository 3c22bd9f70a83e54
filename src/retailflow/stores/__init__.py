"""Where the engine keeps deployments, instances, jobs and history.

``open_store`` picks the implementation from a URL, so an application switches from the
in-memory store to SQLite or PostgreSQL by configuration alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retailflow.model import RetailflowError
from retailflow.stores.base import Checkpoint, Durability, Store, WaitStateIds
from retailflow.stores.memory import MemoryStore

if TYPE_CHECKING:
    from retailflow.stores.sql import SqlStore

__all__ = [
    "Checkpoint",
    "Durability",
    "MemoryStore",
    "SqlStore",
    "Store",
    "WaitStateIds",
    "database_url",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """``SqlStore`` on first use: SQLAlchemy and Alembic are not loaded by an application that
    keeps its engine in memory (``import retailflow`` stays light)."""
    if name == "SqlStore":
        from retailflow.stores.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def database_url(db: str) -> str:
    """What the command line and ``$RETAILFLOW_DB`` accept: a store URL, or a plain path that
    means a SQLite file."""
    return db if "://" in db else f"sqlite:///{db}"


def open_store(
    url: str | None, *, migrate: bool = True, durability: Durability | None = None
) -> Store:
    """The store for ``url``: ``None`` or ``"memory://"`` keeps everything in memory; any other
    URL is a SQLAlchemy database URL (``sqlite:///retail.db``, ``postgresql+psycopg://...``),
    whose schema is created or migrated on opening unless ``migrate`` is False. ``durability``
    (see ``Durability``) overrides the URL's ``?durability=``."""
    if url is None or url == "memory://":
        if durability is not None:
            raise RetailflowError(
                f"durability={durability!r} needs a database: the in-memory store keeps "
                "nothing past the process; pass a URL such as sqlite:///retail.db"
            )
        return MemoryStore()
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from retailflow.stores.sql import SqlStore

    try:
        make_url(url)
    except ArgumentError as error:
        raise RetailflowError(
            f"store URL {url!r} is not a database URL: use sqlite:///{url} for a SQLite file "
            "or postgresql+psycopg://user@host/db for PostgreSQL (in Python, no URL keeps "
            "everything in memory)"
        ) from error
    return SqlStore(url, migrate=migrate, durability=durability)
