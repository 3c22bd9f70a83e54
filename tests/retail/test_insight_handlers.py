"""The insight.* handlers against a real seeded back office: what they read, what they write,
and that a handler run twice for the same job changes the back office once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from retailflow.engine.clock import VirtualClock
from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.model import HandlerInputError
from retailflow.retail import Backoffice, seed_backoffice
from retailflow.retail.insight import CustomerMerge, CustomerProfile, insight_handlers
from retailflow.retail.records import Customer, CustomerIdentity, Stock, Touchpoint


@pytest.fixture
def office() -> Iterator[Backoffice]:
    office = Backoffice(clock=VirtualClock())
    seed_backoffice(office)
    yield office
    office.close()


@pytest.fixture
def handlers(office: Backoffice) -> HandlerRegistry:
    return insight_handlers(office)


def job(element_id: str, number: int = 1) -> HandlerContext:
    return HandlerContext(
        instance_id="insight-1",
        business_key=None,
        process_id="consumer_insight",
        definition_id="consumer_insight:1",
        element_id=element_id,
        job_id=f"job-{number}",
        topic=f"insight.{element_id}",
        attempt=1,
    )


def call(
    handlers: HandlerRegistry, topic: str, context: HandlerContext | None = None, **variables: Any
) -> dict[str, Any]:
    handler = handlers.get(f"insight.{topic}")
    assert handler is not None
    return handler.invoke(variables, context or job(topic))


def add_customer(
    office: Backoffice, customer_id: str, *identities: tuple[str, str], loyalty_points: int = 0
) -> None:
    with office.session() as session:
        session.add(Customer(id=customer_id, name=customer_id, loyalty_points=loyalty_points))
        session.flush()
        for channel, external_id in identities:
            session.add(
                CustomerIdentity(channel=channel, external_id=external_id, customer_id=customer_id)
            )


def touch(
    office: Backoffice,
    customer_id: str,
    kind: str,
    sku: str,
    *,
    days_ago: int,
    amount: float = 0.0,
    times: int = 1,
) -> None:
    with office.session() as session:
        for _ in range(times):
            session.add(
                Touchpoint(
                    customer_id=customer_id,
                    channel="app",
                    kind=kind,
                    sku=sku,
                    amount=amount,
                    at=office.clock.now() - timedelta(days=days_ago),
                )
            )


def count(office: Backoffice, model: Any) -> int:
    with office.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# -- gathering --------------------------------------------------------------------------------
def test_a_channels_batch_is_recorded_once_and_an_unknown_identity_becomes_a_new_customer(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        known = session.scalars(
            select(CustomerIdentity).order_by(CustomerIdentity.customer_id)
        ).first()
        assert known is not None
        channel, external_id, customer_id = known.channel, known.external_id, known.customer_id
    batch = [
        {"channel": channel, "external_id": external_id, "kind": "view", "sku": "TEA-001"},
        {
            "channel": "web",
            "external_id": "web:stranger-42",
            "kind": "purchase",
            "sku": "MUG-005",
            "amount": 8.9,
        },
    ]
    customers, touchpoints = count(office, Customer), count(office, Touchpoint)

    first = call(handlers, "gather_touchpoints", touchpoints=batch)
    again = call(handlers, "gather_touchpoints", touchpoints=batch)

    assert first == again
    summary = first["touchpoint_summary"]
    assert summary["recorded"] == 2 and summary["new_customers"] == 1
    assert summary["window_days"] == 90 and summary["by_channel"]["web"] >= 1
    assert count(office, Touchpoint) == touchpoints + 2
    assert count(office, Customer) == customers + 1
    with office.session() as session:
        viewed = session.scalars(
            select(Touchpoint).where(Touchpoint.sku == "TEA-001").order_by(Touchpoint.id.desc())
        ).first()
        assert viewed is not None and viewed.customer_id == customer_id
        stranger = session.get(CustomerIdentity, ("web", "web:stranger-42"))
        assert stranger is not None and session.get(Customer, stranger.customer_id) is not None


def test_gathering_without_a_batch_only_sums_up_the_window(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    touchpoints = count(office, Touchpoint)
    summary = call(handlers, "gather_touchpoints")["touchpoint_summary"]
    assert summary["recorded"] == 0
    assert summary["touchpoints"] == sum(summary["by_kind"].values()) > 0
    assert count(office, Touchpoint) == touchpoints


# -- identities -------------------------------------------------------------------------------
def test_customers_sharing_an_external_id_across_channels_are_merged_into_one(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    add_customer(office, "C-9001", ("app", "tel:+8613800000001"), loyalty_points=50)
    add_customer(
        office,
        "C-9002",
        ("mini_program", "tel:+8613800000001"),
        ("social", "wx:ana"),
        loyalty_points=20,
    )
    touch(office, "C-9002", "purchase", "TEA-001", days_ago=2, amount=4.9)

    result = call(handlers, "merge_identities")
    assert call(handlers, "merge_identities") == result

    assert result["merged_customers"] == [
        {"kept": "C-9001", "merged": "C-9002", "external_id": "tel:+8613800000001"}
    ]
    with office.session() as session:
        assert session.get(CustomerIdentity, ("social", "wx:ana")).customer_id == "C-9001"
        assert session.scalars(
            select(Touchpoint.customer_id).where(Touchpoint.customer_id.in_(("C-9001", "C-9002")))
        ).all() == ["C-9001"]
        assert session.get(Customer, "C-9001").loyalty_points == 70
        assert session.get(CustomerMerge, "C-9002").into_id == "C-9001"
    assert call(handlers, "merge_identities", job("merge_identities", 2))["merge_count"] == 0


def test_a_merged_customer_is_no_longer_profiled(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    add_customer(office, "C-9001", ("app", "tel:1"))
    add_customer(office, "C-9002", ("web", "tel:1"))
    call(handlers, "merge_identities")
    profiled = {
        c["customer_id"] for c in call(handlers, "profile_customers", batch_size=1000)["customers"]
    }
    assert "C-9001" in profiled and "C-9002" not in profiled


# -- profiles and segments --------------------------------------------------------------------
def test_recency_frequency_and_monetary_value_come_from_the_purchases_of_ninety_days(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    add_customer(office, "C-9001")
    add_customer(office, "C-9002")
    touch(office, "C-9001", "purchase", "EAR-008", days_ago=5, amount=49.0, times=2)
    touch(office, "C-9001", "purchase", "TEA-001", days_ago=100, amount=4.9)
    touch(office, "C-9001", "view", "LMP-009", days_ago=1)
    touch(office, "C-9002", "search", "LMP-009", days_ago=1)

    customers = call(handlers, "profile_customers", batch_size=1000)["customers"]
    by_id = {customer["customer_id"]: customer for customer in customers}
    assert by_id["C-9001"] == {
        "customer_id": "C-9001",
        "recency_days": 5,
        "frequency": 2,
        "monetary": 98.0,
    }
    assert by_id["C-9002"] == {
        "customer_id": "C-9002",
        "recency_days": None,
        "frequency": 0,
        "monetary": 0.0,
    }


def test_the_batch_takes_the_customers_segmented_longest_ago_first(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    first = call(handlers, "profile_customers", batch_size=50)
    assert first["customer_count"] == 50
    call(
        handlers,
        "save_segments",
        customers=first["customers"],
        segments=["new"] * len(first["customers"]),
    )
    second = call(handlers, "profile_customers", batch_size=50)
    assert not {c["customer_id"] for c in first["customers"]} & {
        c["customer_id"] for c in second["customers"]
    }


def test_segments_are_written_once_with_the_profile_they_came_from(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    profiles = [
        {"customer_id": "C-0001", "recency_days": 3, "frequency": 5, "monetary": 120.0},
        {"customer_id": "C-0002", "recency_days": None, "frequency": 0, "monetary": 0.0},
    ]
    result = call(handlers, "save_segments", customers=profiles, segments=["champion", "new"])
    assert (
        call(handlers, "save_segments", customers=profiles, segments=["champion", "new"]) == result
    )

    assert result["segment_counts"] == {
        "champion": 1,
        "loyal": 0,
        "promising": 0,
        "at_risk": 0,
        "lost": 0,
        "new": 1,
    }
    assert result["segments_changed"] == 1  # every customer starts as "new"
    with office.session() as session:
        assert session.get(Customer, "C-0001").segment == "champion"
        profile = session.get(CustomerProfile, "C-0001")
        assert (profile.frequency, profile.monetary, profile.segment) == (5, 120.0, "champion")


def test_a_segment_outside_the_contract_or_a_missing_one_is_refused(
    handlers: HandlerRegistry,
) -> None:
    profile = {"customer_id": "C-0001", "recency_days": 3, "frequency": 5, "monetary": 1.0}
    with pytest.raises(HandlerInputError):
        call(handlers, "save_segments", customers=[profile], segments=["regular"])
    with pytest.raises(HandlerInputError):
        call(handlers, "save_segments", customers=[profile, profile], segments=["loyal"])


# -- demand -----------------------------------------------------------------------------------
def test_the_strongest_demand_signal_by_revenue_at_stake_is_the_opportunity(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    result = call(handlers, "detect_demand_signals")
    signals = result["demand_signals"]
    assert signals and all(s["expected_units"] > s["available"] for s in signals)
    stakes = [s["revenue_at_stake"] for s in signals]
    assert stakes == sorted(stakes, reverse=True)
    top = signals[0]
    assert result["opportunity"] == {
        "sku": top["sku"],
        "expected_units": top["shortfall"],
        "reason": top["reason"],
    }
    assert result["high_impact"] is (top["revenue_at_stake"] >= 500)


def test_a_surge_of_searches_against_thin_stock_becomes_a_signal(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    with office.session() as session:
        for stock in session.scalars(select(Stock)):
            stock.sold_last_7_days = 0
            lamps_here = 40 if stock.location_id == "WH-EAST" else 0
            stock.on_hand = lamps_here if stock.sku == "LMP-009" else 500
    assert call(handlers, "detect_demand_signals")["opportunity"] is None

    touch(office, "C-0001", "search", "LMP-009", days_ago=1, times=60)
    result = call(handlers, "detect_demand_signals")
    [signal] = result["demand_signals"]
    assert signal["sku"] == "LMP-009" and signal["views_and_searches"] >= 60
    assert result["opportunity"]["expected_units"] == signal["expected_units"] - 40
    assert result["high_impact"] is True  # 80+ lamps at 29.00


# -- recommendations --------------------------------------------------------------------------
def test_recommendations_lead_with_what_a_customer_looked_at_and_skip_what_they_bought(
    office: Backoffice, handlers: HandlerRegistry
) -> None:
    add_customer(office, "C-9001")
    touch(office, "C-9001", "view", "LMP-009", days_ago=1, times=3)
    touch(office, "C-9001", "search", "EAR-008", days_ago=2)
    touch(office, "C-9001", "purchase", "PWR-010", days_ago=2, amount=24.0)
    touch(office, "C-9001", "view", "PWR-010", days_ago=3)
    with office.session() as session:
        for stock in session.scalars(select(Stock).where(Stock.sku == "EAR-008")):
            stock.on_hand = stock.reserved  # sold out

    result = call(handlers, "refresh_recommendations")
    assert call(handlers, "refresh_recommendations") == result
    assert result["recommendations_refreshed"] > 0
    with office.session() as session:
        picks = session.get(Customer, "C-9001").recommendations
    assert picks[0] == "LMP-009" and len(picks) == 3
    assert "PWR-010" not in picks and "EAR-008" not in picks
