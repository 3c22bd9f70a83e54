"""Order handlers: an order recorded from any channel, shipped, refunded."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.inventory import ItemLine
from retailflow.retail.records import Order, OrderLine, Product, Refund


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
            record = Order(id=order.order_id, customer_id=order.customer_id,
                           channel=order.channel, created_at=office.clock.now())
            session.add(record)
            session.flush()
            for line in order.items:
                product = session.get(Product, line.sku)
                price = product.price if product is not None else 0.0
                session.add(OrderLine(order_id=order.order_id, sku=line.sku,
                                      quantity=line.quantity, price=price))
                total += price * line.quantity
            record.total = round(total, 2)
            return {"order_total": record.total}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("orders.ship")
    def ship(order_id: str, context: HandlerContext) -> dict[str, object]:
        """Hand the order to the carrier; the tracking number is the result."""
        def effect(session: Session) -> dict[str, object]:
            tracking = f"TRK-{context.job_id[:12].upper()}"
            order = session.get(Order, order_id)
            if order is not None:
                order.status, order.tracking_number = "shipped", tracking
            return {"tracking_number": tracking}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("payments.refund")
    def refund(order_id: str, amount: float, context: HandlerContext) -> dict[str, object]:
        """Give ``amount`` back on the order (reason: the task's ``reason`` header)."""
        def effect(session: Session) -> dict[str, object]:
            refund_id = f"RF-{order_id}-{context.job_id[:8]}"
            session.add(Refund(id=refund_id, order_id=order_id, amount=amount,
                               reason=context.headers.get("reason", "refund"),
                               refunded_at=office.clock.now()))
            order = session.get(Order, order_id)
            if order is not None:
                order.refunded = round(order.refunded + amount, 2)
            return {"refund_id": refund_id}

        return office.once(context.idempotency_key, effect)

    return handlers
