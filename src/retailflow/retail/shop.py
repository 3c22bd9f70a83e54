"""A small in-process shop: stock per SKU, shipments and customer notifications.

Every change is keyed by the handler's idempotency key, so a handler that runs twice for the
same job (handlers run at least once) changes the shop once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field


class OutOfStock(Exception):
    """Not enough stock for a reservation."""

    def __init__(self, sku: str, wanted: int, available: int) -> None:
        self.sku, self.wanted, self.available = sku, wanted, available
        super().__init__(f"{sku}: wanted {wanted}, {available} available")


@dataclass(slots=True)
class Shop:
    """Stock levels, reservations, shipments and the notifications sent to customers."""

    stock: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, dict[str, int]] = field(default_factory=dict)
    shipments: dict[str, str] = field(default_factory=dict)
    notifications: list[tuple[str, str]] = field(default_factory=list)
    _applied: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, order_id: str, items: Mapping[str, int], key: str) -> None:
        """Reserve every item of an order, or none (``OutOfStock``)."""
        with self._lock:
            if key in self._applied:
                return
            for sku, quantity in items.items():
                available = self.stock.get(sku, 0)
                if available < quantity:
                    raise OutOfStock(sku, quantity, available)
            for sku, quantity in items.items():
                self.stock[sku] -= quantity
            self.reservations[order_id] = dict(items)
            self._applied.add(key)

    def release(self, order_id: str, key: str) -> None:
        """Put an order's reserved stock back."""
        with self._lock:
            if key in self._applied:
                return
            for sku, quantity in self.reservations.pop(order_id, {}).items():
                self.stock[sku] = self.stock.get(sku, 0) + quantity
            self._applied.add(key)

    def ship(self, order_id: str, key: str) -> str:
        """Hand an order to the carrier; the same key gets the same tracking number."""
        with self._lock:
            tracking = self.shipments.get(order_id)
            if tracking is None:
                tracking = f"TRK-{len(self.shipments) + 1:06d}"
                self.shipments[order_id] = tracking
                self._applied.add(key)
            return tracking

    def notify(self, customer: str, template: str, key: str) -> None:
        """Send a customer a message from a template."""
        with self._lock:
            if key in self._applied:
                return
            self.notifications.append((customer, template))
            self._applied.add(key)
