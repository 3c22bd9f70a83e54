"""An event subprocess lives as long as its scope: when the last token outside the event
subprocesses ends, the process completes and the timers and subscriptions of the event
subprocesses that never started go with it (Camunda 7 and 8 alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailflow import InstanceStatus, VirtualClock
from scenario_kit import ROOT, EngineFactory, Recorder, passed

CONFORMANCE = ROOT / "tests" / "conformance"
DIALECTS = [pytest.param(CONFORMANCE / dialect, id=dialect) for dialect in ("c8", "c7")]


def recorder_for(*topics: str) -> Recorder:
    recorder = Recorder()
    for topic in topics:
        recorder.add(topic)
    return recorder


@pytest.mark.parametrize("folder", DIALECTS)
def test_process_that_ends_before_its_deadline_completes_and_drops_the_deadline(
    make_engine: EngineFactory, clock: VirtualClock, folder: Path
) -> None:
    recorder = recorder_for("shipping.ship", "crm.apologise")
    engine = make_engine(recorder.registry)
    engine.deploy(folder / "event_subprocess_timer.bpmn")
    order = engine.start("Process_0t4k8vq", business_key="SO-1")
    engine.run()
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert engine.jobs() == []
    assert engine.subscriptions(instance=order.id) == []
    clock.advance(days=3)
    engine.run()
    assert recorder.topics() == ["shipping.ship"]
    assert "Activity_0c6vb1n" not in passed(engine, order.id)


@pytest.mark.parametrize("folder", DIALECTS)
def test_waiting_event_subprocesses_end_with_the_last_task_of_the_main_flow(
    make_engine: EngineFactory, clock: VirtualClock, folder: Path
) -> None:
    recorder = recorder_for("warehouse.remind", "warehouse.note")
    engine = make_engine(recorder.registry)
    engine.deploy(folder / "event_subprocess_non_interrupting.bpmn")
    order = engine.start("Process_1x6rj0e", business_key="SO-1", variables={"order_id": "SO-1"})
    for _ in range(2):
        clock.advance(minutes=61)
        engine.run()
    engine.correlate("customer_note", key="SO-1")
    engine.run()
    assert engine.instance(order.id).status == InstanceStatus.RUNNING
    [pack] = engine.tasks(instance=order.id)
    engine.complete_task(pack, {})
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert engine.jobs() == []
    assert engine.subscriptions(instance=order.id) == []
    clock.advance(hours=5)
    engine.run()
    assert recorder.topics() == ["warehouse.remind", "warehouse.remind", "warehouse.note"]


@pytest.mark.parametrize("folder", DIALECTS)
def test_running_event_subprocess_keeps_the_process_open_until_it_ends(
    make_engine: EngineFactory, clock: VirtualClock, folder: Path
) -> None:
    recorder = recorder_for("warehouse.remind", "warehouse.note")
    engine = make_engine(recorder.registry)
    engine.deploy(folder / "event_subprocess_non_interrupting.bpmn")
    order = engine.start("Process_1x6rj0e", business_key="SO-1", variables={"order_id": "SO-1"})
    clock.advance(minutes=61)
    engine.run(max_jobs=1)  # the reminder timer fires; its job waits
    [pack] = engine.tasks(instance=order.id)
    engine.complete_task(pack, {})
    assert engine.instance(order.id).status == InstanceStatus.RUNNING
    # The reminder's job is a token of the process; its timer keeps counting meanwhile.
    assert sorted(job.element_id for job in engine.jobs(instance=order.id)) == [
        "Activity_1v4q9ty",
        "Event_0u7c2mx",
    ]
    engine.run()
    assert recorder.topics() == ["warehouse.remind"]
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert engine.jobs() == []
    assert engine.subscriptions(instance=order.id) == []
