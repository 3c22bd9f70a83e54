"""Worker processes killed at random, and a database that drops every connection: every
instance still completes exactly once, every side effect lands exactly once, nothing stays
claimed, and every instance's history is whole.

These run real ``retailflow worker`` processes on a real database (PostgreSQL in a schema of
the test's own, or a SQLite file), with the handlers of ``pipeline_handlers``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pipeline_handlers import TOPICS, create_effect_tables
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from retailflow import Engine, HandlerContext, HistoryKind, InstanceStatus, StoreUnavailableError
from scenario_kit import FIXTURES
from throwaway_postgres import ThrowawayPostgres

HERE = Path(__file__).parent
PIPELINE_JOBS = [
    "validate_order",
    "reserve_stock",
    "capture_payment",
    "ship_order",
    "notify_customer",
]
PIPELINE_PATH = [
    "order_received",
    "validate_order",
    "split",
    "reserve_stock",
    "capture_payment",
    "join",
    "ship_order",
    "notify_customer",
    "order_done",
]


class WorkerPool:
    """``retailflow worker`` processes on one store, started, killed and stopped by a test."""

    def __init__(
        self,
        store_url: str,
        effects_url: str,
        log_dir: Path,
        *,
        lease_seconds: float | None = 2,
        handler_delay: float = 0.0,
        calls_between_kills: tuple[int, int] = (10, 30),
    ) -> None:
        self._command = [
            sys.executable,
            "-m",
            "retailflow.cli",
            "worker",
            "--db",
            store_url,
            "--handlers",
            "pipeline_handlers:registry",
            *(["--lease", str(lease_seconds)] if lease_seconds is not None else []),
            "--poll-interval",
            "0.1",
            "--log-level",
            "INFO",
        ]
        self._env = {
            **os.environ,
            "PIPELINE_EFFECTS_URL": effects_url,
            "PIPELINE_HANDLER_DELAY": str(handler_delay),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        self._log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self._effects = create_engine(effects_url, poolclass=NullPool)
        self._calls_at_last_kill = 0
        self._calls_between_kills = calls_between_kills
        self.started = 0
        self.kills = 0
        self._rng = random.Random(11)

    def start(self, *, handler_delay: float | None = None) -> subprocess.Popen[bytes]:
        """Start worker ``w<n>``; ``handler_delay`` overrides the pool's for this one."""
        self.started += 1
        log = (self._log_dir / f"worker-{self.started}.log").open("wb")
        env = dict(self._env)
        if handler_delay is not None:
            env["PIPELINE_HANDLER_DELAY"] = str(handler_delay)
        process = subprocess.Popen(
            [*self._command, "--worker-id", f"w{self.started}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.processes.append(process)
        return process

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def kill_after_progress(self) -> None:
        """``kill -9`` a live worker once the workers have recorded a few more handler calls
        since the last kill, and start a new one in its place.

        The victim is one that has made calls itself, so it is past its start-up and may be
        inside a handler; kills follow observed progress, never the clock, so they land in the
        middle of the work however fast or loaded the machine is.
        """
        assert self.live(), f"every worker has exited; their logs:\n{self.logs()}"
        calls = self._calls_by_worker()
        if sum(calls.values()) < self._calls_at_last_kill + self._rng.randint(
            *self._calls_between_kills
        ):
            return
        candidates = [p for p in self.live() if calls.get(p.pid, 0) > 0]
        if not candidates:
            return
        victim = self._rng.choice(candidates)
        victim.kill()
        victim.wait()
        self.kills += 1
        self._calls_at_last_kill = sum(self._calls_by_worker().values())
        self.start()

    def _calls_by_worker(self) -> dict[int, int]:
        with self._effects.connect() as conn:
            rows = conn.execute(text("SELECT worker, COUNT(*) FROM calls GROUP BY worker"))
            return {int(worker): int(count) for worker, count in rows}

    def stop_all(self) -> list[int]:
        """SIGTERM to every live worker; their exit codes (0: a graceful stop)."""
        live = self.live()
        for process in live:
            process.terminate()
        return [process.wait(timeout=30) for process in live]

    def logs(self, tail: int | None = 3000) -> str:
        """The workers' logs; by default only each one's end, for failure messages."""
        return "\n".join(
            path.read_text(errors="replace")[-tail if tail else 0 :]
            for path in sorted(self._log_dir.glob("worker-*.log"))
        )


@pytest.fixture
def worker_pools(tmp_path: Path) -> Iterator[Callable[..., WorkerPool]]:
    """Makes worker pools; whatever a failing test left running is killed afterwards."""
    pools: list[WorkerPool] = []

    def make(store_url: str, effects_url: str, **settings: Any) -> WorkerPool:
        pools.append(WorkerPool(store_url, effects_url, tmp_path, **settings))
        return pools[-1]

    yield make
    for pool in pools:
        for process in pool.live():
            process.kill()
            process.wait()


def start_orders(store_url: str, count: int) -> list[str]:
    with Engine(store_url) as engine:
        engine.deploy(FIXTURES / "order_pipeline.bpmn", require_handlers=False)
        return [
            engine.start(
                "order_pipeline", business_key=f"SO-{n}", variables={"order_id": f"SO-{n}"}
            ).id
            for n in range(count)
        ]


def completed_count(store_url: str) -> int:
    with Engine(store_url) as engine:
        return len(engine.instances(status=InstanceStatus.COMPLETED))


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    pool: WorkerPool,
    between: Callable[[], None] = lambda: None,
    every: float = 0.05,
) -> None:
    """Poll ``condition`` (doing ``between`` each time) until it holds; ``timeout`` is only a
    backstop against a hang, never what the test waits for."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no end in {timeout} s; worker logs:\n{pool.logs()}"
        between()
        time.sleep(every)


def assert_each_instance_done_exactly_once(
    store_url: str, effects_url: str, instance_ids: list[str]
) -> dict[str, int]:
    """The crash tests' verdict: exact counts, no duplicates, no losses, no gaps."""
    with Engine(store_url) as engine:
        instances = engine.instances()
        assert sorted(i.id for i in instances) == sorted(instance_ids)
        assert [i for i in instances if i.status != InstanceStatus.COMPLETED] == []
        # Each handler's output reached the end: a lost update (two branches committed on one
        # version) would drop one branch's variable.
        outputs = {f"{topic.replace('.', '_')}_done" for topic in TOPICS}
        assert [i.business_key for i in instances if not outputs <= i.variables.keys()] == []
        assert engine.jobs() == [], "a job was left behind (claimed or not)"
        assert engine.incidents() == []
        job_keys = set()
        for instance in instances:
            history = engine.history(instance.id)
            kinds = [event.kind for event in history]
            assert kinds[0] == HistoryKind.INSTANCE_STARTED
            assert kinds[-1] == HistoryKind.INSTANCE_COMPLETED
            assert kinds.count(HistoryKind.INSTANCE_COMPLETED) == 1
            completed = [e for e in history if e.kind == HistoryKind.ELEMENT_COMPLETED]
            assert Counter(e.element_id for e in completed) == Counter(PIPELINE_PATH), (
                f"{instance.business_key} has gaps or repeats: {[e.element_id for e in completed]}"
            )
            entered = {e.element_id for e in history if e.kind == HistoryKind.ELEMENT_ENTERED}
            assert entered >= set(PIPELINE_JOBS)
            assert all(e.variables for e in completed if e.element_id in PIPELINE_JOBS)
            job_keys |= {
                HandlerContext.idempotency_key_for(instance.id, e.element_id, e.job_id or "")
                for e in completed
                if e.job_id
            }
    effects = create_engine(effects_url)
    with effects.connect() as conn:
        applied = [key for (key,) in conn.execute(text("SELECT key FROM effects"))]
        calls = conn.execute(text("SELECT COUNT(*) FROM calls")).scalar_one()
    effects.dispose()
    assert len(job_keys) == len(instance_ids) * len(PIPELINE_JOBS)
    assert sorted(applied) == sorted(job_keys), "an effect is missing or extra"
    return {
        "instances": len(instances),
        "effects": len(applied),
        "calls": calls,
        "repeated_calls": calls - len(applied),
    }


@pytest.mark.slow
def test_300_orders_survive_workers_killed_mid_work_on_postgresql(
    postgres_url: str, worker_pools: Callable[..., WorkerPool]
) -> None:
    create_effect_tables(postgres_url)
    ids = start_orders(postgres_url, 300)
    pool = worker_pools(
        postgres_url, postgres_url, handler_delay=0.002, calls_between_kills=(20, 60)
    )
    for _ in range(3):
        pool.start()
    wait_until(
        lambda: completed_count(postgres_url) == 300,
        timeout=600,
        pool=pool,
        between=pool.kill_after_progress,
    )
    pool.stop_all()
    counts = assert_each_instance_done_exactly_once(postgres_url, postgres_url, ids)
    assert pool.kills >= 5, f"only {pool.kills} kills: the work ended before the test could kill"
    print(f"\npostgresql kill test: {counts}, kills={pool.kills}, workers started={pool.started}")


@pytest.mark.slow
def test_orders_survive_a_worker_process_killed_mid_work_on_sqlite(
    tmp_path: Path, worker_pools: Callable[..., WorkerPool]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'engine.db'}"
    effects_url = f"sqlite:///{tmp_path / 'effects.db'}"
    create_effect_tables(effects_url)
    ids = start_orders(store_url, 60)
    # slow enough handlers that kills land mid-job, not only between jobs
    pool = worker_pools(store_url, effects_url, handler_delay=0.02)
    pool.start()
    wait_until(
        lambda: completed_count(store_url) == 60,
        timeout=600,
        pool=pool,
        between=pool.kill_after_progress,
    )
    pool.stop_all()
    counts = assert_each_instance_done_exactly_once(store_url, effects_url, ids)
    assert pool.kills >= 5, f"only {pool.kills} kills: the work ended before the test could kill"
    print(f"\nsqlite kill test: {counts}, kills={pool.kills}")


@pytest.mark.slow
def test_a_killed_workers_job_is_taken_over_long_before_its_lease_ends_on_postgresql(
    postgres_url: str, worker_pools: Callable[..., WorkerPool]
) -> None:
    """With the default five-minute lease, a job whose worker died mid-handler is run by
    another worker: the first's liveness lock went with its process, not its lease."""
    create_effect_tables(postgres_url)
    [order] = start_orders(postgres_url, 1)
    pool = worker_pools(postgres_url, postgres_url, lease_seconds=None)
    stuck = pool.start(handler_delay=3600)  # inside its first handler until killed
    with Engine(postgres_url) as engine:
        wait_until(
            lambda: any(job.lock_owner == "w1/1" for job in engine.jobs()), timeout=120, pool=pool
        )
        [held] = engine.jobs()
        assert held.lock_expires_at is not None
        assert held.lock_expires_at - datetime.now(UTC) > timedelta(minutes=4)
    stuck.kill()
    stuck.wait()
    pool.start(handler_delay=0)
    # Well inside the lease: only liveness can have freed the job.
    wait_until(lambda: completed_count(postgres_url) == 1, timeout=120, pool=pool)
    pool.stop_all()
    assert_each_instance_done_exactly_once(postgres_url, postgres_url, [order])
    with Engine(postgres_url) as engine:
        completions = [e for e in engine.history(order) if e.kind == HistoryKind.ELEMENT_COMPLETED]
    assert [e.attempt for e in completions if e.job_id == held.id] == [2]


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    """A server of this test's own, since the test stops it: the shared one serves other runs."""
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.mark.slow
def test_workers_wait_out_dropped_connections_and_a_stopped_server_then_finish(
    own_postgres: ThrowawayPostgres, worker_pools: Callable[..., WorkerPool]
) -> None:
    # The workers' store connections and the handlers' effect connections are named apart, so
    # that only the store's are dropped: a handler failing is a different story (retries).
    store_url = f"{own_postgres.url}?application_name=retailflow_store"
    effects_url = f"{own_postgres.url}?application_name=retailflow_effects"
    create_effect_tables(effects_url)
    ids = start_orders(store_url, 150)
    pool = worker_pools(store_url, effects_url, handler_delay=0.005)
    pool.start()
    pool.start()
    admin = create_engine(own_postgres.url, poolclass=NullPool)
    terminated = 0

    def drop_store_connections() -> bool:
        nonlocal terminated
        with admin.begin() as conn:
            terminated += conn.execute(
                text(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'retailflow_store'"
                )
            ).scalar_one()
        return terminated >= 4

    wait_until(lambda: completed_count(store_url) >= 20, timeout=120, pool=pool)
    # Drop connections in bursts, so that some land inside transactions, until four did.
    wait_until(drop_store_connections, timeout=120, pool=pool, every=0.01)
    admin.dispose()
    own_postgres.stop()
    try:
        # Down until the workers have noticed, however long that takes them.
        wait_until(lambda: "store unavailable" in pool.logs(tail=None), timeout=120, pool=pool)
    finally:
        own_postgres.start()

    def done() -> bool:
        try:
            return completed_count(store_url) == 150
        except StoreUnavailableError:
            return False

    wait_until(done, timeout=240, pool=pool)
    assert [p.poll() for p in pool.processes] == [None, None], "a worker died"
    assert pool.stop_all() == [0, 0]
    logs = pool.logs(tail=None)
    assert "store unavailable" in logs and "store available again" in logs, logs
    assert_each_instance_done_exactly_once(store_url, effects_url, ids)
