"""``retailflow worker`` with its claim statements timed, for ``scale_out.py``.

It runs the real command (same arguments) and, when the worker stops, writes to
``$BENCH_CLAIM_LOG`` (JSON) how long each claim that returned jobs took, in seconds
(``claims``), and the CPU seconds the process spent from its first claim that returned jobs to
its exit (``cpu``): the work, without the start-up imports and the idle polling before it.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from retailflow.cli.app import main
from retailflow.stores.sql.store import SqlStore

durations: list[float] = []
cpu_at_first_jobs: list[float] = []
_claim = SqlStore.claim_due_jobs


def timed_claim(self: SqlStore, **arguments: Any) -> Any:
    cpu, started = time.process_time(), time.perf_counter()
    claimed = _claim(self, **arguments)
    if claimed:
        durations.append(time.perf_counter() - started)
        if not cpu_at_first_jobs:
            cpu_at_first_jobs.append(cpu)
    return claimed


def write_log() -> None:
    cpu = time.process_time() - cpu_at_first_jobs[0] if cpu_at_first_jobs else 0.0
    log = {"claims": durations, "cpu": cpu}
    Path(os.environ["BENCH_CLAIM_LOG"]).write_text(json.dumps(log))


SqlStore.claim_due_jobs = timed_claim  # type: ignore[method-assign]
atexit.register(write_log)

if __name__ == "__main__":
    sys.argv[0] = "retailflow"
    main()
