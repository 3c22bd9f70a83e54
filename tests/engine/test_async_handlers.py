"""``async def`` handlers run on one long-lived event loop the engine (or a worker, for all its
threads) owns: what a handler keeps between calls stays usable, an engine called inside a
running loop runs them, and their outcomes (results, BPMN errors, failures, retries, incidents,
timeouts) are those of synchronous handlers. Closing the engine stops the loop and its thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from callout_files import c7_file, chain, service

from retailflow import (
    BpmnError,
    Engine,
    HandlerContext,
    HandlerRegistry,
    Instance,
    InstanceStatus,
    RetailflowError,
    RetryPolicy,
    Worker,
    WorkerSettings,
)
from retailflow.model import HistoryKind
from scenario_kit import ROOT, EngineFactory

ONE_TASK = ROOT / "tests" / "conformance" / "c8" / "service_task.bpmn"
PROCESS = "Process_0v3kq1d"
ERROR_BOUNDARY = ROOT / "tests" / "conformance" / "c8" / "boundary_error.bpmn"
NO_WAIT = RetryPolicy(initial_backoff=timedelta(0))


def run_one_task(
    make_engine: EngineFactory, reserve: Callable[..., Any], timeout: float | None = None
) -> tuple[Engine, Instance]:
    """An engine whose one-task process (``retries="3"``) has ``reserve`` for its handler,
    retrying at once: one instance, started and run until idle."""
    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve, timeout=timeout)
    engine = make_engine(handlers, retry_policy=NO_WAIT)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    engine.run()
    return engine, instance


class LoopBoundClient:
    """Stands for an ``httpx.AsyncClient``: made on one loop, unusable from any other."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.requests = 0

    async def get(self, path: str) -> str:
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("this client is bound to a different event loop")
        await asyncio.sleep(0)
        self.requests += 1
        return f"ok {path}"


class StockService:
    """Async handlers that share one client, made by the first call, across all calls."""

    def __init__(self) -> None:
        self.client: LoopBoundClient | None = None
        self.threads: set[threading.Thread] = set()
        self.registry = HandlerRegistry()
        self.registry.register("inventory.reserve", self.reserve)

    async def reserve(self, context: HandlerContext) -> dict[str, Any]:
        if self.client is None:
            self.client = LoopBoundClient()
        self.threads.add(threading.current_thread())
        answer = await self.client.get(f"/reserve/{context.instance_id}")
        return {"reserved": answer.startswith("ok")}


def test_async_handlers_run_inline_on_one_loop_so_a_client_they_keep_serves_every_call(
    make_engine: EngineFactory,
) -> None:
    service = StockService()
    engine = make_engine(service.registry)
    engine.deploy(ONE_TASK)
    orders = [engine.start(PROCESS) for _ in range(3)]

    assert engine.run() == 3

    assert [engine.instance(o.id).status for o in orders] == [InstanceStatus.COMPLETED] * 3
    assert all(engine.instance(o.id).variables["stock_reserved"] for o in orders)
    assert service.client is not None and service.client.requests == 3
    assert engine.incidents() == []
    # One loop, the engine's, in a thread of its own: not the caller's.
    [loop_thread] = service.threads
    assert loop_thread is not threading.current_thread()


def test_an_engine_called_inside_a_running_event_loop_runs_async_handlers(
    make_engine: EngineFactory,
) -> None:
    service = StockService()
    engine = make_engine(service.registry)
    engine.deploy(ONE_TASK)

    async def endpoint() -> InstanceStatus:
        # A synchronous call from a coroutine: it blocks this loop, but it works.
        order = engine.start(PROCESS)
        engine.run()
        return engine.instance(order.id).status

    assert asyncio.run(endpoint()) == InstanceStatus.COMPLETED
    assert engine.incidents() == []


def test_an_async_camunda7_delegate_runs_in_the_step_even_inside_a_running_loop(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    handlers = HandlerRegistry()

    @handlers.handler("reserveStock")
    async def reserve(quantity: int) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"reserved": quantity}

    engine = make_engine(handlers)
    engine.deploy(
        c7_file(tmp_path, chain(service("Activity_reserve", 'camunda:class="a.ReserveStock"')))
    )

    async def endpoint() -> Any:
        return engine.start("Process_1", variables={"quantity": 2})

    instance = asyncio.run(endpoint())

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables == {"quantity": 2, "reserved": 2}


def test_a_bpmn_error_from_an_async_handler_takes_the_drawn_error_path(
    make_engine: EngineFactory,
) -> None:
    handlers = HandlerRegistry()

    @handlers.handler("payment.charge")
    async def charge() -> None:
        await asyncio.sleep(0)
        raise BpmnError("PAYMENT_DECLINED", "card refused", {"reason": "expired"})

    @handlers.handler("crm.ask_card")
    async def ask_card(reason: str) -> dict[str, Any]:
        return {"asked": reason}

    engine = make_engine(handlers)
    engine.deploy(ERROR_BOUNDARY)
    instance = engine.start("Process_1aylffs")
    engine.run()

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables["asked"] == "expired"
    thrown = [e for e in engine.history(instance.id) if e.kind == HistoryKind.BPMN_ERROR_THROWN]
    assert [e.variables["code"] for e in thrown] == ["PAYMENT_DECLINED"]


def test_a_failing_async_handler_is_retried_then_an_incident_and_a_retry_completes_it(
    make_engine: EngineFactory,
) -> None:
    attempts: list[int] = []
    carrier_up = False

    async def reserve(context: HandlerContext) -> dict[str, Any]:
        attempts.append(context.attempt)
        await asyncio.sleep(0)
        if not carrier_up:
            raise ConnectionError("the stock service is down")
        return {"reserved": True}

    engine, instance = run_one_task(make_engine, reserve)

    assert len(attempts) == 3  # the file's retries="3"
    [incident] = engine.incidents(instance=instance.id)
    assert incident.message == "ConnectionError: the stock service is down"
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING

    carrier_up = True
    engine.retry(instance.id)
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert engine.incidents() == []


def test_a_retailflow_error_from_an_async_handler_is_an_incident_at_once(
    make_engine: EngineFactory,
) -> None:
    attempts: list[int] = []

    async def reserve() -> None:
        attempts.append(1)
        raise RetailflowError("the SKU does not exist")

    engine, instance = run_one_task(make_engine, reserve)
    assert attempts == [1]
    [incident] = engine.incidents(instance=instance.id)
    assert incident.message == "the SKU does not exist"


def test_an_async_handler_past_its_timeout_is_cancelled_on_the_loop_then_retried(
    make_engine: EngineFactory,
) -> None:
    cancelled: list[int] = []

    async def reserve(context: HandlerContext) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()  # never set: always late
        except asyncio.CancelledError:
            cancelled.append(context.attempt)
            raise
        return {}

    engine, instance = run_one_task(make_engine, reserve, timeout=0.05)

    assert len(cancelled) == 3
    [incident] = engine.incidents(instance=instance.id)
    assert "did not finish within its timeout of 0.05 s" in incident.message


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_an_async_handler_stopping_the_process_gives_its_job_back_and_the_loop_serves_on(
    make_engine: EngineFactory, stop: type[BaseException]
) -> None:
    loop_threads: list[threading.Thread] = []

    async def reserve() -> dict[str, Any]:
        loop_threads.append(threading.current_thread())
        if len(loop_threads) == 1:
            raise stop()
        return {"reserved": True}

    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve)
    engine = make_engine(handlers)
    engine.deploy(ONE_TASK)
    instance = engine.start(PROCESS)
    with pytest.raises(stop):
        engine.run()
    [job] = engine.jobs(instance=instance.id)
    assert job.lock_owner is None and job.retries_left == 3

    engine.run()

    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    first, second = loop_threads
    assert first is second  # the same loop, kept: what handlers hold on it stays usable


def test_a_timeout_error_an_async_handler_raises_itself_is_its_failure_not_its_timeout(
    make_engine: EngineFactory,
) -> None:
    async def reserve() -> dict[str, Any]:
        async with asyncio.timeout(0):  # the handler's own deadline for its request
            await asyncio.sleep(1)
        return {}

    engine, instance = run_one_task(make_engine, reserve, timeout=60)
    [incident] = engine.incidents(instance=instance.id)
    assert incident.message == "TimeoutError: "


def test_closing_the_engine_stops_its_loop_thread_and_cancels_what_handlers_left_running(
    make_engine: EngineFactory,
) -> None:
    loop_threads: list[threading.Thread] = []
    left_behind: list[asyncio.Task[None]] = []

    async def linger() -> None:
        await asyncio.Event().wait()

    async def reserve() -> dict[str, Any]:
        loop_threads.append(threading.current_thread())
        # A fire-and-forget task the handler never awaits.
        left_behind.append(asyncio.get_running_loop().create_task(linger()))
        await asyncio.sleep(0)
        return {"reserved": True}

    engine, _ = run_one_task(make_engine, reserve)
    [loop_thread] = set(loop_threads)
    assert loop_thread.is_alive() and engine.handler_loop.running
    assert left_behind and not any(task.done() for task in left_behind)

    engine.close()

    assert not loop_thread.is_alive()
    assert not engine.handler_loop.running
    # Whether or not a task had begun to run, close() cancelled it rather than leave it.
    assert all(task.cancelled() for task in left_behind)


def test_an_engine_without_async_handlers_starts_no_loop_thread(
    make_engine: EngineFactory,
) -> None:
    before = set(threading.enumerate())
    engine, instance = run_one_task(make_engine, lambda: {"reserved": True})
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert not engine.handler_loop.running
    assert not [t for t in set(threading.enumerate()) - before if "handlers" in t.name]


def test_an_async_handler_starting_a_process_with_an_async_delegate_does_so_from_a_thread(
    tmp_path: Path,
) -> None:
    handlers = HandlerRegistry()
    engine = Engine(handlers=handlers, retry_policy=NO_WAIT)
    started: list[str] = []

    @handlers.handler("reserveStock")
    async def reserve() -> dict[str, Any]:
        return {"reserved": True}

    @handlers.handler("inventory.reserve")
    async def reserve_and_start_another(context: HandlerContext) -> dict[str, Any]:
        # The delegate of the process it starts is async too, so it needs this very loop.
        if context.attempt == 1:
            engine.start("Process_1")  # blocks the loop: refused, and the job is retried
        started.append((await asyncio.to_thread(engine.start, "Process_1")).id)
        return {"reserved": True}

    with engine:
        engine.deploy(ONE_TASK)
        engine.deploy(
            c7_file(tmp_path, chain(service("Activity_reserve", 'camunda:class="a.ReserveStock"')))
        )
        instance = engine.start(PROCESS)
        engine.run()
        [failed] = [e for e in engine.history(instance.id) if e.kind == HistoryKind.JOB_FAILED]
        assert "await asyncio.to_thread(engine.start, ...)" in failed.variables["error"]
        assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
        [other] = started
        assert engine.instance(other).variables == {"reserved": True}


def test_a_workers_threads_await_their_async_handlers_side_by_side_on_one_loop(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    arrived: list[str] = []
    both_arrived = asyncio.Event()
    loops: set[asyncio.AbstractEventLoop] = set()
    loop_threads: set[threading.Thread] = set()

    async def look_up_price(sku: str) -> float:
        await asyncio.sleep(0)
        return {"TEA-001": 4.9}[sku]

    async def reserve(context: HandlerContext) -> dict[str, Any]:
        loops.add(asyncio.get_running_loop())
        loop_threads.add(threading.current_thread())
        arrived.append(context.instance_id)
        if len(arrived) == 2:
            both_arrived.set()
        # Each job waits for the other while it awaits a lookup of its own: only jobs that
        # await side by side on one loop get past this (else: a timeout, retries, incidents).
        price, _ = await asyncio.wait_for(
            asyncio.gather(look_up_price("TEA-001"), both_arrived.wait()), timeout=60
        )
        return {"reserved": price}

    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve)
    with Engine(url, handlers=handlers) as setup:
        setup.deploy(ONE_TASK)
        orders = [setup.start(PROCESS) for _ in range(2)]
        worker = Worker(
            url,
            handlers,
            settings=WorkerSettings(concurrency=2, claim_batch=1, poll_interval=0.05),
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while len(setup.instances(status=InstanceStatus.COMPLETED)) < len(orders):
                assert time.monotonic() < deadline, setup.incidents()
                time.sleep(0.05)
        finally:
            worker.stop()
            thread.join(30)
        assert not thread.is_alive()
        assert sorted(arrived) == sorted(o.id for o in orders)
        assert len(loops) == 1
        assert all(setup.instance(o.id).variables["stock_reserved"] == 4.9 for o in orders)
        # The worker's loop stopped with it.
        [loop_thread] = loop_threads
        assert not loop_thread.is_alive()
