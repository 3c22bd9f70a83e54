"""processes/product_planning_procurement.bpmn as the business tells it: a demand opportunity,
a reorder and the quarterly review each end in a purchase order, approved, confirmed, checked
and shelved (or refused, chased, rejected on the way). Every path, and every rule of
supplier_choice.dmn, so `pytest --rf-cov` shows the process fully covered."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine, VirtualClock
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.procurement import PurchasingEscalation
from retailflow.retail.records import PurchaseOrder, Stock
from retailflow.testing import HandlerMocks, TimeTravel, assert_that, complete, correlate, start

FILES = ("processes/product_planning_procurement.bpmn", "processes/supplier_choice.dmn")
pytestmark = pytest.mark.rf_deploy(*FILES)

OPPORTUNITY = {"sku": "EAR-008", "expected_units": 80, "reason": "searches for earbuds doubled"}


def forecast(
    category: str, quantity: int, urgency: str = "normal", trigger: str = "opportunity"
) -> dict[str, Any]:
    """What the demand forecast answers: one line of ``quantity`` units."""
    return {
        "planning_trigger": trigger,
        "category": category,
        "quantity": quantity,
        "urgency": urgency,
        "delivery_location": "WH-EAST",
        "estimated_cost": 1440.0,
        "purchase_lines": [{"sku": "EAR-008", "quantity": quantity}],
    }


@pytest.fixture(autouse=True)
def purchasing(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The back office, answering as it does on a good day."""
    rf_handlers.mock("procurement.forecast_demand", returns=forecast("electronics", 100))
    rf_handlers.mock(
        "procurement.send_purchase_order",
        returns={"po_number": "PO-1", "po_total": 1800.0, "expected_delivery": "2030-01-07"},
    )
    rf_handlers.mock("procurement.record_confirmation", returns={"po_status": "confirmed"})
    rf_handlers.mock("procurement.reject_delivery", returns={"po_status": "rejected"})
    rf_handlers.mock("procurement.escalate", returns={"escalated_to": "head_of_finance"})
    rf_handlers.mock("inventory.put_away", returns={"po_status": "received"})
    return rf_handlers


def plan_and_approve(instance: Any) -> None:
    """The category manager keeps the forecast; finance approves the budget."""
    assert_that(instance).has_open_user_task("plan_assortment", candidate_group="category_managers")
    complete(instance, {})
    assert_that(instance).has_open_user_task("approve_budget", candidate_group="finance")
    complete(instance, {"budget_approved": True})


def test_a_demand_opportunity_is_bought_from_the_quality_supplier_and_shelved(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    [deal] = [correlate("demand_opportunity", variables={"opportunity": OPPORTUNITY})]
    assert_that(deal).has_passed("demand_opportunity_received", "forecast_demand")
    assert rf_handlers["procurement.forecast_demand"].last_inputs["opportunity"] == OPPORTUNITY

    plan_and_approve(deal)
    assert_that(deal).is_waiting_at("wait_for_confirmation", "confirmation_overdue").has_variables(
        supplier_id="SUP-QUALITY", po_number="PO-1"
    )
    assert (
        rf_handlers["procurement.send_purchase_order"].last_inputs["supplier_id"] == "SUP-QUALITY"
    )

    correlate(
        "supplier_confirmed",
        key="PO-1",
        variables={"confirmed_quantity": 100, "delivery_date": "2030-01-07"},
    )
    assert_that(deal).has_open_user_task("inspect_goods", candidate_group="warehouse")
    assert rf_handlers["procurement.record_confirmation"].last_inputs["confirmed_quantity"] == 100

    complete(deal, {"qc_passed": True})
    assert_that(deal).is_ended_at("goods_in_stock").has_passed_in_order(
        "choose_supplier",
        "send_purchase_order",
        "wait_for_confirmation",
        "record_confirmation",
        "inspect_goods",
        "put_away_stock",
    )
    assert rf_handlers["inventory.put_away"].last_inputs["po_number"] == "PO-1"


def test_an_urgent_reorder_goes_to_the_fast_supplier_and_bad_goods_are_rejected(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock(
        "procurement.forecast_demand",
        returns=forecast("electronics", 40, urgency="high", trigger="reorder"),
    )
    reorder = start(
        "product_planning_procurement",
        variables={
            "reorder": {
                "sku": "EAR-008",
                "quantity": 40,
                "location_id": "ST-PUDONG",
                "urgency": "high",
            }
        },
    )
    assert_that(reorder).has_passed("reorder_requested").has_not_passed(
        "demand_opportunity_received", "quarterly_review_due"
    )

    plan_and_approve(reorder)
    assert_that(reorder).has_variables(supplier_id="SUP-FAST")
    correlate(
        "supplier_confirmed",
        key="PO-1",
        variables={"confirmed_quantity": 40, "delivery_date": "2030-01-03"},
    )
    complete(reorder, {"qc_passed": False, "qc_notes": "cracked cases"})
    assert_that(reorder).is_ended_at("delivery_rejected").has_not_passed("put_away_stock")
    assert rf_handlers["procurement.reject_delivery"].last_inputs["po_number"] == "PO-1"


def test_the_quarterly_review_buys_in_bulk_from_the_cheap_supplier(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_handlers.mock(
        "procurement.forecast_demand",
        returns=forecast("home", 300, urgency="low", trigger="quarterly_review"),
    )
    rf_clock.advance(days=89)
    assert rf_engine.instances() == []
    rf_clock.advance(days=1)
    [review] = rf_engine.instances()
    assert_that(review).has_passed("quarterly_review_due").has_open_user_task("plan_assortment")

    plan_and_approve(review)
    assert_that(review).has_variables(supplier_id="SUP-CHEAP")


def test_a_refused_budget_ends_the_purchase_before_any_supplier_is_chosen(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    deal = correlate("demand_opportunity", variables={"opportunity": OPPORTUNITY})
    complete(deal, {"purchase_lines": [{"sku": "EAR-008", "quantity": 50}]})
    complete(deal, {"budget_approved": False})
    assert_that(deal).is_ended_at("budget_refused").has_not_passed("choose_supplier")
    assert rf_handlers.calls("procurement.send_purchase_order") == []


def test_a_slow_budget_approval_is_escalated_and_a_silent_supplier_is_chased_by_a_buyer(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_handlers.mock("procurement.forecast_demand", returns=forecast("grocery", 50))
    deal = correlate("demand_opportunity", variables={"opportunity": OPPORTUNITY})
    complete(deal, {})
    rf_clock.advance(days=2)
    assert_that(deal).has_passed(
        "budget_approval_overdue", "escalate_budget_approval"
    ).has_open_user_task("approve_budget")
    assert rf_handlers["procurement.escalate"].call_count == 1
    assert rf_handlers.calls("procurement.escalate")[0].context.headers["role"] == "head_of_finance"

    complete(deal, {"budget_approved": True})
    assert_that(deal).has_variables(supplier_id="SUP-QUALITY")
    rf_clock.advance(days=3)
    assert_that(deal).has_passed("confirmation_overdue").is_not_waiting_at(
        "wait_for_confirmation"
    ).has_open_user_task("chase_supplier", candidate_group="buyers")

    complete(deal, {"confirmed_quantity": 50, "delivery_date": "2030-01-12"})
    complete(deal, {"qc_passed": True})
    assert_that(deal).is_ended_at("goods_in_stock")
    assert (
        rf_handlers["procurement.record_confirmation"].last_inputs["delivery_date"] == "2030-01-12"
    )


def test_with_the_real_back_office_a_demand_opportunity_becomes_stock_on_the_shelf() -> None:
    clock = VirtualClock()
    office = Backoffice(clock=clock)
    seed_backoffice(office, customers=5)
    with office.session() as session:
        before = session.get(Stock, ("WH-EAST", "EAR-008")).on_hand
    engine = Engine(handlers=retail_handlers(office), clock=clock)
    engine.deploy(*FILES)

    deal = engine.correlate("demand_opportunity", variables={"opportunity": OPPORTUNITY})
    assert deal is not None
    engine.run()
    for variables in ({}, {"budget_approved": True}):
        [task] = engine.tasks(instance=deal.id)
        engine.complete_task(task, variables)
        engine.run()
    po_number = engine.instance(deal.id).variables["po_number"]
    engine.correlate(
        "supplier_confirmed",
        key=po_number,
        variables={"confirmed_quantity": 100, "delivery_date": "2030-01-07"},
    )
    engine.run()
    [inspect] = engine.tasks(instance=deal.id)
    engine.complete_task(inspect, {"qc_passed": True})
    engine.run()

    assert_that(deal, engine=engine).is_ended_at("goods_in_stock").has_variables(
        supplier_id="SUP-QUALITY", po_status="received"
    )
    with office.session() as session:
        order = session.get(PurchaseOrder, po_number)
        assert (order.supplier_id, order.status, order.lines) == (
            "SUP-QUALITY",
            "received",
            [{"sku": "EAR-008", "quantity": 100}],
        )
        assert session.get(Stock, ("WH-EAST", "EAR-008")).on_hand == before + 100
        assert session.scalars(select(PurchasingEscalation)).all() == []
