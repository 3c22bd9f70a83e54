"""The analytics handlers on real KPIs: a real engine runs four orders of the order
fulfilment process on a virtual clock, and the handlers read, judge and publish its numbers
into a seeded back office."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from retailflow import Engine, HandlerContext, HandlerRegistry, VirtualClock
from retailflow.model import RetailflowError
from retailflow.retail import Backoffice, registry, retail_handlers, seed_backoffice
from retailflow.retail.analytics import analytics_handlers
from retailflow.retail.records import KpiReport
from retailflow.testing import TimeTravel
from scenario_kit import outage_shop

ORDER_FILE = "tests/fixtures/order_fulfilment_c8.bpmn"  # the small order flow: few handlers
ORDER_TARGET = {
    "sla_hours": 24,
    "cycle_time_p90_hours": 24,
    "max_incident_rate": 0.02,
    "max_breach_rate": 0.05,
    "owner_group": "fulfilment-ops",
}
RELAXED_TARGET = {
    "sla_hours": 72,
    "cycle_time_p90_hours": 48,
    "max_incident_rate": 0.5,
    "max_breach_rate": 0.5,
    "owner_group": "fulfilment-ops",
}


def play_two_days(engine: Engine, travel: TimeTravel) -> None:
    """SO-1 paid after 10 min and packed at 3 h (cycle 3 h); SO-2 paid after 5 min and packed
    at 31 h (cycle 30 h); SO-3 never paid (cycle 30 min); SO-4 stuck in an incident since
    3 h. The clock ends at 48 h."""
    t0 = travel.now
    orders: dict[str, str] = {}

    def at(hours: float) -> None:
        travel.advance(t0 + timedelta(hours=hours) - travel.now)

    def place(order_id: str) -> None:
        orders[order_id] = engine.start(
            "order_fulfilment_c8",
            business_key=order_id,
            variables={"order_id": order_id, "items": [{"sku": "TEA-001", "quantity": 1}]},
        ).id
        engine.run()

    def pay(order_id: str) -> None:
        engine.correlate("payment_received", key=order_id, variables={"paid": True})
        engine.run()

    def pack(order_id: str) -> None:
        [task] = engine.tasks(instance=orders[order_id])
        engine.complete_task(task, {"packed_by": "ana"})
        engine.run()

    place("SO-1")
    at(10 / 60), pay("SO-1")
    at(1), place("SO-2")
    at(1 + 5 / 60), pay("SO-2")
    at(2), place("SO-3")
    at(3), pack("SO-1"), place("SO-4")
    at(31), pack("SO-2")
    at(48)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def engine(clock: VirtualClock) -> Iterator[Engine]:
    engine = Engine(handlers=outage_shop(), clock=clock)
    engine.deploy(ORDER_FILE)
    travel = TimeTravel(clock)
    travel.attach(engine)
    play_two_days(engine, travel)
    yield engine
    engine.close()


@pytest.fixture
def office(clock: VirtualClock) -> Iterator[Backoffice]:
    office = Backoffice(clock=clock)
    seed_backoffice(office, customers=5)
    yield office
    office.close()


@pytest.fixture
def analytics(office: Backoffice, engine: Engine) -> HandlerRegistry:
    return retail_handlers(office, kpis=engine.kpis)


def call(
    handlers: HandlerRegistry, topic: str, variables: dict[str, Any], job_id: str = "job-1"
) -> dict[str, Any]:
    handler = handlers.get(topic)
    assert handler is not None, topic
    context = HandlerContext(
        instance_id="review-1",
        business_key=None,
        process_id="data_analysis_optimisation",
        definition_id="data_analysis_optimisation:1",
        element_id=topic.split(".")[1],
        job_id=job_id,
        topic=topic,
        attempt=1,
    )
    return handler.invoke(variables, context)


def review(handlers: HandlerRegistry, target: dict[str, Any]) -> dict[str, Any]:
    """The review's steps in the order the diagram runs them, the decision stubbed."""
    found = call(handlers, "analytics.find_active_processes", {})
    targets = [target for _ in found["process_ids"]]
    kpis = call(handlers, "analytics.compute_kpis", {**found, "targets": targets})
    judged = call(
        handlers,
        "analytics.compare_with_targets",
        {**kpis, "process_ids": found["process_ids"], "targets": targets},
    )
    return {**found, "targets": targets, **kpis, **judged}


def test_the_active_processes_are_those_with_instances_in_the_last_week(
    analytics: HandlerRegistry, clock: VirtualClock
) -> None:
    found = call(analytics, "analytics.find_active_processes", {})
    assert found["process_ids"] == ["order_fulfilment_c8"]
    assert found["window"] == {
        "since": (clock.now() - timedelta(days=7)).isoformat(),
        "until": clock.now().isoformat(),
    }
    clock.advance(days=9)
    assert call(analytics, "analytics.find_active_processes", {})["process_ids"] == []
    assert call(analytics, "analytics.find_active_processes", {"window_days": 14})[
        "process_ids"
    ] == ["order_fulfilment_c8"]


def test_kpis_carry_the_engines_numbers_and_the_slowest_step(analytics: HandlerRegistry) -> None:
    [kpis] = review(analytics, ORDER_TARGET)["kpis"]
    assert (kpis["started"], kpis["completed"], kpis["open"], kpis["with_incidents"]) == (
        4,
        3,
        1,
        1,
    )
    # cycles 30 min, 3 h, 30 h (nearest rank): p50 3 h, p90 30 h
    assert (kpis["cycle_time_p50_seconds"], kpis["cycle_time_p90_seconds"]) == (3 * 3600, 30 * 3600)
    # SO-2 took 30 h; SO-4 has been open 45 h: two of four past the 24 h SLA
    assert (kpis["sla_seconds"], kpis["sla_breaches"], kpis["sla_breach_rate"]) == (
        24 * 3600,
        2,
        0.5,
    )
    # packing took 2 h 50 (SO-1) and 29 h 55 (SO-2)
    assert kpis["slowest_step"] == {
        "element_id": "pick_and_pack",
        "name": "Pick and pack",
        "duration_p50_seconds": 170 * 60,
        "duration_p90_seconds": (29 * 60 + 55) * 60,
        "completed": 2,
    }
    reserve = next(step for step in kpis["steps"] if step["element_id"] == "reserve_stock")
    assert (reserve["entered"], reserve["completed"], reserve["conversion"]) == (4, 3, 0.75)


def test_a_process_off_target_gets_a_finding_for_its_owner_with_every_problem(
    analytics: HandlerRegistry,
) -> None:
    judged = review(analytics, ORDER_TARGET)
    [verdict] = judged["verdicts"]
    assert verdict["checks"] == {
        "cycle_time_p90": "over_target",
        "sla_breach_rate": "over_target",
        "incident_rate": "over_target",
    }
    [finding] = judged["findings"]
    assert finding["owner_group"] == "fulfilment-ops"
    assert finding["problems"] == [
        "cycle time p90 30.0 h is over the 24 h target",
        "2 of 4 instances breached the 24 h SLA (50%, at most 5% allowed)",
        "1 of 4 instances had incidents (25%, at most 2% allowed)",
    ]
    assert finding["slowest_step"]["element_id"] == "pick_and_pack"


def test_a_process_on_target_gets_no_finding(analytics: HandlerRegistry) -> None:
    judged = review(analytics, RELAXED_TARGET)
    [verdict] = judged["verdicts"]
    assert verdict["on_target"] and verdict["problems"] == []
    assert set(verdict["checks"].values()) == {"on_target"}
    assert judged["findings"] == []


def test_a_process_gone_quiet_since_the_review_began_is_reported_with_no_data(
    analytics: HandlerRegistry,
) -> None:
    found = call(analytics, "analytics.find_active_processes", {})
    kpis = call(
        analytics,
        "analytics.compute_kpis",
        {**found, "process_ids": ["gift_cards"], "targets": [RELAXED_TARGET]},
    )
    [quiet] = kpis["kpis"]
    assert (quiet["process_id"], quiet["started"], quiet["slowest_step"]) == ("gift_cards", 0, None)
    [verdict] = call(
        analytics,
        "analytics.compare_with_targets",
        {**kpis, "process_ids": ["gift_cards"], "targets": [RELAXED_TARGET]},
    )["verdicts"]
    assert set(verdict["checks"].values()) == {"no_data"} and verdict["on_target"]


def test_targets_that_do_not_match_the_processes_are_refused(analytics: HandlerRegistry) -> None:
    found = call(analytics, "analytics.find_active_processes", {})
    with pytest.raises(RetailflowError, match="0 KPI targets for 1 processes"):
        call(analytics, "analytics.compute_kpis", {**found, "targets": []})


def test_the_report_is_published_once_with_every_process_and_its_verdicts(
    analytics: HandlerRegistry, office: Backoffice, clock: VirtualClock
) -> None:
    judged = review(analytics, ORDER_TARGET)
    variables = {key: judged[key] for key in ("window", "kpis", "verdicts")}
    first = call(analytics, "analytics.publish_report", variables, job_id="publish-1")
    again = call(analytics, "analytics.publish_report", variables, job_id="publish-1")
    assert first == again == {"report_id": "KPI-20300103-0000-review-1"}
    with office.session() as session:
        [report] = session.scalars(select(KpiReport)).all()
    body = report.body
    assert report.published_at.replace(tzinfo=UTC) == clock.now()
    assert body["report_id"] == report.id and body["window"] == judged["window"]
    [orders] = body["processes"]
    assert (
        orders["process_id"],
        orders["started"],
        orders["completed"],
        orders["open"],
        orders["with_incidents"],
        orders["sla_breaches"],
    ) == ("order_fulfilment_c8", 4, 3, 1, 1, 2)
    assert orders["cycle_time_p90_seconds"] == 30 * 3600
    assert orders["owner_group"] == "fulfilment-ops" and orders["on_target"] is False
    assert orders["verdicts"]["incident_rate"] == "over_target"
    assert orders["targets"]["sla_hours"] == 24
    assert orders["slowest_step"]["element_id"] == "pick_and_pack"
    assert body["summary"] == {
        "processes": 1,
        "on_target": 0,
        "off_target": ["order_fulfilment_c8"],
    }


def test_without_a_kpi_source_the_handlers_say_how_to_give_one(office: Backoffice) -> None:
    handlers = analytics_handlers(office, None)
    with pytest.raises(RetailflowError, match=r"retail_handlers\(office, kpis=engine.kpis\)"):
        call(handlers, "analytics.find_active_processes", {})


def test_a_worker_reads_kpis_from_the_engine_store_named_by_retailflow_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "engine.db"
    clock = VirtualClock(datetime.now(UTC) - timedelta(days=3))
    engine = Engine(f"sqlite:///{database}", handlers=outage_shop(), clock=clock)
    engine.deploy(ORDER_FILE)
    travel = TimeTravel(clock)
    travel.attach(engine)
    play_two_days(engine, travel)
    engine.close()

    monkeypatch.setenv("RETAILFLOW_DB", str(database))
    found = call(registry(), "analytics.find_active_processes", {})
    assert found["process_ids"] == ["order_fulfilment_c8"]
    monkeypatch.delenv("RETAILFLOW_DB")
    with pytest.raises(RetailflowError, match="no KPI source"):
        call(registry(), "analytics.find_active_processes", {})
