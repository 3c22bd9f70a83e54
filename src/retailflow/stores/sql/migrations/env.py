"""Alembic's entry point for retailflow's schema: always run on a connection the store opened
(``schema_version.upgrade``), never from an ``alembic.ini``, so the URL has one source."""

from __future__ import annotations

from alembic import context

from retailflow.stores.sql.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
# Batch mode lets the same migration alter tables on SQLite, which has no ALTER for most changes.
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
