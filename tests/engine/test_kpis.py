"""KPIs from the engine's own history: a morning of the order fulfilment process on a virtual
clock, with every number checked by hand (percentiles are nearest-rank: rank ceil(p * n))."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from retailflow import Engine, HandlerRegistry
from retailflow.engine.kpis import percentile
from retailflow.stores import Store
from retailflow.testing import TimeTravel
from scenario_kit import EngineFactory, outage_shop

ORDER_FILE = "tests/fixtures/order_fulfilment_c8.bpmn"  # the small order flow
H = timedelta(hours=1)
M = timedelta(minutes=1)


class Morning:
    """Six orders from 00:00 to 06:00 (hours after the clock's start):

    | order | started | what happens | ended (cycle) |
    | SO-1 | 0:00 | paid 0:10, packed 2:00 | 2:00 (2 h) |
    | SO-2 | 1:00 | paid 1:20, packed 5:00 | 5:00 (4 h) |
    | SO-3 | 2:00 | never paid: payment timeout | 2:30 (30 min) |
    | SO-4 | 3:00 | reserve_stock fails three times: incident | open |
    | SO-5 | 4:00 | paid 4:25, waits at pick_and_pack | open |
    | SO-6 | 5:00 | cancelled by an operator at 5:15 | cancelled |
    """

    def __init__(self, engine: Engine, travel: TimeTravel) -> None:
        self.engine, self.travel = engine, travel
        self.t0 = travel.now
        self.orders: dict[str, str] = {}

    def at(self, hours: float) -> None:
        self.travel.advance(self.t0 + timedelta(hours=hours) - self.travel.now)

    def place(self, order_id: str) -> None:
        self.orders[order_id] = self.engine.start(
            "order_fulfilment_c8",
            business_key=order_id,
            variables={"order_id": order_id, "items": [{"sku": "TEA", "quantity": 1}]},
        ).id
        self.engine.run()

    def pay(self, order_id: str) -> None:
        self.engine.correlate("payment_received", key=order_id, variables={"paid": True})
        self.engine.run()

    def pack(self, order_id: str) -> None:
        [task] = self.engine.tasks(instance=self.orders[order_id])
        self.engine.complete_task(task, {"packed_by": "ana"})
        self.engine.run()

    def play(self) -> None:
        self.place("SO-1")
        self.at(10 / 60), self.pay("SO-1")
        self.at(1), self.place("SO-2")
        self.at(80 / 60), self.pay("SO-2")
        self.at(2), self.pack("SO-1"), self.place("SO-3")
        self.at(3), self.place("SO-4")
        self.at(4), self.place("SO-5")
        self.at(4 + 25 / 60), self.pay("SO-5")
        self.at(5), self.pack("SO-2"), self.place("SO-6")
        self.at(5.25), self.engine.cancel(self.orders["SO-6"])
        self.at(6)


@pytest.fixture
def morning(make_engine: EngineFactory, clock: Any) -> Morning:
    engine = make_engine(outage_shop())
    engine.deploy(ORDER_FILE)
    travel = TimeTravel(clock)
    travel.attach(engine)
    played = Morning(engine, travel)
    played.play()
    return played


def test_a_morning_of_orders_counts_started_completed_cancelled_open_and_incidents(
    morning: Morning,
) -> None:
    [kpis] = morning.engine.kpis()
    assert kpis.process_id == "order_fulfilment_c8"
    assert (kpis.started, kpis.completed, kpis.cancelled, kpis.open) == (6, 3, 1, 2)
    assert kpis.with_incidents == 1
    assert kpis.incident_rate == pytest.approx(1 / 6)
    assert kpis.window.since is None and kpis.window.until == morning.t0 + 6 * H


def test_cycle_time_percentiles_are_nearest_rank_over_completed_instances(morning: Morning) -> None:
    [kpis] = morning.engine.kpis()
    # completed cycles, sorted: 30 min, 2 h, 4 h -> p50 rank 2, p90 rank 3
    assert kpis.cycle_time_p50 == 2 * H
    assert kpis.cycle_time_p90 == 4 * H


def test_sla_breaches_count_late_completions_and_instances_still_open_past_the_target(
    morning: Morning,
) -> None:
    [kpis] = morning.engine.kpis(sla={"order_fulfilment_c8": 150 * M})
    # SO-2 completed after 4 h; SO-4 has been open 3 h; SO-5 open only 2 h; SO-1 took 2 h
    assert kpis.sla == 150 * M
    assert kpis.sla_breaches == 2
    assert kpis.sla_breach_rate == pytest.approx(2 / 6)
    [without_target] = morning.engine.kpis()
    assert without_target.sla is None and without_target.sla_breaches is None
    assert without_target.sla_breach_rate is None


def test_each_step_has_its_counts_durations_conversion_and_drawn_name(morning: Morning) -> None:
    [kpis] = morning.engine.kpis()
    reserve = kpis.step("reserve_stock")
    assert (reserve.entered, reserve.completed) == (6, 5)  # SO-4's never completed
    assert reserve.duration_p50 == timedelta(0) and reserve.name == "Reserve stock"
    assert reserve.element_type == "serviceTask"

    payment = kpis.step("wait_for_payment")
    # SO-3 timed out, SO-6 was cancelled: paid after 10, 20 and 25 minutes
    assert (payment.entered, payment.completed) == (5, 3)
    assert (payment.duration_p50, payment.duration_p90) == (20 * M, 25 * M)
    assert payment.conversion == pytest.approx(3 / 6)

    packing = kpis.step("pick_and_pack")
    # SO-1 packed 1 h 50 after payment, SO-2 3 h 40 after; SO-5 still waits
    assert (packing.entered, packing.completed) == (3, 2)
    assert (packing.duration_p50, packing.duration_p90) == (110 * M, 220 * M)
    assert packing.name == "Pick and pack" and packing.element_type == "userTask"

    assert kpis.step("order_shipped").conversion == pytest.approx(2 / 6)
    assert kpis.step("order_cancelled").completed == 1
    assert kpis.step("order_placed").entered == 6


def test_a_window_counts_instances_started_in_it_as_they_stood_at_its_end(morning: Morning) -> None:
    [early] = morning.engine.kpis(until=morning.t0 + 135 * M)
    # SO-1, SO-2 and SO-3 had started by 2:15; only SO-1 had ended
    assert (early.started, early.completed, early.open) == (3, 1, 2)
    assert early.cycle_time_p50 == 2 * H
    assert early.step("pick_and_pack").completed == 1
    assert early.step("wait_for_payment").completed == 2

    [late] = morning.engine.kpis(since=morning.t0 + 2 * H, sla={"order_fulfilment_c8": 2 * H})
    # SO-3 .. SO-6: SO-3 completed in 30 min, SO-6 cancelled; SO-4 open 3 h breaches
    assert (late.started, late.completed, late.cancelled, late.open) == (4, 1, 1, 2)
    assert (late.with_incidents, late.sla_breaches) == (1, 1)
    assert late.cycle_time_p90 == 30 * M


def test_asking_for_one_process_returns_it_even_without_instances(morning: Morning) -> None:
    [kpis] = morning.engine.kpis(process_id="order_fulfilment_c8")
    assert kpis.started == 6
    [nothing] = morning.engine.kpis(process_id="returns_refunds")
    assert (nothing.started, nothing.incident_rate, nothing.cycle_time_p50) == (0, 0.0, None)
    assert nothing.steps == []
    assert morning.engine.kpis(until=morning.t0 - M) == []


def test_the_json_form_carries_durations_in_seconds(morning: Morning) -> None:
    [kpis] = morning.engine.kpis(sla={"order_fulfilment_c8": 3 * H})
    body = kpis.as_dict()
    assert body["cycle_time_p50_seconds"] == 7200.0
    assert body["sla_seconds"] == 10800.0
    assert body["window"]["since"] is None
    packing = next(s for s in body["steps"] if s["element_id"] == "pick_and_pack")
    assert packing["duration_p90_seconds"] == 220 * 60


class CountingStore:
    """A store that counts the calls made to it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.store, name)


def test_kpis_read_the_history_in_one_pass_whatever_the_number_of_instances(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(outage_shop())
    engine.deploy(ORDER_FILE)
    for number in range(40):
        engine.start("order_fulfilment_c8", variables={"order_id": f"SO-{number}", "items": []})
    engine.run()
    counting = CountingStore(engine.store)
    engine.store = counting  # type: ignore[assignment]
    [kpis] = engine.kpis()
    assert kpis.started == 40
    assert counting.calls["step_history"] == 1
    assert counting.calls["search_instances"] == 1
    assert counting.calls["all_history"] == 0 and counting.calls["list_instances"] == 0
    assert counting.calls["history"] == 0 and counting.calls["get_instance"] == 0


def test_percentile_is_nearest_rank() -> None:
    hours = [timedelta(hours=n) for n in (4, 1, 3, 2)]
    assert percentile(hours, 50) == 2 * H
    assert percentile(hours, 90) == 4 * H
    assert percentile(hours[:1], 90) == 4 * H
    assert percentile([], 50) is None


def test_a_multi_instance_step_counts_every_pass_but_converts_each_instance_once(
    make_engine: EngineFactory,
) -> None:
    handlers = HandlerRegistry()
    handlers.register("test.channel", lambda channel: {"result": f"sent via {channel}"})
    engine = make_engine(handlers)
    engine.deploy("tests/fixtures/multi_instance.bpmn")
    for _ in range(2):
        engine.start(
            "multi_instance", variables={"channels": ["app", "pos", "social"], "approvers": []}
        )
    engine.run()

    [kpis] = engine.kpis(process_id="multi_instance")
    notify = kpis.step("notify_channel")
    # per instance: three channels, then the activity itself completes
    assert (kpis.started, notify.completed, notify.conversion) == (2, 8, 1.0)
