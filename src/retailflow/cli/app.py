"""The ``retailflow`` command: validate files, run the demo, and look into a store.

Exit codes: 0 clean, 1 findings (or a failed command), 2 usage or internal error.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from retailflow.engine import Engine
from retailflow.model import DeploymentError, RetailflowError, Severity

app = typer.Typer(help="retailflow: BPMN processes for new-retail operations.",
                  no_args_is_help=True, add_completion=False)
console = Console()

DbOption = Annotated[str, typer.Option(
    "--db", help="A SQLite file (retail.db) or a store URL (sqlite:///retail.db, "
                 "postgresql+psycopg://user@host/db).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="How many orders to simulate.")] = 200,
    db: Annotated[Path, typer.Option(help="SQLite file to create (replaced if present).")] = Path(
        "retailflow-demo.db"),
    seed: Annotated[int, typer.Option(help="Random seed, for a repeatable run.")] = 7,
) -> None:
    """Run the new-retail demo on a fresh SQLite file and print what happened."""
    from retailflow.cli.demo import run_demo

    run_demo(orders=orders, db=db, seed=seed, console=console)


@app.command()
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files, directories or globs.")] = None,
    output_json: JsonOption = False,
) -> None:
    """Check process files the way a deployment does; exit 1 if any error is found."""
    targets = [str(path) for path in paths or [Path("processes")]]
    findings = []
    with Engine() as engine:
        try:
            deployment = engine.deploy(*targets, require_handlers=False)
            findings = deployment.warnings
        except DeploymentError as error:
            findings = error.findings
    if output_json:
        print(json.dumps([{**asdict(f), "severity": str(f.severity)} for f in findings], indent=2))
    else:
        for finding in findings:
            style = "red" if finding.severity == Severity.ERROR else "yellow"
            console.print(f"[{style}]{escape(str(finding))}[/{style}]", highlight=False,
                          soft_wrap=True)
        if not findings:
            console.print(f"[green]{', '.join(targets)}: no findings[/green]")
    if any(f.severity == Severity.ERROR for f in findings):
        raise typer.Exit(1)


@app.command()
def instances(db: DbOption, output_json: JsonOption = False) -> None:
    """List the instances in a store."""
    with Engine(_store_url(db)) as engine:
        rows = [{"id": i.id, "process": i.definition_id, "business_key": i.business_key,
                 "status": str(i.status), "started_at": i.started_at.isoformat()}
                for i in engine.instances()]
    _print_rows(rows, output_json, "Instances")


@app.command()
def history(instance: str, db: DbOption, output_json: JsonOption = False) -> None:
    """Print the history of one instance."""
    with Engine(_store_url(db)) as engine:
        rows = [{"at": e.at.isoformat(), "kind": str(e.kind), "element": e.element_id or "",
                 "attempt": e.attempt or ""} for e in engine.history(instance)]
    _print_rows(rows, output_json, f"History of {instance}")


@app.command()
def incidents(db: DbOption, output_json: JsonOption = False) -> None:
    """List open incidents."""
    with Engine(_store_url(db)) as engine:
        rows = [{"id": i.id, "instance": i.instance_id, "element": i.element_id,
                 "message": i.message} for i in engine.incidents()]
    _print_rows(rows, output_json, "Incidents")


def _store_url(db: str) -> str:
    """A plain path means a SQLite file, which must exist: reading a store never creates one."""
    if "://" not in db:
        db = f"sqlite:///{db}"
    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        raise typer.BadParameter(f"no SQLite file at {db.removeprefix('sqlite:///')}",
                                 param_hint="--db")
    return db


def _print_rows(rows: list[dict[str, Any]], output_json: bool, title: str) -> None:
    if output_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=title)
    for column in rows[0] if rows else ["(none)"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    console.print(table)


def main() -> None:
    """Console-script entry point. Usage errors exit 2 (typer's own handling); a retailflow
    error (an unknown instance, an unreadable store) prints its message and exits 2 too,
    since findings are what exit 1 means."""
    try:
        app()
    except RetailflowError as error:
        console.print(f"[red]{escape(str(error))}[/red]", soft_wrap=True)
        sys.exit(2)
