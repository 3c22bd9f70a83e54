"""Shared console output for the commands: one console, tables or JSON for scripts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from retailflow.model.printable import printable

console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def print_json(value: Any) -> None:
    """JSON for scripts, on stdout, whatever the terminal."""
    print(json.dumps(value, indent=2, default=str))


def print_rows(rows: list[dict[str, Any]], output_json: bool, title: str) -> None:
    """Rows as a rich table for people, or as a JSON list for scripts."""
    if output_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{title}: none")
        return
    table = Table(title=title)
    for column in rows[0]:
        # Long ids wrap rather than end in "...", so they can be copied from a narrow terminal.
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(value) for value in row.values()))
    console.print(table)


def cell(value: Any) -> Text:
    """A value as a table shows it: plain text (a business key "[red]" is no markup) with
    control characters escaped (a name cannot move the terminal's cursor)."""
    return Text("" if value is None else printable(str(value)))
