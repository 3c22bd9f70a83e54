"""The order handlers (``orders.*``, ``payments.*``) and the stock they reserve and give back
(``inventory.reserve`` / ``inventory.release``), against a real seeded back office."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from retailflow import BpmnError, HandlerContext
from retailflow.engine import VirtualClock
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import Order, Refund, Stock, Touchpoint

TEA = "TEA-001"


@pytest.fixture
def office() -> Backoffice:
    shop = Backoffice(clock=VirtualClock())
    seed_backoffice(shop)
    return shop


class Shop:
    """Calls the real handlers as the engine does: variables in, a job context, a result out."""

    def __init__(self, office: Backoffice) -> None:
        self.office = office
        self.registry = retail_handlers(office)

    def call(
        self,
        topic: str,
        job: str = "job-1",
        headers: dict[str, str] | None = None,
        **variables: Any,
    ) -> dict[str, Any]:
        handler = self.registry.get(topic)
        assert handler is not None, topic
        context = HandlerContext(
            instance_id="inst-1",
            business_key="SO-1",
            process_id="order_fulfilment",
            definition_id="order_fulfilment:1",
            element_id=topic,
            job_id=job,
            topic=topic,
            attempt=1,
            headers=headers or {},
        )
        return handler.invoke(variables, context)

    def stock(self, location: str, sku: str = TEA) -> tuple[int, int]:
        with self.office.session() as session:
            row = session.get(Stock, (location, sku))
            assert row is not None
            return row.on_hand, row.reserved

    def order(self, order_id: str = "SO-1") -> Order:
        with self.office.session() as session:
            order = session.get(Order, order_id)
            assert order is not None
            return order

    def placed(self, quantity: int = 2, location: str = "ST-XUHUI") -> None:
        self.call(
            "orders.register",
            order_id="SO-1",
            customer_id="C-0001",
            channel="app",
            items=[{"sku": TEA, "quantity": quantity}],
        )
        self.call(
            "inventory.reserve",
            order_id="SO-1",
            location_id=location,
            items=[{"sku": TEA, "quantity": quantity}],
        )


@pytest.fixture
def shop(office: Backoffice) -> Shop:
    return Shop(office)


def test_an_order_is_recorded_and_priced_from_the_catalogue(shop: Shop) -> None:
    result = shop.call(
        "orders.register",
        order_id="SO-1",
        customer_id="C-0001",
        channel="mini_program",
        items=[{"sku": TEA, "quantity": 2}, {"sku": "MUG-005", "quantity": 1}],
    )
    assert result == {"order_total": 18.7}
    order = shop.order()
    assert (order.channel, order.status, order.total) == ("mini_program", "placed", 18.7)


def test_reserving_promises_the_stock_at_the_routed_location_only(shop: Shop) -> None:
    before, elsewhere = shop.stock("ST-XUHUI"), shop.stock("WH-EAST")
    shop.placed(quantity=2, location="ST-XUHUI")
    assert shop.stock("ST-XUHUI") == (before[0], before[1] + 2)
    assert shop.stock("WH-EAST") == elsewhere


def test_an_order_larger_than_the_store_holds_is_out_of_stock_and_reserves_nothing(
    shop: Shop,
) -> None:
    on_hand, reserved = shop.stock("ST-XUHUI")
    shop.call(
        "orders.register",
        order_id="SO-1",
        customer_id="C-0001",
        channel="app",
        items=[{"sku": TEA, "quantity": on_hand + 1}],
    )
    with pytest.raises(BpmnError) as refused:
        shop.call(
            "inventory.reserve",
            order_id="SO-1",
            location_id="ST-XUHUI",
            items=[{"sku": TEA, "quantity": on_hand + 1}],
        )
    assert refused.value.code == "OUT_OF_STOCK"
    assert refused.value.variables == {"missing_sku": TEA}
    assert shop.stock("ST-XUHUI") == (on_hand, reserved)


def test_releasing_gives_back_what_the_order_holds_once(shop: Shop) -> None:
    before = shop.stock("ST-XUHUI")
    shop.placed()
    assert shop.call("inventory.release", order_id="SO-1") == {"stock_reserved": False}
    assert shop.stock("ST-XUHUI") == before
    shop.call("inventory.release", job="job-2", order_id="SO-1")  # a second release: nothing
    assert shop.stock("ST-XUHUI") == before


def test_a_confirmed_delivery_takes_the_goods_off_the_books_and_counts_as_a_purchase(
    shop: Shop,
) -> None:
    on_hand, reserved = shop.stock("ST-XUHUI")
    shop.placed()
    shop.call("payments.record", order_id="SO-1")
    shop.call("orders.ship", order_id="SO-1")
    result = shop.call("orders.confirm_delivery", order_id="SO-1")
    assert result == {"delivered_at": "2030-01-01T00:00:00+00:00"}
    assert shop.stock("ST-XUHUI") == (on_hand - 2, reserved)
    order = shop.order()
    assert (order.status, order.fulfilled_from) == ("delivered", "ST-XUHUI")
    assert order.tracking_number is not None
    with shop.office.session() as session:
        purchases = session.scalars(
            select(Touchpoint).where(
                Touchpoint.customer_id == "C-0001",
                Touchpoint.kind == "purchase",
                Touchpoint.amount == 9.8,
            )
        ).all()
    assert len(purchases) == 1


def test_each_failed_delivery_is_counted_on_the_order(shop: Shop) -> None:
    shop.placed()
    assert shop.call("orders.record_failed_delivery", job="j1", order_id="SO-1") == {
        "delivery_attempts": 1
    }
    assert shop.call("orders.record_failed_delivery", job="j2", order_id="SO-1") == {
        "delivery_attempts": 2
    }
    assert (shop.order().status, shop.order().delivery_attempts) == ("delivery_failed", 2)


def test_a_failed_delivery_of_an_unknown_order_fails_rather_than_loop_for_ever(shop: Shop) -> None:
    with pytest.raises(LookupError, match="no order 'SO-404'"):
        shop.call("orders.record_failed_delivery", order_id="SO-404")


def test_closing_a_paid_order_says_what_is_due_back_and_an_unpaid_one_nothing(shop: Shop) -> None:
    shop.placed()
    assert shop.call("orders.close", headers={"outcome": "unpaid"}, order_id="SO-1") == {
        "order_status": "unpaid",
        "refund_due": 0.0,
    }
    shop.call("payments.record", order_id="SO-1")
    assert shop.call(
        "orders.close", job="job-2", headers={"outcome": "cancelled"}, order_id="SO-1"
    ) == {"order_status": "cancelled", "refund_due": 9.8}
    assert shop.order().status == "cancelled"


def test_closing_with_an_outcome_the_diagram_should_not_name_is_refused(shop: Shop) -> None:
    shop.placed()
    with pytest.raises(ValueError, match="header outcome='lost'"):
        shop.call("orders.close", headers={"outcome": "lost"}, order_id="SO-1")


def test_a_refund_is_recorded_with_its_reason_and_added_to_the_order(shop: Shop) -> None:
    shop.placed()
    shop.call("payments.record", job="job-pay", order_id="SO-1")
    result = shop.call(
        "payments.refund", headers={"reason": "undeliverable"}, order_id="SO-1", amount=9.8
    )
    assert result["refund_id"].startswith("RF-SO-1-") and result["refunded_amount"] == 9.8
    assert shop.order().refunded == 9.8
    with shop.office.session() as session:
        [refund] = session.scalars(select(Refund)).all()
    assert (refund.amount, refund.reason) == (9.8, "undeliverable")


def test_refunds_never_give_back_more_than_was_paid(shop: Shop) -> None:
    shop.placed()  # two teas, 9.80, not paid yet
    assert shop.call("payments.refund", job="job-a", order_id="SO-1", amount=9.8) == {
        "refund_id": None,
        "refunded_amount": 0.0,
    }
    shop.call("payments.record", job="job-pay", order_id="SO-1")
    first = shop.call("payments.refund", job="job-b", order_id="SO-1", amount=6.0)
    second = shop.call("payments.refund", job="job-c", order_id="SO-1", amount=9.8)
    assert (first["refunded_amount"], second["refunded_amount"]) == (6.0, 3.8)
    assert shop.order().refunded == 9.8


@pytest.mark.parametrize(
    ("topic", "variables"),
    [
        (
            "orders.register",
            {
                "order_id": "SO-2",
                "customer_id": "C-0002",
                "channel": "web",
                "items": [{"sku": TEA, "quantity": 1}],
            },
        ),
        (
            "inventory.reserve",
            {"order_id": "SO-1", "location_id": "ST-XUHUI", "items": [{"sku": TEA, "quantity": 1}]},
        ),
        ("payments.refund", {"order_id": "SO-1", "amount": 5.0}),
        ("orders.record_failed_delivery", {"order_id": "SO-1"}),
        ("orders.confirm_delivery", {"order_id": "SO-1"}),
    ],
)
def test_a_handler_run_twice_for_the_same_job_changes_the_back_office_once(
    shop: Shop, topic: str, variables: dict[str, Any]
) -> None:
    shop.placed()

    def snapshot() -> tuple[Any, ...]:
        with shop.office.session() as session:
            order = session.get(Order, "SO-1")
            assert order is not None
            return (
                session.scalar(select(func.count()).select_from(Order)),
                session.scalar(select(func.count()).select_from(Refund)),
                session.scalar(select(func.count()).select_from(Touchpoint)),
                order.refunded,
                order.delivery_attempts,
                order.status,
                shop.stock("ST-XUHUI"),
            )

    first = shop.call(topic, job="retried", **variables)
    after_first = snapshot()
    assert shop.call(topic, job="retried", **variables) == first
    assert snapshot() == after_first
