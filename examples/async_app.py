"""The order service of order_app.py behind async endpoints, as a web framework serves them.

    python examples/async_app.py

The endpoints of FastAPI, Starlette or aiohttp are coroutines sharing one event loop, where a
blocking call stalls every request. They await an ``AsyncEngine``, which runs each operation of
its ``Engine`` in a thread of its own; two orders arrive at once. The handlers are
order_app.py's, the carrier's async one among them: it runs on the engine's own event loop and
keeps one client for every shipment. docs/api.md shows the same with FastAPI.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from order_app import PROCESSES, handlers, new_order

from retailflow import AsyncEngine, Engine


async def place_order(engine: AsyncEngine, order_id: str, sku: str) -> str:
    """POST /orders/{order_id}: start the order and run its first jobs."""
    order = await engine.start(
        "order_fulfilment", business_key=order_id, variables=new_order(order_id, sku)
    )
    await engine.run()
    return order.id


async def payment_received(engine: AsyncEngine, order_id: str) -> None:
    """POST /payments/{order_id}: the payment provider's callback."""
    await engine.correlate("payment_received", key=order_id, variables={"paid": True})
    await engine.run()


async def pack_everything(engine: AsyncEngine, staff: str) -> int:
    """POST /stores/tasks/pack: a store clerk packs what waits for the store."""
    tasks = await engine.tasks(candidate_group="store_staff")
    for task in tasks:
        await engine.complete_task(task, {"packed_by": staff})
    await engine.run()
    return len(tasks)


async def delivered(engine: AsyncEngine, order_id: str) -> None:
    """POST /deliveries/{order_id}: the carrier's delivery confirmation."""
    await engine.correlate("delivery_confirmed", key=order_id)
    await engine.run()


async def main() -> None:
    database = Path(tempfile.mkdtemp()) / "orders.db"
    async with AsyncEngine(Engine(f"sqlite:///{database}", handlers=handlers)) as engine:
        await engine.deploy(PROCESSES / "order_fulfilment.bpmn", PROCESSES / "fulfilment_route.dmn")
        keys = ["WEB-1", "WEB-2"]
        orders = await asyncio.gather(*(place_order(engine, key, "TEA-001") for key in keys))
        await asyncio.gather(*(payment_received(engine, key) for key in keys))
        print(f"packed {await pack_everything(engine, 'ana')} orders")
        await asyncio.gather(*(delivered(engine, key) for key in keys))
        for key, order_id in zip(keys, orders, strict=True):
            order = await engine.instance(order_id)
            print(f"{key}: {order.status}, tracking {order.variables['tracking_number']}")


if __name__ == "__main__":
    asyncio.run(main())
