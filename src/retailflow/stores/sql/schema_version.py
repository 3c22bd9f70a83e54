"""Bringing a database's schema to the version this retailflow expects, with Alembic.

A store opened on an empty database creates the tables from ``schema.metadata`` and stamps
them with the newest revision (Alembic's recipe: quicker than replaying every migration, and
the tests check both paths give the same schema). A database at an older revision is migrated;
one that retailflow 0.1 created before migrations existed (tables, no ``alembic_version``) is
recognised as revision 0001 first. A database at a revision this code does not know (a newer
retailflow wrote it) is refused rather than guessed at.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from retailflow.model import RetailflowError
from retailflow.stores.sql.schema import metadata

_MIGRATIONS = Path(__file__).with_name("migrations")
_PRE_MIGRATION_REVISION = "0001"


def head_revision() -> str:
    """The revision this code's ``schema.metadata`` describes."""
    head = _scripts().get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    """The database's revision; ``None`` for a database without retailflow's tables."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and inspect(conn).has_table("instances"):
        return _PRE_MIGRATION_REVISION
    return revision


def bring_up_to_date(conn: Connection) -> None:
    """Create or migrate retailflow's tables on ``conn``, inside the caller's transaction."""
    revision = current_revision(conn)
    if revision == head_revision():
        return
    if revision is None:
        metadata.create_all(conn)
        command.stamp(_config(conn), "head")
        return
    if revision not in {script.revision for script in _scripts().walk_revisions()}:
        raise RetailflowError(
            f"the database's schema is at revision {revision}, which this retailflow does not "
            f"know (it knows up to {head_revision()}): a newer retailflow migrated it; "
            "upgrade retailflow"
        )
    if MigrationContext.configure(conn).get_current_revision() is None:
        command.stamp(_config(conn), _PRE_MIGRATION_REVISION)
    command.upgrade(_config(conn), "head")


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@cache
def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(config)
