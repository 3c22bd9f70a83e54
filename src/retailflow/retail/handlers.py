"""Handlers for the job types ``processes/order_fulfilment.bpmn`` uses."""

from __future__ import annotations

from pydantic import BaseModel, Field

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.retail.shop import OutOfStock, Shop


class OrderLine(BaseModel):
    """One line of an order."""

    sku: str
    quantity: int = Field(gt=0)


class ReserveRequest(BaseModel):
    """What ``inventory.reserve`` reads from the process."""

    order_id: str
    items: list[OrderLine]


def retail_handlers(shop: Shop) -> HandlerRegistry:
    """A registry of the retail handlers, all working on ``shop``."""
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve")
    def reserve(request: ReserveRequest, context: HandlerContext) -> dict[str, bool]:
        items: dict[str, int] = {}
        for line in request.items:
            items[line.sku] = items.get(line.sku, 0) + line.quantity
        try:
            shop.reserve(request.order_id, items, context.idempotency_key)
        except OutOfStock as error:
            raise BpmnError("OUT_OF_STOCK", str(error), {"missing_sku": error.sku}) from error
        return {"stock_reserved": True}

    @handlers.handler("inventory.release")
    def release(order_id: str, context: HandlerContext) -> dict[str, bool]:
        shop.release(order_id, context.idempotency_key)
        return {"stock_reserved": False}

    @handlers.handler("orders.ship")
    def ship(order_id: str, context: HandlerContext) -> dict[str, str]:
        return {"tracking_number": shop.ship(order_id, context.idempotency_key)}

    @handlers.handler("crm.notify_customer")
    def notify(customer_id: str, context: HandlerContext) -> None:
        template = context.headers.get("template", "generic")
        shop.notify(customer_id, template, context.idempotency_key)

    return handlers
