"""processes/order_fulfilment.bpmn as the business tells it, written with the testing kit:
every path of the diagram and every rule of the fulfilment route, so `pytest --rf-cov` shows
both fully covered. The last tests run the real retail handlers on a seeded back office."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine, NotFoundError, VirtualClock
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import Notification, Order, Refund, Stock
from retailflow.testing import HandlerMocks, TimeTravel, assert_that, complete, correlate, start

FILES = ("processes/order_fulfilment.bpmn", "processes/fulfilment_route.dmn")
pytestmark = pytest.mark.rf_deploy(*FILES)


def an_order(
    channel: str = "app", city: str = "Shanghai", quantity: int = 2, order_id: str = "SO-1"
) -> dict[str, Any]:
    """An order as a channel places it."""
    return {
        "order_id": order_id,
        "customer_id": "C-0001",
        "channel": channel,
        "items": [{"sku": "TEA-001", "quantity": quantity}],
        "delivery_address": {"city": city},
    }


@pytest.fixture(autouse=True)
def shop(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The shop's systems, answering as they do on a good day."""
    failed_deliveries = {"count": 0}

    def count_failed_delivery(_inputs: dict[str, Any]) -> dict[str, int]:
        failed_deliveries["count"] += 1
        return {"delivery_attempts": failed_deliveries["count"]}

    rf_handlers.mock("orders.register", returns={"order_total": 9.8})
    rf_handlers.mock("inventory.reserve", returns={"stock_reserved": True})
    rf_handlers.mock("inventory.release", returns={"stock_reserved": False})
    rf_handlers.mock("payments.record", returns={"order_status": "paid"})
    rf_handlers.mock("orders.ship", returns={"tracking_number": "TRK-1"})
    rf_handlers.mock("orders.record_failed_delivery", returns=count_failed_delivery)
    rf_handlers.mock("orders.confirm_delivery", returns={"delivered_at": "2030-01-02"})
    rf_handlers.mock("orders.close", returns={"refund_due": 0.0})
    rf_handlers.mock("payments.refund", returns={"refund_id": "RF-1"})
    rf_handlers.mock("crm.notify_customer")
    return rf_handlers


def templates(rf_handlers: HandlerMocks) -> list[str]:
    return [call.context.headers["template"] for call in rf_handlers.calls("crm.notify_customer")]


def paid_and_packed(order: Any, packed_by: str = "ana") -> None:
    correlate("payment_received", key="SO-1", variables={"paid": True})
    complete(order, {"packed_by": packed_by})


def test_a_small_app_order_ships_from_the_nearest_store_and_is_delivered(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    assert_that(order).is_waiting_at("wait_for_payment", "cancel_requested").has_variables(
        route={
            "fulfilment": "ship_from_store",
            "location_id": "ST-XUHUI",
            "pick_group": "store_staff",
        }
    )
    assert rf_handlers["inventory.reserve"].last_inputs["location_id"] == "ST-XUHUI"

    correlate("payment_received", key="SO-1", variables={"paid": True})
    assert_that(order).has_open_user_task("pick_and_pack", candidate_group="store_staff")
    complete(order, {"packed_by": "ana"})
    assert_that(order).is_waiting_at("delivery_confirmed", "delivery_failed", "no_delivery_news")

    correlate("delivery_confirmed", key="SO-1")
    assert_that(order).is_ended_at("order_delivered").has_passed_in_order(
        "record_payment", "pick_and_pack", "ship_order", "confirm_delivery"
    ).has_variables(tracking_number="TRK-1", packed_by="ana")
    assert templates(rf_handlers) == ["shipped", "delivered"]


@pytest.mark.parametrize(
    ("channel", "city", "quantity", "fulfilment", "location", "group"),
    [
        ("store_pos", "Shanghai", 1, "click_and_collect", "ST-PUDONG", "store_staff"),
        ("store_pos", "Shenzhen", 9, "click_and_collect", "ST-FUTIAN", "store_staff"),
        ("mini_program", "Shenzhen", 3, "ship_from_store", "ST-FUTIAN", "store_staff"),
        ("app", "Shenzhen", 4, "ship_from_warehouse", "WH-SOUTH", "warehouse"),
        ("web", "Beijing", 1, "ship_from_warehouse", "WH-EAST", "warehouse"),
        ("social", "Shanghai", 5, "ship_from_warehouse", "WH-EAST", "warehouse"),
    ],
)
def test_the_route_decides_where_stock_is_reserved_and_who_picks_the_order(
    rf_engine: Engine,
    rf_handlers: HandlerMocks,
    channel: str,
    city: str,
    quantity: int,
    fulfilment: str,
    location: str,
    group: str,
) -> None:
    order = start(
        "order_fulfilment", business_key="SO-1", variables=an_order(channel, city, quantity)
    )
    assert_that(order).has_variables(
        route={"fulfilment": fulfilment, "location_id": location, "pick_group": group}
    )
    assert rf_handlers["inventory.reserve"].last_inputs["location_id"] == location
    correlate("payment_received", key="SO-1", variables={"paid": True})
    assert_that(order).has_open_user_task("pick_and_pack", candidate_group=group)


def test_an_order_out_of_stock_is_rejected_and_the_customer_told(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("inventory.reserve").raise_bpmn_error(
        "OUT_OF_STOCK", "no tea left", {"missing_sku": "TEA-001"}
    )
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    assert_that(order).is_ended_at("order_rejected").has_passed_in_order(
        "out_of_stock", "close_rejected", "notify_out_of_stock"
    )
    assert_that(order).has_not_passed("wait_for_payment", "release_unpaid_stock")
    assert rf_handlers.calls("orders.close")[0].context.headers["outcome"] == "rejected"
    assert templates(rf_handlers) == ["out_of_stock"]


def test_an_unpaid_order_is_cancelled_after_thirty_minutes_and_its_stock_released(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    rf_clock.advance(minutes=29)
    assert_that(order).is_waiting_at("wait_for_payment", "payment_timeout")

    rf_clock.advance(minutes=1)
    assert_that(order).is_ended_at("order_cancelled_unpaid").has_passed_in_order(
        "payment_timeout",
        "payment_timed_out",
        "payment_failed",
        "release_unpaid_stock",
        "close_unpaid",
        "notify_payment_failed",
    )
    assert rf_handlers["inventory.release"].last_inputs["order_id"] == "SO-1"
    assert templates(rf_handlers) == ["payment_failed"]


def test_a_declined_payment_cancels_the_order_without_picking_it(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    correlate("payment_received", key="SO-1", variables={"paid": False})
    assert_that(order).is_ended_at("order_cancelled_unpaid").has_passed(
        "payment_declined", "release_unpaid_stock"
    ).has_not_passed("pick_and_pack")
    assert rf_handlers.calls("orders.close")[0].context.headers["outcome"] == "unpaid"


def test_a_cancellation_before_payment_releases_the_stock_and_refunds_nothing(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    correlate("order_cancel_requested", key="SO-1")
    assert_that(order).is_ended_at("order_cancelled").has_passed_in_order(
        "cancel_requested", "release_cancelled_stock", "close_cancelled", "notify_cancelled"
    )
    assert_that(order).has_not_passed("refund_cancelled", "wait_for_payment")
    assert rf_handlers["payments.refund"].call_count == 0
    assert templates(rf_handlers) == ["order_cancelled"]


def test_a_paid_order_cancelled_while_being_packed_is_refunded(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("orders.close", returns={"refund_due": 9.8})
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    correlate("payment_received", key="SO-1", variables={"paid": True})
    assert_that(order).has_open_user_task("pick_and_pack")

    correlate("order_cancel_requested", key="SO-1")
    assert_that(order).is_ended_at("order_cancelled").has_passed("refund_cancelled")
    assert_that(order).has_not_passed("pick_and_pack", "ship_order")
    assert rf_engine.tasks(instance=order.id) == []
    refund = rf_handlers["payments.refund"]
    assert refund.last_inputs["amount"] == 9.8
    assert rf_handlers.calls("payments.refund")[0].context.headers["reason"] == "order_cancelled"


def test_once_shipped_an_order_can_no_longer_be_cancelled(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    paid_and_packed(order)
    with pytest.raises(NotFoundError):
        correlate("order_cancel_requested", key="SO-1")
    assert_that(order).is_waiting_at("delivery_confirmed").has_not_passed("cancel_requested")


def test_a_failed_delivery_is_tried_again_and_then_confirmed(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    paid_and_packed(order)
    correlate("delivery_failed", key="SO-1")
    assert_that(order).is_waiting_at("delivery_confirmed").has_variables(delivery_attempts=1)
    correlate("delivery_confirmed", key="SO-1")
    assert_that(order).is_ended_at("order_delivered")
    assert rf_handlers["orders.ship"].call_count == 2
    assert templates(rf_handlers) == ["shipped", "shipped", "delivered"]


def test_after_three_failed_deliveries_the_goods_go_back_to_stock_and_are_refunded(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    paid_and_packed(order)
    for _ in range(3):
        correlate("delivery_failed", key="SO-1")
    assert_that(order).is_ended_at("order_returned").has_passed_in_order(
        "release_returned_stock", "refund_returned", "close_returned", "notify_returned"
    )
    assert rf_handlers["orders.ship"].call_count == 3
    refund = rf_handlers["payments.refund"].last_inputs
    assert (refund["order_id"], refund["amount"]) == ("SO-1", 9.8)
    assert templates(rf_handlers)[-1] == "returned_refunded"


def test_an_order_without_delivery_news_for_ten_days_counts_as_delivered(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    paid_and_packed(order)
    rf_clock.advance(days=9)
    assert_that(order).is_waiting_at("no_delivery_news")
    rf_clock.advance(days=1)
    assert_that(order).is_ended_at("order_delivered").has_passed("no_delivery_news")
    assert_that(order).has_not_passed("delivery_confirmed")


def test_a_warehouse_outage_is_retried_and_then_waits_as_an_incident(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_handlers.mock("inventory.reserve").fail(times=3)
    order = start("order_fulfilment", business_key="SO-1", variables=an_order())
    rf_clock.advance(minutes=1)
    assert_that(order).has_incident_at("reserve_stock", "mocked failure").is_running()
    assert rf_handlers["inventory.reserve"].call_count == 3

    rf_engine.retry(order)
    rf_clock.advance(seconds=1)
    assert_that(order).has_no_incidents().is_waiting_at("wait_for_payment")


# -- the real retail handlers on a seeded back office -----------------------------------------


@pytest.fixture
def office() -> Backoffice:
    clock = VirtualClock()
    shop = Backoffice(clock=clock)
    seed_backoffice(shop)
    return shop


def real_engine(office: Backoffice) -> Engine:
    engine = Engine(handlers=retail_handlers(office), clock=office.clock)
    engine.deploy(*FILES)
    return engine


def stock_at(office: Backoffice, location: str, sku: str) -> tuple[int, int]:
    with office.session() as session:
        stock = session.get(Stock, (location, sku))
        assert stock is not None
        return stock.on_hand, stock.reserved


def test_with_the_real_handlers_a_delivered_order_leaves_the_stock_books_and_is_told(
    office: Backoffice,
) -> None:
    engine = real_engine(office)
    on_hand, reserved = stock_at(office, "ST-XUHUI", "TEA-001")
    order = engine.start("order_fulfilment", business_key="SO-1", variables=an_order())
    engine.run()
    assert stock_at(office, "ST-XUHUI", "TEA-001") == (on_hand, reserved + 2)

    engine.correlate("payment_received", key="SO-1", variables={"paid": True})
    engine.run()
    [task] = engine.tasks(candidate_group="store_staff")
    engine.complete_task(task.id, {"packed_by": "li"})
    engine.run()
    engine.correlate("delivery_confirmed", key="SO-1")
    engine.run()

    assert_that(order, engine=engine).is_ended_at("order_delivered").has_no_incidents()
    assert stock_at(office, "ST-XUHUI", "TEA-001") == (on_hand - 2, reserved)
    with office.session() as session:
        record = session.get(Order, "SO-1")
        assert record is not None
        assert (record.status, record.total, record.fulfilled_from) == (
            "delivered",
            9.8,
            "ST-XUHUI",
        )
        assert record.tracking_number == engine.instance(order.id).variables["tracking_number"]
        sent = session.scalars(select(Notification.template)).all()
    assert sent == ["shipped", "delivered"]


def test_with_the_real_handlers_a_paid_cancelled_order_is_refunded_and_its_stock_freed(
    office: Backoffice,
) -> None:
    engine = real_engine(office)
    on_hand, reserved = stock_at(office, "WH-EAST", "TEA-001")
    order = engine.start(
        "order_fulfilment", business_key="SO-1", variables=an_order(channel="web", city="Beijing")
    )
    engine.run()
    engine.correlate("payment_received", key="SO-1", variables={"paid": True})
    engine.run()
    engine.correlate("order_cancel_requested", key="SO-1")
    engine.run()

    assert_that(order, engine=engine).is_ended_at("order_cancelled").has_passed("refund_cancelled")
    assert stock_at(office, "WH-EAST", "TEA-001") == (on_hand, reserved)
    with office.session() as session:
        [refund] = session.scalars(select(Refund)).all()
        assert (refund.amount, refund.reason) == (9.8, "order_cancelled")
        record = session.get(Order, "SO-1")
        assert record is not None and record.status == "cancelled"
