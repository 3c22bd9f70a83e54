"""processes/order_fulfilment.bpmn as the business tells it, written with the testing kit:
every path of the diagram, so `pytest --rf-cov` shows it fully covered."""

from __future__ import annotations

import pytest

from retailflow import Engine
from retailflow.testing import HandlerMocks, TimeTravel, assert_that, complete, correlate, start

pytestmark = pytest.mark.rf_deploy("processes/order_fulfilment.bpmn")

ORDER = {"order_id": "SO-1", "customer_id": "C-1", "items": [{"sku": "TEA", "quantity": 2}]}


@pytest.fixture(autouse=True)
def warehouse(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The shop's systems, answering as they do on a good day."""
    rf_handlers.mock("inventory.reserve", returns={"stock_reserved": True})
    rf_handlers.mock("inventory.release", returns={"stock_reserved": False})
    rf_handlers.mock("orders.ship", returns={"tracking_number": "TRK-1"})
    rf_handlers.mock("crm.notify_customer")
    return rf_handlers


def test_a_paid_order_is_packed_shipped_and_the_customer_told(
        rf_engine: Engine, rf_handlers: HandlerMocks) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=ORDER)
    assert_that(order).is_waiting_at("wait_for_payment").has_passed("reserve_stock")

    correlate("payment_received", key="SO-1", variables={"paid": True})
    assert_that(order).has_open_user_task("pick_and_pack", candidate_group="warehouse")

    complete(order, {"packed_by": "ana"})
    assert_that(order).is_ended_at("order_shipped").has_variables(
        tracking_number="TRK-1", packed_by="ana", paid=True)
    assert [call.context.headers["template"] for call in rf_handlers.calls("crm.notify_customer")
            ] == ["shipped"]


def test_an_order_out_of_stock_is_rejected_and_the_customer_told(
        rf_engine: Engine, rf_handlers: HandlerMocks) -> None:
    rf_handlers.mock("inventory.reserve").raise_bpmn_error("OUT_OF_STOCK", "no tea left",
                                                           {"missing_sku": "TEA"})
    order = start("order_fulfilment", business_key="SO-1", variables=ORDER)
    assert_that(order).is_ended_at("order_rejected").has_passed_in_order(
        "order_placed", "stock_unavailable", "notify_out_of_stock")
    assert_that(order).has_not_passed("wait_for_payment").has_variables(missing_sku="TEA")
    assert rf_handlers.calls("crm.notify_customer")[0].context.headers["template"] \
        == "out_of_stock"


def test_an_unpaid_order_is_cancelled_after_thirty_minutes_and_its_stock_released(
        rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=ORDER)
    rf_clock.advance(minutes=29)
    assert_that(order).is_waiting_at("wait_for_payment", "payment_timeout")

    rf_clock.advance(minutes=1)
    assert_that(order).is_ended_at("order_cancelled").has_passed_in_order(
        "payment_timeout", "release_stock", "notify_payment_timeout")
    assert rf_handlers["inventory.release"].last_inputs["order_id"] == "SO-1"


def test_a_warehouse_outage_is_retried_and_then_waits_as_an_incident(
        rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel) -> None:
    rf_handlers.mock("inventory.reserve").fail(times=3)
    order = start("order_fulfilment", business_key="SO-1", variables=ORDER)
    rf_clock.advance(minutes=1)
    assert_that(order).has_incident_at("reserve_stock", "mocked failure").is_running()
    assert rf_handlers["inventory.reserve"].call_count == 3

    rf_engine.retry(order)
    rf_clock.advance(seconds=1)
    assert_that(order).has_no_incidents().is_waiting_at("wait_for_payment")
