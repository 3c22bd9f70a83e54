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
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def office(clock: VirtualClock) -> Backoffice:
    office = Backoffice(clock=clock)
    seed_backoffice(office, customers=5)
    return office


@pytest.fixture
def handlers(office: Backoffice) -> HandlerRegistry:
    return inventory_handlers(office)


def call(
    handlers: HandlerRegistry, topic: str, variables: dict[str, Any], job_id: str = "job-1"
) -> dict[str, Any]:
    handler = handlers.get(topic)
    assert handler is not None
    return handler.invoke(
        variables,
        HandlerContext(
            instance_id="i-1",
            business_key=None,
            process_id="inventory_supply_chain",
            definition_id="d-1",
            element_id=topic.split(".")[1],
            job_id=job_id,
            topic=topic,
            attempt=1,
        ),
    )


def on_hand(office: Backoffice, location_id: str, sku: str) -> int:
    with office.session() as session:
        stock = session.get(Stock, (location_id, sku))
        return stock.on_hand if stock else 0


def test_received_goods_are_put_away_once_at_the_purchase_order_location(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        session.add(
            PurchaseOrder(
                number="PO-1",
                supplier_id="SUP-FAST",
                location_id="LK-JINGAN",
                total=10.0,
                lines=[{"sku": "TEA-001", "quantity": 30}, {"sku": "MUG-005", "quantity": 5}],
                status="confirmed",
                created_at=office.clock.now(),
            )
        )
    before = on_hand(office, "LK-JINGAN", "TEA-001")
    for _ in range(2):
        result = call(handlers, "inventory.put_away", {"po_number": "PO-1"})
    assert result["po_status"] == "received"
    assert on_hand(office, "LK-JINGAN", "TEA-001") == before + 30
    assert on_hand(office, "LK-JINGAN", "MUG-005") == 5
    with office.session() as session:
        assert session.get(PurchaseOrder, "PO-1").status == "received"


def test_putting_away_an_unknown_purchase_order_is_an_error(handlers: HandlerRegistry) -> None:
    with pytest.raises(LookupError, match=r"PO-404.*procurement\.send_purchase_order"):
        call(handlers, "inventory.put_away", {"po_number": "PO-404"})


def test_the_snapshot_covers_every_store_and_warehouse_line_but_not_lockers(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        stock = session.get(Stock, ("ST-PUDONG", "TEA-001"))
        stock.on_hand, stock.reserved, stock.sold_last_7_days = 12, 2, 9
    result = call(handlers, "inventory.snapshot_stock", {"location_id": "ST-PUDONG"})
    lines = result["stock_lines"]
    assert len(lines) == 5 * 10
    assert {line["location_id"] for line in lines} == {
        "WH-EAST",
        "WH-SOUTH",
        "ST-PUDONG",
        "ST-XUHUI",
        "ST-FUTIAN",
    }
    assert {
        "location_id": "ST-PUDONG",
        "sku": "TEA-001",
        "category": "grocery",
        "on_hand": 12,
        "available": 10,
        "weekly_sales": 9,
    } in lines
    assert result["snapshot_at"] == "2030-01-01T00:00:00+00:00"


def line(location_id: str, sku: str, available: int, weekly_sales: int = 10) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "sku": sku,
        "category": "grocery",
        "on_hand": available,
        "available": available,
        "weekly_sales": weekly_sales,
    }


RULE = {"reorder_point": 15, "reorder_quantity": 30}


def test_a_shortage_is_moved_from_the_location_that_can_best_spare_it(
    handlers: HandlerRegistry,
) -> None:
    lines = [
        line("ST-PUDONG", "TEA-001", 4),
        line("WH-EAST", "TEA-001", 80),
        line("WH-SOUTH", "TEA-001", 200),
    ]
    plan = call(
        handlers,
        "inventory.plan_replenishment",
        {"stock_lines": lines, "replenishment_rules": [RULE] * 3},
    )
    assert plan == {
        "reorders": [],
        "transfers": [
            {
                "sku": "TEA-001",
                "from_location": "WH-SOUTH",
                "to_location": "ST-PUDONG",
                "quantity": 30,
            }
        ],
    }


def test_a_shortage_no_location_can_spare_is_bought_urgently_when_the_shelf_is_empty(
    handlers: HandlerRegistry,
) -> None:
    # WH-EAST keeps its reorder point plus one reorder quantity (45): it can spare 40 only once.
    lines = [
        line("ST-PUDONG", "TEA-001", 0),
        line("ST-XUHUI", "TEA-001", 10),
        line("WH-EAST", "TEA-001", 85),
    ]
    plan = call(
        handlers,
        "inventory.plan_replenishment",
        {"stock_lines": lines, "replenishment_rules": [RULE] * 3},
    )
    assert plan["transfers"] == [
        {"sku": "TEA-001", "from_location": "WH-EAST", "to_location": "ST-PUDONG", "quantity": 30}
    ]
    assert plan["reorders"] == [
        {
            "sku": "TEA-001",
            "category": "grocery",
            "location_id": "ST-XUHUI",
            "quantity": 30,
            "urgency": "normal",
        }
    ]
    empty = call(
        handlers,
        "inventory.plan_replenishment",
        {"stock_lines": [line("ST-PUDONG", "TEA-001", 0)], "replenishment_rules": [RULE]},
        job_id="job-2",
    )
    assert empty["reorders"][0]["urgency"] == "high"


def test_a_line_being_reordered_is_not_reordered_again_at_the_next_cycles(
    handlers: HandlerRegistry, clock: VirtualClock
) -> None:
    short = {"stock_lines": [line("WH-EAST", "TEA-001", 5)], "replenishment_rules": [RULE]}

    def reordered(job_id: str) -> list[str]:
        plan = call(handlers, "inventory.plan_replenishment", short, job_id=job_id)
        return [reorder["sku"] for reorder in plan["reorders"]]

    assert reordered("cycle-1") == ["TEA-001"]
    assert reordered("cycle-1") == ["TEA-001"]  # the same job again: the same plan
    clock.advance(hours=12)
    assert reordered("cycle-2") == []  # still being planned and approved
    clock.advance(days=7)
    assert reordered("cycle-3") == ["TEA-001"]


def test_the_snapshot_counts_what_open_purchase_orders_bring_as_available(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        before = session.get(Stock, ("WH-EAST", "TEA-001"))
        expected = before.on_hand - before.reserved + 40
        for number, status, quantity in (
            ("PO-1", "sent", 30),
            ("PO-2", "confirmed", 10),
            ("PO-3", "received", 99),
            ("PO-4", "rejected", 99),
        ):
            session.add(
                PurchaseOrder(
                    number=number,
                    supplier_id="SUP-FAST",
                    location_id="WH-EAST",
                    total=1.0,
                    lines=[{"sku": "TEA-001", "quantity": quantity}],
                    status=status,
                    created_at=office.clock.now(),
                )
            )
    snapshot = call(handlers, "inventory.snapshot_stock", {})
    [tea] = [
        item
        for item in snapshot["stock_lines"]
        if (item["location_id"], item["sku"]) == ("WH-EAST", "TEA-001")
    ]
    assert tea["available"] == expected


def test_a_plan_needs_a_rule_for_every_stock_line(handlers: HandlerRegistry) -> None:
    with pytest.raises(ValueError, match="2 stock lines but 1 replenishment rules"):
        call(
            handlers,
            "inventory.plan_replenishment",
            {
                "stock_lines": [line("ST-PUDONG", "TEA-001", 0), line("WH-EAST", "TEA-001", 0)],
                "replenishment_rules": [RULE],
            },
        )


def test_a_transfer_moves_stock_once_and_never_more_than_the_source_has_available(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        source = session.get(Stock, ("WH-EAST", "MUG-005"))
        source.on_hand, source.reserved = 50, 10
        session.get(Stock, ("ST-XUHUI", "MUG-005")).on_hand = 0
    transfer = {
        "sku": "MUG-005",
        "from_location": "WH-EAST",
        "to_location": "ST-XUHUI",
        "quantity": 60,
    }
    for _ in range(2):
        assert call(handlers, "inventory.transfer", {"transfer": transfer}) == {"transferred": 40}
    assert on_hand(office, "WH-EAST", "MUG-005") == 10
    assert on_hand(office, "ST-XUHUI", "MUG-005") == 40
    assert call(handlers, "inventory.transfer", {"transfer": transfer}, job_id="job-2") == {
        "transferred": 0
    }


def test_skus_whose_network_stock_outlasts_eight_weeks_of_sales_are_slow_movers(
    handlers: HandlerRegistry,
) -> None:
    lines = [
        line("ST-PUDONG", "LMP-009", 50, weekly_sales=2),
        line("WH-EAST", "LMP-009", 100, weekly_sales=3),
        line("ST-PUDONG", "TEA-001", 50, weekly_sales=20),
        line("WH-EAST", "TEA-001", 100, weekly_sales=0),
    ]
    assert call(handlers, "inventory.find_slow_movers", {"stock_lines": lines}) == {
        "slow_movers": ["LMP-009"]
    }


def test_marketing_hears_of_a_slow_mover_once_a_fortnight_not_every_cycle(
    office: Backoffice, handlers: HandlerRegistry, clock: VirtualClock
) -> None:
    lines = [line("WH-EAST", "LMP-009", 100, weekly_sales=1)]

    def flagged(job_id: str) -> list[str]:
        return call(handlers, "inventory.find_slow_movers", {"stock_lines": lines}, job_id=job_id)[
            "slow_movers"
        ]

    assert flagged("cycle-1") == ["LMP-009"]
    assert flagged("cycle-1") == ["LMP-009"]  # the same job run again: the same answer
    clock.advance(hours=12)
    assert flagged("cycle-2") == []
    clock.advance(days=14)
    assert flagged("cycle-3") == ["LMP-009"]
