"""Embedding retailflow: an order service that runs processes/order_fulfilment.bpmn.

    python examples/order_app.py

Handlers are plain functions bound to the job types drawn in the diagram; the engine keeps
everything in a SQLite file; a virtual clock lets the 30-minute payment timeout pass in an
instant. Four orders take four paths of the flow: delivered, payment timed out, out of stock,
and a carrier outage that becomes an incident until it is retried. The carrier's handler is
``async def``, as handlers calling web APIs often are; ``async_app.py`` serves these orders from
async endpoints. (The shop's real handlers,
on a database, are in ``retailflow.retail``; ``retailflow demo`` runs those.)
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from retailflow import BpmnError, Engine, HandlerContext, HandlerRegistry, VirtualClock

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
STOCK = {("ST-XUHUI", "TEA-001"): 10, ("ST-XUHUI", "MUG-002"): 0}
PRICES = {"TEA-001": 4.9, "MUG-002": 8.9}
HELD: dict[str, list[tuple[str, str, int]]] = {}  # order id -> what it holds, where
failed_deliveries: Counter[str] = Counter()
carrier_down = {"SO-4"}

handlers = HandlerRegistry()


class OrderLine(BaseModel):
    sku: str
    quantity: int


class ReserveRequest(BaseModel):
    order_id: str
    location_id: str
    items: list[OrderLine]


@handlers.handler("orders.register")
def register(items: list[dict]) -> dict[str, float]:
    return {"order_total": round(sum(PRICES[i["sku"]] * i["quantity"] for i in items), 2)}


@handlers.handler("inventory.reserve")
def reserve(request: ReserveRequest) -> dict[str, bool]:
    for line in request.items:
        if STOCK.get((request.location_id, line.sku), 0) < line.quantity:
            raise BpmnError("OUT_OF_STOCK", f"{line.sku} is sold out", {"missing_sku": line.sku})
    for line in request.items:
        STOCK[(request.location_id, line.sku)] -= line.quantity
    HELD[request.order_id] = [(request.location_id, i.sku, i.quantity) for i in request.items]
    return {"stock_reserved": True}


@handlers.handler("inventory.release")
def release(order_id: str) -> dict[str, bool]:
    for location, sku, quantity in HELD.pop(order_id, []):
        STOCK[(location, sku)] += quantity
    return {"stock_reserved": False}


@handlers.handler("payments.record")
def record_payment(order_id: str) -> None:
    print(f"  -> {order_id}: paid")


class CarrierClient:
    """The carrier's API. Like an ``httpx.AsyncClient``, it is made once, kept, and belongs to
    the event loop that made it: the engine runs async handlers on one loop of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def book(self, order_id: str) -> str:
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("the carrier client is bound to another event loop")
        await asyncio.sleep(0)  # the request, on the wire
        if order_id in carrier_down:
            raise ConnectionError("carrier API unreachable")
        return f"TRK-{order_id}"


carrier: list[CarrierClient] = []  # made by the first shipment


@handlers.handler("orders.ship", retries=2)
async def ship(order_id: str) -> dict[str, str]:
    if not carrier:
        carrier.append(CarrierClient())
    return {"tracking_number": await carrier[0].book(order_id)}


@handlers.handler("orders.record_failed_delivery")
def record_failed_delivery(order_id: str) -> dict[str, int]:
    failed_deliveries[order_id] += 1
    return {"delivery_attempts": failed_deliveries[order_id]}


@handlers.handler("orders.confirm_delivery")
def confirm_delivery(order_id: str) -> None:
    HELD.pop(order_id, None)  # the goods are the customer's now


@handlers.handler("orders.close")
def close(order_id: str, context: HandlerContext) -> dict[str, float]:
    print(f"  -> {order_id}: closed as {context.headers['outcome']}")
    return {"refund_due": 0.0}


@handlers.handler("payments.refund")
def refund(order_id: str, amount: float) -> None:
    print(f"  -> {order_id}: refunded {amount}")


@handlers.handler("crm.notify_customer")
def notify(customer_id: str, context: HandlerContext) -> None:
    print(f"  -> {customer_id}: {context.headers['template']}")


def new_order(order_id: str, sku: str) -> dict[str, Any]:
    """The variables an order starts with, as the shop's app sends them."""
    return {
        "order_id": order_id,
        "customer_id": f"C-{order_id}",
        "channel": "app",
        "items": [{"sku": sku, "quantity": 1}],
        "delivery_address": {"city": "Shanghai"},
    }


def main() -> None:
    # Handler failures are logged as warnings (with the traceback); show incidents only.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.ERROR)
    clock = VirtualClock()
    database = Path(tempfile.mkdtemp()) / "orders.db"
    with Engine(f"sqlite:///{database}", handlers=handlers, clock=clock) as engine:
        engine.deploy(PROCESSES / "order_fulfilment.bpmn", PROCESSES / "fulfilment_route.dmn")
        orders = {
            key: engine.start("order_fulfilment", business_key=key, variables=new_order(key, sku))
            for key, sku in {
                "SO-1": "TEA-001",
                "SO-2": "TEA-001",
                "SO-3": "MUG-002",
                "SO-4": "TEA-001",
            }.items()
        }
        engine.run()
        for key in ("SO-1", "SO-4"):  # SO-2 never pays
            engine.correlate("payment_received", key=key, variables={"paid": True})
        engine.run()
        for task in engine.tasks(candidate_group="store_staff"):  # small app orders: a store
            engine.complete_task(task, {"packed_by": "ana"})
        engine.run()
        clock.advance(seconds=2)  # past the first retry's backoff
        engine.run()
        for incident in engine.incidents():
            print(f"incident at {incident.element_id}: {incident.message}")
        carrier_down.clear()
        for incident in engine.incidents():
            engine.retry(incident)
        engine.run()
        for key in ("SO-1", "SO-4"):
            engine.correlate("delivery_confirmed", key=key)
        clock.advance(minutes=31)  # SO-2's payment times out
        engine.run()
        for key, order in orders.items():
            ends = [
                e.element_id
                for e in engine.history(order)
                if e.kind == "element_completed" and e.element_type == "endEvent"
            ]
            print(f"{key}: {engine.instance(order).status}, ended at {ends[-1]}")
        print(f"stock left: {STOCK}")


if __name__ == "__main__":
    main()
