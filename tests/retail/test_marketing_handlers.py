"""The marketing.* handlers against a real seeded back office: what each one reads and writes,
and that a repeated call (handlers run at least once) changes the back office once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from retailflow.engine.clock import VirtualClock
from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.model import HandlerInputError
from retailflow.retail import Backoffice, seed_backoffice
from retailflow.retail.marketing import CampaignConversion, marketing_handlers
from retailflow.retail.records import Campaign, Customer, CustomerIdentity, Notification

AT_RISK = ("C-0001", "C-0002", "C-0003", "C-0004", "C-0005")


@pytest.fixture
def office() -> Iterator[Backoffice]:
    """The seeded business, five of whose customers have drifted away (``at_risk``)."""
    office = Backoffice(clock=VirtualClock())
    seed_backoffice(office)
    with office.session() as session:
        for customer_id in AT_RISK:
            session.get(Customer, customer_id).segment = "at_risk"
    yield office
    office.close()


@pytest.fixture
def marketing(office: Backoffice) -> HandlerRegistry:
    return marketing_handlers(office)


def _context(topic: str, job_id: str = "job-1") -> HandlerContext:
    return HandlerContext(
        instance_id="inst-1",
        business_key=None,
        process_id="omnichannel_marketing_sales",
        definition_id="def-1",
        element_id=topic.split(".")[1],
        job_id=job_id,
        topic=topic,
        attempt=1,
    )


def _call(
    registry: HandlerRegistry, topic: str, variables: dict[str, Any], job_id: str = "job-1"
) -> dict[str, Any]:
    handler = registry.get(topic)
    assert handler is not None
    return handler.invoke(variables, _context(topic, job_id))


def _planned(
    registry: HandlerRegistry, campaign_id: str = "CMP-1", budget: float = 400.0
) -> dict[str, Any]:
    return _call(
        registry,
        "marketing.define_audience",
        {
            "campaign_id": campaign_id,
            "campaign_name": "Win back",
            "segments": ["at_risk", "lost"],
            "offer": "comeback_voucher",
            "budget": budget,
            "channels": ["app", "store_pos"],
        },
    )


def test_a_request_without_details_gets_an_id_and_the_house_defaults(
    marketing: HandlerRegistry,
) -> None:
    brief = _call(marketing, "marketing.prepare_brief", {"goal": "loyalty"})
    assert brief["campaign_id"].startswith("CMP-")
    assert brief | {"campaign_id": "x"} == {
        "campaign_id": "x",
        "campaign_name": "Loyalty campaign",
        "goal": "loyalty",
        "budget": 2000.0,
        "channels": ["app", "mini_program", "store_pos", "social"],
        "campaign_duration": "P7D",
    }


def test_slow_movers_make_a_clearance_brief_named_after_them(marketing: HandlerRegistry) -> None:
    brief = _call(marketing, "marketing.prepare_brief", {"slow_movers": ["MUG-005", "LMP-009"]})
    assert (brief["goal"], brief["campaign_name"]) == ("clearance", "Clearance: MUG-005, LMP-009")


def test_a_request_keeps_what_it_says(marketing: HandlerRegistry) -> None:
    brief = _call(
        marketing,
        "marketing.prepare_brief",
        {
            "campaign_id": "CMP-9",
            "goal": "win_back",
            "budget": 750,
            "channels": ["app"],
            "campaign_duration": "P14D",
        },
    )
    assert (
        brief["campaign_id"],
        brief["budget"],
        brief["channels"],
        brief["campaign_duration"],
    ) == ("CMP-9", 750.0, ["app"], "P14D")


def test_a_retried_brief_keeps_its_campaign_id(marketing: HandlerRegistry) -> None:
    first = _call(marketing, "marketing.prepare_brief", {"goal": "loyalty"})
    again = _call(marketing, "marketing.prepare_brief", {"goal": "loyalty"})
    assert first["campaign_id"] == again["campaign_id"]


def test_the_audience_is_counted_from_the_segments_and_the_campaign_planned(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    assert _planned(marketing) == {
        "audience_size": 5,
        "segments": ["at_risk", "lost"],
        "offer": "comeback_voucher",
    }
    with office.session() as session:
        campaign = session.get(Campaign, "CMP-1")
        assert (
            campaign.status,
            campaign.segment,
            campaign.audience_size,
            campaign.budget,
            campaign.channels,
        ) == ("planned", "at_risk,lost", 5, 400.0, ["app", "store_pos"])


def test_segments_nobody_is_in_are_a_no_audience_error_and_plan_nothing(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    with pytest.raises(BpmnError) as raised:
        _call(
            marketing,
            "marketing.define_audience",
            {
                "campaign_id": "CMP-2",
                "campaign_name": "Reward",
                "segments": ["champion"],
                "offer": "double_points",
                "budget": 100.0,
                "channels": ["app"],
            },
        )
    assert raised.value.code == "NO_AUDIENCE"
    with office.session() as session:
        assert session.get(Campaign, "CMP-2") is None


def test_a_rejected_budget_shelves_the_campaign(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    _planned(marketing)
    assert _call(marketing, "marketing.reject", {"campaign_id": "CMP-1"}) == {
        "campaign_status": "rejected"
    }
    with office.session() as session:
        assert session.get(Campaign, "CMP-1").status == "rejected"


def test_a_started_campaign_runs_until_now_plus_its_duration(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    _planned(marketing)
    started = _call(
        marketing, "marketing.start", {"campaign_id": "CMP-1", "campaign_duration": "P7D"}
    )
    assert (started["campaign_started_at"], started["campaign_ends_at"]) == (
        "2030-01-01T00:00:00+00:00",
        "2030-01-08T00:00:00+00:00",
    )
    with office.session() as session:
        assert session.get(Campaign, "CMP-1").status == "running"


def test_a_launch_sends_the_offer_to_the_audience_known_on_that_channel_once(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    _planned(marketing)
    with office.session() as session:
        known_on_app = session.scalar(
            select(func.count())
            .select_from(CustomerIdentity)
            .where(CustomerIdentity.channel == "app", CustomerIdentity.customer_id.in_(AT_RISK))
        )
    variables = {"campaign_id": "CMP-1", "channel": "app", "offer": "comeback_voucher"}
    assert _call(marketing, "marketing.launch", variables) == {
        "channel": "app",
        "reached": known_on_app,
    }
    _call(marketing, "marketing.launch", variables)
    with office.session() as session:
        sent = session.scalars(
            select(Notification).where(Notification.template == "comeback_voucher@app")
        ).all()
    assert len(sent) == known_on_app
    assert {notification.customer_id for notification in sent} <= set(AT_RISK)


def test_conversions_add_up_and_an_order_reported_twice_counts_once(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    _planned(marketing)
    first = {"campaign_id": "CMP-1", "order_id": "SO-1", "revenue": 300.0}
    assert _call(marketing, "marketing.record_conversion", first, "job-1") == {
        "conversions": 1,
        "campaign_revenue": 300.0,
    }
    assert _call(marketing, "marketing.record_conversion", first, "job-1") == {
        "conversions": 1,
        "campaign_revenue": 300.0,
    }
    assert _call(marketing, "marketing.record_conversion", first, "job-2") == {
        "conversions": 1,
        "campaign_revenue": 300.0,
    }
    assert _call(
        marketing,
        "marketing.record_conversion",
        {"campaign_id": "CMP-1", "order_id": "SO-2", "revenue": 200.0},
        "job-3",
    ) == {"conversions": 2, "campaign_revenue": 500.0}
    with office.session() as session:
        assert session.scalar(select(func.count()).select_from(CampaignConversion)) == 2


def test_a_negative_revenue_is_refused(marketing: HandlerRegistry) -> None:
    _planned(marketing)
    with pytest.raises(HandlerInputError, match="revenue"):
        _call(
            marketing,
            "marketing.record_conversion",
            {"campaign_id": "CMP-1", "order_id": "SO-1", "revenue": -5},
        )


def test_the_roi_is_the_revenue_brought_per_unit_of_budget_and_closes_the_campaign(
    office: Backoffice, marketing: HandlerRegistry
) -> None:
    _planned(marketing, budget=400.0)
    _call(
        marketing,
        "marketing.record_conversion",
        {"campaign_id": "CMP-1", "order_id": "SO-1", "revenue": 500.0},
    )
    assert _call(marketing, "marketing.evaluate_roi", {"campaign_id": "CMP-1"}) == {
        "campaign_status": "closed",
        "roi": 1.25,
        "conversions": 1,
        "campaign_revenue": 500.0,
    }
    with office.session() as session:
        assert session.get(Campaign, "CMP-1").status == "closed"


def test_a_campaign_missing_from_the_back_office_is_a_technical_failure(
    marketing: HandlerRegistry,
) -> None:
    with pytest.raises(LookupError, match="CMP-404"):
        _call(marketing, "marketing.evaluate_roi", {"campaign_id": "CMP-404"})
