"""The inventory handlers of the supply chain (put away, snapshot, replenishment plan,
transfers, slow movers) against a real seeded back office."""

from __future__ import annotations

from typing import Any

import pytest

from retailflow import VirtualClock
from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail import Backoffice, seed_backoffice
from retailflow.retail.inventory import inventory_handlers
from retailflow.retail.records import PurchaseOrder, Stock


@pytest.fixture
def office() -> Backoffice:
    office = Backoffice(clock=VirtualClock())
    seed_backoffice(office, customers=5)
    return office


@pytest.fixture
def handlers(office: Backoffice) -> HandlerRegistry:
    return inventory_handlers(office)


def call(handlers: HandlerRegistry, topic: str, variables: dict[str, Any],
         job_id: str = "job-1") -> dict[str, Any]:
    handler = handlers.get(topic)
    assert handler is not None
    return handler.invoke(variables, HandlerContext(
        instance_id="i-1", business_key=None, process_id="inventory_supply_chain",
        definition_id="d-1", element_id=topic.split(".")[1], job_id=job_id, topic=topic,
        attempt=1))


def on_hand(office: Backoffice, location_id: str, sku: str) -> int:
    with office.session() as session:
        stock = session.get(Stock, (location_id, sku))
        return stock.on_hand if stock else 0


def test_received_goods_are_put_away_once_at_the_purchase_order_location(
        office: Backoffice, handlers: HandlerRegistry) -> None:
    with office.session() as session:
        session.add(PurchaseOrder(
            number="PO-1", supplier_id="SUP-FAST", location_id="LK-JINGAN", total=10.0,
            lines=[{"sku": "TEA-001", "quantity": 30}, {"sku": "MUG-005", "quantity": 5}],
            status="confirmed", created_at=office.clock.now()))
    before = on_hand(office, "LK-JINGAN", "TEA-001")
    for _ in range(2):
        result = call(handlers, "inventory.put_away", {"po_number": "PO-1"})
    assert result["po_status"] == "received"
    assert on_hand(office, "LK-JINGAN", "TEA-001") == before + 30
    assert on_hand(office, "LK-JINGAN", "MUG-005") == 5
    with office.session() as session:
        assert session.get(PurchaseOrder, "PO-1").status == "received"


def test_putting_away_an_unknown_purchase_order_is_an_error(handlers: HandlerRegistry) -> None:
    with pytest.raises(ValueError, match="PO-404"):
        call(handlers, "inventory.put_away", {"po_number": "PO-404"})

