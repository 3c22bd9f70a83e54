"""Workers sharing a store: parallel branches of one instance on two workers, leases that
expire, and a graceful stop that finishes the job in hand and gives the rest back."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pipeline_handlers import TOPICS
from sqlalchemy.engine import make_url

from postgres_sessions import terminate_sessions
from retailflow import (
    ConcurrentUpdateError,
    Engine,
    HandlerContext,
    HandlerRegistry,
    HistoryKind,
    InstanceStatus,
    JobState,
    RetryPolicy,
    VirtualClock,
    Worker,
    WorkerSettings,
)
from retailflow.stores import Checkpoint, Store, open_store
from scenario_kit import FIXTURES, passed


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that separate engines (as separate workers would) share."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'shared.db'}"


def pipeline_handlers(**overrides: Any) -> HandlerRegistry:
    registry = HandlerRegistry()
    for topic in TOPICS:
        key = topic.replace(".", "_")
        registry.register(topic, overrides.get(key, lambda key=key: {f"{key}_done": True}))
    return registry


def deployed(url: str, clock: VirtualClock | None = None) -> Engine:
    engine = Engine(url, handlers=pipeline_handlers(), clock=clock)
    engine.deploy(FIXTURES / "order_pipeline.bpmn")
    return engine


class CommitsTogether:
    """A store whose first instance commit waits until the other worker's is ready too, so
    that both steps are computed from the same version: the race, made certain."""

    def __init__(self, store: Store, barrier: threading.Barrier) -> None:
        self._store = store
        self._barrier = barrier
        self._waited = False

    def commit(self, checkpoint: Checkpoint) -> None:
        if not self._waited:
            self._waited = True
            self._barrier.wait()
        self._store.commit(checkpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_two_workers_completing_parallel_branches_of_one_instance_lose_no_update(
    shared_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    setup = deployed(shared_url)
    order = setup.start("order_pipeline", business_key="SO-1")
    setup.run(max_jobs=1)  # validate_order; the two branches' jobs wait, unclaimed
    assert {j.element_id for j in setup.jobs(state=JobState.DUE)} == {
        "reserve_stock",
        "capture_payment",
    }
    both_ready = threading.Barrier(2, timeout=10)
    workers = [
        Engine(
            handlers=pipeline_handlers(),
            worker_id=f"w{n}",
            store=CommitsTogether(open_store(shared_url), both_ready),
        )
        for n in (1, 2)
    ]
    threads = [
        threading.Thread(target=w.run, kwargs={"max_jobs": 1, "claim_batch": 1}) for w in workers
    ]
    with caplog.at_level(logging.INFO, logger="retailflow.engine.stepping"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert caplog.text.count("instance changed meanwhile, re-applying") == 1
    instance = setup.instance(order.id)
    assert instance.variables["inventory_reserve_done"] is True
    assert instance.variables["payment_capture_done"] is True
    assert [j.element_id for j in setup.jobs()] == ["ship_order"]
    setup.run()
    assert setup.instance(order.id).status == InstanceStatus.COMPLETED
    assert passed(setup, order.id).count("join") == 1
    for engine in (setup, *workers):
        engine.close()


def test_a_dead_workers_job_is_claimed_again_when_its_lease_expires_and_runs_once(
    shared_url: str,
) -> None:
    clock = VirtualClock()
    calls: list[str] = []

    def validate(context: HandlerContext) -> dict[str, bool]:
        calls.append(context.idempotency_key)
        return {"orders_validate_done": True}

    setup = deployed(shared_url, clock)
    order = setup.start("order_pipeline", business_key="SO-2")
    dead = Engine(
        shared_url,
        handlers=pipeline_handlers(orders_validate=validate),
        clock=clock,
        worker_id="dead",
        lease=timedelta(seconds=30),
    )
    [claimed] = dead.store.claim_due_jobs(
        now=clock.now(), owner="dead", lease_until=clock.now() + dead.lease, limit=1
    )
    assert setup.jobs(state=JobState.CLAIMED)[0].lock_owner == "dead"
    survivor = Engine(
        shared_url,
        handlers=pipeline_handlers(orders_validate=validate),
        clock=clock,
        worker_id="survivor",
        lease=timedelta(seconds=30),
    )
    assert survivor.run(max_jobs=1) == 0  # the lease still runs
    clock.advance(seconds=31)
    assert survivor.run(max_jobs=1) == 1
    assert len(calls) == 1
    # The "dead" worker wakes up and finishes its stale claim: nothing happens twice.
    dead.execute_job(claimed)
    assert passed(setup, order.id).count("validate_order") == 1
    survivor.run()
    finished = setup.instance(order.id)
    assert finished.status == InstanceStatus.COMPLETED
    attempts = [
        e.attempt
        for e in setup.history(order.id)
        if e.kind == HistoryKind.ELEMENT_COMPLETED and e.element_id == "validate_order"
    ]
    assert attempts == [2]  # the survivor's run was the job's second attempt
    for engine in (setup, dead, survivor):
        engine.close()


def test_a_stale_worker_cannot_record_a_failure_over_the_worker_that_took_over(
    shared_url: str,
) -> None:
    clock = VirtualClock()
    setup = deployed(shared_url, clock)
    setup.start("order_pipeline")
    [stale] = setup.store.claim_due_jobs(
        now=clock.now(), owner="stale", lease_until=clock.now() + timedelta(seconds=5), limit=1
    )
    clock.advance(seconds=6)
    [fresh] = setup.store.claim_due_jobs(
        now=clock.now(), owner="fresh", lease_until=clock.now() + timedelta(seconds=5), limit=1
    )
    assert fresh.id == stale.id and fresh.attempt == 2
    with pytest.raises(ConcurrentUpdateError, match="no longer locked by stale"):
        setup.store.fail_job(
            stale.id,
            owner="stale",
            error="late",
            retries_left=0,
            due_at=clock.now(),
            incident=None,
            history=[],
        )
    assert setup.jobs(state=JobState.CLAIMED)[0].lock_owner == "fresh"
    setup.close()


def test_stopping_a_worker_finishes_the_job_in_hand_and_gives_back_the_claimed_ones(
    shared_url: str,
) -> None:
    setup = deployed(shared_url)
    orders = [setup.start("order_pipeline", business_key=f"SO-{n}") for n in range(6)]
    in_handler, release = threading.Event(), threading.Event()

    def slow_validate() -> dict[str, bool]:
        in_handler.set()
        release.wait(10)
        return {"orders_validate_done": True}

    worker = Worker(
        shared_url,
        pipeline_handlers(orders_validate=slow_validate),
        settings=WorkerSettings(claim_batch=4, poll_interval=0.05),
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert in_handler.wait(10)
    assert len(setup.jobs(state=JobState.CLAIMED)) == 4
    worker.stop()
    release.set()
    thread.join(10)
    assert not thread.is_alive()
    assert worker.executed == 1
    assert setup.jobs(state=JobState.CLAIMED) == []
    validated = [o for o in orders if "validate_order" in passed(setup, o.id)]
    assert len(validated) == 1
    assert all(j.attempt == 0 for j in setup.jobs() if j.element_id == "validate_order")
    setup.close()


def test_a_worker_runs_every_instance_to_the_end_with_several_threads(shared_url: str) -> None:
    setup = deployed(shared_url)
    orders = [setup.start("order_pipeline", business_key=f"SO-{n}") for n in range(20)]
    worker = Worker(
        shared_url, pipeline_handlers(), settings=WorkerSettings(concurrency=3, poll_interval=0.05)
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 60
    while len(setup.instances(status=InstanceStatus.COMPLETED)) < len(orders):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.stop()
    thread.join(10)
    assert worker.executed == 5 * len(orders)
    assert setup.jobs() == []
    setup.close()


def test_sigterm_stops_a_worker_process_gracefully_and_leaves_nothing_claimed(
    postgres_url: str, tmp_path: Path
) -> None:
    from pipeline_handlers import create_effect_tables

    create_effect_tables(postgres_url)
    with Engine(postgres_url) as setup:
        setup.deploy(FIXTURES / "order_pipeline.bpmn", require_handlers=False)
        for n in range(30):
            setup.start("order_pipeline", business_key=f"SO-{n}")
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "PIPELINE_EFFECTS_URL": postgres_url,
        "PIPELINE_HANDLER_DELAY": "0.2",
        "PYTHONPATH": str(Path(__file__).parent),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "retailflow.cli",
                "worker",
                "--db",
                postgres_url,
                "--handlers",
                "pipeline_handlers:registry",
                "--concurrency",
                "2",
                "--worker-id",
                "graceful",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while "job completed" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    text = log.read_text()
    assert "worker graceful stopping" in text and "worker graceful stopped after" in text
    assert "element_id=" in text and "job_id=" in text and "instance_id=" in text
    with Engine(postgres_url) as after:
        assert after.jobs(state=JobState.CLAIMED) == []
        assert after.jobs(state=JobState.DUE)  # work remains, for the next worker


def test_a_worker_whose_copy_of_an_instance_is_stale_reads_the_jobs_variables_afresh(
    shared_url: str,
) -> None:
    """Worker A ran the first step and kept its copy of the run; worker B ran the next ones.
    When A gets the following job, its copy still predicts that task, without data: A must
    notice and re-read, not call the handler with the variables missing."""
    seen: list[str] = []

    def ship(order_id: str) -> dict[str, bool]:
        seen.append(order_id)
        return {"orders_ship_done": True}

    handlers = pipeline_handlers(orders_ship=ship)
    first = Engine(shared_url, handlers=handlers, worker_id="A")
    first.deploy(FIXTURES / "order_pipeline.bpmn")
    order = first.start("order_pipeline", variables={"order_id": "SO-7"})
    assert first.run(max_jobs=1) == 1  # validate_order, on A
    other = Engine(shared_url, handlers=handlers, worker_id="B")
    assert other.run(max_jobs=2) == 2  # both branches, on B
    assert first.run() == 2  # ship_order and notify_customer, on A again
    assert seen == ["SO-7"]
    assert first.incidents() == []
    assert first.instance(order.id).status == InstanceStatus.COMPLETED
    first.close()
    other.close()


def test_an_idle_workers_pauses_stop_growing_at_the_poll_interval_however_long_it_idles() -> None:
    from retailflow.engine.worker import _Backoff

    idle = _Backoff(1.0, first=0.05)
    pauses = [idle.next() for _ in range(5000)]  # days of idling, in polls
    assert pauses[0] <= 0.05 and max(pauses) <= 1.0 and pauses[-1] >= 0.8
    idle.reset()
    assert idle.next() <= 0.05


def test_a_handler_failing_after_its_lease_was_taken_over_leaves_the_job_to_the_new_owner(
    shared_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    setup = deployed(shared_url, clock)
    setup.start("order_pipeline")
    taker = Engine(
        shared_url,
        handlers=pipeline_handlers(),
        clock=clock,
        worker_id="taker",
        lease=timedelta(seconds=30),
    )

    def slow_then_broken() -> None:
        clock.advance(seconds=31)  # the handler outlives its lease ...
        assert taker.store.claim_due_jobs(
            now=clock.now(), owner="taker", lease_until=clock.now() + taker.lease, limit=1
        )
        raise RuntimeError("payment gateway timeout")  # ... and then fails

    late = Engine(
        shared_url,
        handlers=pipeline_handlers(orders_validate=slow_then_broken),
        clock=clock,
        worker_id="late",
        lease=timedelta(seconds=30),
    )
    with caplog.at_level(logging.WARNING):
        assert late.run(max_jobs=1) == 1  # nothing escapes run()
    assert "was not recorded" in caplog.text
    [job] = setup.jobs(state=JobState.CLAIMED)
    assert (job.lock_owner, job.retries_left, job.last_error) == ("taker", 3, None)
    assert setup.incidents() == []
    for engine in (setup, taker, late):
        engine.close()


def test_a_run_holds_no_more_claimed_jobs_than_its_claim_batch(shared_url: str) -> None:
    setup = deployed(shared_url)
    setup.start("order_pipeline")
    held: list[list[str]] = []

    def reserve() -> dict[str, bool]:
        held.append([j.element_id for j in setup.jobs(state=JobState.CLAIMED)])
        return {"inventory_reserve_done": True}

    worker = Engine(shared_url, handlers=pipeline_handlers(inventory_reserve=reserve))
    worker.run(claim_batch=1)
    # While reserve_stock ran, capture_payment (the other branch) stayed free for others.
    assert held == [["reserve_stock"]]
    assert worker.jobs() == []
    setup.close()
    worker.close()


class FailingLoads:
    """A store whose first state read fails with a defect, not an outage."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failures = 1

    def load_state(self, instance_id: str) -> tuple[Any, bytes, Any]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("corrupt page")
        return self._store.load_state(instance_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_job_that_fails_by_a_defect_becomes_an_incident_instead_of_looping(
    shared_url: str,
) -> None:
    setup = deployed(shared_url)
    order = setup.start("order_pipeline")
    setup.close()
    broken = Engine(handlers=pipeline_handlers(), store=FailingLoads(open_store(shared_url)))
    assert broken.run() == 1
    [incident] = broken.incidents()
    assert incident.instance_id == order.id and incident.element_id == "validate_order"
    assert "internal error while running the job: RuntimeError: corrupt page" in incident.message
    broken.retry(incident)
    assert broken.run() == 5
    assert broken.instance(order.id).status == InstanceStatus.COMPLETED
    broken.close()


class AlwaysStale:
    """A store on which every instance commit finds another writer got there first."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def commit(self, checkpoint: Checkpoint) -> None:
        if checkpoint.expected_version is not None:
            raise ConcurrentUpdateError("another writer moved the instance on")
        self._store.commit(checkpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_job_that_keeps_losing_to_concurrent_changes_is_given_back_not_failed(
    shared_url: str,
) -> None:
    setup = deployed(shared_url)
    setup.start("order_pipeline")
    contended = Engine(handlers=pipeline_handlers(), store=AlwaysStale(open_store(shared_url)))
    assert contended.run(max_jobs=1) == 1
    [job] = setup.jobs()
    assert job.element_id == "validate_order"
    assert job.state_at(setup.clock.now()) == JobState.DUE and job.retries_left == 3
    assert setup.incidents() == []
    for engine in (setup, contended):
        engine.close()


def test_every_instance_filter_takes_the_instance_object_or_its_id(shared_url: str) -> None:
    failing = pipeline_handlers(orders_validate=lambda: 1 / 0)
    engine = Engine(
        shared_url,
        handlers=failing,
        retry_policy=RetryPolicy(retries=1, initial_backoff=timedelta(0)),
    )
    engine.deploy(FIXTURES / "order_pipeline.bpmn")
    order = engine.start("order_pipeline")
    engine.run()
    for given in (order, order.id):
        assert [i.element_id for i in engine.incidents(instance=given)] == ["validate_order"]
        assert [j.element_id for j in engine.jobs(instance=given)] == ["validate_order"]
        assert engine.tasks(instance=given) == []
        assert engine.subscriptions(instance=given) == []
    engine.close()


def test_on_postgresql_a_gone_owners_claim_is_free_before_its_lease_ends(
    postgres_url: str,
) -> None:
    clock = VirtualClock()
    setup = deployed(postgres_url, clock)
    order = setup.start("order_pipeline", business_key="SO-3")
    gone = Engine(postgres_url, handlers=pipeline_handlers(), clock=clock, worker_id="gone")
    survivor = Engine(postgres_url, handlers=pipeline_handlers(), clock=clock, worker_id="alive")
    [claimed] = gone.store.claim_due_jobs(
        now=clock.now(), owner="gone", lease_until=clock.now() + gone.lease, limit=1
    )
    assert survivor.run(max_jobs=1) == 0  # its owner lives: the claim holds
    gone.close()  # as a process's death closes its connections
    assert survivor.run(max_jobs=1) == 1  # the same instant: the lease has not moved on
    assert passed(setup, order.id).count("validate_order") == 1
    [attempt] = [
        e.attempt
        for e in setup.history(order.id)
        if e.kind == HistoryKind.ELEMENT_COMPLETED and e.element_id == claimed.element_id
    ]
    assert attempt == 2
    survivor.close()
    setup.close()


def test_a_worker_whose_database_connections_are_terminated_reconnects_and_carries_on(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The worker's connections carry a name of their own, so that only they are terminated.
    test_name = make_url(postgres_url).query["application_name"]
    worker_name = f"{test_name}_worker"
    worker_url = (
        make_url(postgres_url)
        .update_query_dict({"application_name": worker_name})
        .render_as_string(hide_password=False)
    )
    setup = deployed(postgres_url)
    first = setup.start("order_pipeline", business_key="SO-first")
    worker = Worker(worker_url, pipeline_handlers(), settings=WorkerSettings(poll_interval=0.05))
    thread = threading.Thread(target=worker.run)
    with caplog.at_level(logging.INFO):
        thread.start()
        deadline = time.monotonic() + 120
        while setup.instance(first.id).status != InstanceStatus.COMPLETED:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        terminated = terminate_sessions(postgres_url, worker_name)
        # Its pooled connection(s) and its liveness connection.
        assert terminated >= 2, caplog.text
        orders = [setup.start("order_pipeline", business_key=f"SO-{n}") for n in range(5)]
        deadline = time.monotonic() + 120
        while len(setup.instances(status=InstanceStatus.COMPLETED)) < 1 + len(orders):
            assert time.monotonic() < deadline, caplog.text
            assert thread.is_alive(), caplog.text
            time.sleep(0.05)
        # Inside the block: the worker says the store is back when the run() that outlived
        # the outage returns, which may come after the last completion, at its stop.
        worker.stop()
        thread.join(10)
    assert "store unavailable" in caplog.text, caplog.text
    assert "store available again" in caplog.text, caplog.text
    assert setup.jobs() == []
    assert worker.executed == 5 * (1 + len(orders)), caplog.text
    setup.close()
