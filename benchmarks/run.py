"""retailflow against raw SpiffWorkflow on the same work, measured in one run.

    python benchmarks/run.py [--instances 500]

The process is ``ten_services.bpmn``: ten service tasks and one exclusive gateway. Raw
SpiffWorkflow parses it with its own parser, runs each service task through a custom task spec
that calls the function inline, and evaluates the gateway's condition with its own (unsandboxed)
Python engine. retailflow runs it as a user would: deploy, start, ``run()``; in memory, and on a
SQLite file with every wait state committed. The runs take turns, round after round, and each
keeps its best round, so a noisy neighbour on a shared machine costs all of them alike; the table
prints ratios, which travel between machines better than absolute numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from ten_services import PROCESS, handler, make_registry, variables

from retailflow import Engine

ZEEBE = "{http://camunda.org/schema/zeebe/1.0}"


# -- raw SpiffWorkflow ------------------------------------------------------------------------
class CallingServiceTask(ServiceTask):
    """A service task that calls the function in the same step, as a raw embedding would."""

    def __init__(self, wf_spec: Any, bpmn_id: str, topic: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _run_hook(self, my_task: Any) -> bool:
        my_task.data.update(handler(my_task.data["amount"]))
        return True


class CallingServiceTaskParser(TaskParser):
    def create_task(self) -> CallingServiceTask:
        definition = self.node.find(f".//{ZEEBE}taskDefinition")
        return CallingServiceTask(
            self.spec, self.bpmn_id, definition.get("type"), **self.bpmn_attributes
        )


class RawParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        full_tag("serviceTask"): (CallingServiceTaskParser, CallingServiceTask)
    }


class CallingServiceTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: CallingServiceTask) -> dict[str, Any]:
        dct = self.get_default_attributes(spec)
        dct["topic"] = spec.topic
        return dct


class RawSpiff:
    """Raw SpiffWorkflow: one round runs ``instances`` instances to completion."""

    def __init__(self, instances: int) -> None:
        parser = RawParser()
        # SpiffWorkflow evaluates conditions as Python: it gets the condition without FEEL's "=".
        parser.add_bpmn_str(
            PROCESS.read_bytes().replace(b"=amount &gt; 100", b"amount &gt; 100"),
            "ten_services.bpmn",
        )
        self.spec = parser.get_spec("ten_services")
        self.subprocesses = parser.get_subprocess_specs("ten_services")
        self.instances = instances

    def one(self, number: int) -> BpmnWorkflow:
        workflow = BpmnWorkflow(self.spec, self.subprocesses)
        workflow.task_tree.data.update(variables(number))
        for child in workflow.task_tree.children:
            child.data.update(variables(number))
        workflow.do_engine_steps()
        assert workflow.is_completed()
        return workflow

    def round(self) -> None:
        for number in range(self.instances):
            self.one(number)

    def state_bytes(self) -> int:
        """SpiffWorkflow's default serialization of a completed instance (spec included)."""
        config = dict(DEFAULT_CONFIG)
        config[CallingServiceTask] = CallingServiceTaskConverter
        serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
        return len(serializer.serialize_json(self.one(1)).encode())


class Retailflow:
    """retailflow as a user runs it: deploy, then start + run() per instance."""

    def __init__(self, instances: int, url: Callable[[], str | None]) -> None:
        self.instances = instances
        self.url = url
        self.last: Engine | None = None

    def round(self) -> None:
        if self.last is not None:
            self.last.close()
        engine = self.last = Engine(self.url(), handlers=make_registry())
        engine.deploy(PROCESS)
        for number in range(self.instances):
            engine.start("ten_services", variables=variables(number))
            engine.run()

    def state_bytes(self) -> int:
        """The stored state of the last completed instance."""
        assert self.last is not None
        instance = self.last.instances()[-1]
        assert instance.status == "completed", instance
        _, state, _ = self.last.store.load_state(instance.id)
        self.last.close()
        return len(state)


def interleaved_best(runners: list[Any], rounds: int) -> list[float]:
    """Best round time of each runner, the runners taking turns so that a busy moment on a
    shared machine hits them all alike."""
    best = [float("inf")] * len(runners)
    for _ in range(rounds):
        for index, runner in enumerate(runners):
            gc.collect()
            started = time.perf_counter()
            runner.round()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    n = args.instances

    with tempfile.TemporaryDirectory() as folder:
        files = (f"sqlite:///{folder}/bench-{i}.db" for i in range(1000))
        runners = [RawSpiff(n), Retailflow(n, lambda: None), Retailflow(n, lambda: next(files))]
        raw_seconds, memory_seconds, sqlite_seconds = (
            seconds / n for seconds in interleaved_best(runners, args.rounds)
        )
        raw_bytes, memory_bytes, sqlite_bytes = (runner.state_bytes() for runner in runners)

    rows = [
        ("raw SpiffWorkflow (inline calls)", raw_seconds, raw_bytes, "baseline"),
        ("retailflow, in memory", memory_seconds, memory_bytes, "<= 1.15x time"),
        (
            "retailflow, SQLite file (every wait state committed)",
            sqlite_seconds,
            sqlite_bytes,
            ">= 500 instances/s",
        ),
    ]
    results = {
        name: {
            "ms_per_instance": s * 1000,
            "instances_per_s": 1 / s,
            "ratio_to_raw": s / raw_seconds,
            "state_bytes": b,
            "state_ratio_to_raw": b / raw_bytes,
        }
        for name, s, b, _ in rows
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    table = Table(
        title=f"ten_services.bpmn, {n} instances per round, best of "
        f"{args.rounds} interleaved rounds"
    )
    for column in (
        "run",
        "ms / instance",
        "instances / s",
        "time vs raw",
        "state bytes",
        "state vs raw",
        "target",
    ):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, seconds, size, target in rows:
        table.add_row(
            name,
            f"{seconds * 1000:.2f}",
            f"{1 / seconds:,.0f}",
            f"{seconds / raw_seconds:.2f}x",
            f"{size:,}",
            f"{size / raw_bytes:.2f}x",
            target,
        )
    Console(width=150).print(table)
    print(
        f"python {sys.version.split()[0]}; 'state' is a completed instance's stored state, "
        "against SpiffWorkflow's default JSON serialization (which embeds the spec)."
    )


if __name__ == "__main__":
    main()
