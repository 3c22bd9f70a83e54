"""processes/data_analysis_optimisation.bpmn as the process excellence team tells it: every
week the KPIs of each process are computed from retailflow's history, compared with the
kpi_targets table, published, and every process off target lands with its owner."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine, VirtualClock
from retailflow.retail import Backoffice, retail_handlers, seed_backoffice
from retailflow.retail.records import KpiReport
from retailflow.testing import (
    HandlerMocks,
    TimeTravel,
    assert_that,
    bind_engine,
    complete,
    correlate,
    start,
)

pytestmark = pytest.mark.rf_deploy(
    "processes/data_analysis_optimisation.bpmn", "processes/kpi_targets.dmn"
)

WINDOW = {"since": "2029-12-25T00:00:00+00:00", "until": "2030-01-01T00:00:00+00:00"}
SLOW_ORDERS = {
    "process_id": "order_fulfilment",
    "owner_group": "fulfilment-ops",
    "problems": ["cycle time p90 30.0 h is over the 24 h target"],
    "slowest_step": {"element_id": "pick_and_pack", "name": "Pick and pack"},
}
SLOW_TICKETS = {
    "process_id": "customer_service",
    "owner_group": "customer-service-leads",
    "problems": ["3 of 10 instances had incidents (30%, at most 5% allowed)"],
    "slowest_step": None,
}


def analysis(findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "verdicts": [{"process_id": f["process_id"], "on_target": False} for f in findings],
        "findings": findings,
    }


@pytest.fixture(autouse=True)
def analytics(rf_handlers: HandlerMocks) -> HandlerMocks:
    """A week where the order and service processes ran."""
    rf_handlers.mock(
        "analytics.find_active_processes",
        returns={"process_ids": ["order_fulfilment", "customer_service"], "window": WINDOW},
    )
    rf_handlers.mock("analytics.compute_kpis", returns={"kpis": [{"process_id": "x"}]})
    rf_handlers.mock("analytics.compare_with_targets", returns=analysis([]))
    rf_handlers.mock("analytics.publish_report", returns={"report_id": "KPI-1"})
    return rf_handlers


def test_a_week_on_target_publishes_the_report_and_asks_nobody_for_anything(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    review = correlate("kpi_review_requested")
    assert_that(review).is_ended_at("report_published").has_passed_in_order(
        "review_requested",
        "find_active_processes",
        "look_up_targets",
        "compute_kpis",
        "compare_with_targets",
        "publish_report",
        "bottlenecks_found",
    )
    assert_that(review).has_not_passed("improve_process").has_variables(report_id="KPI-1")
    published = rf_handlers["analytics.publish_report"].last_inputs
    assert published["window"] == WINDOW and published["kpis"] == [{"process_id": "x"}]


def test_processes_off_target_each_get_an_improvement_task_for_their_owner(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock(
        "analytics.compare_with_targets", returns=analysis([SLOW_ORDERS, SLOW_TICKETS])
    )
    review = correlate("kpi_review_requested")
    assert_that(review).has_passed("publish_report").is_waiting_at("improve_process")
    assert_that(review).has_open_user_task("improve_process", candidate_group="fulfilment-ops")
    assert_that(review).has_open_user_task(
        "improve_process", candidate_group="customer-service-leads"
    )

    for task in rf_engine.tasks(instance=review.id):
        assert task.form_key == "forms/process-improvement"
        owner = task.variables["finding"]["owner_group"]
        complete(task, {"improvement_plan": f"{owner}: add a second shift"})
    assert_that(review).is_ended_at("improvements_planned")
    plans = rf_engine.instance(review).variables["improvement_plans"]
    assert sorted(plans) == [
        "customer-service-leads: add a second shift",
        "fulfilment-ops: add a second shift",
    ]


def test_improvement_tasks_nobody_picks_up_lapse_after_five_days(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_handlers.mock("analytics.compare_with_targets", returns=analysis([SLOW_ORDERS]))
    review = correlate("kpi_review_requested")
    rf_clock.advance(days=4, hours=23)
    assert_that(review).is_waiting_at("improve_process", "improvement_deadline")
    rf_clock.advance(hours=1)
    assert_that(review).is_ended_at("improvements_lapsed").has_not_passed("improve_process")
    assert rf_engine.tasks(instance=review.id) == []


def test_the_review_starts_by_itself_every_week(
    rf_engine: Engine, rf_handlers: HandlerMocks, rf_clock: TimeTravel
) -> None:
    rf_clock.advance(days=6, hours=23)
    assert rf_engine.instances(process_id="data_analysis_optimisation") == []
    rf_clock.advance(hours=1)
    [first] = rf_engine.instances(process_id="data_analysis_optimisation")
    assert_that(first).is_ended_at("report_published").has_passed("weekly_review")
    rf_clock.advance(days=7)
    assert len(rf_engine.instances(process_id="data_analysis_optimisation")) == 2
    assert rf_handlers["analytics.publish_report"].call_count == 2


def test_an_on_demand_review_passes_its_window_to_the_kpi_step(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    correlate("kpi_review_requested", variables={"window_days": 14})
    assert rf_handlers["analytics.find_active_processes"].last_inputs["window_days"] == 14


TARGETS = {  # process id: (SLA h, p90 target h, max incident rate, max breach rate, owner)
    "order_fulfilment": (24, 24, 0.02, 0.05, "fulfilment-ops"),
    "customer_service": (48, 48, 0.05, 0.10, "customer-service-leads"),
    "returns_refunds": (72, 72, 0.05, 0.10, "customer-service-leads"),
    "inventory_supply_chain": (24, 12, 0.05, 0.10, "supply-chain"),
    "product_planning_procurement": (240, 240, 0.05, 0.10, "merchandising"),
    "omnichannel_marketing_sales": (336, 336, 0.05, 0.10, "marketing"),
    "consumer_insight": (24, 12, 0.05, 0.10, "marketing"),
    "data_analysis_optimisation": (168, 168, 0.0, 0.10, "process-excellence"),
    "gift_cards": (72, 72, 0.05, 0.10, "process-excellence"),  # no row: the catch-all
}


def test_every_process_gets_its_targets_and_owner_from_the_kpi_targets_table(
    rf_engine: Engine, rf_handlers: HandlerMocks
) -> None:
    rf_handlers.mock(
        "analytics.find_active_processes", returns={"process_ids": list(TARGETS), "window": WINDOW}
    )
    review = correlate("kpi_review_requested")
    assert_that(review).is_ended_at("report_published")
    looked_up = rf_handlers["analytics.compute_kpis"].last_inputs
    assert looked_up["process_ids"] == list(TARGETS)
    assert [
        (
            t["sla_hours"],
            t["cycle_time_p90_hours"],
            t["max_incident_rate"],
            t["max_breach_rate"],
            t["owner_group"],
        )
        for t in looked_up["targets"]
    ] == list(TARGETS.values())
    assert (
        rf_handlers["analytics.compare_with_targets"].last_inputs["targets"] == looked_up["targets"]
    )


def test_with_the_real_handlers_a_late_order_reaches_the_fulfilment_owner() -> None:
    """End to end: the real retail handlers, a real engine's history, the real table."""
    clock = VirtualClock()
    office = Backoffice(clock=clock)
    seed_backoffice(office, customers=3)
    engine: Engine | None = None
    handlers = retail_handlers(office, kpis=lambda **window: engine.kpis(**window))
    engine = Engine(handlers=handlers, clock=clock)
    engine.deploy(
        "processes/order_fulfilment.bpmn",
        "processes/fulfilment_route.dmn",
        "processes/data_analysis_optimisation.bpmn",
        "processes/kpi_targets.dmn",
    )
    travel = TimeTravel(clock)
    travel.attach(engine)
    with bind_engine(engine):
        orders = [
            start(
                "order_fulfilment",
                business_key=order_id,
                variables={
                    "order_id": order_id,
                    "customer_id": "C-0001",
                    "channel": "web",
                    "delivery_address": {"city": "Shanghai"},
                    "items": [{"sku": "TEA-001", "quantity": 1}],
                },
            )
            for order_id in ("SO-1", "SO-2")
        ]
        for order_id in ("SO-1", "SO-2"):
            correlate("payment_received", key=order_id, variables={"paid": True})
        travel.advance(hours=1)
        complete(orders[0], {"packed_by": "ana"})
        correlate("delivery_confirmed", key="SO-1")
        travel.advance(hours=29)  # SO-2 waits for packing past its 24 h SLA

        review = correlate("kpi_review_requested")
        assert_that(review).has_open_user_task("improve_process", candidate_group="fulfilment-ops")
        with office.session() as session:
            [report] = session.scalars(select(KpiReport)).all()
        by_process = {item["process_id"]: item for item in report.body["processes"]}
        orders_kpis = by_process["order_fulfilment"]
        assert (
            orders_kpis["started"],
            orders_kpis["completed"],
            orders_kpis["open"],
            orders_kpis["sla_breaches"],
        ) == (2, 1, 1, 1)
        assert orders_kpis["cycle_time_p50_seconds"] == 3600
        assert orders_kpis["verdicts"]["sla_breach_rate"] == "over_target"
        assert by_process["data_analysis_optimisation"]["on_target"] is True
        assert report.body["summary"]["off_target"] == ["order_fulfilment"]

        complete(review, {"improvement_plan": "pack late orders first"})
        assert_that(review).is_ended_at("improvements_planned").has_variables(
            report_id=report.id, improvement_plans=["pack late orders first"]
        )
    engine.close()
    office.close()
