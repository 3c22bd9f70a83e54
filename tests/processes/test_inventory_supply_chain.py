"""processes/inventory_supply_chain.bpmn as the business tells it: a stock change or the
12-hourly cycle snapshots the stock, the replenishment table decides each line's reorder point,
shortages are moved from locations that can spare stock or bought through procurement (the
called product_planning_procurement), and slow movers go to marketing. Every path, and every
rule of replenishment.dmn, so `pytest --rf-cov` shows the process fully covered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine, VirtualClock
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import PurchaseOrder, Stock
from retailflow.testing import HandlerMocks, TimeTravel, assert_that, complete, correlate

FILES = (
    "processes/inventory_supply_chain.bpmn",
    "processes/replenishment.dmn",
    "processes/product_planning_procurement.bpmn",
    "processes/supplier_choice.dmn",
)
pytestmark = pytest.mark.rf_deploy(*FILES)


def line(
    location_id: str, sku: str, category: str, available: int, weekly_sales: int
) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "sku": sku,
        "category": category,
        "on_hand": available,
        "available": available,
        "weekly_sales": weekly_sales,
    }


#: One line for each rule of the replenishment table, in the table's order.
SNAPSHOT = [
    line("ST-PUDONG", "MLK-003", "fresh", 12, 25),
    line("ST-PUDONG", "FRU-004", "fresh", 30, 8),
    line("WH-EAST", "TEA-001", "grocery", 300, 40),
    line("ST-XUHUI", "MUG-005", "home", 0, 6),
    line("ST-FUTIAN", "LMP-009", "home", 60, 1),
]
TRANSFER = {
    "sku": "MLK-003",
    "from_location": "WH-EAST",
    "to_location": "ST-PUDONG",
    "quantity": 80,
}
REORDER = {
    "sku": "MUG-005",
    "category": "home",
    "location_id": "ST-XUHUI",
    "quantity": 30,
    "urgency": "high",
}


@pytest.fixture(autouse=True)
def supply_chain(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The back office on a day with one shortage to move, one to buy and one slow mover."""
    rf_handlers.mock(
        "inventory.snapshot_stock",
        returns={"stock_lines": SNAPSHOT, "snapshot_at": "2030-01-01T00:00:00+00:00"},
    )
    rf_handlers.mock(
        "inventory.plan_replenishment", returns={"transfers": [TRANSFER], "reorders": [REORDER]}
    )
    rf_handlers.mock("inventory.transfer", returns={"transferred": 80})
    rf_handlers.mock("inventory.find_slow_movers", returns={"slow_movers": ["LMP-009"]})
    rf_handlers.mock(
        "procurement.forecast_demand",
        returns={
            "planning_trigger": "reorder",
            "category": "home",
            "quantity": 30,
            "urgency": "high",
            "delivery_location": "ST-XUHUI",
            "estimated_cost": 75.0,
            "purchase_lines": [{"sku": "MUG-005", "quantity": 30}],
        },
    )
    rf_handlers.mock(
        "procurement.send_purchase_order",
        returns={"po_number": "PO-7", "po_total": 75.0, "expected_delivery": "2030-01-03"},
    )
    rf_handlers.mock("procurement.record_confirmation", returns={"po_status": "confirmed"})
    rf_handlers.mock("inventory.put_away", returns={"po_status": "received"})
    return rf_handlers


def test_a_stock_change_moves_spare_stock_buys_the_rest_and_flags_slow_movers(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    run = correlate("stock_changed", variables={"location_id": "ST-XUHUI"})
    assert_that(run).has_passed(
        "stock_changed_received", "snapshot_stock", "transfer_stock", "flag_slow_movers"
    ).is_waiting_at("plan_assortment")
    assert rf_handlers["inventory.plan_replenishment"].last_inputs["replenishment_rules"] == [
        {"reorder_point": 40, "reorder_quantity": 80},
        {"reorder_point": 10, "reorder_quantity": 20},
        {"reorder_point": 30, "reorder_quantity": 60},
        {"reorder_point": 15, "reorder_quantity": 30},
        {"reorder_point": 5, "reorder_quantity": 10},
    ]
    assert rf_handlers["inventory.transfer"].last_inputs["transfer"] == TRANSFER
    assert rf_handlers["procurement.forecast_demand"].last_inputs["reorder"] == REORDER

    complete(run, {})
    complete(run, {"budget_approved": True})
    correlate(
        "supplier_confirmed",
        key="PO-7",
        variables={"confirmed_quantity": 30, "delivery_date": "2030-01-03"},
    )
    complete(run, {"qc_passed": True})
    assert_that(run).is_ended_at("stock_replenished").has_passed(
        "reorder_from_suppliers", "goods_in_stock"
    ).has_variables(purchase_orders=["PO-7"], slow_movers=["LMP-009"])


def test_a_quiet_cycle_with_nothing_short_and_nothing_slow_ends_at_once(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_handlers.mock("inventory.plan_replenishment", returns={"transfers": [], "reorders": []})
    rf_handlers.mock("inventory.find_slow_movers", returns={"slow_movers": []})
    rf_clock.advance(hours=12)
    [run] = rf_engine.instances()
    assert_that(run).is_ended_at("stock_replenished").has_passed(
        "replenishment_cycle_due", "decide_replenishment"
    ).has_not_passed("flag_slow_movers")
    assert rf_handlers.calls("inventory.transfer") == []
    assert rf_handlers.calls("procurement.forecast_demand") == []


LISTENER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="l"
    targetNamespace="t">
  <bpmn:process id="slow_mover_listener" isExecutable="true">
    <bpmn:startEvent id="flagged"><bpmn:signalEventDefinition signalRef="s" /></bpmn:startEvent>
    <bpmn:userTask id="plan_promotion" name="Plan promotion" />
    <bpmn:sequenceFlow id="f" sourceRef="flagged" targetRef="plan_promotion" />
  </bpmn:process>
  <bpmn:signal id="s" name="slow_movers_flagged" />
</bpmn:definitions>
"""


def test_with_the_real_back_office_a_stock_change_rebalances_and_buys_stock(tmp_path: Path) -> None:
    clock = VirtualClock()
    office = Backoffice(clock=clock)
    seed_backoffice(office, customers=5)
    with office.session() as session:
        for stock in session.scalars(select(Stock)):
            # Every line comfortably stocked, selling 25 a week ...
            warehouse = stock.location_id.startswith("WH-")
            stock.on_hand, stock.reserved, stock.sold_last_7_days = 300 if warehouse else 100, 0, 25
        # ... but one store ran out of tea (the warehouses can spare some), earbuds ran out
        # everywhere (they must be bought), and nobody buys lamps.
        session.get(Stock, ("ST-PUDONG", "TEA-001")).on_hand = 0
        for stock in session.scalars(select(Stock).where(Stock.sku == "EAR-008")):
            stock.on_hand = 0
        for stock in session.scalars(select(Stock).where(Stock.sku == "LMP-009")):
            stock.sold_last_7_days = 0
    (tmp_path / "listener.bpmn").write_text(LISTENER)
    engine = Engine(handlers=retail_handlers(office), clock=clock)
    engine.deploy(*FILES)
    engine.deploy(tmp_path / "listener.bpmn", require_handlers=False)

    run = engine.correlate("stock_changed", variables={"location_id": "ST-PUDONG"})
    assert run is not None
    engine.run()
    with office.session() as session:
        assert session.get(Stock, ("ST-PUDONG", "TEA-001")).on_hand == 60
        assert (
            session.get(Stock, ("WH-EAST", "TEA-001")).on_hand
            + session.get(Stock, ("WH-SOUTH", "TEA-001")).on_hand
            == 540
        )
    listeners = [i for i in engine.instances() if i.process_id == "slow_mover_listener"]
    assert [i.variables["slow_movers"] for i in listeners] == [["LMP-009"]]

    # Five locations without earbuds: five purchases, each planned, approved, confirmed, checked.
    for _ in range(50):
        tasks = engine.tasks(instance=run.id)
        if not tasks:
            break
        task = tasks[0]
        answer = {
            "plan_assortment": {},
            "approve_budget": {"budget_approved": True},
            "inspect_goods": {"qc_passed": True},
        }[task.element_id]
        engine.complete_task(task, answer)
        engine.run()
        with office.session() as session:
            sent = session.scalars(
                select(PurchaseOrder).where(PurchaseOrder.status == "sent")
            ).all()
            numbers = [order.number for order in sent]
        for number in numbers:
            engine.correlate(
                "supplier_confirmed",
                key=number,
                variables={"confirmed_quantity": 60, "delivery_date": "2030-01-05"},
            )
            engine.run()

    assert_that(run, engine=engine).is_ended_at("stock_replenished")
    with office.session() as session:
        orders = session.scalars(select(PurchaseOrder)).all()
        assert sorted(order.location_id for order in orders) == [
            "ST-FUTIAN",
            "ST-PUDONG",
            "ST-XUHUI",
            "WH-EAST",
            "WH-SOUTH",
        ]
        assert {order.status for order in orders} == {"received"}
        assert {order.supplier_id for order in orders} == {"SUP-FAST"}
        assert session.get(Stock, ("ST-FUTIAN", "EAR-008")).on_hand == 60
    assert sorted(engine.instance(run.id).variables["purchase_orders"]) == sorted(
        order.number for order in orders
    )
