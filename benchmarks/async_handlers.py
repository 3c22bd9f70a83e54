"""What running an ``async def`` handler costs per call, against a plain function.

    python benchmarks/async_handlers.py [--calls 5000]

Binds the same trivial handler three ways and calls ``RegisteredHandler.invoke`` in a loop: a
plain function; an async one on a ``HandlerLoop`` (one long-lived loop in a thread, what the
engine and workers use: a thread hop per call); an async one with ``asyncio.run`` (a fresh loop
per call, what ``invoke`` does without a loop, and what the engine did before the loop). Prints
microseconds per call and the ratio to the plain function.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from retailflow.handlers import HandlerContext, HandlerLoop, RegisteredHandler

CONTEXT = HandlerContext(
    instance_id="i",
    business_key=None,
    process_id="p",
    definition_id="d",
    element_id="e",
    job_id="j",
    topic="t",
    attempt=1,
    headers={},
)


def plain(sku: str) -> dict[str, Any]:
    return {"sku": sku}


async def awaited(sku: str) -> dict[str, Any]:
    return {"sku": sku}


def per_call(call: Callable[[], object], calls: int) -> float:
    """Microseconds per call, best of three rounds."""
    rounds = []
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - began) / calls * 1e6)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    calls = parser.parse_args().calls
    variables = {"sku": "TEA-001"}
    loop = HandlerLoop()
    sync_handler = RegisteredHandler("t", plain)
    async_handler = RegisteredHandler("t", awaited)
    try:
        rows = {
            "plain function": per_call(lambda: sync_handler.invoke(variables, CONTEXT), calls),
            "async, engine's HandlerLoop": per_call(
                lambda: async_handler.invoke(variables, CONTEXT, loop=loop), calls
            ),
            "async, asyncio.run per call": per_call(
                lambda: async_handler.invoke(variables, CONTEXT), calls
            ),
        }
    finally:
        loop.close()
    base = rows["plain function"]
    print(f"{'handler':<30} {'us/call':>9} {'x plain':>8}")
    for name, micros in rows.items():
        print(f"{name:<30} {micros:>9.1f} {micros / base:>8.1f}")


if __name__ == "__main__":
    main()
