"""processes/omnichannel_marketing_sales.bpmn as the marketing team tells it: a campaign is
briefed, aimed at segments by the campaign_audience table, approved, launched on every channel,
credited with conversions until its end date, then judged by its ROI. Every path, every rule."""

from __future__ import annotations

from typing import Any

import pytest

from retailflow import Engine
from retailflow.engine.clock import VirtualClock
from retailflow.model import Instance
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import Campaign, Customer, Notification
from retailflow.testing import HandlerMocks, TimeTravel, assert_that, complete, correlate

PROCESS = "processes/omnichannel_marketing_sales.bpmn"
AUDIENCE_TABLE = "processes/campaign_audience.dmn"
pytestmark = pytest.mark.rf_deploy(PROCESS, AUDIENCE_TABLE)

REQUEST = {
    "campaign_id": "CMP-7",
    "goal": "win_back",
    "budget": 1000.0,
    "channels": ["app", "mini_program", "store_pos", "social"],
}


def _brief(inputs: dict[str, Any]) -> dict[str, Any]:
    """The brief as the real handler completes it (its defaults live in retail/marketing.py)."""
    slow_movers = inputs.get("slow_movers")
    return {
        "campaign_id": inputs.get("campaign_id") or "CMP-NEW",
        "campaign_name": "Clearance" if slow_movers else "Campaign",
        "goal": inputs.get("goal") or ("clearance" if slow_movers else "awareness"),
        "budget": inputs.get("budget") or 2000.0,
        "channels": inputs.get("channels") or ["app", "mini_program", "store_pos", "social"],
        "campaign_duration": "P7D",
    }


@pytest.fixture(autouse=True)
def marketing_systems(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The marketing systems, answering as they do on a good day."""
    rf_handlers.mock("marketing.prepare_brief", returns=_brief)
    rf_handlers.mock(
        "marketing.define_audience",
        returns=lambda inputs: {
            "audience_size": 40,
            "segments": inputs["segments"],
            "offer": inputs["offer"],
        },
    )
    rf_handlers.mock("marketing.reject", returns={"campaign_status": "rejected"})
    rf_handlers.mock(
        "marketing.start",
        returns={"campaign_status": "running", "campaign_ends_at": "2030-01-08T00:00:00+00:00"},
    )
    rf_handlers.mock("marketing.launch", returns=lambda inputs: {"reached": 10})
    rf_handlers.mock(
        "marketing.record_conversion",
        returns=lambda inputs: {"conversions": 1, "campaign_revenue": inputs["revenue"]},
    )
    rf_handlers.mock("marketing.evaluate_roi", returns={"roi": 0.25, "campaign_status": "closed"})
    return rf_handlers


def _request(**changes: Any) -> Instance:
    campaign = correlate("campaign_requested", variables={**REQUEST, **changes})
    assert campaign is not None
    return campaign


def test_an_approved_campaign_runs_on_every_channel_collects_conversions_and_is_judged(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    campaign = _request()
    assert_that(campaign).has_open_user_task("approve_budget", candidate_group="marketing_leads")
    assert_that(campaign).has_passed_in_order(
        "campaign_requested", "prepare_brief", "choose_audience", "define_audience"
    )

    complete(campaign, {"budget_approved": True})
    assert_that(campaign).is_waiting_at("conversion_received", "campaign_end_reached")
    assert sorted(call.inputs["channel"] for call in rf_handlers.calls("marketing.launch")) == [
        "app",
        "mini_program",
        "social",
        "store_pos",
    ]
    assert_that(campaign).has_variables(channel_reach=[10, 10, 10, 10])

    correlate("campaign_conversion", key="CMP-7", variables={"order_id": "SO-1", "revenue": 150})
    correlate("campaign_conversion", key="CMP-7", variables={"order_id": "SO-2", "revenue": 100})
    assert_that(campaign).is_waiting_at("conversion_received", "campaign_end_reached")
    assert [
        (call.inputs["order_id"], call.inputs["revenue"])
        for call in rf_handlers.calls("marketing.record_conversion")
    ] == [("SO-1", 150), ("SO-2", 100)]

    rf_clock.advance(days=7)
    assert_that(campaign).is_ended_at("campaign_closed").has_passed_in_order(
        "start_campaign",
        "launch_on_channel",
        "record_conversion",
        "campaign_end_reached",
        "evaluate_roi",
    ).has_variables(roi=0.25, campaign_status="closed")
    assert rf_handlers["marketing.evaluate_roi"].last_inputs["campaign_id"] == "CMP-7"


def test_a_campaign_without_conversions_still_closes_on_its_end_date(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    campaign = _request()
    complete(campaign, {"budget_approved": True})
    rf_clock.advance(days=6, hours=23)
    assert_that(campaign).is_waiting_at("campaign_end_reached").is_running()

    rf_clock.advance(hours=1)
    assert_that(campaign).is_ended_at("campaign_closed").has_not_passed("record_conversion")


def test_slow_movers_start_a_clearance_campaign_whose_budget_can_be_rejected(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    [campaign] = rf_engine.broadcast_signal(
        "slow_movers_flagged", {"slow_movers": ["MUG-005", "LMP-009"]}
    )
    rf_engine.run()
    assert_that(campaign).has_passed("slow_movers_flagged").has_variables(
        goal="clearance",
        campaign_id="CMP-NEW",
        audience={"segments": ["loyal", "promising", "new"], "offer": "clearance_30_off"},
    )

    complete(campaign, {"budget_approved": False})
    assert_that(campaign).is_ended_at("campaign_rejected").has_not_passed(
        "start_campaign", "launch_on_channel"
    )
    assert rf_handlers["marketing.reject"].last_inputs["campaign_id"] == "CMP-NEW"


def test_a_campaign_whose_segments_hold_no_customer_is_dropped_before_approval(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("marketing.define_audience").raise_bpmn_error(
        "NO_AUDIENCE", "no customer is in at_risk, lost", {"audience_size": 0}
    )
    campaign = _request()
    assert_that(campaign).is_ended_at("campaign_dropped").has_passed("no_audience").has_not_passed(
        "approve_budget"
    ).has_variables(audience_size=0)


@pytest.mark.parametrize(
    ("goal", "segments", "offer"),
    [
        ("clearance", ["loyal", "promising", "new"], "clearance_30_off"),
        ("win_back", ["at_risk", "lost"], "comeback_voucher"),
        ("loyalty", ["champion", "loyal"], "double_points"),
        ("acquisition", ["new", "promising"], "free_first_delivery"),
        ("product_launch", ["champion", "loyal", "promising"], "early_access"),
        ("awareness", ["champion", "loyal", "promising", "new"], "newsletter_feature"),
    ],
)
def test_the_campaign_goal_picks_the_target_segments_and_the_offer(
    rf_engine: Engine, rf_handlers: HandlerMocks, goal: str, segments: list[str], offer: str
) -> None:
    _request(goal=goal)
    inputs = rf_handlers["marketing.define_audience"].last_inputs
    assert (inputs["segments"], inputs["offer"]) == (segments, offer)


def test_the_real_back_office_runs_a_campaign_from_request_to_roi() -> None:
    """End to end with the real marketing handlers: the diagram's variable names and the
    handlers agree."""
    clock = VirtualClock()
    office = Backoffice(clock=clock)
    seed_backoffice(office)
    with office.session() as session:
        for customer in session.query(Customer).limit(12):
            customer.segment = "at_risk"
    engine = Engine(handlers=retail_handlers(office), clock=clock)
    engine.deploy(PROCESS, AUDIENCE_TABLE)

    campaign = engine.correlate(
        "campaign_requested", variables={"goal": "win_back", "budget": 400.0}
    )
    engine.run()
    [approval] = engine.tasks(instance=campaign)
    campaign_id = approval.variables["campaign_id"]
    assert approval.variables["audience_size"] == 12
    engine.complete_task(approval, {"budget_approved": True})
    engine.run()
    for order_id, revenue in (("SO-1", 300.0), ("SO-2", 200.0), ("SO-1", 300.0)):
        engine.correlate(
            "campaign_conversion",
            key=campaign_id,
            variables={"order_id": order_id, "revenue": revenue},
        )
        engine.run()
    clock.advance(days=7)
    engine.run()

    assert_that(campaign, engine=engine).is_ended_at("campaign_closed").has_variables(
        roi=1.25, conversions=2, campaign_revenue=500.0
    )
    with office.session() as session:
        record = session.get(Campaign, campaign_id)
        assert (record.status, record.segment, record.conversions, record.revenue) == (
            "closed",
            "at_risk,lost",
            2,
            500.0,
        )
        assert (
            session.query(Notification)
            .filter(Notification.template.like("comeback_voucher@%"))
            .count()
            > 0
        )
