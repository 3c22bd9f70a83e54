"""Service desk handlers: customer tickets recorded, answered, escalated, returned and rewarded.

The ``customer_service`` process records a ticket from any channel, triages it (the
``ticket_triage`` table), answers what the back office can answer by itself, hands the rest to
an agent, escalates what waits past its SLA, runs returns and refunds (``returns_refunds``),
and thanks the customer in loyalty points once the survey is answered or has timed out.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import (
    Customer,
    Order,
    OrderLine,
    Record,
    Ticket,
    existing,
    refundable,
    stock_to_fill,
)

#: Ticket priorities from the least to the most pressing; an escalation moves one step up.
PRIORITIES = ("low", "normal", "high", "urgent")

#: Questions the back office answers without an agent, by ticket category.
FAQ_ANSWERS: dict[str, str] = {
    "opening_hours": "Our stores are open every day from 9:00 to 22:00; the app never closes.",
    "delivery_times": "Same-day delivery in Shanghai and Shenzhen for orders placed before "
    "14:00; two working days elsewhere.",
    "payment_methods": "We accept bank cards, Alipay, WeChat Pay and gift cards, online and "
    "in store.",
    "loyalty_programme": "Every order earns one point per yuan; points pay for any order in "
    "the app or in store.",
}

#: Loyalty-point multipliers by customer segment (the best customers are thanked more).
SEGMENT_MULTIPLIER: dict[str, float] = {"champion": 2.0, "loyal": 1.5}

#: Where returned goods go back on the shelf when the order names no fulfilling location.
RETURNS_LOCATION = "WH-EAST"


class Escalation(Record):
    """A ticket that waited past its SLA: the supervisors told, the priority raised."""

    __tablename__ = "ticket_escalations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    from_priority: Mapped[str | None] = mapped_column(String(20))
    to_priority: Mapped[str] = mapped_column(String(20))
    notified_group: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime]


class NewTicket(BaseModel):
    """A ticket as a channel opens it (the ``ticket_opened`` message)."""

    ticket_id: str
    customer_id: str
    channel: str
    subject: str
    order_id: str | None = None


def service_desk_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``service.*`` and ``loyalty.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("service.record_ticket")
    def record_ticket(ticket: NewTicket, context: HandlerContext) -> dict[str, object]:
        """Open the ticket in the back office; the customer's ``segment`` is the result (the
        triage reads it)."""

        def effect(session: Session) -> dict[str, object]:
            customer = session.get(Customer, ticket.customer_id)
            if customer is None:
                raise ValueError(
                    f"ticket {ticket.ticket_id}: no customer "
                    f"{ticket.customer_id!r} in the CRM; open the ticket for a "
                    "known customer"
                )
            session.add(
                Ticket(
                    id=ticket.ticket_id,
                    customer_id=ticket.customer_id,
                    channel=ticket.channel,
                    subject=ticket.subject,
                    order_id=ticket.order_id,
                )
            )
            return {"segment": customer.segment}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("service.route_ticket")
    def route_ticket(
        ticket_id: str, priority: str, team: str, context: HandlerContext
    ) -> dict[str, object]:
        """Write the triage's priority and team on the ticket."""

        def effect(session: Session) -> dict[str, object]:
            ticket = _ticket(session, ticket_id)
            ticket.priority, ticket.team = priority, team
            return {"ticket_status": ticket.status}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("service.try_auto_answer")
    def try_auto_answer(
        ticket_id: str, category: str, context: HandlerContext, order_id: str | None = None
    ) -> dict[str, object]:
        """Answer from the back office when it knows the answer: where an order is (its
        tracking number) or a frequently asked question. ``auto_answered`` says whether it
        did; the ``answer`` is recorded as the ticket's resolution."""

        def effect(session: Session) -> dict[str, object]:
            answer = _automatic_answer(session, category, order_id)
            if answer is None:
                return {"auto_answered": False, "answer": None}
            ticket = _ticket(session, ticket_id)
            ticket.status, ticket.resolution = "answered", answer
            return {"auto_answered": True, "answer": answer}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("service.escalate_ticket")
    def escalate_ticket(ticket_id: str, context: HandlerContext) -> dict[str, object]:
        """The SLA ran out while the agent works: raise the priority one step and tell the
        supervisors (the task's ``supervisor_group`` header)."""
        group = context.headers.get("supervisor_group", "service_supervisors")

        def effect(session: Session) -> dict[str, object]:
            ticket = _ticket(session, ticket_id)
            before = ticket.priority
            step = PRIORITIES.index(before) + 1 if before in PRIORITIES else len(PRIORITIES)
            ticket.priority = PRIORITIES[min(step, len(PRIORITIES) - 1)]
            session.add(
                Escalation(
                    ticket_id=ticket_id,
                    from_priority=before,
                    to_priority=ticket.priority,
                    notified_group=group,
                    raised_at=office.clock.now(),
                )
            )
            return {"escalated_to": ticket.priority, "supervisors_notified": group}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("service.open_return")
    def open_return(ticket_id: str, order_id: str, context: HandlerContext) -> dict[str, object]:
        """Open a return on the order: what is still refundable (``refund_amount``: paid and
        not yet refunded, so nothing for an order never paid) and whose order it is
        (``customer_id``)."""

        def effect(session: Session) -> dict[str, object]:
            order = session.get(Order, order_id)
            if order is None:
                raise ValueError(
                    f"ticket {ticket_id}: no order {order_id!r}; the agent must "
                    "name the order the return is for"
                )
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None:
                ticket.status = "return_open"
            return {"refund_amount": refundable(order), "customer_id": order.customer_id}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("service.restock_return")
    def restock_return(order_id: str, context: HandlerContext) -> dict[str, object]:
        """Put the returned goods back on hand where the order was fulfilled from (else the
        returns warehouse). Only a delivered order's goods left the stock books; any other
        order's goods never did (or are still held for it), so nothing is added."""

        def effect(session: Session) -> dict[str, object]:
            order = session.get(Order, order_id)
            location = (order.fulfilled_from if order is not None else None) or RETURNS_LOCATION
            units = 0
            if order is None or order.status != "delivered":
                return {"restocked_at": location, "restocked_units": 0}
            for line in session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)):
                stock = stock_to_fill(session, location, line.sku)
                stock.on_hand += line.quantity
                units += line.quantity
            return {"restocked_at": location, "restocked_units": units}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("loyalty.award_points")
    def award_points(
        ticket_id: str, context: HandlerContext, satisfaction: int | None = None
    ) -> dict[str, object]:
        """Thank the customer in loyalty points: the ``base_points`` header, the
        ``apology_points`` header instead after a bad experience (a score of 1 or 2, or an
        escalated ticket), times the segment's multiplier."""
        base = int(context.headers.get("base_points", "50"))
        apology = int(context.headers.get("apology_points", "200"))

        def effect(session: Session) -> dict[str, object]:
            ticket = _ticket(session, ticket_id)
            customer = session.get(Customer, ticket.customer_id)
            escalations = (
                session.scalar(
                    select(func.count())
                    .select_from(Escalation)
                    .where(Escalation.ticket_id == ticket_id)
                )
                or 0
            )
            bad_experience = escalations > 0 or (satisfaction is not None and satisfaction <= 2)
            points = round(
                (apology if bad_experience else base)
                * SEGMENT_MULTIPLIER.get(customer.segment, 1.0)
            )
            customer.loyalty_points += points
            return {"points_awarded": points, "loyalty_points": customer.loyalty_points}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("service.close_ticket")
    def close_ticket(
        ticket_id: str,
        context: HandlerContext,
        satisfaction: int | None = None,
        resolution: str | None = None,
    ) -> dict[str, object]:
        """Close the ticket with the customer's score (none when the survey timed out) and the
        agent's resolution, when there was an agent."""

        def effect(session: Session) -> dict[str, object]:
            ticket = _ticket(session, ticket_id)
            ticket.status, ticket.satisfaction = "closed", satisfaction
            if resolution is not None:
                ticket.resolution = resolution
            return {"ticket_status": "closed"}

        return office.once(context.idempotency_key, effect)

    return handlers


def _ticket(session: Session, ticket_id: str) -> Ticket:
    return existing(session, Ticket, ticket_id, "the 'Record ticket' step (service.record_ticket)")


def _automatic_answer(session: Session, category: str, order_id: str | None) -> str | None:
    """What the back office can tell the customer by itself, or ``None`` (an agent's job)."""
    if category == "order_status" and order_id:
        order = session.get(Order, order_id)
        if order is None:
            return None
        if order.status == "shipped":
            return f"Your order {order_id} is on its way: tracking number {order.tracking_number}."
        if order.status in ("placed", "paid"):
            return f"Your order {order_id} is being prepared and ships within a day."
        return None  # delivered, failed, returned, cancelled: a person looks into it
    return FAQ_ANSWERS.get(category)
