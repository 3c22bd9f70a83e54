"""Embedding retailflow: an order service that runs processes/order_fulfilment.bpmn.

    python examples/order_app.py

Handlers are plain functions bound to the job types drawn in the diagram; the engine keeps
everything in a SQLite file; a virtual clock lets the 30-minute payment timeout pass in an
instant. Four orders take the four paths of the flow: shipped, payment timed out, out of stock,
and a carrier outage that becomes an incident until it is retried.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pydantic import BaseModel

from retailflow import BpmnError, Engine, HandlerContext, HandlerRegistry, VirtualClock

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
STOCK = {"TEA-001": 10, "MUG-002": 0}
carrier_down = {"SO-4"}

handlers = HandlerRegistry()


class OrderLine(BaseModel):
    sku: str
    quantity: int


class ReserveRequest(BaseModel):
    order_id: str
    items: list[OrderLine]


@handlers.handler("inventory.reserve")
def reserve(request: ReserveRequest) -> dict[str, bool]:
    for line in request.items:
        if STOCK.get(line.sku, 0) < line.quantity:
            raise BpmnError("OUT_OF_STOCK", f"{line.sku} is sold out", {"missing_sku": line.sku})
    for line in request.items:
        STOCK[line.sku] -= line.quantity
    return {"stock_reserved": True}


@handlers.handler("inventory.release")
def release(items: list[dict]) -> dict[str, bool]:
    for line in items:
        STOCK[line["sku"]] += line["quantity"]
    return {"stock_reserved": False}


@handlers.handler("orders.ship", retries=2)
def ship(order_id: str) -> dict[str, str]:
    if order_id in carrier_down:
        raise ConnectionError("carrier API unreachable")
    return {"tracking_number": f"TRK-{order_id}"}


@handlers.handler("crm.notify_customer")
def notify(customer_id: str, context: HandlerContext) -> None:
    print(f"  -> {customer_id}: {context.headers['template']}")


def main() -> None:
    # Handler failures are logged as warnings (with the traceback); show incidents only.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.ERROR)
    clock = VirtualClock()
    database = Path(tempfile.mkdtemp()) / "orders.db"
    with Engine(f"sqlite:///{database}", handlers=handlers, clock=clock) as engine:
        engine.deploy(PROCESSES / "order_fulfilment.bpmn")
        orders = {key: engine.start("order_fulfilment", business_key=key, variables={
            "order_id": key, "customer_id": f"C-{key}",
            "items": [{"sku": sku, "quantity": 1}]})
            for key, sku in {"SO-1": "TEA-001", "SO-2": "TEA-001", "SO-3": "MUG-002",
                             "SO-4": "TEA-001"}.items()}
        engine.run()
        for key in ("SO-1", "SO-4"):                 # SO-2 never pays
            engine.correlate("payment_received", key=key, variables={"paid": True})
        for task in engine.tasks(candidate_group="warehouse"):
            engine.complete_task(task, {"packed_by": "ana"})
        engine.run()
        clock.advance(seconds=2)                     # past the first retry's backoff
        engine.run()
        for incident in engine.incidents():
            print(f"incident at {incident.element_id}: {incident.message}")
        carrier_down.clear()
        for incident in engine.incidents():
            engine.retry(incident)
        engine.run()
        clock.advance(minutes=31)                    # SO-2's payment times out
        engine.run()
        for key, order in orders.items():
            ends = [e.element_id for e in engine.history(order)
                    if e.kind == "element_completed" and e.element_type == "endEvent"]
            print(f"{key}: {engine.instance(order).status}, ended at {ends}")
        print(f"stock left: {STOCK}")


if __name__ == "__main__":
    main()
