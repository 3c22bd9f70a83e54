"""retailflow against raw SpiffWorkflow on the same work, measured in one run.

    python benchmarks/run.py [--instances 500]

The process is ``ten_services.bpmn``: ten service tasks and one exclusive gateway. Raw
SpiffWorkflow parses it with its own parser, runs each service task through a custom task spec
that calls the function inline, and evaluates the gateway's condition with its own (unsandboxed)
Python engine. retailflow runs it as a user would: deploy, start, ``run()``; in memory, and on a
SQLite file with every wait state committed. Timings are the best of three rounds, so a noisy
neighbour on a shared machine costs less; the table prints ratios, which travel between machines
better than absolute numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
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

from retailflow import Engine, HandlerRegistry

HERE = Path(__file__).resolve().parent
PROCESS = HERE / "ten_services.bpmn"
TOPICS = ["s1", "s2", "s3", "s4", "s5", "s6_big", "s6_small", "s7", "s8", "s9", "s10"]
ZEEBE = "{http://camunda.org/schema/zeebe/1.0}"


def handler(amount: int) -> dict[str, int]:
    """The work each service task does, identical on both sides."""
    return {"last_amount": amount}


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
        return CallingServiceTask(self.spec, self.bpmn_id, definition.get("type"),
                                  **self.bpmn_attributes)


class RawParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        full_tag("serviceTask"): (CallingServiceTaskParser, CallingServiceTask)}


class CallingServiceTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: CallingServiceTask) -> dict[str, Any]:
        dct = self.get_default_attributes(spec)
        dct["topic"] = spec.topic
        return dct


def raw_spiff(instances: int) -> tuple[float, int]:
    """Seconds per instance, and the default serialization's size of a completed instance."""
    parser = RawParser()
    # SpiffWorkflow evaluates conditions as Python, so it gets the condition without FEEL's "=".
    parser.add_bpmn_str(PROCESS.read_bytes().replace(b"=amount &gt; 100", b"amount &gt; 100"),
                        "ten_services.bpmn")
    spec = parser.get_spec("ten_services")
    subprocesses = parser.get_subprocess_specs("ten_services")

    def one(number: int) -> BpmnWorkflow:
        workflow = BpmnWorkflow(spec, subprocesses)
        workflow.task_tree.data["amount"] = 50 + 100 * (number % 2)
        for child in workflow.task_tree.children:
            child.data["amount"] = workflow.task_tree.data["amount"]
        workflow.do_engine_steps()
        assert workflow.is_completed()
        return workflow

    seconds = best_of(lambda: [one(n) for n in range(instances)]) / instances
    config = dict(DEFAULT_CONFIG)
    config[CallingServiceTask] = CallingServiceTaskConverter
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    return seconds, len(serializer.serialize_json(one(1)).encode())


# -- retailflow -------------------------------------------------------------------------------
def registry() -> HandlerRegistry:
    handlers = HandlerRegistry()
    for topic in TOPICS:
        handlers.register(f"bench.{topic}", handler)
    return handlers


def retailflow(url: str | None, instances: int) -> tuple[float, int]:
    """Seconds per instance (start + run to completion), and stored state bytes per
    completed instance."""
    engines: list[Engine] = []

    def round_() -> None:
        engine = Engine(url() if callable(url) else url, handlers=registry())
        engines.append(engine)
        engine.deploy(PROCESS)
        for number in range(instances):
            engine.start("ten_services", variables={"amount": 50 + 100 * (number % 2)})
            engine.run()

    seconds = best_of(round_) / instances
    engine = engines[-1]
    instance = engine.instances()[-1]
    assert instance.status == "completed", instance
    _, state = engine.store.load_state(instance.id)
    for done in engines:
        done.close()
    return seconds, len(state)


def best_of(work: Callable[[], Any], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    n = args.instances

    raw_seconds, raw_bytes = raw_spiff(n)
    memory_seconds, memory_bytes = retailflow(None, n)
    with tempfile.TemporaryDirectory() as folder:
        counter = iter(range(1000))
        sqlite_seconds, sqlite_bytes = retailflow(
            lambda: f"sqlite:///{folder}/bench-{next(counter)}.db", n)  # type: ignore[arg-type]

    rows = [
        ("raw SpiffWorkflow (inline calls)", raw_seconds, raw_bytes, "baseline"),
        ("retailflow, in memory", memory_seconds, memory_bytes, "<= 1.15x time"),
        ("retailflow, SQLite file (every wait state committed)", sqlite_seconds, sqlite_bytes,
         ">= 500 instances/s"),
    ]
    results = {name: {"ms_per_instance": s * 1000, "instances_per_s": 1 / s,
                      "ratio_to_raw": s / raw_seconds, "state_bytes": b,
                      "state_ratio_to_raw": b / raw_bytes}
               for name, s, b, _ in rows}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    table = Table(title=f"ten_services.bpmn, {n} instances per round, best of 3 rounds")
    for column in ("run", "ms / instance", "instances / s", "time vs raw", "state bytes",
                   "state vs raw", "target"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, seconds, size, target in rows:
        table.add_row(name, f"{seconds * 1000:.2f}", f"{1 / seconds:,.0f}",
                      f"{seconds / raw_seconds:.2f}x", f"{size:,}", f"{size / raw_bytes:.2f}x",
                      target)
    Console(width=150).print(table)
    print(f"python {sys.version.split()[0]}; 'state' is a completed instance's stored state, "
          "against SpiffWorkflow's default JSON serialization (which embeds the spec).")


if __name__ == "__main__":
    main()
