"""Marketing handlers: a campaign briefed, aimed at customer segments, launched on every
channel, credited with the orders it converted, and judged by its return on the budget."""

from __future__ import annotations

import uuid
from datetime import datetime

import isodate
from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.records import (
    Campaign,
    Customer,
    CustomerIdentity,
    Notification,
    Record,
    existing,
)

#: Where a campaign runs when its request names no channels (the issue's four channels).
DEFAULT_CHANNELS = ("app", "mini_program", "store_pos", "social")
#: Budget of a campaign requested without one (a clearance campaign from the signal, say).
DEFAULT_BUDGET = 2000.0
#: How long a campaign runs when its request does not say (ISO 8601 duration).
DEFAULT_DURATION = "P7D"


class CampaignConversion(Record):
    """One order credited to a campaign: an order counts once, however often it is reported."""

    __tablename__ = "campaign_conversions"
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    revenue: Mapped[float]
    recorded_at: Mapped[datetime]


class CampaignBrief(BaseModel):
    """What a campaign request may say; everything it leaves out gets the house default.

    A ``campaign_requested`` message carries ``campaign_id``, ``goal``, ``budget`` and
    ``channels``; the ``slow_movers_flagged`` signal carries only ``slow_movers`` (SKUs), which
    makes a clearance campaign."""

    campaign_id: str | None = None
    campaign_name: str | None = None
    goal: str | None = None
    budget: float | None = Field(default=None, gt=0)
    channels: list[str] | None = None
    campaign_duration: str | None = None
    slow_movers: list[str] | None = None


class Conversion(BaseModel):
    """An order a campaign brought in, as the ``campaign_conversion`` message reports it."""

    campaign_id: str
    order_id: str
    revenue: float = Field(ge=0)


def marketing_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``marketing.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("marketing.prepare_brief")
    def prepare_brief(brief: CampaignBrief, context: HandlerContext) -> dict[str, object]:
        """Complete the request: a campaign id when it has none, a goal (``clearance`` for slow
        movers), budget, channels, duration and a name. Recorded once, so a retry keeps the id."""

        def effect(_session: Session) -> dict[str, object]:
            goal = brief.goal or ("clearance" if brief.slow_movers else "awareness")
            if brief.campaign_name:
                name = brief.campaign_name
            elif brief.slow_movers:
                name = "Clearance: " + ", ".join(brief.slow_movers)
            else:
                name = goal.replace("_", " ").capitalize() + " campaign"
            return {
                "campaign_id": brief.campaign_id or f"CMP-{uuid.uuid4().hex[:8].upper()}",
                "campaign_name": name,
                "goal": goal,
                "budget": brief.budget or DEFAULT_BUDGET,
                "channels": brief.channels or list(DEFAULT_CHANNELS),
                "campaign_duration": brief.campaign_duration or DEFAULT_DURATION,
            }

        return office.once(context.idempotency_key, effect)

    @handlers.handler("marketing.define_audience")
    def define_audience(
        campaign_id: str,
        campaign_name: str,
        segments: list[str],
        offer: str,
        budget: float,
        channels: list[str],
        context: HandlerContext,
    ) -> dict[str, object]:
        """Count the customers in the target ``segments`` and record the planned campaign; no
        customer in them is the BPMN error ``NO_AUDIENCE``."""

        def effect(session: Session) -> dict[str, object]:
            size = (
                session.scalar(
                    select(func.count()).select_from(Customer).where(Customer.segment.in_(segments))
                )
                or 0
            )
            if size == 0:
                raise BpmnError(
                    "NO_AUDIENCE", f"no customer is in {', '.join(segments)}", {"audience_size": 0}
                )
            session.add(
                Campaign(
                    id=campaign_id,
                    name=campaign_name,
                    segment=",".join(segments),
                    budget=budget,
                    channels=list(channels),
                    status="planned",
                    audience_size=size,
                )
            )
            return {"audience_size": size, "segments": list(segments), "offer": offer}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("marketing.reject")
    def reject(campaign_id: str, context: HandlerContext) -> dict[str, object]:
        """Shelve a campaign whose budget was not approved."""

        def effect(session: Session) -> dict[str, object]:
            _campaign(session, campaign_id).status = "rejected"
            return {"campaign_status": "rejected"}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("marketing.start")
    def start(
        campaign_id: str, campaign_duration: str, context: HandlerContext
    ) -> dict[str, object]:
        """Set the campaign running from now for ``campaign_duration``; ``campaign_ends_at`` is
        when the process closes it."""

        def effect(session: Session) -> dict[str, object]:
            _campaign(session, campaign_id).status = "running"
            now = office.clock.now()
            return {
                "campaign_status": "running",
                "campaign_started_at": now.isoformat(),
                "campaign_ends_at": (now + isodate.parse_duration(campaign_duration)).isoformat(),
            }

        return office.once(context.idempotency_key, effect)

    @handlers.handler("marketing.launch")
    def launch(
        campaign_id: str, channel: str, offer: str, context: HandlerContext
    ) -> dict[str, object]:
        """Send the offer on one channel to every audience member known there; ``reached`` is
        how many were."""

        def effect(session: Session) -> dict[str, object]:
            campaign = _campaign(session, campaign_id)
            customers = session.scalars(
                select(CustomerIdentity.customer_id)
                .join(Customer, Customer.id == CustomerIdentity.customer_id)
                .where(
                    CustomerIdentity.channel == channel,
                    Customer.segment.in_(campaign.segment.split(",")),
                )
            ).all()
            now = office.clock.now()
            for customer_id in customers:
                session.add(
                    Notification(
                        customer_id=customer_id, template=f"{offer}@{channel}"[:60], sent_at=now
                    )
                )
            return {"channel": channel, "reached": len(customers)}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("marketing.record_conversion")
    def record_conversion(conversion: Conversion, context: HandlerContext) -> dict[str, object]:
        """Credit an order's revenue to the campaign; an order already credited counts once."""

        def effect(session: Session) -> dict[str, object]:
            campaign = _campaign(session, conversion.campaign_id)
            if (
                session.get(CampaignConversion, (conversion.campaign_id, conversion.order_id))
                is None
            ):
                session.add(
                    CampaignConversion(
                        campaign_id=conversion.campaign_id,
                        order_id=conversion.order_id,
                        revenue=conversion.revenue,
                        recorded_at=office.clock.now(),
                    )
                )
                campaign.conversions += 1
                campaign.revenue = round(campaign.revenue + conversion.revenue, 2)
            return {"conversions": campaign.conversions, "campaign_revenue": campaign.revenue}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("marketing.evaluate_roi")
    def evaluate_roi(campaign_id: str, context: HandlerContext) -> dict[str, object]:
        """Close the campaign and judge it: ``roi`` is the revenue its conversions brought per
        unit of budget."""

        def effect(session: Session) -> dict[str, object]:
            campaign = _campaign(session, campaign_id)
            campaign.status = "closed"
            roi = round(campaign.revenue / campaign.budget, 2) if campaign.budget else 0.0
            return {
                "campaign_status": "closed",
                "roi": roi,
                "conversions": campaign.conversions,
                "campaign_revenue": campaign.revenue,
            }

        return office.once(context.idempotency_key, effect)

    return handlers


def _campaign(session: Session, campaign_id: str) -> Campaign:
    return existing(session, Campaign, campaign_id, "'marketing.define_audience'")
