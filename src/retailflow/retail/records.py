"""The back office's own data: what the retail handlers read and change.

A small relational model, deliberately plain (SQLAlchemy 2 typed mappings), so the demo and the
tests run the handlers against a real database: products and suppliers, stock per location,
customers and their channel identities, orders, tickets, purchase orders, campaigns and the KPI
reports the analysis flow publishes. ``AppliedEffect`` makes every handler idempotent (see
``Backoffice.once``). A domain module that needs a table of its own declares it on ``Record``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """A time stored in UTC and read back with its zone, on SQLite too (which keeps none), so
    handlers compare it with the clock's aware times directly."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and not value.tzinfo else value


class Record(DeclarativeBase):
    """Base of every back-office table (one ``MetaData``, created by ``Backoffice``)."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime}


RecordType = TypeVar("RecordType", bound=Record)


class Product(Record):
    """A SKU the business sells."""

    __tablename__ = "products"
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str]
    category: Mapped[str] = mapped_column(String(40))
    unit_cost: Mapped[float]
    price: Mapped[float]


class Location(Record):
    """Where stock lies: a store, a warehouse or a smart locker bank."""

    __tablename__ = "locations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # store | warehouse | locker
    city: Mapped[str]


class Stock(Record):
    """How much of a SKU one location holds, and how much of that is promised to orders.

    ``sold_last_7_days`` is the sales velocity the point-of-sale and e-commerce systems report
    (most store sales never pass through a process): the handlers read it, an embedding app's
    sales feed keeps it current, and the demo keeps the seeded figure.
    """

    __tablename__ = "stock"
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    sold_last_7_days: Mapped[int] = mapped_column(default=0)


def existing(
    session: Session, record: type[RecordType], key: object, recorded_by: str
) -> RecordType:
    """The ``record`` row with primary key ``key``; a ``LookupError`` naming the step that
    records it when there is none (a handler run before that step, or with a wrong id)."""
    row = session.get(record, key)
    if row is None:
        raise LookupError(
            f"no {record.__tablename__[:-1].replace('_', ' ')} {key!r} in the "
            f"back office; it is recorded by {recorded_by}"
        )
    return row


def stock_to_fill(session: Session, location_id: str, sku: str) -> Stock:
    """The stock row goods are added to, locked for the change; a location that never held
    the SKU gets an empty row."""
    stock = session.get(Stock, (location_id, sku), with_for_update=True)
    if stock is None:
        stock = Stock(location_id=location_id, sku=sku, on_hand=0, reserved=0, sold_last_7_days=0)
        session.add(stock)
    return stock


class Supplier(Record):
    """Who the business buys from."""

    __tablename__ = "suppliers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str]
    lead_time_days: Mapped[int]
    rating: Mapped[float]  # 0..5, from past deliveries


class Customer(Record):
    """One person, however many channels they use (identities point here)."""

    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str]
    segment: Mapped[str] = mapped_column(String(40), default="new")
    loyalty_points: Mapped[int] = mapped_column(default=0)
    recommendations: Mapped[list[Any]] = mapped_column(default=list)


class CustomerIdentity(Record):
    """A customer as one channel knows them (app user id, mini-program open id, loyalty card)."""

    __tablename__ = "customer_identities"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))


class Touchpoint(Record):
    """One thing a customer did on a channel: a view, a search, a purchase, a complaint."""

    __tablename__ = "touchpoints"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))  # view | search | purchase | complaint
    sku: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[float] = mapped_column(default=0.0)
    at: Mapped[datetime]


class Order(Record):
    """A customer order from any channel; ``paid`` and ``refunded`` are the money moved, so
    what can still be refunded does not depend on the order's status."""

    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="placed")
    total: Mapped[float] = mapped_column(default=0.0)
    fulfilled_from: Mapped[str | None] = mapped_column(String(40))
    tracking_number: Mapped[str | None] = mapped_column(String(40))
    delivery_attempts: Mapped[int] = mapped_column(default=0)
    paid: Mapped[float] = mapped_column(default=0.0)
    refunded: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime]


class OrderLine(Record):
    """One SKU of an order; ``reserved_at`` is the location holding it for the order."""

    __tablename__ = "order_lines"
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    quantity: Mapped[int]
    price: Mapped[float]
    reserved_at: Mapped[str | None] = mapped_column(String(40))


class Ticket(Record):
    """A customer-service case."""

    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str]
    order_id: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(20))
    team: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="open")
    resolution: Mapped[str | None]
    satisfaction: Mapped[int | None]


class PurchaseOrder(Record):
    """An order to a supplier; ``lines`` is a list of ``{"sku", "quantity"}``."""

    __tablename__ = "purchase_orders"
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    lines: Mapped[list[Any]]
    total: Mapped[float]
    status: Mapped[str] = mapped_column(String(20), default="sent")
    created_at: Mapped[datetime]


class Campaign(Record):
    """A marketing campaign and what it earned."""

    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str]
    segment: Mapped[str] = mapped_column(String(120))  # the audience's segments, comma-separated
    budget: Mapped[float]
    channels: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(20), default="planned")
    audience_size: Mapped[int] = mapped_column(default=0)
    conversions: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[float] = mapped_column(default=0.0)


class KpiReport(Record):
    """A published KPI report of the analysis flow; ``body`` is its JSON."""

    __tablename__ = "kpi_reports"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    published_at: Mapped[datetime]
    body: Mapped[dict[str, Any]]


class AppliedEffect(Record):
    """A handler call that changed the back office, by its idempotency key, with its result."""

    __tablename__ = "applied_effects"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[dict[str, Any]]


class Notification(Record):
    """A message sent to a customer (push, SMS, e-mail), by template."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    template: Mapped[str] = mapped_column(String(60))
    sent_at: Mapped[datetime]


class Refund(Record):
    """Money given back on an order."""

    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    amount: Mapped[float]
    reason: Mapped[str]
    refunded_at: Mapped[datetime]


def refundable(order: Order) -> float:
    """What the customer paid on ``order`` and has not had back: the most any refund gives."""
    return round(max(order.paid - order.refunded, 0.0), 2)
