"""retailflow scaled out: worker processes on PostgreSQL, against one process on SQLite.

    python benchmarks/scale_out.py [--instances 500] [--workers 1 2 4] [--rounds 1]
                                   [--stored 1000 10000 100000] [--postgres URL]

(``--stored`` with no sizes leaves the growth table out.)

Three tables, measured in one run on ``ten_services.bpmn`` (ten service tasks, one gateway):

1. Throughput: completed instances per second when N instances wait at their first job and
   the jobs all fall due at once: on a SQLite file with the embedded ``Engine.run()`` (one
   process), and on PostgreSQL with 1, 2, 4 ``retailflow worker`` processes; with the claim
   statement's latency (p50/p99) as the workers saw it, how often an instance's state was read
   and restored (once per instance when each runs on one worker from start to end), the
   workers' store calls and CPU time per job (all workers together, from their first jobs to
   the end of their last; the server's is not in it), and how many of the machine's cores were
   busy meanwhile (everything on it: workers, server, anything else). Store calls per job do
   not depend on how busy the machine is: flat, they say that no worker redoes another's work;
   CPU per job also rises when more processes than cores take turns on them (each resumes
   with cold caches). ``--rounds`` repeats the worker runs, interleaved, each round's ratios
   against its own 1-worker run. Two workers can only be 1.8x as fast as one where the cores
   for it are free: the script says whether they were. Instances are started beforehand on a
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
console = Console(width=160)


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


def busy_cores() -> tuple[float, float] | None:
    """The machine's CPU time so far, busy and in all, in core-seconds (Linux' /proc/stat;
    ``None`` elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal (guest time is counted in user already)
    ticks = [int(value) for value in fields[:8]]
    per_second = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / per_second, sum(ticks) / per_second


def cores_busy(since: tuple[float, float] | None) -> float | None:
    """How many cores were busy on average since ``since`` (a ``busy_cores()`` reading)."""
    now = busy_cores()
    if since is None or now is None or now[1] <= since[1]:
        return None
    return (now[0] - since[0]) / (now[1] - since[1]) * (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class WorkerRun:
    """What ``workers`` worker processes took to run every instance."""

    seconds: float
    claims: list[float]
    cpu_seconds: float
    restores: int
    jobs: int
    store_calls: int
    busy_before: float | None
    busy_during: float | None
    """Cores busy while the workers polled an idle store, and while they ran the jobs."""

    @property
    def cpu_per_job(self) -> float:
        return self.cpu_seconds / self.jobs


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
        time.sleep(2)  # every worker is up and polling an idle store
        idle = busy_cores()
        time.sleep(1)
        busy_before = cores_busy(idle)
        make_due(url)
        running = busy_cores()
        started = time.perf_counter()
        while completed(url) < count:
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        busy_during = cores_busy(running)
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
        sum(one["jobs"] for one in measured),
        sum(one["store_calls"] for one in measured),
        busy_before,
        busy_during,
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


def _shown_busy(run: WorkerRun) -> str:
    if run.busy_before is None or run.busy_during is None:
        return "unknown"
    return f"{run.busy_before:.1f} -> {run.busy_during:.1f}"


def two_workers_verdict(single: list[WorkerRun]) -> str:
    """Whether this machine had the cores for 2 workers to run 1.8x as fast as one: twice
    what one worker's run needs (what it added to the busy cores, for itself and its server
    backend, and at least the worker's own CPU, which a machine busy already hides), beside
    what was busy before it started."""
    cores = os.cpu_count() or 1
    known = [r for r in single if r.busy_before is not None and r.busy_during is not None]
    if not known:
        return (
            f"{cores} cores; how busy they were is unknown here, so whether 2 workers can "
            "reach 1.8x of one on this machine is not measured."
        )
    run = min(known, key=lambda r: r.seconds)
    assert run.busy_before is not None and run.busy_during is not None
    one = max(run.busy_during - run.busy_before, run.cpu_seconds / run.seconds)
    needed = run.busy_before + 2 * one
    verdict = (
        "2 workers at 1.8x of one CANNOT be measured on this machine: the cores are not there"
        if needed > cores
        else "the cores for 2 workers at 1.8x of one were free"
    )
    return (
        f"{cores} cores. One worker's run needed {one:.1f} (the worker and its server backend) "
        f"beside {run.busy_before:.1f} busy before it; two need {needed:.1f} of {cores}: "
        f"{verdict}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stored", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument(
        "--sample", type=int, default=100, help="instances timed at each stored size"
    )
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--rounds", type=int, default=1, help="worker runs repeated, interleaved")
    args = parser.parse_args()
    n = args.instances

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sqlite_seconds = sqlite_single_process(folder, n)
        rounds = [
            {k: postgres_workers(args.postgres, folder, n, k) for k in args.workers}
            for _ in range(args.rounds)
        ]
        with postgres_schema(args.postgres) as url:
            postgres_state = state_bytes(url, 50)
            postgres_growth = growth(url, args.stored, args.sample)
        sqlite_state = state_bytes(f"sqlite:///{folder / 'state.db'}", 50)
        sqlite_growth = growth(f"sqlite:///{folder / 'growth.db'}", args.stored, args.sample)

    sqlite_rate = n / sqlite_seconds
    table = Table(
        title=f"Throughput: {n} instances of ten_services.bpmn (10 jobs each), all due at once"
    )
    for column in (
        "run",
        "inst / s",
        "vs SQLite",
        "vs 1 worker",
        "claim p50 ms",
        "claim p99 ms",
        "claims",
        "restores / inst",
        "store calls / job",
        "worker CPU ms / job",
        "CPU vs 1 worker",
        "cores busy before -> during",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    table.add_row("SQLite file, 1 process, Engine.run()", f"{sqlite_rate:,.0f}", "1.00x", *[""] * 9)
    for number, runs in enumerate(rounds, 1):
        first = runs[args.workers[0]]
        for workers, run in runs.items():
            rate = n / run.seconds
            table.add_row(
                f"PostgreSQL, {workers} worker(s)"
                + (f", round {number}" if len(rounds) > 1 else ""),
                f"{rate:,.0f}",
                f"{rate / sqlite_rate:.2f}x",
                f"{first.seconds / run.seconds:.2f}x",
                f"{percentile(run.claims, 0.5) * 1000:.2f}",
                f"{percentile(run.claims, 0.99) * 1000:.2f}",
                f"{len(run.claims):,}",
                f"{run.restores / n:.2f}",
                f"{run.store_calls / run.jobs:.2f}",
                f"{run.cpu_per_job * 1000:.2f}",
                f"{run.cpu_per_job / first.cpu_per_job:.2f}x",
                _shown_busy(run),
            )
    console.print(table)
    if 1 in args.workers and 2 in args.workers:
        print(two_workers_verdict([runs[1] for runs in rounds]))

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
