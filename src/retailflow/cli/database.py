"""``retailflow db``: the store's schema, for operators who migrate before deploying."""

from __future__ import annotations

import typer

from retailflow.cli.operations import DbOption, store_url
from retailflow.cli.output import JsonOption, print_rows
from retailflow.stores import SqlStore, database_url
from retailflow.stores.sql.schema_version import head_revision

database = typer.Typer(help="The store's schema: status and upgrade.", no_args_is_help=True)


@database.command()
def status(db: DbOption, output_json: JsonOption = False) -> None:
    """The schema revision of the database, and the one this retailflow needs; exit 1 if
    they differ."""
    revision = SqlStore.schema_revision(store_url(db))
    head = head_revision()
    print_rows(
        [{"database": revision or "(empty)", "needed": head, "current": revision == head}],
        output_json,
        "Schema",
        whole=("database", "needed", "current"),
    )
    if revision != head:
        raise typer.Exit(1)


@database.command()
def upgrade(db: DbOption) -> None:
    """Create or migrate the schema to this retailflow's revision (safe to run while workers
    of the same version run: migrations take a lock)."""
    SqlStore(database_url(db)).close()  # upgrading may create the SQLite file
    typer.echo(f"schema at revision {head_revision()}")
