"""AsyncEngine: the Engine's operations as coroutines, for code that runs in an event loop.

An ``Engine`` call blocks, on the database and on the handlers a step runs. Inside a running
event loop (a FastAPI endpoint, an aiohttp handler) a blocking call stalls every other request
that loop serves, so ``AsyncEngine`` hands each operation to a thread of its own and awaits it.
Each method is made from the ``Engine`` method of the same name (``_awaitable``): the same
parameters, docstring and result, so every operation keeps one definition. asyncio and the
thread pool are imported when first used: an application that does not await never needs them.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from retailflow.engine.engine import Engine
from retailflow.model import RetailflowError

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


def _awaitable(
    operation: Callable[Concatenate[Engine, Parameters], Result],
) -> Callable[Concatenate[AsyncEngine, Parameters], Coroutine[Any, Any, Result]]:
    """``Engine.<operation>`` as a coroutine method of ``AsyncEngine``."""

    @functools.wraps(operation)
    async def call(
        self: AsyncEngine, /, *args: Parameters.args, **kwargs: Parameters.kwargs
    ) -> Result:
        return await self._in_engine_thread(
            functools.partial(operation, self.engine, *args, **kwargs)
        )

    return call


class AsyncEngine:
    """An ``Engine`` for async code: ``await engine.start(...)`` never blocks the event loop.

    ::

        async with AsyncEngine(Engine("sqlite:///retail.db", handlers=handlers)) as engine:
            order = await engine.start("order_fulfilment", business_key="SO-1001")
            await engine.run()

    The operations run one at a time, in the order they were awaited, in one thread the
    ``AsyncEngine`` owns: an ``Engine`` is driven by one thread at a time (a worker gives each
    of its threads an engine of its own). A long ``run()`` therefore holds back the calls
    behind it; run jobs in ``retailflow worker`` when requests must not wait for them.
    Cancelling an awaiting task drops an operation that has not begun; one already running
    finishes (a thread cannot be stopped) and its result is discarded.

    ``async def`` handlers run on the wrapped engine's ``handler_loop``, not on the caller's
    loop. ``engine`` is the wrapped ``Engine``, for its attributes (``store``, ``handlers``,
    ``clock``); ``close()`` closes it and ends the thread.
    """

    def __init__(self, engine: Engine) -> None:
        from concurrent.futures import ThreadPoolExecutor  # with the first AsyncEngine

        self.engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retailflow-engine")
        self._closed = False

    # -- repository --------------------------------------------------------------------------
    deploy = _awaitable(Engine.deploy)
    deploy_files = _awaitable(Engine.deploy_files)
    definitions = _awaitable(Engine.definitions)

    # -- runtime -----------------------------------------------------------------------------
    start = _awaitable(Engine.start)
    run = _awaitable(Engine.run)
    execute_job = _awaitable(Engine.execute_job)
    tasks = _awaitable(Engine.tasks)
    complete_task = _awaitable(Engine.complete_task)
    correlate = _awaitable(Engine.correlate)
    broadcast_signal = _awaitable(Engine.broadcast_signal)
    cancel = _awaitable(Engine.cancel)
    retry = _awaitable(Engine.retry)
    set_variables = _awaitable(Engine.set_variables)
    fire_timer = _awaitable(Engine.fire_timer)

    # -- history and queries -----------------------------------------------------------------
    instance = _awaitable(Engine.instance)
    instances = _awaitable(Engine.instances)
    search_instances = _awaitable(Engine.search_instances)
    count_instances = _awaitable(Engine.count_instances)
    history = _awaitable(Engine.history)
    incidents = _awaitable(Engine.incidents)
    jobs = _awaitable(Engine.jobs)
    subscriptions = _awaitable(Engine.subscriptions)
    kpis = _awaitable(Engine.kpis)

    async def close(self) -> None:
        """Close the engine (its store and handler loop), then end the engine thread; a
        second ``close()`` does nothing."""
        if self._closed:
            return
        await self._in_engine_thread(self.engine.close)
        self._closed = True
        self._thread.shutdown()

    async def __aenter__(self) -> AsyncEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _in_engine_thread(self, call: Callable[[], Result]) -> Result:
        """Run ``call`` in the engine thread with the caller's context variables (as
        ``asyncio.to_thread`` does), and await its result."""
        import asyncio  # already loaded: the caller runs in its loop

        if self._closed:
            raise RetailflowError(
                "this AsyncEngine is closed, and its engine with it; make a new one"
            )
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, functools.partial(context.run, call)
        )
