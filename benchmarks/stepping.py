"""retailflow's stepping inside SpiffWorkflow against raw SpiffWorkflow, measured in one run.

    python benchmarks/stepping.py [--instances 300] [--rounds 5] [--json]

Only the seam is measured: ``ProcessRun`` driven as the engine drives it, with no store, no
state dumps and no history rows. Per instance of ``ten_services.bpmn``: ``ProcessRun.start``
with the compiled definition, then, for each job the wait states show, ``job_variables``, the
workload's handler and ``complete_job``, until the instance completes; after the start and
after every completion the per-step reads the engine makes (``wait_states``, the drained
steps, entered wait states, failures and thrown events, ``variables``, ``completed``).
Raw SpiffWorkflow is ``run.py``'s ``RawSpiff``: the same process with every service task
calling the handler inline, in one ``do_engine_steps``.

The runs take turns, round after round, and each keeps its best round; the table prints
stepping's time as a ratio of raw SpiffWorkflow's whole run (issue 14's share for the seam:
at most about 0.3x, so that the whole engine in memory can stay within 0.6x).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from run import RawSpiff, interleaved_best
from workload import PROCESS, PROCESS_ID, handler, variables

from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.engine.spiff import (
    CompiledProcess,
    ProcessRun,
    RetailScriptEngine,
    SourceTree,
    compile_processes,
)
from retailflow.expressions import Dialect, ExpressionEngine

TARGET = 0.3
"""Issue 14's share for the seam: stepping at most this fraction of raw SpiffWorkflow's time."""


def _no_decisions(*_: Any) -> Any:
    raise AssertionError("ten_services.bpmn evaluates no decisions")


class Stepping:
    """``ProcessRun`` alone: one round runs ``instances`` instances to completion."""

    def __init__(self, instances: int) -> None:
        document = read_document(SourceFile.of(PROCESS.name, PROCESS.read_bytes()))
        assert isinstance(document, BpmnDocument)
        tree = SourceTree(document.name, document.root)
        self.compiled: CompiledProcess = compile_processes([tree], [PROCESS_ID])[PROCESS_ID]
        expressions = ExpressionEngine(default_dialect=Dialect.PYTHON)
        self.script_engine = RetailScriptEngine(
            expressions, lambda: datetime.now(UTC), _no_decisions
        )
        self.instances = instances

    def one(self, number: int) -> int:
        """Run one instance to its end; returns how many jobs it completed."""
        run = ProcessRun.start(self.compiled, variables(number), self.script_engine)
        jobs = self._after_step(run)
        completed = 0
        while jobs:
            for job in jobs:
                _, scope, _ = run.job_variables(job)
                run.complete_job(job, handler(scope["amount"]))
                completed += 1
            jobs = self._after_step(run)
        assert run.completed
        return completed

    @staticmethod
    def _after_step(run: ProcessRun) -> list[str]:
        """What the engine reads of a run after each step; the ids of the jobs it waits on."""
        waits = run.wait_states()
        run.drain_steps()
        run.drain_entered()
        run.drain_failures()
        run.drain_thrown()
        run.variables  # noqa: B018 - the engine reads it on every step
        if run.completed:
            return []
        return [job.task_id for job in waits.jobs]

    def round(self) -> None:
        for number in range(self.instances):
            self.one(number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    n = args.instances
    stepping = Stepping(n)
    assert stepping.one(0) == 10, "ten_services.bpmn runs ten service tasks per instance"
    runs = [
        ("raw SpiffWorkflow (inline calls, one do_engine_steps)", RawSpiff(n), "baseline"),
        ("retailflow's ProcessRun stepping (no store)", stepping, f"<= {TARGET}x raw's time"),
    ]
    seconds = [total / n for total in interleaved_best([r for _, r, _ in runs], args.rounds)]
    raw = seconds[0]
    results = {
        name: {"ms_per_instance": s * 1000, "ratio_to_raw": s / raw}
        for (name, _, _), s in zip(runs, seconds, strict=True)
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    table = Table(
        title=f"ten_services.bpmn stepping, {n} instances per round, best of "
        f"{args.rounds} interleaved rounds"
    )
    for column in ["run", "ms / instance", "time vs raw", "target (issue 14)"]:
        table.add_column(column, justify="right" if column != "run" else "left")
    for (name, _, target), per_instance in zip(runs, seconds, strict=True):
        table.add_row(name, f"{per_instance * 1000:.3f}", f"{per_instance / raw:.2f}x", target)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
