"""Order handlers: an order recorded from any channel, shipped, delivered or given up on,
refunded."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.inventory import ItemLine
from retailflow.retail.records import (
    Order,
    OrderLine,
    Product,
    Refund,
    Stock,
    Touchpoint,
    refundable,
)

#: what ``orders.close`` may write as the order's final status (its ``outcome`` header)
CLOSING_OUTCOMES = ("rejected", "unpaid", "cancelled", "returned")


class NewOrder(BaseModel):
    """An order as a channel submits it."""

    order_id: str
    customer_id: str
    channel: str
    items: list[ItemLine]


def order_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``orders.*`` and ``payments.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("orders.register")
    def register(order: NewOrder, context: HandlerContext) -> dict[str, object]:
        """Record the order and price it from the catalogue."""

        def effect(session: Session) -> dict[str, object]:
            total = 0.0
            record = Order(
                id=order.order_id,
                customer_id=order.customer_id,
                channel=order.channel,
                created_at=office.clock.now(),
            )
            session.add(record)
            session.flush()
            for line in order.items:
                product = session.get(Product, line.sku)
                price = product.price if product is not None else 0.0
                session.add(
                    OrderLine(
                        order_id=order.order_id, sku=line.sku, quantity=line.quantity, price=price
                    )
                )
                total += price * line.quantity
            record.total = round(total, 2)
            return {"order_total": record.total}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("orders.ship")
    def ship(order_id: str, context: HandlerContext) -> dict[str, object]:
        """Hand the order to the carrier (again, for a re-delivery); the tracking number is
        the result. The stock stays reserved until the delivery is confirmed, so a parcel that
        comes back is simply released."""

        def effect(session: Session) -> dict[str, object]:
            tracking = f"TRK-{context.job_id[:12].upper()}"
            order = session.get(Order, order_id)
            if order is not None:
                order.status, order.tracking_number = "shipped", tracking
                order.fulfilled_from = session.scalar(
                    select(OrderLine.reserved_at).where(
                        OrderLine.order_id == order_id, OrderLine.reserved_at.is_not(None)
                    )
                )
            return {"tracking_number": tracking}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("orders.record_failed_delivery")
    def record_failed_delivery(order_id: str, context: HandlerContext) -> dict[str, object]:
        """Count a delivery the carrier could not make; ``delivery_attempts`` is how many
        failed so far, which the diagram compares with its re-delivery limit."""

        def effect(session: Session) -> dict[str, object]:
            order = session.get(Order, order_id)
            if order is None:  # retried, then an incident: never an endless re-delivery loop
                raise LookupError(f"no order {order_id!r} in the back office")
            order.delivery_attempts += 1
            order.status = "delivery_failed"
            return {"delivery_attempts": order.delivery_attempts}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("orders.confirm_delivery")
    def confirm_delivery(order_id: str, context: HandlerContext) -> dict[str, object]:
        """The customer has the goods: the reserved stock leaves the books, the order is
        delivered, and each line becomes a purchase on the customer's history."""

        def effect(session: Session) -> dict[str, object]:
            now = office.clock.now()
            order = session.get(Order, order_id)
            if order is None:
                return {"delivered_at": now.isoformat()}
            for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)):
                if line.reserved_at is not None:
                    stock = session.get(Stock, (line.reserved_at, line.sku), with_for_update=True)
                    if stock is not None:
                        stock.on_hand -= line.quantity
                        stock.reserved -= line.quantity
                    line.reserved_at = None
                session.add(
                    Touchpoint(
                        customer_id=order.customer_id,
                        channel=order.channel,
                        kind="purchase",
                        sku=line.sku,
                        amount=round(line.price * line.quantity, 2),
                        at=now,
                    )
                )
            order.status = "delivered"
            return {"delivered_at": now.isoformat()}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("orders.close")
    def close(order_id: str, context: HandlerContext) -> dict[str, object]:
        """End an order that will not be delivered, with the status its task's ``outcome``
        header names (one of ``CLOSING_OUTCOMES``); ``refund_due`` is what the customer paid
        and has not had back yet."""
        outcome = context.headers.get("outcome", "cancelled")
        if outcome not in CLOSING_OUTCOMES:
            raise ValueError(
                f"orders.close at {context.element_id}: header outcome="
                f"{outcome!r} is not one of {', '.join(CLOSING_OUTCOMES)}; "
                "fix the task's header in the diagram"
            )

        def effect(session: Session) -> dict[str, object]:
            order = session.get(Order, order_id)
            if order is None:
                return {"order_status": outcome, "refund_due": 0.0}
            order.status = outcome
            return {"order_status": outcome, "refund_due": refundable(order)}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("payments.record")
    def record_payment(order_id: str, context: HandlerContext) -> dict[str, object]:
        """The payment provider confirmed the payment: the order is paid, so a later
        cancellation knows to refund it."""

        def effect(session: Session) -> dict[str, object]:
            order = session.get(Order, order_id)
            if order is not None:
                order.status, order.paid = "paid", order.total
            return {"order_status": "paid"}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("payments.refund")
    def refund(order_id: str, amount: float, context: HandlerContext) -> dict[str, object]:
        """Give ``amount`` back on the order (reason: the task's ``reason`` header), never
        more than was paid and not yet refunded (``refundable``): a second path that asks to
        refund the same money (a ticket's return after a failed delivery's) pays nothing."""

        def effect(session: Session) -> dict[str, object]:
            order = session.get(Order, order_id, with_for_update=True)
            given = min(amount, refundable(order)) if order is not None else 0.0
            if given <= 0:
                return {"refund_id": None, "refunded_amount": 0.0}
            refund_id = f"RF-{order_id}-{context.job_id[:8]}"
            session.add(
                Refund(
                    id=refund_id,
                    order_id=order_id,
                    amount=given,
                    reason=context.headers.get("reason", "refund"),
                    refunded_at=office.clock.now(),
                )
            )
            order.refunded = round(order.refunded + given, 2)
            return {"refund_id": refund_id, "refunded_amount": given}

        return office.once(context.idempotency_key, effect)

    return handlers
