"""retailflow scaled out: worker processes on PostgreSQL, against one process on SQLite.

    python benchmarks/scale_out.py [--instances 500] [--workers 1 2 4]
                                   [--stored 1000 10000 100000] [--postgres URL]

(``--stored`` with no sizes leaves the growth table out.)

Three tables, measured in one run on ``ten_services.bpmn`` (ten service tasks, one gateway):

1. Throughput: completed instances per second when N instances wait at their first job and
   the jobs all fall due at once: on a SQLite file with the embedded ``Engine.run()`` (one
   process), and on PostgreSQL with 1, 2, 4 ``retailflow worker`` processes; with the claim
   statement's latency (p50/p99) as the workers saw it, how often an instance's state was read
   and restored (once per instance when each runs on one worker from start to end), and the
   workers' CPU time per job (all workers together, from their first jobs to the end of their
   last; the server's is not in it), which stays flat when workers do not redo each other's
   work. Two workers cannot be twice as fast as one on a machine with fewer than three free
   cores: the server and the workers share them. Instances are started beforehand on a
   clock set in the future, so that starting them is not part of the measure.
2. State bytes per instance, as stored.
3. Growth: time per instance (start and run to the end) with 1k, 10k and 100k finished
   instances already stored (cloned rows, with their history); it should stay flat.

PostgreSQL runs in a schema of its own, dropped afterwards. The machine is shared and noisy:
read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from ten_services import PROCESS, PROCESS_ID, make_registry, variables

from retailflow import Engine, InstanceStatus, VirtualClock
from retailflow.stores.sql.schema import instances, jobs

HERE = Path(__file__).resolve().parent
POSTGRES_URL = os.environ.get(
    "RETAILFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
JOBS_PER_INSTANCE = 11
console = Console(width=140)


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def prepare(url: str, count: int) -> None:
    """Deploy and start ``count`` instances whose first jobs fall due in 2100."""
    with Engine(url, handlers=make_registry(), clock=VirtualClock(FUTURE)) as engine:
        engine.deploy(PROCESS)
        for number in range(count):
            engine.start(PROCESS_ID, variables=variables(number))


def make_due(url: str) -> None:
    """All waiting jobs fall due now, in one statement: the starting gun."""
    database = create_engine(url, poolclass=NullPool)
    with database.begin() as conn:
        conn.execute(update(jobs).values(due_at=datetime.now(UTC)))
    database.dispose()


def completed(url: str) -> int:
    database = create_engine(url, poolclass=NullPool)
    with database.connect() as conn:
        done = conn.scalar(
            select(func.count())
            .select_from(instances)
            .where(instances.c.status == InstanceStatus.COMPLETED.value)
        )
    database.dispose()
    return int(done or 0)


def sqlite_single_process(folder: Path, count: int) -> float:
    """Seconds for one process to run every instance with ``Engine.run()``."""
    url = f"sqlite:///{folder / 'throughput.db'}"
    prepare(url, count)
    make_due(url)
    with Engine(url, handlers=make_registry()) as engine:
        started = time.perf_counter()
        engine.run()
        seconds = time.perf_counter() - started
    assert completed(url) == count
    return seconds


@dataclass(frozen=True, slots=True)
class WorkerRun:
    """What ``workers`` worker processes took to run every instance."""

    seconds: float
    claims: list[float]
    cpu_seconds: float
    restores: int


def postgres_workers(server: str, folder: Path, count: int, workers: int) -> WorkerRun:
    """Seconds for ``workers`` worker processes to run every instance, the latencies of
    their claims and their CPU time."""
    with postgres_schema(server) as url:
        prepare(url, count)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        processes, logs = [], []
        for number in range(workers):
            logs.append(folder / f"claims-{workers}-{number}.json")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(HERE / "timed_worker.py"),
                        "worker",
                        "--db",
                        url,
                        "--handlers",
                        "ten_services:registry",
                        "--poll-interval",
                        "0.02",
                        "--log-level",
                        "WARNING",
                    ],
                    env={**env, "BENCH_CLAIM_LOG": str(logs[-1])},
                )
            )
        time.sleep(3)  # every worker is up and polling an idle store
        make_due(url)
        started = time.perf_counter()
        while completed(url) < count:
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        measured = [json.loads(log.read_text()) for log in logs]
    return WorkerRun(
        seconds,
        [d for one in measured for d in one["claims"]],
        sum(one["cpu"] for one in measured),
        sum(one["restores"] for one in measured),
    )


def state_bytes(url: str, count: int) -> float:
    """Average stored state of finished instances."""
    with Engine(url, handlers=make_registry()) as engine:
        engine.deploy(PROCESS)
        for number in range(count):
            engine.start(PROCESS_ID, variables=variables(number))
        engine.run()
        sizes = [len(engine.store.load_state(i.id)[1]) for i in engine.instances()]
    return statistics.mean(sizes)


# Clone a finished template instance and its history ``:n`` times, with ids seed-<g>.
_SEED = {
    "postgresql": (
        "INSERT INTO instances SELECT :prefix || g, definition_id, process_id, NULL, status,"
        " started_at, ended_at, parent_id, version, variables, state"
        " FROM instances, generate_series(1, :n) AS g WHERE id = :template",
        "INSERT INTO history (instance_id, definition_id, kind, at, element_id, element_type,"
        " attempt, job_id, variables) SELECT :prefix || g, definition_id, kind, at,"
        " element_id, element_type, attempt, job_id, variables"
        " FROM history, generate_series(1, :n) AS g WHERE instance_id = :template",
    ),
    "sqlite": (
        "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n)"
        " INSERT INTO instances SELECT :prefix || g, definition_id, process_id, NULL, status,"
        " started_at, ended_at, parent_id, version, variables, state"
        " FROM instances, s WHERE id = :template",
        "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n)"
        " INSERT INTO history (instance_id, definition_id, kind, at, element_id, element_type,"
        " attempt, job_id, variables) SELECT :prefix || g, definition_id, kind, at,"
        " element_id, element_type, attempt, job_id, variables"
        " FROM history, s WHERE instance_id = :template",
    ),
}


def growth(url: str, sizes: list[int], sample: int) -> list[tuple[int, float]]:
    """Milliseconds per instance (start + run) with each size of finished instances stored."""
    results = []
    with Engine(url, handlers=make_registry()) as engine:
        engine.deploy(PROCESS)
        template = engine.start(PROCESS_ID, variables=variables(0))
        engine.run()
        stored = 1
        database = create_engine(url, poolclass=NullPool)
        for size in sizes:
            with database.begin() as conn:
                for statement in _SEED[database.dialect.name]:
                    conn.execute(
                        text(statement),
                        {"n": size - stored, "template": template.id, "prefix": f"seed-{size}-"},
                    )
                if database.dialect.name == "postgresql":
                    conn.exec_driver_sql("ANALYZE")
            stored = size
            started = time.perf_counter()
            for number in range(sample):
                engine.start(PROCESS_ID, variables=variables(number))
                engine.run()
            results.append((size, (time.perf_counter() - started) / sample * 1000))
            stored += sample
        database.dispose()
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stored", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument(
        "--sample", type=int, default=100, help="instances timed at each stored size"
    )
    parser.add_argument("--postgres", default=POSTGRES_URL)
    args = parser.parse_args()
    n = args.instances

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sqlite_seconds = sqlite_single_process(folder, n)
        runs = {k: postgres_workers(args.postgres, folder, n, k) for k in args.workers}
        with postgres_schema(args.postgres) as url:
            postgres_state = state_bytes(url, 50)
            postgres_growth = growth(url, args.stored, args.sample)
        sqlite_state = state_bytes(f"sqlite:///{folder / 'state.db'}", 50)
        sqlite_growth = growth(f"sqlite:///{folder / 'growth.db'}", args.stored, args.sample)

    sqlite_rate = n / sqlite_seconds
    table = Table(
        title=f"Throughput: {n} instances of ten_services.bpmn (11 jobs each), all due at once"
    )
    for column in (
        "run",
        "instances / s",
        "vs SQLite, 1 process",
        "vs 1 worker",
        "claim p50 ms",
        "claim p99 ms",
        "claims",
        "restores / instance",
        "worker CPU ms / job",
        "CPU vs 1 worker",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    table.add_row(
        "SQLite file, one process, Engine.run()", f"{sqlite_rate:,.0f}", "1.00x", *[""] * 7
    )
    first = runs[args.workers[0]]
    jobs_run = n * JOBS_PER_INSTANCE
    for workers, run in runs.items():
        rate = n / run.seconds
        table.add_row(
            f"PostgreSQL, {workers} worker process(es)",
            f"{rate:,.0f}",
            f"{rate / sqlite_rate:.2f}x",
            f"{first.seconds / run.seconds:.2f}x",
            f"{percentile(run.claims, 0.5) * 1000:.2f}",
            f"{percentile(run.claims, 0.99) * 1000:.2f}",
            f"{len(run.claims):,}",
            f"{run.restores / n:.2f}",
            f"{run.cpu_seconds / jobs_run * 1000:.2f}",
            f"{run.cpu_seconds / first.cpu_seconds:.2f}x",
        )
    console.print(table)

    sizes = Table(title="Stored state of a finished instance")
    sizes.add_column("store")
    sizes.add_column("bytes / instance", justify="right")
    sizes.add_row("SQLite", f"{sqlite_state:,.0f}")
    sizes.add_row("PostgreSQL", f"{postgres_state:,.0f}")
    console.print(sizes)

    flat = Table(
        title=f"Time per instance (start + run, {args.sample} instances) with "
        "finished instances already stored"
    )
    for column in ("stored", "SQLite ms", "vs first", "PostgreSQL ms", "vs first"):
        flat.add_column(column, justify="right")
    for (size, sqlite_ms), (_, postgres_ms) in zip(sqlite_growth, postgres_growth, strict=True):
        flat.add_row(
            f"{size:,}",
            f"{sqlite_ms:.2f}",
            f"{sqlite_ms / sqlite_growth[0][1]:.2f}x",
            f"{postgres_ms:.2f}",
            f"{postgres_ms / postgres_growth[0][1]:.2f}x",
        )
    if args.stored:
        console.print(flat)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; the PostgreSQL server runs "
        "on the same machine as the workers."
    )


if __name__ == "__main__":
    main()
