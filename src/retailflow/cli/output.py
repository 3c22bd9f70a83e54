"""Shared console output for the commands: one console, tables or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from retailflow.model.printable import printable

console = Console()

_WORD = 10
"""The narrowest a wrapped column of ``print_rows`` gets, so a date or a short name stays whole."""

_CUT = 10
"""How much of a cut column (a long id) ``print_rows`` shows at 80 columns; a wider terminal
shows more of it."""

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def print_json(value: Any) -> None:
    """JSON for scripts, on stdout, whatever the terminal."""
    print(json.dumps(value, indent=2, default=str))


def print_rows(
    rows: list[dict[str, Any]],
    output_json: bool,
    title: str,
    whole: Collection[str] = (),
    cut: Collection[str] = (),
) -> None:
    """Rows as a rich table for people, or as a JSON list for scripts. The ``whole`` columns
    (ids to copy, short states) are never wrapped; the ``cut`` ones (ids too long to keep
    whole at 80 columns) stay on one line and end in "…" where the terminal is too narrow;
    the others share what width is left."""
    if output_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{title}: none")
        return
    if not whole and not cut:
        table = Table(title=title)
        for column in rows[0]:
            # Long ids wrap rather than end in "...", so they can be copied from a narrow
            # terminal.
            table.add_column(column, overflow="fold")
    else:
        table = Table(
            title=title, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False
        )
        for column in rows[0]:
            texts = [cell(row[column]).plain for row in rows]
            if column in whole:
                table.add_column(column, no_wrap=True, min_width=max(len(column), *map(len, texts)))
            elif column in cut:  # half of what a terminal has beyond 80 columns goes to them
                table.add_column(
                    column,
                    no_wrap=True,
                    overflow="ellipsis",
                    min_width=min(_CUT, max(len(column), *map(len, texts))),
                    max_width=_CUT + max(0, console.width - 80) // (2 * len(cut)),
                )
            else:  # wrapped at spaces where it can, a word of up to 10 characters kept whole
                table.add_column(
                    column,
                    overflow="fold",
                    min_width=min(
                        _WORD,
                        max(len(word) for text in [column, *texts] for word in [*text.split(), ""]),
                    ),
                )
    for row in rows:
        table.add_row(*(cell(value) for value in row.values()))
    console.print(table)


def cell(value: Any) -> Text:
    """A value as a table shows it: plain text (a business key "[red]" is no markup) with
    control characters escaped (a name cannot move the terminal's cursor)."""
    return Text("" if value is None else printable(str(value)))
