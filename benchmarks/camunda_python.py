"""camunda-python 0.1.2 on the benchmarks' workload, for issue 14's ">= 2x camunda-python" target.

camunda-python needs Python >= 3.12 and is no dependency of retailflow, so this script runs in
its own interpreter, made once:

    ~/.pyenv/versions/3.12.1/bin/python3.12 -m venv /tmp/cp312
    /tmp/cp312/bin/pip install camunda-python==0.1.2
    /tmp/cp312/bin/python benchmarks/camunda_python.py [--instances 500] [--rounds 5]

It prints JSON: per run, ms/instance, instances/s, bytes/instance (what the SQLite file grows by
per completed instance) and the SQLite ``journal_mode`` and ``synchronous`` it ran at.
``benchmarks/run.py --camunda-python /tmp/cp312/bin/python`` starts it with ``--serve`` instead
and asks it for one round at a time, so that its rounds take turns with retailflow's.

The work is ``ten_services.bpmn`` with the handler and variables of ``workload.py``, one instance
at a time. camunda-python reads Camunda 7 models, so the model is translated, not changed:
each ``zeebe:taskDefinition type="bench.sN"`` becomes ``camunda:delegateExpression="${bench.sN}"``
(the same function registered under the same name), and the gateway's FEEL ``=amount > 100``
becomes the JUEL ``${amount > 100}`` its expression evaluator reads. Its delegates get the
instance's variables and return the dict to merge, as retailflow's handlers do.

What it saves, and when: camunda-python persists at command boundaries. Its service tasks run
inline, so ``start_process_instance_by_key`` runs the instance to its end and saves it once
(the runs "saved once per instance"), like raw SpiffWorkflow in ``run.py``. To make every
service task a committed wait state, as retailflow does, the model marks each one
``camunda:asyncBefore="true"``: each becomes a job that ``execute_due_jobs`` runs and commits
(the run "every service task a committed job").

SQLite: camunda-python opens the file through SQLAlchemy with SQLite's defaults (a rollback
journal, ``synchronous=FULL``); the runs that state WAL set it, and ``synchronous``, on each new
connection, so that they compare with retailflow's runs at the same setting.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from camunda.engine import ProcessEngine
from camunda.parser.bpmn_parser import parse_bpmn_xml
from camunda.persistence.store import Store
from sqlalchemy import event
from workload import PROCESS, PROCESS_ID, TOPICS, handler, variables

CAMUNDA_NS = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def camunda_model(every_task_async: bool) -> str:
    """``ten_services.bpmn`` in Camunda 7's dialect (see the module docstring)."""
    xml = PROCESS.read_text()
    xml = xml.replace("<bpmn:definitions ", f"<bpmn:definitions {CAMUNDA_NS} ", 1)
    xml = xml.replace("=amount &gt; 100", "${amount &gt; 100}")
    asynchronous = ' camunda:asyncBefore="true"' if every_task_async else ""
    xml, count = re.subn(
        r'<bpmn:serviceTask (id="[^"]+" name="[^"]+")><bpmn:extensionElements>'
        r'<zeebe:taskDefinition type="([^"]+)" /></bpmn:extensionElements>',
        rf'<bpmn:serviceTask \1 camunda:delegateExpression="${{\2}}"{asynchronous}>',
        xml,
    )
    assert count == len(TOPICS), count
    return xml


def delegate(instance_variables: dict[str, Any]) -> dict[str, int]:
    return handler(instance_variables["amount"])


@dataclass(frozen=True)
class Run:
    """One way of running camunda-python: in memory, or on SQLite at a journal/sync setting."""

    name: str
    journal_mode: str | None = None  # None: in memory
    synchronous: str | None = None  # None: SQLite's default
    every_task_async: bool = False


RUNS = {
    "memory": Run("camunda-python, in memory"),
    "sqlite-default": Run(
        "camunda-python, SQLite as it opens it (rollback journal, synchronous=FULL), "
        "saved once per instance",
        journal_mode="DELETE",
    ),
    "sqlite-normal": Run(
        "camunda-python, SQLite WAL, synchronous=NORMAL, saved once per instance",
        journal_mode="WAL",
        synchronous="NORMAL",
    ),
    "sqlite-full": Run(
        "camunda-python, SQLite WAL, synchronous=FULL, saved once per instance",
        journal_mode="WAL",
        synchronous="FULL",
    ),
    "sqlite-normal-async": Run(
        "camunda-python, SQLite WAL, synchronous=NORMAL, every service task a committed job "
        "(asyncBefore)",
        journal_mode="WAL",
        synchronous="NORMAL",
        every_task_async=True,
    ),
}


class Runner:
    """Runs ``instances`` instances per round, one at a time, in a fresh engine (and file)."""

    def __init__(self, run: Run, instances: int, path: Callable[[], str]) -> None:
        self.run = run
        self.instances = instances
        self.path = path
        self.model = camunda_model(run.every_task_async)

    def engine(self, path: str | None) -> ProcessEngine:
        store = None
        if path is not None:
            store = Store(f"sqlite:///{path}")
            event.listen(store._engine, "connect", self.set_pragmas)
            store._engine.dispose()  # the connection that created the tables predates them
        engine = ProcessEngine(store=store)
        for topic in TOPICS:
            engine.register_delegate(f"bench.{topic}", delegate)
        engine.deploy(parse_bpmn_xml(self.model, source_name=PROCESS.name))
        return engine

    def set_pragmas(self, connection: sqlite3.Connection, _record: object) -> None:
        connection.execute(f"PRAGMA journal_mode={self.run.journal_mode}")
        if self.run.synchronous is not None:
            connection.execute(f"PRAGMA synchronous={self.run.synchronous}")

    def one_round(self, path: str | None) -> None:
        engine = self.engine(path)
        for number in range(self.instances):
            instance = engine.start_process_instance_by_key(PROCESS_ID, variables(number))
            while not instance.is_completed:
                assert engine.execute_due_jobs() > 0, instance.id
        engine.close()

    def name(self) -> str:
        return self.run.name

    def round(self) -> float:
        """Seconds for one round."""
        path = None if self.run.journal_mode is None else self.path()
        gc.collect()
        started = time.perf_counter()
        self.one_round(path)
        return time.perf_counter() - started

    def bytes_per_instance(self) -> float | None:
        """What the SQLite file grows by per completed instance (its WAL checkpointed at close)."""
        if self.run.journal_mode is None:
            return None
        empty = self.path()
        self.engine(empty).close()
        full = self.path()
        self.one_round(full)
        return (os.path.getsize(full) - os.path.getsize(empty)) / self.instances

    def settings(self) -> dict[str, str] | None:
        """The journal mode and synchronous level SQLite reports on the engine's connection."""
        if self.run.journal_mode is None:
            return None
        engine = self.engine(self.path())
        with engine._store._engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        engine.close()
        return {"journal_mode": str(mode), "synchronous": ["OFF", "NORMAL", "FULL", "EXTRA"][level]}


def describe(runner: Runner, best: float) -> dict[str, Any]:
    return {
        "name": runner.name(),
        "ms_per_instance": best / runner.instances * 1000,
        "instances_per_s": runner.instances / best,
        "bytes_per_instance": runner.bytes_per_instance(),
        "sqlite": runner.settings(),
        "python": sys.version.split()[0],
    }


def serve(runners: dict[str, Runner]) -> None:
    """One command a line on stdin (``round KEY``, ``name KEY`` or ``bytes KEY``), one JSON
    answer a line on stdout: the round's seconds, the run's name, its bytes per instance."""
    for line in sys.stdin:
        command, key = line.split()
        runner = runners[key]
        answers: dict[str, Callable[[], Any]] = {
            "round": runner.round,
            "name": runner.name,
            "bytes": runner.bytes_per_instance,
        }
        print(json.dumps(answers[command]()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", action="store_true", help="take commands on stdin (run.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        numbers: Iterator[int] = iter(range(1_000_000))

        def path() -> str:
            return f"{folder}/camunda-{next(numbers)}.db"

        runners = {key: Runner(run, args.instances, path) for key, run in RUNS.items()}
        if args.serve:
            serve(runners)
            return
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(args.rounds):
            for key, runner in runners.items():
                best[key] = min(best[key], runner.round())
        print(json.dumps({key: describe(r, best[key]) for key, r in runners.items()}, indent=2))


if __name__ == "__main__":
    main()
