"""The procurement handlers against a real seeded back office."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from retailflow import VirtualClock
from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail import Backoffice, seed_backoffice
from retailflow.retail.procurement import PurchasingEscalation, procurement_handlers
from retailflow.retail.records import PurchaseOrder, Stock


@pytest.fixture
def office() -> Backoffice:
    office = Backoffice(clock=VirtualClock())
    seed_backoffice(office, customers=5)
    return office


@pytest.fixture
def handlers(office: Backoffice) -> HandlerRegistry:
    return procurement_handlers(office)


def context(topic: str, job_id: str = "job-1", **headers: str) -> HandlerContext:
    return HandlerContext(
        instance_id="i-1",
        business_key=None,
        process_id="product_planning_procurement",
        definition_id="d-1",
        element_id=topic.split(".")[1],
        job_id=job_id,
        topic=topic,
        attempt=1,
        headers=headers,
    )


def call(
    handlers: HandlerRegistry,
    topic: str,
    variables: dict[str, Any],
    job_id: str = "job-1",
    **headers: str,
) -> dict[str, Any]:
    handler = handlers.get(topic)
    assert handler is not None
    return handler.invoke(variables, context(topic, job_id, **headers))


def send_order(handlers: HandlerRegistry, job_id: str = "job-1") -> dict[str, Any]:
    return call(
        handlers,
        "procurement.send_purchase_order",
        {
            "supplier_id": "SUP-QUALITY",
            "delivery_location": "WH-SOUTH",
            "purchase_lines": [
                {"sku": "TEA-001", "quantity": 100},
                {"sku": "MUG-005", "quantity": 20},
            ],
        },
        job_id,
    )


def test_a_reorder_is_forecast_as_asked_rounded_up_to_whole_cases(
    handlers: HandlerRegistry,
) -> None:
    result = call(
        handlers,
        "procurement.forecast_demand",
        {
            "reorder": {
                "sku": "MLK-003",
                "quantity": 33,
                "location_id": "ST-PUDONG",
                "urgency": "high",
            }
        },
    )
    assert result == {
        "planning_trigger": "reorder",
        "category": "fresh",
        "quantity": 40,
        "urgency": "high",
        "delivery_location": "ST-PUDONG",
        "estimated_cost": 36.0,
        "purchase_lines": [{"sku": "MLK-003", "quantity": 40}],
    }


def test_an_opportunity_is_bought_with_a_safety_margin_for_the_main_warehouse(
    handlers: HandlerRegistry,
) -> None:
    result = call(
        handlers,
        "procurement.forecast_demand",
        {"opportunity": {"sku": "EAR-008", "expected_units": 80, "reason": "trending"}},
    )
    assert (
        result["planning_trigger"],
        result["quantity"],
        result["urgency"],
        result["delivery_location"],
        result["category"],
    ) == ("opportunity", 100, "normal", "WH-EAST", "electronics")


def test_an_opportunity_for_a_product_not_in_the_catalogue_is_an_error(
    handlers: HandlerRegistry,
) -> None:
    with pytest.raises(ValueError, match="NEW-999 are not in the catalogue"):
        call(
            handlers,
            "procurement.forecast_demand",
            {"opportunity": {"sku": "NEW-999", "expected_units": 10}},
        )


def test_the_quarterly_review_buys_what_a_quarter_of_sales_needs_beyond_the_stock(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        for stock in session.scalars(select(Stock)):
            stock.sold_last_7_days = 0
        for stock in session.scalars(select(Stock).where(Stock.sku == "COF-002")):
            stock.on_hand, stock.reserved, stock.sold_last_7_days = 10, 0, 5
    result = call(handlers, "procurement.forecast_demand", {})
    # 6 locations x 5 a week x 13 weeks = 390, minus 60 available: 330.
    assert result["purchase_lines"] == [{"sku": "COF-002", "quantity": 330}]
    assert (result["planning_trigger"], result["urgency"], result["category"]) == (
        "quarterly_review",
        "low",
        "grocery",
    )


def test_a_purchase_order_is_recorded_once_priced_at_cost_with_its_supplier_lead_time(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    first = send_order(handlers)
    again = send_order(handlers)
    assert (
        first
        == again
        == {"po_number": "PO-20300101-0001", "po_total": 260.0, "expected_delivery": "2030-01-07"}
    )
    with office.session() as session:
        [order] = session.scalars(select(PurchaseOrder)).all()
        assert (order.supplier_id, order.location_id, order.status) == (
            "SUP-QUALITY",
            "WH-SOUTH",
            "sent",
        )
    assert send_order(handlers, job_id="job-2")["po_number"] == "PO-20300101-0002"


def test_an_unknown_supplier_is_an_error_that_changes_nothing(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with pytest.raises(ValueError, match="SUP-NONE"):
        call(
            handlers,
            "procurement.send_purchase_order",
            {"supplier_id": "SUP-NONE", "purchase_lines": [{"sku": "TEA-001", "quantity": 1}]},
        )
    with office.session() as session:
        assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0


@pytest.mark.parametrize(("confirmed", "status"), [(120, "confirmed"), (90, "partially_confirmed")])
def test_a_supplier_confirmation_marks_the_purchase_order(
    office: Backoffice, handlers: HandlerRegistry, confirmed: int, status: str
) -> None:
    po_number = send_order(handlers)["po_number"]
    result = call(
        handlers,
        "procurement.record_confirmation",
        {"po_number": po_number, "confirmed_quantity": confirmed, "delivery_date": "2030-01-09"},
    )
    assert result == {"po_status": status, "expected_delivery": "2030-01-09"}
    with office.session() as session:
        assert session.get(PurchaseOrder, po_number).status == status


def test_a_delivery_failing_quality_control_is_rejected_without_adding_stock(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    po_number = send_order(handlers)["po_number"]
    with office.session() as session:
        before = session.get(Stock, ("WH-SOUTH", "TEA-001")).on_hand
    assert call(handlers, "procurement.reject_delivery", {"po_number": po_number}) == {
        "po_status": "rejected"
    }
    with office.session() as session:
        assert session.get(PurchaseOrder, po_number).status == "rejected"
        assert session.get(Stock, ("WH-SOUTH", "TEA-001")).on_hand == before


def test_an_escalation_goes_to_the_role_the_task_names_once(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    po_number = send_order(handlers)["po_number"]
    for _ in range(2):
        result = call(
            handlers,
            "procurement.escalate",
            {"po_number": po_number},
            role="head_of_finance",
            subject="budget approval overdue",
        )
    assert result["escalated_to"] == "head_of_finance"
    with office.session() as session:
        [escalation] = session.scalars(select(PurchasingEscalation)).all()
        assert (
            escalation.role,
            escalation.subject,
            escalation.purchase_order,
            escalation.reference,
        ) == ("head_of_finance", "budget approval overdue", po_number, "i-1")
