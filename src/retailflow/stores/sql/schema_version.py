"""Bringing a database's schema to the version this retailflow expects, with Alembic.

A store opened on an empty database creates the tables from ``schema.metadata`` and stamps
them with the newest revision (Alembic's recipe: quicker than replaying every migration, and
the tests check both paths give the same schema). A database at an older revision is migrated.
A database at a revision this code does not know (a newer retailflow wrote it) is refused
rather than guessed at.

The revision is kept in ``VERSION_TABLE``, retailflow's own, so that an application's Alembic
and retailflow's never read or overwrite each other's revision in a shared database. Two kinds
of database written by earlier retailflows are recognised first:

- up to revision 0003, retailflow kept its revision in Alembic's default ``alembic_version``:
  its row (a revision retailflow knows, beside retailflow's tables) moves to ``VERSION_TABLE``,
  and the table is dropped only if that leaves it empty. Any other row is the application's
  and stays where it is;
- retailflow 0.1 created its tables before migrations existed: they are revision 0001.

Tables named like retailflow's but without its version are an application's: the store refuses
to adopt them instead of writing instances into someone else's ``instances``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, column, delete, inspect, select, table

from retailflow.model import RetailflowError
from retailflow.stores.sql.schema import VERSION_TABLE, metadata

_MIGRATIONS = Path(__file__).with_name("migrations")
_PRE_MIGRATION_REVISION = "0001"
_LEGACY_VERSIONS = table("alembic_version", column("version_num"))
# What retailflow 0.1 created: present together, they are retailflow's, not an application's.
_PRE_MIGRATION_TABLES = frozenset(
    {
        "buffered_messages",
        "definitions",
        "history",
        "incidents",
        "instances",
        "jobs",
        "resources",
        "subscriptions",
        "user_task_groups",
        "user_tasks",
    }
)


def head_revision() -> str:
    """The revision this code's ``schema.metadata`` describes."""
    head = _scripts().get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    """The database's revision, wherever an earlier retailflow recorded it; ``None`` for a
    database without retailflow's tables."""
    revision = _versioned_revision(conn)
    if revision is None:
        revision = _legacy_revision(conn)
    if revision is None and _holds_pre_migration_tables(conn):
        return _PRE_MIGRATION_REVISION
    return revision


def bring_up_to_date(conn: Connection) -> None:
    """Create or migrate retailflow's tables on ``conn``, inside the caller's transaction."""
    revision = _versioned_revision(conn)
    if revision is None:
        revision = _legacy_revision(conn)
        if revision is not None:
            _move_legacy_version(conn, revision)
        elif _holds_pre_migration_tables(conn):
            revision = _PRE_MIGRATION_REVISION
            command.stamp(_config(conn), revision)
        else:
            _refuse_foreign_tables(conn)
            metadata.create_all(conn)
            command.stamp(_config(conn), "head")
            return
    if revision == head_revision():
        return
    if revision not in _known_revisions():
        raise RetailflowError(
            f"the database's schema is at revision {revision}, which this retailflow does not "
            f"know (it knows up to {head_revision()}): a newer retailflow migrated it; "
            "upgrade retailflow"
        )
    command.upgrade(_config(conn), "head")


def _versioned_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()


def _legacy_revision(conn: Connection) -> str | None:
    """Retailflow's row in ``alembic_version``, where retailflow kept it up to revision 0003:
    a revision retailflow knows, in a database that holds retailflow's tables."""
    if not inspect(conn).has_table(_LEGACY_VERSIONS.name):
        return None
    stored: set[str] = set(conn.scalars(select(_LEGACY_VERSIONS.c.version_num)))
    ours = stored & _known_revisions()
    if len(ours) != 1 or not _holds_pre_migration_tables(conn):
        return None
    return ours.pop()


def _move_legacy_version(conn: Connection, revision: str) -> None:
    command.stamp(_config(conn), revision)
    conn.execute(delete(_LEGACY_VERSIONS).where(_LEGACY_VERSIONS.c.version_num == revision))
    if conn.scalar(select(_LEGACY_VERSIONS.c.version_num).limit(1)) is None:
        conn.exec_driver_sql(f"DROP TABLE {_LEGACY_VERSIONS.name}")


def _holds_pre_migration_tables(conn: Connection) -> bool:
    return set(inspect(conn).get_table_names()) >= _PRE_MIGRATION_TABLES


def _refuse_foreign_tables(conn: Connection) -> None:
    taken = sorted(set(metadata.tables) & set(inspect(conn).get_table_names()))
    if taken:
        raise RetailflowError(
            f"the database already has tables named like retailflow's ({', '.join(taken)}) "
            "that retailflow did not create: they are not adopted. Give retailflow a place of "
            "its own: a PostgreSQL schema (add ?schema=retailflow to the URL) or, on SQLite, "
            "a database file of its own"
        )


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


@cache
def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(config)
