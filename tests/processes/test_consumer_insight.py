"""processes/consumer_insight.bpmn as the insight team tells it: every path of the diagram and
every rule of the customer_segment table, so `pytest --rf-cov` shows them fully covered; and
one run with the real handlers on the seeded back office."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine
from retailflow.engine.clock import VirtualClock
from retailflow.model import InstanceStatus
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import Customer
from retailflow.testing import HandlerMocks, TimeTravel, assert_that, complete, correlate

INSIGHT = ("processes/consumer_insight.bpmn", "processes/customer_segment.dmn")
PLANNING_STAND_IN = "tests/fixtures/planning_inbox.bpmn"
pytestmark = pytest.mark.rf_deploy(*INSIGHT, PLANNING_STAND_IN)

#: one customer per rule of the segment table, in the table's order
PROFILES = [
    {"customer_id": "C-NEW", "recency_days": None, "frequency": 0, "monetary": 0.0},
    {"customer_id": "C-CHAMP", "recency_days": 3, "frequency": 6, "monetary": 240.0},
    {"customer_id": "C-LOYAL", "recency_days": 20, "frequency": 3, "monetary": 40.0},
    {"customer_id": "C-PROM", "recency_days": 10, "frequency": 1, "monetary": 14.0},
    {"customer_id": "C-RISK", "recency_days": 70, "frequency": 1, "monetary": 9.0},
    {"customer_id": "C-LOST", "recency_days": 150, "frequency": 0, "monetary": 0.0},
]
OPPORTUNITY = {"sku": "PWR-010", "expected_units": 45, "reason": "interest outpaces stock"}


def demand(opportunity: dict[str, Any] | None, *, high_impact: bool = False) -> dict[str, Any]:
    return {
        "demand_signals": [opportunity] if opportunity else [],
        "opportunity": opportunity,
        "revenue_at_stake": 1080.0 if high_impact else 120.0,
        "high_impact": high_impact,
    }


@pytest.fixture(autouse=True)
def insight_systems(rf_handlers: HandlerMocks) -> HandlerMocks:
    """The back office answering as on a quiet day: nothing to merge, no demand signal."""
    rf_handlers.mock(
        "insight.gather_touchpoints", returns={"touchpoint_summary": {"touchpoints": 12}}
    )
    rf_handlers.mock("insight.merge_identities", returns={"merged_customers": [], "merge_count": 0})
    rf_handlers.mock(
        "insight.profile_customers",
        returns={"customers": PROFILES, "customer_count": len(PROFILES)},
    )
    rf_handlers.mock(
        "insight.save_segments",
        returns=lambda inputs: {
            "segment_counts": {s: inputs["segments"].count(s) for s in inputs["segments"]},
            "segments_changed": len(inputs["segments"]),
        },
    )
    rf_handlers.mock("insight.detect_demand_signals", returns=demand(None))
    rf_handlers.mock("insight.refresh_recommendations", returns={"recommendations_refreshed": 6})
    return rf_handlers


def planning_instances(engine: Engine) -> list[Any]:
    return engine.instances(process_id="planning_inbox")


def test_each_customer_is_segmented_by_the_table_and_recommendations_refreshed(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    insight = correlate("touchpoints_batch_ready")
    assert insight is not None
    assert_that(insight).is_ended_at("insights_published").has_passed_in_order(
        "batch_ready",
        "gather_touchpoints",
        "merge_identities",
        "profile_customers",
        "segment_customer",
        "save_segments",
        "detect_demand_signals",
        "refresh_recommendations",
    )
    assert rf_handlers["insight.save_segments"].last_inputs["segments"] == [
        "new",
        "champion",
        "loyal",
        "promising",
        "at_risk",
        "lost",
    ]
    assert_that(insight).has_not_passed("route_opportunity", "review_insight").has_variables(
        segments_changed=6, customers=None, segments=None
    )
    assert planning_instances(rf_engine) == []


def test_a_day_with_no_customer_to_segment_still_refreshes_recommendations(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("insight.profile_customers", returns={"customers": [], "customer_count": 0})
    insight = correlate("touchpoints_batch_ready", variables={"batch_size": 0})
    assert insight is not None
    assert_that(insight).is_ended_at("insights_published").has_passed("refresh_recommendations")
    assert rf_handlers["insight.save_segments"].last_inputs["segments"] == []


def test_the_daily_timer_runs_the_insight_once_a_day(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_clock.advance(hours=23)
    assert rf_engine.instances(process_id="consumer_insight") == []

    rf_clock.advance(days=2, hours=1)
    runs = rf_engine.instances(process_id="consumer_insight")
    assert len(runs) == 3 and {run.status for run in runs} == {InstanceStatus.COMPLETED}
    assert_that(runs[0]).has_passed("every_day").is_ended_at("insights_published")
    assert rf_handlers["insight.refresh_recommendations"].call_count == 3


def test_a_channels_batch_is_handed_to_the_gathering(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    batch = [
        {"channel": "app", "external_id": "tel:+861380000", "kind": "search", "sku": "EAR-008"}
    ]
    correlate("touchpoints_batch_ready", variables={"touchpoints": batch})
    assert rf_handlers["insight.gather_touchpoints"].last_inputs["touchpoints"] == batch


def test_a_routine_demand_opportunity_goes_straight_to_product_planning(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("insight.detect_demand_signals", returns=demand(OPPORTUNITY))
    insight = correlate("touchpoints_batch_ready")
    assert insight is not None
    assert_that(insight).is_ended_at("insights_published").has_passed_in_order(
        "opportunity_found", "impact_check", "route_opportunity", "refresh_recommendations"
    )
    assert_that(insight).has_not_passed("review_insight")
    [planning] = planning_instances(rf_engine)
    assert_that(planning).is_ended_at("opportunity_noted").has_variables(opportunity=OPPORTUNITY)


def test_a_high_impact_opportunity_waits_for_an_analyst_and_goes_to_planning_once_approved(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("insight.detect_demand_signals", returns=demand(OPPORTUNITY, high_impact=True))
    insight = correlate("touchpoints_batch_ready")
    assert insight is not None
    assert_that(insight).has_open_user_task("review_insight", candidate_group="analysts")
    assert planning_instances(rf_engine) == []
    assert rf_handlers["insight.refresh_recommendations"].call_count == 0

    complete(insight, {"approved": True, "analyst_note": "launch week, buy more"})
    assert_that(insight).is_ended_at("insights_published").has_passed_in_order(
        "review_insight", "review_outcome", "route_opportunity", "refresh_recommendations"
    )
    [planning] = planning_instances(rf_engine)
    assert_that(planning).has_variables(opportunity=OPPORTUNITY)


def test_an_opportunity_the_analyst_rejects_never_reaches_planning(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock("insight.detect_demand_signals", returns=demand(OPPORTUNITY, high_impact=True))
    insight = correlate("touchpoints_batch_ready")
    assert insight is not None

    complete(insight, {"approved": False, "analyst_note": "one-off influencer spike"})
    assert_that(insight).is_ended_at("insights_published").has_passed(
        "refresh_recommendations"
    ).has_not_passed("route_opportunity")
    assert planning_instances(rf_engine) == []


@pytest.mark.rf_deploy(*INSIGHT)
def test_an_opportunity_nobody_listens_for_is_dropped_with_a_warning_and_the_run_ends(
    rf_engine: Engine, rf_handlers: HandlerMocks, caplog: pytest.LogCaptureFixture
) -> None:
    rf_handlers.mock("insight.detect_demand_signals", returns=demand(OPPORTUNITY))
    with caplog.at_level(logging.WARNING, logger="retailflow.engine.stepping"):
        insight = correlate("touchpoints_batch_ready")
    assert insight is not None
    assert_that(insight).is_ended_at("insights_published").has_passed("route_opportunity")
    assert "thrown message 'demand_opportunity' reached no instance" in caplog.text


def test_the_real_handlers_segment_the_seeded_customers_and_route_the_top_opportunity() -> None:
    clock = VirtualClock()
    office = Backoffice(clock=clock)
    seed_backoffice(office)
    engine = Engine(handlers=retail_handlers(office), clock=clock)
    engine.deploy(*INSIGHT, PLANNING_STAND_IN)

    insight = engine.correlate("touchpoints_batch_ready")
    engine.run()
    assert insight is not None
    [review] = engine.tasks(instance=insight.id, candidate_group="analysts")
    engine.complete_task(review, {"approved": True})
    engine.run()

    assert_that(insight, engine=engine).is_ended_at("insights_published")
    [planning] = planning_instances(engine)
    opportunity = engine.instance(planning).variables["opportunity"]
    assert set(opportunity) == {"sku", "expected_units", "reason"}
    assert opportunity["expected_units"] > 0
    with office.session() as session:
        customers = session.scalars(select(Customer)).all()
        assert {customer.segment for customer in customers} == {
            "champion",
            "loyal",
            "promising",
            "at_risk",
            "lost",
            "new",
        }
        assert any(customer.recommendations for customer in customers)
