"""The PostgreSQL schema a store's tables live in: ``...?schema=retailflow`` in the URL.

An application that shares its database with retailflow keeps its own tables (an ``instances``
of its own, its ``alembic_version``) in its schema, and retailflow's live in another; two
retailflow deployments (staging and a demo) can share one database the same way. Camunda calls
this ``databaseSchema``.

Every connection of the store sets ``search_path`` to that schema alone, so that every
statement retailflow sends finds retailflow's tables there and never an application's
same-named ones: the store's queries, Alembic's migrations (whose ``ALTER`` statements name
tables bare, out of reach of SQLAlchemy's ``schema_translate_map``) and the version table alike.
``schema.metadata`` stays the one, schema-less, definition of each table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, Connection, Engine, event
from sqlalchemy.schema import CreateSchema

from retailflow.model import RetailflowError

_OPTION = "schema"


def split_schema(url: URL) -> tuple[URL, str | None]:
    """The URL the driver is given (without the option, which is not a connection parameter)
    and the schema it names, if any."""
    schema = url.query.get(_OPTION)
    if schema is None:
        return url, None
    if url.get_backend_name() != "postgresql":
        raise RetailflowError(
            f"?{_OPTION}= is a PostgreSQL option; {url.get_backend_name()} has no schemas: give "
            "retailflow a database file of its own (sqlite:///retailflow.db) beside the "
            "application's"
        )
    if not isinstance(schema, str) or not schema:
        raise RetailflowError(f"?{_OPTION}= takes one schema name, got {schema!r}")
    return url.difference_update_query([_OPTION]), schema


def search_only(engine: Engine, schema: str) -> None:
    """Make ``schema`` the only one the engine's connections search, from their first statement
    (before SQLAlchemy asks the server for its default schema)."""
    quoted = engine.dialect.identifier_preparer.quote_identifier(schema)

    @event.listens_for(engine, "connect", insert=True)
    def set_search_path(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT set_config('search_path', %s, false)", (quoted,))
        cursor.close()
        dbapi_connection.commit()  # a session setting: it outlives the transaction it ran in


def create_schema(conn: Connection, schema: str) -> None:
    """Create the schema if it is missing (under the store's migration lock)."""
    conn.execute(CreateSchema(schema, if_not_exists=True))
