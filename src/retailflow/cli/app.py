"""The ``retailflow`` command: one typer app; each command lives in its own module.

Exit codes: 0 clean, 1 findings (or a failed command), 2 usage or internal error.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from retailflow.cli import operations
from retailflow.cli.cockpit import cockpit, token
from retailflow.cli.database import database
from retailflow.cli.export import export
from retailflow.cli.output import console
from retailflow.cli.templates import templates
from retailflow.cli.validate import validate
from retailflow.cli.worker import worker
from retailflow.model import RetailflowError

app = typer.Typer(
    help="retailflow: BPMN processes for new-retail operations.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _print_version(requested: bool) -> None:
    if requested:
        console.print(f"retailflow {version('retailflow')}", highlight=False)
        raise typer.Exit()


@app.callback()
def options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed retailflow's version and exit.",
        ),
    ] = False,
) -> None:
    """retailflow: BPMN processes for new-retail operations."""


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="How many days of business to simulate.")] = 14,
    orders_per_day: Annotated[int, typer.Option(help="Orders placed per day, on average.")] = 30,
    db: Annotated[
        Path,
        typer.Option(
            help="SQLite file for the engine's store (replaced if "
            "present); the back office goes beside it."
        ),
    ] = Path("retailflow-demo.db"),
    seed: Annotated[int, typer.Option(help="Random seed, for a repeatable run.")] = 7,
    open_cockpit: Annotated[
        bool,
        typer.Option(
            "--cockpit",
            help="Then serve the demo's store in the cockpit (with an operator token printed) "
            "until Ctrl-C.",
        ),
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The cockpit's port.")] = 8080,
) -> None:
    """Simulate a fortnight of new-retail business on a fresh SQLite file: every shipped
    process runs, then the KPI report of the analysis flow is printed."""
    from retailflow.cli.demo import run_demo
    from retailflow.retail.simulation import SimulationSettings

    run_demo(
        settings=SimulationSettings(days=days, orders_per_day=orders_per_day, seed=seed),
        db=db,
        console=console,
    )
    if open_cockpit:
        from retailflow.cli.demo import demo_token

        console.print(
            f"Cockpit token (operator 'demo'): {demo_token(db)}\n"
            f"Open http://127.0.0.1:{port}/ and log in with it."
        )
        cockpit(db=str(db), host="127.0.0.1", port=port)


app.command()(validate)
app.command()(worker)
app.command()(templates)
app.command()(export)
for command in (
    operations.instances,
    operations.show,
    operations.jobs,
    operations.incidents,
    operations.retry,
    operations.cancel,
    operations.history,
):
    app.command()(command)
app.add_typer(database, name="db")
app.command()(cockpit)
app.add_typer(token, name="token")


def main() -> None:
    """Console-script entry point. Usage errors exit 2 (typer's own handling); a retailflow
    error (an unknown instance, an unreadable store) prints its message and exits 2 too,
    since findings are what exit 1 means."""
    try:
        app()
    except RetailflowError as error:
        console.print(f"[red]{escape(str(error))}[/red]", soft_wrap=True)
        sys.exit(2)
