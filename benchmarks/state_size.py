"""The instance state checkpoint: its bytes at each wait state of ``ten_services.bpmn``, and
what writing and reading it costs.

    python benchmarks/state_size.py [--instances 300]

One instance of each gateway branch is stepped job by job; the state stored after each step is
printed with its size. Then ``--instances`` instances run in memory with every ``StateCodec.dump``
timed (the engine's own calls: a live run re-encodes what changed since its last commit), and
every stored state is restored from its bytes (``StateCodec.load``, what a worker or a restarted
engine does), timed too. Times are the process's CPU time, less disturbed than the wall clock
by whatever else the machine runs; compare two versions in one sitting.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from ten_services import PROCESS, PROCESS_ID, make_registry, variables

from retailflow import Engine
from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.engine.spiff import CompiledProcess, SourceTree, StateCodec, compile_processes


def wait_state_sizes(number: int) -> list[tuple[str, bytes]]:
    """The state stored at each wait state of one instance, with the job it waits for."""
    engine = Engine(handlers=make_registry())
    engine.deploy(PROCESS)
    instance = engine.start(PROCESS_ID, variables=variables(number))
    states = []
    while True:
        _, state, _ = engine.store.load_state(instance.id)
        if not state:
            break
        [job] = engine.jobs(instance=instance.id)
        states.append((job.element_id, state))
        engine.run(max_jobs=1)
    engine.close()
    return states


def compiled_process() -> CompiledProcess:
    document = read_document(SourceFile.of(PROCESS.name, PROCESS.read_bytes()))
    assert isinstance(document, BpmnDocument)
    return compile_processes([SourceTree(document.name, document.root)], [PROCESS_ID])[PROCESS_ID]


def timed_dumps(instances: int) -> tuple[float, list[bytes]]:
    """Microseconds per dump over ``instances`` whole instances, and every state dumped."""
    states: list[bytes] = []
    spent = 0.0
    dump = StateCodec.dump

    def timed(codec: StateCodec, workflow: Any) -> bytes:
        nonlocal spent
        started = time.process_time()
        state = dump(codec, workflow)
        spent += time.process_time() - started
        states.append(state)
        return state

    engine = Engine(handlers=make_registry())
    engine.deploy(PROCESS)
    setattr(StateCodec, "dump", timed)  # noqa: B010 (the engine's own calls are what is timed)
    try:
        for number in range(instances):
            engine.start(PROCESS_ID, variables=variables(number))
            engine.run()
    finally:
        setattr(StateCodec, "dump", dump)  # noqa: B010
        engine.close()
    return spent / len(states) * 1e6, states


def microseconds_each(action: Callable[[bytes], object], states: list[bytes]) -> float:
    started = time.process_time()
    for state in states:
        action(state)
    return (time.process_time() - started) / len(states) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300)
    args = parser.parse_args()
    console = Console()

    table = Table(title="State bytes at each wait state (ten_services)")
    table.add_column("step")
    table.add_column("waits at")
    table.add_column("bytes, amount 150", justify="right")
    table.add_column("bytes, amount 50", justify="right")
    big, small = wait_state_sizes(1), wait_state_sizes(0)
    pairs = zip(big, small, strict=True)
    for step, ((element, big_state), (other, small_state)) in enumerate(pairs, 1):
        waits_at = element if element == other else f"{element} / {other}"
        table.add_row(str(step), waits_at, f"{len(big_state):,}", f"{len(small_state):,}")
    mean = sum(len(state) for _, state in big + small) / len(big + small)
    table.add_row("", "mean", f"{mean:,.0f}", "")
    console.print(table)

    per_dump, states = timed_dumps(args.instances)
    codec = StateCodec()
    compiled = compiled_process()
    per_load = microseconds_each(lambda state: codec.load(state, compiled), states)
    console.print(
        f"{args.instances} instances, {len(states):,} states: "
        f"dump {per_dump:.1f} us (live, as the engine calls it), "
        f"restore {per_load:.1f} us, mean {sum(map(len, states)) / len(states):,.0f} bytes"
    )


if __name__ == "__main__":
    main()
