"""Procurement handlers: what to buy, the purchase order to the supplier, and its follow-up."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.inventory import ItemLine, network_stock
from retailflow.retail.records import Product, PurchaseOrder, Record, Supplier, existing

#: Where bought goods are delivered when the trigger names no location.
MAIN_WAREHOUSE = "WH-EAST"
#: The quarterly review buys what covers this many weeks of sales across the network.
REVIEW_WEEKS = 13
#: Opportunities are bought with this safety margin on top of the expected units.
OPPORTUNITY_MARGIN = 1.2
#: Suppliers deliver in cases of this many units.
CASE_SIZE = 10


class PurchasingEscalation(Record):
    """Work that waited too long, handed to someone with the authority to unblock it."""

    __tablename__ = "purchasing_escalations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str]
    reference: Mapped[str | None] = mapped_column(String(80))
    purchase_order: Mapped[str | None] = mapped_column(ForeignKey("purchase_orders.number"))
    raised_at: Mapped[datetime]


class Opportunity(BaseModel):
    """Demand consumer insight spotted (the ``demand_opportunity`` message's ``opportunity``)."""

    sku: str
    expected_units: int = Field(gt=0)
    reason: str = ""


class Reorder(BaseModel):
    """A reorder inventory and supply chain asks for (its call activity's ``reorder``)."""

    sku: str
    quantity: int = Field(gt=0)
    location_id: str = MAIN_WAREHOUSE
    urgency: str = "normal"


class ForecastRequest(BaseModel):
    """What ``procurement.forecast_demand`` reads: the trigger, if any (none: the quarterly
    review of the whole assortment)."""

    opportunity: Opportunity | None = None
    reorder: Reorder | None = None


class DemandForecast(BaseModel):
    """What to buy, how urgently, and where it goes: the plan the category manager adjusts."""

    planning_trigger: str  # opportunity | reorder | quarterly_review
    purchase_lines: list[ItemLine]
    category: str | None  # the category of the largest line: what the supplier choice reads
    quantity: int
    urgency: str  # high | normal | low
    delivery_location: str
    estimated_cost: float


class PurchaseOrderRequest(BaseModel):
    """What ``procurement.send_purchase_order`` reads."""

    supplier_id: str
    purchase_lines: list[ItemLine] = Field(min_length=1)
    delivery_location: str = MAIN_WAREHOUSE


class SentPurchaseOrder(BaseModel):
    """The purchase order as sent: its number correlates the supplier's confirmation."""

    po_number: str
    po_total: float
    expected_delivery: str  # ISO date, from the supplier's lead time


def procurement_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``procurement.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("procurement.forecast_demand")
    def forecast_demand(request: ForecastRequest) -> DemandForecast:
        """Turn the trigger into purchase lines: a reorder as asked; an opportunity's expected
        units plus a safety margin; the quarterly review: per SKU, what a quarter of the last
        week's sales needs beyond the stock available across the network. Quantities are
        rounded up to whole cases."""
        with office.session() as session:
            if request.reorder is not None:
                trigger, urgency = "reorder", request.reorder.urgency
                location = request.reorder.location_id
                wanted = {request.reorder.sku: request.reorder.quantity}
            elif request.opportunity is not None:
                trigger, urgency, location = "opportunity", "normal", MAIN_WAREHOUSE
                wanted = {
                    request.opportunity.sku: request.opportunity.expected_units * OPPORTUNITY_MARGIN
                }
            else:
                trigger, urgency, location = "quarterly_review", "low", MAIN_WAREHOUSE
                wanted = _quarterly_needs(session)
            lines = [
                ItemLine(sku=sku, quantity=_whole_cases(units))
                for sku, units in sorted(wanted.items())
                if units > 0
            ]
            products = {
                product.sku: product
                for product in session.scalars(
                    select(Product).where(Product.sku.in_([line.sku for line in lines]))
                )
            }
            unknown = sorted({line.sku for line in lines} - products.keys())
            if unknown:
                raise ValueError(
                    f"SKU(s) {', '.join(unknown)} are not in the catalogue: "
                    "add the product before buying it"
                )
            largest = max(lines, key=lambda line: line.quantity, default=None)
            return DemandForecast(
                planning_trigger=trigger,
                purchase_lines=lines,
                category=products[largest.sku].category if largest else None,
                quantity=sum(line.quantity for line in lines),
                urgency=urgency,
                delivery_location=location,
                estimated_cost=round(
                    sum(products[line.sku].unit_cost * line.quantity for line in lines), 2
                ),
            )

    @handlers.handler("procurement.send_purchase_order")
    def send_purchase_order(
        request: PurchaseOrderRequest, context: HandlerContext
    ) -> SentPurchaseOrder:
        """Record the purchase order to ``supplier_id`` (status ``sent``), priced at unit cost,
        with its number ``PO-<date>-<n>`` and the delivery expected after the supplier's lead
        time."""

        def effect(session: Session) -> dict[str, object]:
            supplier = session.get(Supplier, request.supplier_id)
            if supplier is None:
                raise ValueError(
                    f"no supplier '{request.supplier_id}': the supplier_choice "
                    "table names a supplier the back office does not know"
                )
            now = office.clock.now()
            count = session.scalar(select(func.count()).select_from(PurchaseOrder)) or 0
            number = f"PO-{now:%Y%m%d}-{count + 1:04d}"
            costs = {
                product.sku: product.unit_cost
                for product in session.scalars(
                    select(Product).where(
                        Product.sku.in_([line.sku for line in request.purchase_lines])
                    )
                )
            }
            total = round(
                sum(costs[line.sku] * line.quantity for line in request.purchase_lines), 2
            )
            session.add(
                PurchaseOrder(
                    number=number,
                    supplier_id=supplier.id,
                    location_id=request.delivery_location,
                    lines=[line.model_dump() for line in request.purchase_lines],
                    total=total,
                    status="sent",
                    created_at=now,
                )
            )
            expected = (now + timedelta(days=supplier.lead_time_days)).date().isoformat()
            return SentPurchaseOrder(
                po_number=number, po_total=total, expected_delivery=expected
            ).model_dump()

        return SentPurchaseOrder.model_validate(office.once(context.idempotency_key, effect))

    @handlers.handler("procurement.record_confirmation")
    def record_confirmation(
        po_number: str, confirmed_quantity: int, delivery_date: str, context: HandlerContext
    ) -> dict[str, object]:
        """Mark the purchase order ``confirmed`` (``partially_confirmed`` when the supplier
        confirmed fewer units than ordered) and note the promised delivery date."""

        def effect(session: Session) -> dict[str, object]:
            order = _purchase_order(session, po_number)
            ordered = sum(line["quantity"] for line in order.lines)
            order.status = "confirmed" if confirmed_quantity >= ordered else "partially_confirmed"
            return {"po_status": order.status, "expected_delivery": delivery_date}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("procurement.reject_delivery")
    def reject_delivery(po_number: str, context: HandlerContext) -> dict[str, object]:
        """The goods failed quality control: the purchase order is ``rejected`` and the goods
        go back to the supplier, so no stock is added."""

        def effect(session: Session) -> dict[str, object]:
            order = _purchase_order(session, po_number)
            order.status = "rejected"
            return {"po_status": order.status}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("procurement.escalate")
    def escalate(context: HandlerContext, po_number: str | None = None) -> dict[str, object]:
        """Hand overdue work to the task's ``role`` header (about its ``subject`` header),
        referring to the purchase order when there is one, else to the instance."""

        def effect(session: Session) -> dict[str, object]:
            escalation = PurchasingEscalation(
                role=context.headers.get("role", "purchasing_lead"),
                subject=context.headers.get("subject", "overdue work"),
                reference=context.business_key or context.instance_id,
                purchase_order=po_number,
                raised_at=office.clock.now(),
            )
            session.add(escalation)
            session.flush()
            return {"escalation_id": escalation.id, "escalated_to": escalation.role}

        return office.once(context.idempotency_key, effect)

    return handlers


def _purchase_order(session: Session, number: str) -> PurchaseOrder:
    return existing(session, PurchaseOrder, number, "'procurement.send_purchase_order'")


def _quarterly_needs(session: Session) -> dict[str, float]:
    """Per SKU, a quarter of last week's sales across the network minus what is available."""
    return {
        sku: stock.sold_last_7_days * REVIEW_WEEKS - stock.available
        for sku, stock in network_stock(session).items()
    }


def _whole_cases(units: float) -> int:
    return math.ceil(units / CASE_SIZE) * CASE_SIZE
