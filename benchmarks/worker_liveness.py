"""How soon a killed worker's job runs again, on PostgreSQL with the default lease.

    python benchmarks/worker_liveness.py [--trials 3] [--postgres URL]

Each trial starts one instance of ``ten_services.bpmn`` and a ``retailflow worker`` whose
handlers never return (``$BENCH_HANDLER_DELAY``), so it dies holding the first job; a second
worker with the default settings (five-minute lease, one-second poll interval) polls beside it.
Once the first holds the job it is killed with SIGKILL, and the table shows the seconds until
the second claims that job and until the instance completes. Without liveness both would wait
for the lease: about 300 s.

This file is also the workers' handler module: ``--handlers worker_liveness:registry``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from scale_out import HERE, POSTGRES_URL, postgres_schema
from sqlalchemy import create_engine, select
from ten_services import PROCESS, PROCESS_ID, TOPICS, variables

from retailflow import Engine, HandlerRegistry, InstanceStatus, WorkerSettings
from retailflow.stores.sql.schema import instances, jobs


def delayed(amount: int) -> dict[str, int]:
    """``ten_services``' handler, after ``$BENCH_HANDLER_DELAY`` seconds."""
    time.sleep(float(os.environ.get("BENCH_HANDLER_DELAY", "0")))
    return {"last_amount": amount}


registry = HandlerRegistry()
for _topic in TOPICS:
    registry.register(f"bench.{_topic}", delayed)


def start_worker(url: str, name: str, handler_delay: float, log: Path) -> subprocess.Popen[bytes]:
    """``retailflow worker`` with every default setting (lease, poll interval, batch), logging
    to ``log``."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retailflow.cli",
            "worker",
            "--db",
            url,
            "--handlers",
            "worker_liveness:registry",
            "--worker-id",
            name,
            "--log-level",
            "INFO",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "BENCH_HANDLER_DELAY": str(handler_delay),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        },
    )


class Observer:
    """Reads the jobs' owners and the instances' ends, on one connection kept open (the
    trial polls every 10 ms)."""

    def __init__(self, url: str) -> None:
        self._database = create_engine(url, pool_size=1)

    def owners(self) -> set[str | None]:
        with self._database.connect() as conn:
            return {owner for (owner,) in conn.execute(select(jobs.c.lock_owner))}

    def completed(self) -> bool:
        with self._database.connect() as conn:
            status = conn.scalar(select(instances.c.status))
        return status == InstanceStatus.COMPLETED.value

    def close(self) -> None:
        self._database.dispose()


def wait_for(condition: Callable[[], bool], timeout: float = 600) -> float:
    """Seconds until ``condition`` holds (polled every 10 ms)."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(0.01)
    return time.perf_counter() - started


def trial(server: str, folder: Path) -> tuple[float, float]:
    """Seconds from the kill to the job's claim by the survivor, and to the instance's end."""
    with postgres_schema(server) as url:
        with Engine(url, handlers=registry) as engine:
            engine.deploy(PROCESS)
            engine.start(PROCESS_ID, variables=variables(0))
        doomed = start_worker(url, "doomed", 3600, folder / "doomed.log")
        workers = [doomed]
        seen = Observer(url)
        try:
            wait_for(lambda: "doomed/1" in seen.owners())
            # Up and polling before the kill, so that its start-up is not part of the measure.
            log = folder / "survivor.log"
            workers.append(start_worker(url, "survivor", 0, log))
            wait_for(lambda: "worker survivor started" in log.read_text())
            doomed.kill()
            doomed.wait()
            claimed = wait_for(lambda: "survivor/1" in seen.owners() or seen.completed())
            done = claimed + wait_for(seen.completed)
        finally:
            seen.close()
            for process in workers:
                process.kill()
                process.wait()
    return claimed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = [trial(args.postgres, Path(folder)) for _ in range(args.trials)]
    defaults = WorkerSettings()
    table = Table(
        title=f"A worker killed inside a handler (lease {defaults.lease.total_seconds():.0f} s, "
        f"poll interval {defaults.poll_interval:.0f} s)"
    )
    for column in ("trial", "s to the job's claim by another worker", "s to the instance's end"):
        table.add_column(column, justify="right")
    for number, (claimed, done) in enumerate(results, 1):
        table.add_row(str(number), f"{claimed:.2f}", f"{done:.2f}")
    table.add_row(
        "median",
        f"{statistics.median(r[0] for r in results):.2f}",
        f"{statistics.median(r[1] for r in results):.2f}",
    )
    Console(width=120).print(table)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {Path(__file__).name}")


if __name__ == "__main__":
    main()
