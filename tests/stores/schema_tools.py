"""Alembic as an operator runs it on retailflow's schema, and the revision it records: for the
tests of schema migrations and of shared databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine

import retailflow.stores.sql.schema_version as schema_version
from retailflow.stores.sql.schema import VERSION_TABLE

MIGRATIONS = Path(schema_version.__file__).with_name("migrations")


def alembic(url: str, action: str, revision: str) -> None:
    """Run an Alembic command the way an operator would, on its own connection."""
    engine = create_engine(url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)
    engine.dispose()


def versions(conn: Connection) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        revision = versions(conn).get_current_revision()
    engine.dispose()
    return revision
