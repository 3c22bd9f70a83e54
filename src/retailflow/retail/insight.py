"""Consumer insight handlers: touchpoints gathered, identities merged, customers profiled and
segmented, demand signals found, personal recommendations refreshed.

The RFM profile (recency, frequency, monetary value) is computed here; which segment a profile
falls in is the ``customer_segment`` decision table's business, so analysts change the
segmentation in Modeler without touching this code.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail.backoffice import Backoffice
from retailflow.retail.inventory import network_stock
from retailflow.retail.records import (
    Customer,
    CustomerIdentity,
    Product,
    Record,
    Touchpoint,
)

SEGMENTS = ("champion", "loyal", "promising", "at_risk", "lost", "new")
"""The segments ``customer_segment`` decides; other processes (campaigns) rely on the names."""
Segment = Literal["champion", "loyal", "promising", "at_risk", "lost", "new"]

RFM_WINDOW_DAYS = 90
"""Frequency and monetary value count the purchases of this many days."""
BATCH_SIZE = 200
"""Customers segmented per run at most: the least recently segmented go first."""
DEMAND_WINDOW_DAYS = 7
"""Views and searches of this many days make a SKU's current interest."""
PLANNING_WEEKS = 4
"""Demand is projected this many weeks ahead against the stock available now."""
LOOKER_CONVERSION = 0.5
"""Share of this week's views and searches expected to turn into a purchase each week."""
HIGH_IMPACT_REVENUE = 500.0
"""Revenue at stake from which an opportunity goes to an analyst before planning sees it."""
RECOMMENDATION_WINDOW_DAYS = 30
RECOMMENDATIONS_PER_CUSTOMER = 3


class CustomerProfile(Record):
    """A customer's last RFM profile and the segment it gave, and when."""

    __tablename__ = "customer_profiles"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    recency_days: Mapped[int | None]
    frequency: Mapped[int]
    monetary: Mapped[float]
    segment: Mapped[str] = mapped_column(String(40))
    segmented_at: Mapped[datetime]


class CustomerMerge(Record):
    """A duplicate customer folded into another because a channel identity they shared (the
    same external id on two channels) shows they are one person. The duplicate's row stays, so
    orders and tickets that name it still resolve; its identities and touchpoints moved."""

    __tablename__ = "customer_merges"
    merged_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    into_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    external_id: Mapped[str] = mapped_column(String(80))
    merged_at: Mapped[datetime]


class ChannelTouchpoint(BaseModel):
    """A touchpoint as a channel reports it: by its own identity of the customer."""

    channel: str
    external_id: str
    kind: Literal["view", "search", "purchase", "complaint"]
    sku: str | None = None
    amount: float = Field(default=0.0, ge=0)
    at: datetime | None = None


class TouchpointBatch(BaseModel):
    """What ``insight.gather_touchpoints`` reads: the batch a channel posted, if any."""

    touchpoints: list[ChannelTouchpoint] = []


class CustomerRfm(BaseModel):
    """One customer's recency (days since the last purchase, ``None`` if never), frequency
    (purchases) and monetary value (spend) over the RFM window."""

    customer_id: str
    recency_days: int | None
    frequency: int = Field(ge=0)
    monetary: float = Field(ge=0)


class SegmentedBatch(BaseModel):
    """What ``insight.save_segments`` reads: the profiled customers and, in the same order,
    the segment the decision gave each."""

    customers: list[CustomerRfm]
    segments: list[Segment]

    @model_validator(mode="after")
    def _one_segment_per_customer(self) -> SegmentedBatch:
        if len(self.customers) != len(self.segments):
            raise ValueError(f"{len(self.customers)} customers but {len(self.segments)} segments")
        return self


def insight_handlers(office: Backoffice) -> HandlerRegistry:
    """The ``insight.*`` handlers, working on ``office``."""
    handlers = HandlerRegistry()

    @handlers.handler("insight.gather_touchpoints")
    def gather_touchpoints(batch: TouchpointBatch, context: HandlerContext) -> dict[str, Any]:
        """Record the channels' new touchpoints (a new customer for an identity never seen) and
        sum up the RFM window per channel and kind."""

        def effect(session: Session) -> dict[str, Any]:
            now = office.clock.now()
            new_customers = 0
            for reported in batch.touchpoints:
                identity = session.get(CustomerIdentity, (reported.channel, reported.external_id))
                if identity is None:
                    identity = _new_customer(session, reported.channel, reported.external_id)
                    new_customers += 1
                session.add(
                    Touchpoint(
                        customer_id=identity.customer_id,
                        channel=reported.channel,
                        kind=reported.kind,
                        sku=reported.sku,
                        amount=reported.amount,
                        at=reported.at or now,
                    )
                )
            session.flush()
            since = now - timedelta(days=RFM_WINDOW_DAYS)
            window = session.execute(
                select(Touchpoint.channel, Touchpoint.kind, Touchpoint.customer_id).where(
                    Touchpoint.at >= since
                )
            ).all()
            return {
                "touchpoint_summary": {
                    "window_days": RFM_WINDOW_DAYS,
                    "touchpoints": len(window),
                    "recorded": len(batch.touchpoints),
                    "new_customers": new_customers,
                    "active_customers": len({row.customer_id for row in window}),
                    "by_channel": dict(Counter(row.channel for row in window)),
                    "by_kind": dict(Counter(row.kind for row in window)),
                }
            }

        return office.once(context.idempotency_key, effect)

    @handlers.handler("insight.merge_identities")
    def merge_identities(context: HandlerContext) -> dict[str, Any]:
        """Fold customers who share an external id across channels into one (the lowest id
        keeps the customer): identities and touchpoints move, loyalty points add up."""

        def effect(session: Session) -> dict[str, Any]:
            shared = (
                select(CustomerIdentity.external_id)
                .group_by(CustomerIdentity.external_id)
                .having(func.count(func.distinct(CustomerIdentity.customer_id)) > 1)
            )
            owners: dict[str, set[str]] = defaultdict(set)
            for identity in session.scalars(
                select(CustomerIdentity)
                .where(CustomerIdentity.external_id.in_(shared))
                .order_by(CustomerIdentity.external_id)
            ).all():
                owners[identity.external_id].add(identity.customer_id)
            into: dict[str, str] = {}
            merges: list[dict[str, str]] = []
            for external_id, customer_ids in owners.items():
                people = sorted({_resolve(into, customer_id) for customer_id in customer_ids})
                for duplicate in people[1:]:
                    _merge(session, duplicate, people[0], external_id, office.clock.now())
                    into[duplicate] = people[0]
                    merges.append(
                        {"kept": people[0], "merged": duplicate, "external_id": external_id}
                    )
            return {"merged_customers": merges, "merge_count": len(merges)}

        return office.once(context.idempotency_key, effect)

    @handlers.handler("insight.profile_customers")
    def profile_customers(batch_size: int = BATCH_SIZE) -> dict[str, Any]:
        """Recency, frequency and monetary value of the ``batch_size`` customers segmented
        longest ago (never first): the list the segmentation runs over."""
        now = office.clock.now()
        with office.session() as session:
            merged = select(CustomerMerge.merged_id)
            batch = session.scalars(
                select(Customer.id)
                .outerjoin(CustomerProfile)
                .where(Customer.id.not_in(merged))
                .order_by(
                    CustomerProfile.segmented_at.is_not(None),
                    CustomerProfile.segmented_at,
                    Customer.id,
                )
                .limit(max(batch_size, 0))
            ).all()
            purchases = session.execute(
                select(Touchpoint.customer_id, Touchpoint.amount, Touchpoint.at).where(
                    Touchpoint.kind == "purchase", Touchpoint.customer_id.in_(batch)
                )
            ).all()
        bought: dict[str, list[tuple[float, datetime]]] = defaultdict(list)
        for row in purchases:
            bought[row.customer_id].append((row.amount, row.at))
        customers = [
            _rfm(customer_id, bought[customer_id], now).model_dump() for customer_id in batch
        ]
        return {"customers": customers, "customer_count": len(customers)}

    @handlers.handler("insight.save_segments")
    def save_segments(batch: SegmentedBatch, context: HandlerContext) -> dict[str, Any]:
        """Write each customer's segment and keep the profile it came from."""

        def effect(session: Session) -> dict[str, Any]:
            now = office.clock.now()
            changed = 0
            for profile, segment in zip(batch.customers, batch.segments, strict=True):
                customer = session.get(Customer, profile.customer_id)
                if customer is None:
                    continue
                changed += customer.segment != segment
                customer.segment = segment
                session.merge(
                    CustomerProfile(
                        customer_id=profile.customer_id,
                        recency_days=profile.recency_days,
                        frequency=profile.frequency,
                        monetary=profile.monetary,
                        segment=segment,
                        segmented_at=now,
                    )
                )
            counts = Counter(batch.segments)
            return {
                "segment_counts": {name: counts[name] for name in SEGMENTS},
                "segments_changed": changed,
            }

        return office.once(context.idempotency_key, effect)

    @handlers.handler("insight.detect_demand_signals")
    def detect_demand_signals() -> dict[str, Any]:
        """SKUs whose demand over the coming weeks (recent sales plus the buyers this week's
        views and searches promise) exceeds the stock available: the strongest by revenue at
        stake is the opportunity; ``high_impact`` when it puts enough revenue at stake."""
        now = office.clock.now()
        with office.session() as session:
            signals = _demand_signals(session, now - timedelta(days=DEMAND_WINDOW_DAYS))
        opportunity = None
        if signals:
            top = signals[0]
            opportunity = {
                "sku": top["sku"],
                "expected_units": top["shortfall"],
                "reason": top["reason"],
            }
        at_stake = signals[0]["revenue_at_stake"] if signals else 0.0
        return {
            "demand_signals": signals,
            "opportunity": opportunity,
            "revenue_at_stake": at_stake,
            "high_impact": at_stake >= HIGH_IMPACT_REVENUE,
        }

    @handlers.handler("insight.refresh_recommendations")
    def refresh_recommendations(context: HandlerContext) -> dict[str, Any]:
        """Give every recently active customer up to three SKUs in stock: what they looked at
        and did not buy first, then the bestsellers of the categories they browse, then the
        bestsellers."""

        def effect(session: Session) -> dict[str, Any]:
            since = office.clock.now() - timedelta(days=RECOMMENDATION_WINDOW_DAYS)
            return {"recommendations_refreshed": _recommend(session, since)}

        return office.once(context.idempotency_key, effect)

    return handlers


def _new_customer(session: Session, channel: str, external_id: str) -> CustomerIdentity:
    digest = hashlib.sha1(f"{channel}:{external_id}".encode(), usedforsecurity=False)
    customer_id = f"C-{digest.hexdigest()[:10].upper()}"
    if session.get(Customer, customer_id) is None:
        session.add(Customer(id=customer_id, name=f"New {channel} customer"))
        session.flush()
    identity = CustomerIdentity(channel=channel, external_id=external_id, customer_id=customer_id)
    session.add(identity)
    return identity


def _resolve(into: dict[str, str], customer_id: str) -> str:
    while customer_id in into:
        customer_id = into[customer_id]
    return customer_id


def _merge(session: Session, duplicate: str, keeper: str, external_id: str, now: datetime) -> None:
    for identity in session.scalars(
        select(CustomerIdentity).where(CustomerIdentity.customer_id == duplicate)
    ):
        identity.customer_id = keeper
    for touchpoint in session.scalars(
        select(Touchpoint).where(Touchpoint.customer_id == duplicate)
    ):
        touchpoint.customer_id = keeper
    kept, gone = session.get(Customer, keeper), session.get(Customer, duplicate)
    if kept is not None and gone is not None:
        kept.loyalty_points += gone.loyalty_points
        gone.loyalty_points = 0
    session.add(
        CustomerMerge(merged_id=duplicate, into_id=keeper, external_id=external_id, merged_at=now)
    )
    session.flush()


def _rfm(customer_id: str, purchases: list[tuple[float, datetime]], now: datetime) -> CustomerRfm:
    since = now - timedelta(days=RFM_WINDOW_DAYS)
    recent = [amount for amount, at in purchases if at >= since]
    last = max((at for _amount, at in purchases), default=None)
    return CustomerRfm(
        customer_id=customer_id,
        recency_days=(now - last).days if last is not None else None,
        frequency=len(recent),
        monetary=round(sum(recent), 2),
    )


def _demand_signals(session: Session, since: datetime) -> list[dict[str, Any]]:
    interest: Counter[str] = Counter()
    for sku in session.scalars(
        select(Touchpoint.sku).where(
            Touchpoint.kind.in_(("view", "search")),
            Touchpoint.at >= since,
            Touchpoint.sku.is_not(None),
        )
    ):
        interest[sku] += 1
    network = network_stock(session)
    sold = Counter({sku: stock.sold_last_7_days for sku, stock in network.items()})
    available = Counter({sku: stock.available for sku, stock in network.items()})
    signals = []
    for product in session.scalars(select(Product).order_by(Product.sku)):
        lookers = interest[product.sku]
        weekly = sold[product.sku] + math.ceil(LOOKER_CONVERSION * lookers)
        expected = PLANNING_WEEKS * weekly
        shortfall = expected - max(available[product.sku], 0)
        if shortfall <= 0:
            continue
        signals.append(
            {
                "sku": product.sku,
                "views_and_searches": lookers,
                "sold_last_7_days": sold[product.sku],
                "available": available[product.sku],
                "expected_units": expected,
                "shortfall": shortfall,
                "revenue_at_stake": round(shortfall * product.price, 2),
                "reason": (
                    f"{PLANNING_WEEKS}-week demand of {expected} units ({sold[product.sku]} "
                    f"sold and {lookers} views/searches in the last {DEMAND_WINDOW_DAYS} "
                    f"days) exceeds the {available[product.sku]} available"
                ),
            }
        )
    return sorted(signals, key=lambda signal: (-signal["revenue_at_stake"], signal["sku"]))


def _recommend(session: Session, since: datetime) -> int:
    merged = select(CustomerMerge.merged_id)
    recent = session.execute(
        select(Touchpoint.customer_id, Touchpoint.kind, Touchpoint.sku).where(
            Touchpoint.at >= since,
            Touchpoint.sku.is_not(None),
            Touchpoint.customer_id.not_in(merged),
        )
    ).all()
    categories = {
        sku: category for sku, category in session.execute(select(Product.sku, Product.category))
    }
    in_stock = Counter({sku: stock.available for sku, stock in network_stock(session).items()})
    bestsellers = Counter(row.sku for row in recent if row.kind == "purchase")
    ranked = sorted(categories, key=lambda sku: (-bestsellers[sku], sku))
    looked: dict[str, Counter[str]] = defaultdict(Counter)
    bought: dict[str, set[str]] = defaultdict(set)
    for row in recent:
        if row.kind == "purchase":
            bought[row.customer_id].add(row.sku)
        else:
            looked[row.customer_id][row.sku] += 1
    for customer_id in sorted(set(looked) | set(bought)):
        browsed = {categories.get(sku) for sku in [*looked[customer_id], *bought[customer_id]]}
        candidates = [sku for sku, _count in looked[customer_id].most_common()]
        candidates += [sku for sku in ranked if categories[sku] in browsed]
        candidates += ranked
        picks: list[str] = []
        for sku in candidates:
            if sku not in picks and sku not in bought[customer_id] and in_stock[sku] > 0:
                picks.append(sku)
            if len(picks) == RECOMMENDATIONS_PER_CUSTOMER:
                break
        customer = session.get(Customer, customer_id)
        if customer is not None:
            customer.recommendations = picks
    return len(set(looked) | set(bought))
