"""What one instance costs the database on SQLite: transactions and statements, counted.

    python benchmarks/sql_calls.py [--instances 100] [--together]

The workload of ``run.py`` (``ten_services.bpmn``: ten service tasks and a gateway, eleven wait
states), on a SQLite file with every wait state committed: deploy, then ``start`` + ``run()`` per
instance (``--together``: all started, then one ``run()``, group commit's case). Every statement
SQLite runs is traced (``set_trace_callback`` on each pooled connection), and the counts per
instance are printed: write transactions (``BEGIN``), reads outside one (each its own implicit
transaction), commits, savepoints, statements by verb, and connections checked out of the pool.
Counts do not depend on the machine's speed, so they show what a change to the commit path saves
where timings are too noisy to.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.pool import Pool
from ten_services import PROCESS, PROCESS_ID, make_registry, variables

from retailflow import Engine


class StatementCounter:
    """Counts what the traced connections run, by kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.enabled = False
        self._in_transaction: dict[int, bool] = {}

    def watch(self, connection: sqlite3.Connection) -> None:
        """Trace ``connection`` (again: a pooled connection is checked out many times)."""
        key = id(connection)
        self._in_transaction.setdefault(key, False)
        connection.set_trace_callback(lambda sql: self._seen(key, sql))

    def _seen(self, key: int, sql: str) -> None:
        if not self.enabled:
            return
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb == "BEGIN":
            self._in_transaction[key] = True
            self.counts["write transactions (BEGIN)"] += 1
        elif verb in ("COMMIT", "ROLLBACK"):
            self._in_transaction[key] = False
            self.counts[verb.lower()] += 1
        elif verb in ("SAVEPOINT", "RELEASE"):
            self.counts[verb.lower()] += 1
        else:
            self.counts[f"{verb} statements"] += 1
            self.counts["statements (all but transaction control)"] += 1
            if not self._in_transaction[key]:
                self.counts["reads outside a transaction"] += 1


def count(instances: int, *, together: bool) -> Counter[str]:
    """The statement counts of ``instances`` instances, after a few untraced ones warm up."""
    counter = StatementCounter()
    counter.counts["pool checkouts"] = 0  # shown even when every connection stays checked out

    def checked_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        counter.watch(dbapi_connection)
        if counter.enabled:
            counter.counts["pool checkouts"] += 1

    event.listen(Pool, "checkout", checked_out)
    try:
        with tempfile.TemporaryDirectory() as folder:
            engine = Engine(f"sqlite:///{Path(folder) / 'calls.db'}", handlers=make_registry())
            try:
                engine.deploy(PROCESS)
                for number in range(5):
                    engine.start(PROCESS_ID, variables=variables(number))
                    engine.run()
                counter.enabled = True
                for number in range(instances):
                    engine.start(PROCESS_ID, variables=variables(number))
                    if not together:
                        engine.run()
                if together:
                    engine.run()
                counter.enabled = False
                finished = engine.instances(status="completed")
                assert len(finished) == instances + 5, len(finished)
            finally:
                engine.close()
    finally:
        event.remove(Pool, "checkout", checked_out)
    return counter.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument(
        "--together", action="store_true", help="start them all, then one run() (group commit)"
    )
    args = parser.parse_args()
    counts = count(args.instances, together=args.together)
    mode = "all started, then one run()" if args.together else "start + run() per instance"
    table = Table(title=f"SQLite calls per instance, {mode} ({args.instances} instances)")
    table.add_column("what")
    table.add_column("per instance", justify="right")
    for what, total in sorted(counts.items()):
        table.add_row(what, f"{total / args.instances:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
