"""``retailflow worker`` with its claims, state reads and CPU measured, for ``scale_out.py``.

It runs the real command (same arguments) and, when the worker stops, writes to
``$BENCH_CLAIM_LOG`` (JSON):

- ``claims``: how long each claim that returned jobs took, in seconds;
- ``cpu``: the CPU seconds the process spent from its first claim that returned jobs to the
  end of its last job: the work, without the start-up imports, the idle polling before the jobs
  fell due and after the last one ran;
- ``restores``: how many times it read an instance's state from the store (each one is then
  restored: the work that a worker redoes when another advanced the instance);
- ``jobs``: how many jobs it ran;
- ``store_calls``: how many store operations (claims, commits, reads ...) it made in the same
  span as ``cpu``: work that does not depend on how busy the machine is, so it shows whether a
  worker does more per job when it has company, whatever its CPU time says.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retailflow.cli.app import main
from retailflow.engine.job_runner import JobRunner
from retailflow.stores.sql.store import SqlStore

durations: list[float] = []
cpu_at_first_jobs: list[float] = []
cpu_after_last_job = 0.0
restores = 0
jobs = 0
store_calls = 0
store_calls_after_last_job = 0
_claim = SqlStore.claim_due_jobs
_load_state = SqlStore.load_state
_execute = JobRunner.execute


def counted(operation: Callable[..., Any]) -> Callable[..., Any]:
    """``operation`` (a store method), counted from the first claim that returned jobs."""

    @functools.wraps(operation)
    def call(*arguments: Any, **keywords: Any) -> Any:
        global store_calls
        if cpu_at_first_jobs:
            store_calls += 1
        return operation(*arguments, **keywords)

    return call


def timed_claim(self: SqlStore, **arguments: Any) -> Any:
    global store_calls
    cpu, started = time.process_time(), time.perf_counter()
    claimed = _claim(self, **arguments)
    if claimed:
        durations.append(time.perf_counter() - started)
        if not cpu_at_first_jobs:
            cpu_at_first_jobs.append(cpu)
            store_calls = 1
    return claimed


def counted_load_state(self: SqlStore, instance_id: str) -> Any:
    global restores
    restores += 1
    return _load_state(self, instance_id)


def timed_execute(self: JobRunner, *arguments: Any) -> None:
    global cpu_after_last_job, jobs, store_calls_after_last_job
    _execute(self, *arguments)
    cpu_after_last_job = time.process_time()
    jobs += 1
    store_calls_after_last_job = store_calls


def write_log() -> None:
    cpu = cpu_after_last_job - cpu_at_first_jobs[0] if cpu_at_first_jobs else 0.0
    log = {
        "claims": durations,
        "cpu": cpu,
        "restores": restores,
        "jobs": jobs,
        "store_calls": store_calls_after_last_job,
    }
    Path(os.environ["BENCH_CLAIM_LOG"]).write_text(json.dumps(log))


SqlStore.load_state = counted_load_state  # type: ignore[method-assign]
SqlStore.claim_due_jobs = timed_claim  # type: ignore[method-assign]
for _name, _operation in list(vars(SqlStore).items()):
    if not _name.startswith("_") and inspect.isfunction(_operation):
        setattr(SqlStore, _name, counted(_operation))
JobRunner.execute = timed_execute  # type: ignore[method-assign]
atexit.register(write_log)

if __name__ == "__main__":
    sys.argv[0] = "retailflow"
    main()
