"""The SQLAlchemy store: SQLite embedded, PostgreSQL for many workers."""

from __future__ import annotations

from retailflow.stores.sql.store import SqlStore

__all__ = ["SqlStore"]
