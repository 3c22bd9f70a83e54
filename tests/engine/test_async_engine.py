"""AsyncEngine: the Engine's operations awaited from a running event loop (a FastAPI endpoint,
``asyncio.run``), without blocking it and without "event loop already running"; closing it
leaves no thread behind."""

from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any

import pytest

from retailflow import (
    AsyncEngine,
    Engine,
    HandlerContext,
    HandlerRegistry,
    InstanceStatus,
    NotFoundError,
    RetailflowError,
)
from retailflow.model import HistoryKind
from scenario_kit import ROOT

ONE_TASK = ROOT / "tests" / "conformance" / "c8" / "service_task.bpmn"
PROCESS = "Process_0v3kq1d"
USER_TASK = ROOT / "tests" / "conformance" / "c8" / "user_task.bpmn"


def async_reserving() -> HandlerRegistry:
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve")
    async def reserve(sku: str, context: HandlerContext) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"reserved": f"{sku} for {context.instance_id}"}

    return handlers


def test_an_async_engine_runs_an_order_with_an_async_handler_inside_asyncio_run() -> None:
    async def service() -> tuple[str, str, InstanceStatus, list[HistoryKind]]:
        async with AsyncEngine(Engine(handlers=async_reserving())) as engine:
            await engine.deploy(ONE_TASK)
            order = await engine.start(PROCESS, business_key="SO-1")
            ran = await engine.run()
            finished = await engine.instance(order.id)
            kinds = [event.kind for event in await engine.history(order.id)]
            return order.id, f"{ran} {finished.variables['stock_reserved']}", finished.status, kinds

    order_id, summary, status, kinds = asyncio.run(service())

    assert summary == f"1 SKU-1 for {order_id}"
    assert status == InstanceStatus.COMPLETED
    assert kinds[0] == HistoryKind.INSTANCE_STARTED and kinds[-1] == HistoryKind.INSTANCE_COMPLETED


@pytest.mark.asyncio
async def test_an_async_engine_completes_a_user_task_from_an_async_test() -> None:
    async with AsyncEngine(Engine()) as engine:
        await engine.deploy(USER_TASK)
        [definition] = await engine.definitions()
        order = await engine.start(definition.process_id)
        [task] = await engine.tasks(instance=order.id)

        await engine.complete_task(task, {"approved": True})

        finished = await engine.instance(order)
        assert finished.status == InstanceStatus.COMPLETED
        assert finished.variables["approved"] is True
        assert await engine.tasks(instance=order.id) == []


@pytest.mark.asyncio
async def test_an_error_of_an_operation_is_raised_where_it_is_awaited() -> None:
    async with AsyncEngine(Engine()) as engine:
        with pytest.raises(NotFoundError, match="no process 'nope' is deployed"):
            await engine.start("nope")


@pytest.mark.asyncio
async def test_the_event_loop_keeps_serving_while_the_engine_runs_a_slow_handler() -> None:
    entered, release = threading.Event(), threading.Event()

    def reserve() -> dict[str, Any]:
        entered.set()
        release.wait(60)
        return {"reserved": True}

    handlers = HandlerRegistry()
    handlers.register("inventory.reserve", reserve)
    async with AsyncEngine(Engine(handlers=handlers)) as engine:
        await engine.deploy(ONE_TASK)
        order = await engine.start(PROCESS)
        running = asyncio.create_task(engine.run())
        # This coroutine gets its turn on the loop while the handler blocks the engine thread.
        assert await asyncio.to_thread(entered.wait, 60)
        assert not running.done()
        release.set()
        assert await running == 1
        assert (await engine.instance(order)).status == InstanceStatus.COMPLETED


def test_closing_an_async_engine_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())

    async def service() -> InstanceStatus:
        async with AsyncEngine(Engine(handlers=async_reserving())) as engine:
            await engine.deploy(ONE_TASK)
            order = await engine.start(PROCESS)
            await engine.run()
            return (await engine.instance(order)).status

    assert asyncio.run(service()) == InstanceStatus.COMPLETED
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []


@pytest.mark.asyncio
async def test_a_closed_async_engine_refuses_operations_and_closes_once() -> None:
    engine = AsyncEngine(Engine())
    await engine.close()
    await engine.close()
    with pytest.raises(RetailflowError, match="this AsyncEngine is closed"):
        await engine.definitions()


def test_every_operation_of_the_engine_is_awaitable_with_its_signature_and_docstring() -> None:
    operations = {
        name
        for name, member in vars(Engine).items()
        if callable(member) and not name.startswith("_") and name != "close"
    }
    for name in operations:
        awaitable = getattr(AsyncEngine, name)
        assert inspect.iscoroutinefunction(awaitable), name
        assert inspect.signature(awaitable) == inspect.signature(getattr(Engine, name)), name
        assert awaitable.__doc__ == getattr(Engine, name).__doc__, name
    assert inspect.iscoroutinefunction(AsyncEngine.close)
