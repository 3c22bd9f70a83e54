"""HandlerLoop: the one long-lived event loop, in a thread of its own, that async handlers run on.

The engine calls handlers from synchronous code (a job loop, a step of an instance). Running
each ``async def`` handler with ``asyncio.run`` would give every call a fresh loop: an
``httpx.AsyncClient`` or a connection pool a handler keeps between calls belongs to the loop
that made it, and breaks on the next. And ``asyncio.run`` refuses to start at all where a loop
already runs (an engine called from a FastAPI endpoint). So an engine (or a worker, for all its
threads) owns one loop in a daemon thread, started with the first async call and stopped by
``close()``; callers in any thread submit a coroutine and wait for its result, so the jobs of
several worker threads await side by side on it. asyncio itself is imported with the first
async call: most applications have no async handler.
"""

from __future__ import annotations

import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from retailflow.model import RetailflowError

if TYPE_CHECKING:
    import asyncio

Result = TypeVar("Result")


class HandlerLoop:
    """An event loop in a daemon thread; ``run`` waits for a coroutine on it from any thread.

    The thread starts with the first ``run``, so an application without async handlers has none.
    ``close`` cancels what is still pending on the loop (tasks a handler left behind), closes
    async generators and the loop, and joins the thread; ``run`` is refused afterwards.
    """

    def __init__(self, name: str = "retailflow-handlers") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def run(self, coroutine: Coroutine[Any, Any, Result]) -> Result:
        """Run ``coroutine`` on the loop and return its result, or raise what it raised.

        A caller interrupted while it waits (Ctrl-C) cancels the coroutine before the
        interruption goes on, so the handler stops with the job it ran for."""
        import asyncio

        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RetailflowError(
                "an async handler called the engine, which then had another async handler to "
                "run on the very loop the first one blocks; make the call from a thread, which "
                "leaves the loop free: await asyncio.to_thread(engine.start, ...)"
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, self._started())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a no-op when the coroutine itself raised
            raise

    @property
    def running(self) -> bool:
        """Whether the loop's thread is alive (it starts with the first ``run``)."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the loop after cancelling what is pending on it, and join its thread."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()

    def _started(self) -> asyncio.AbstractEventLoop:
        import asyncio

        with self._lock:
            if self._closed:
                raise RetailflowError(
                    "the engine is closed, and with it the event loop its async handlers run "
                    "on; make a new Engine to run handlers again"
                )
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name=self.name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: run until stopped, then wind down as ``asyncio.run`` does."""
    import asyncio

    asyncio.set_event_loop(loop)
    try:
        while True:
            try:
                loop.run_forever()
                break  # stopped by close()
            except (KeyboardInterrupt, SystemExit):
                # A handler's, which asyncio lets out of the loop: it reaches the caller the
                # handler ran for through its future, and the loop serves on.
                continue
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
