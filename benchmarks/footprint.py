"""Bytes a completed instance leaves in the database, table by table (issue 14's "all tables").

    python benchmarks/footprint.py [--instances 200]

Runs ``ten_services.bpmn`` to completion on a SQLite file and reads SQLite's ``dbstat`` view:
the payload of every table and index (the rows' own bytes, not page slack), minus what the
deployment alone stored, divided by the number of instances.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table
from ten_services import PROCESS, make_registry, variables

from retailflow import Engine

_PAYLOAD = "SELECT name, SUM(payload) FROM dbstat GROUP BY name"


def payload(path: Path) -> dict[str, int]:
    """Payload bytes of each table and index of a SQLite file."""
    with sqlite3.connect(path) as connection:
        return {name: size for name, size in connection.execute(_PAYLOAD)}


def table_bytes(grown: dict[str, int]) -> int:
    """The payload of the tables alone (issue 14's "all tables"), indexes left out."""
    return sum(
        size
        for name, size in grown.items()
        if not name.startswith(("ix_", "ux_", "sqlite_autoindex_"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    n = parser.parse_args().instances
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "footprint.db"
        engine = Engine(f"sqlite:///{path}", handlers=make_registry())
        engine.deploy(PROCESS)
        deployed = payload(path)
        for number in range(n):
            engine.start("ten_services", variables=variables(number))
            engine.run()
        history_rows = len(engine.history(engine.instances()[-1].id))
        engine.close()
        grown = {name: size - deployed.get(name, 0) for name, size in payload(path).items()}

    table = Table(title=f"ten_services.bpmn: bytes per completed instance ({n} instances)")
    table.add_column("table or index")
    table.add_column("bytes / instance", justify="right")
    for name, size in sorted(grown.items(), key=lambda item: -item[1]):
        if size:
            table.add_row(name, f"{size / n:,.0f}")
    tables = table_bytes(grown)
    table.add_row("all tables", f"{tables / n:,.0f}", end_section=True)
    table.add_row("all tables and indexes", f"{sum(grown.values()) / n:,.0f}")
    Console(width=120).print(table)
    print(f"{history_rows} history rows per instance")


if __name__ == "__main__":
    main()
