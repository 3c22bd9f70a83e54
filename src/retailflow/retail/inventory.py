"""Inventory handlers: stock reserved for orders and given back, per location."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import OrderLine, PurchaseOrder, Stock


class ItemLine(BaseModel):
    """One SKU and a quantity, as processes carry them."""

    sku: str
    quantity: int = Field(gt=0)


class ReserveRequest(BaseModel):
    """What ``inventory.reserve`` reads: the order's lines and where to take them from."""

    order_id: str
    location_id: str
    items: list[ItemLine]


def inventory_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``inventory.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve")
    def reserve(request: ReserveRequest, context: HandlerContext) -> dict[str, object]:
        """Promise every line of the order at ``location_id``, or none (BPMN error
        ``OUT_OF_STOCK`` with ``missing_sku``)."""
        def effect(session: Session) -> dict[str, object]:
            for line in request.items:
                stock = session.get(Stock, (request.location_id, line.sku))
                available = stock.on_hand - stock.reserved if stock else 0
                if stock is None or available < line.quantity:
                    raise BpmnError("OUT_OF_STOCK",
                                    f"{line.sku} at {request.location_id}: wanted "
                                    f"{line.quantity}, {available} available",
                                    {"missing_sku": line.sku})
                stock.reserved += line.quantity
                order_line = session.get(OrderLine, (request.order_id, line.sku))
                if order_line is not None:
                    order_line.reserved_at = request.location_id
            return {"stock_reserved": True, "reserved_at": request.location_id}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.release")
    def release(order_id: str, context: HandlerContext) -> dict[str, object]:
        """Give back what an order holds (nothing, if it holds nothing)."""
        def effect(session: Session) -> dict[str, object]:
            for line in session.scalars(select(OrderLine).where(
                    OrderLine.order_id == order_id, OrderLine.reserved_at.is_not(None))):
                stock = session.get(Stock, (line.reserved_at, line.sku))
                if stock is not None:
                    stock.reserved -= line.quantity
                line.reserved_at = None
            return {"stock_reserved": False}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("inventory.put_away")
    def put_away(po_number: str, context: HandlerContext) -> dict[str, object]:
        """Shelve the goods of a received purchase order at its location: ``on_hand`` grows by
        each line, and the order is ``received``."""
        def effect(session: Session) -> dict[str, object]:
            order = session.get(PurchaseOrder, po_number)
            if order is None:
                raise ValueError(f"no purchase order '{po_number}'")
            shelved = []
            for line in order.lines:
                stock = session.get(Stock, (order.location_id, line["sku"]))
                if stock is None:
                    stock = Stock(location_id=order.location_id, sku=line["sku"], on_hand=0,
                                  reserved=0, sold_last_7_days=0)
                    session.add(stock)
                stock.on_hand += line["quantity"]
                shelved.append({"sku": line["sku"], "quantity": line["quantity"],
                                "on_hand": stock.on_hand})
            order.status = "received"
            return {"po_status": order.status, "put_away": shelved}

        return office.once(context.idempotency_key, effect)

    return handlers
