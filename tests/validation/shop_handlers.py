"""A small application's handlers, imported by ``--handlers shop_handlers:registry``."""

from __future__ import annotations

from pydantic import BaseModel

from retailflow.handlers import HandlerRegistry


class Reservation(BaseModel):
    """What ``stock.reserve`` returns."""

    reservation_id: str


class Shipment(BaseModel):
    """What ``orders.ship`` returns."""

    tracking_number: str


registry = HandlerRegistry()


@registry.handler("stock.reserve")
def reserve(order_id: str, items: list[dict[str, int]]) -> Reservation:
    """Reserve the order's items."""
    return Reservation(reservation_id=f"R-{order_id}-{len(items)}")


@registry.handler("orders.ship")
def ship(reservation_id: str) -> Shipment:
    """Ship what was reserved."""
    return Shipment(tracking_number=f"T-{reservation_id}")


def build_registry() -> HandlerRegistry:
    """The same registry, built by a factory, as some applications do."""
    return registry
