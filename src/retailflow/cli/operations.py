"""Commands that look into a store: instances, history, incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retailflow.cli.output import JsonOption, print_rows
from retailflow.engine import Engine

DbOption = Annotated[str, typer.Option(
    "--db", help="A SQLite file (retail.db) or a store URL (sqlite:///retail.db, "
                 "postgresql+psycopg://user@host/db).")]


def instances(db: DbOption, output_json: JsonOption = False) -> None:
    """List the instances in a store."""
    with Engine(store_url(db)) as engine:
        rows = [{"id": i.id, "process": i.definition_id, "business_key": i.business_key,
                 "status": str(i.status), "started_at": i.started_at.isoformat()}
                for i in engine.instances()]
    print_rows(rows, output_json, "Instances")


def history(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """Print the history of one instance."""
    with Engine(store_url(db)) as engine:
        rows = [{"at": e.at.isoformat(), "kind": str(e.kind), "element": e.element_id or "",
                 "attempt": e.attempt or ""} for e in engine.history(instance)]
    print_rows(rows, output_json, f"History of {instance}")


def incidents(db: DbOption, output_json: JsonOption = False) -> None:
    """List open incidents."""
    with Engine(store_url(db)) as engine:
        rows = [{"id": i.id, "instance": i.instance_id, "element": i.element_id,
                 "message": i.message} for i in engine.incidents()]
    print_rows(rows, output_json, "Incidents")


def store_url(db: str) -> str:
    """A plain path means a SQLite file, which must exist: reading a store never creates one."""
    if "://" not in db:
        db = f"sqlite:///{db}"
    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        raise typer.BadParameter(f"no SQLite file at {db.removeprefix('sqlite:///')}",
                                 param_hint="--db")
    return db
