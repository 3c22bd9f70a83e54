"""An event subprocess lives as long as its scope: when the last token outside the event
subprocesses ends, the process completes and the timers and subscriptions of the event
subprocesses that never started go with it (Camunda 7 and 8 alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailflow import HandlerRegistry, InstanceStatus, VirtualClock
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


CANCEL_BY_ORDER_ID = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:message id="m" name="cancel">
    <bpmn:extensionElements><zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:serviceTask id="register">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="orders.register"/>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:userTask id="pack"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="register"/>
    <bpmn:sequenceFlow id="f2" sourceRef="register" targetRef="pack"/>
    <bpmn:sequenceFlow id="f3" sourceRef="pack" targetRef="e"/>
    <bpmn:subProcess id="cancellation" triggeredByEvent="true">
      <bpmn:startEvent id="cancel_received"><bpmn:messageEventDefinition messageRef="m"/>
      </bpmn:startEvent>
      <bpmn:endEvent id="cancelled"/>
      <bpmn:sequenceFlow id="g1" sourceRef="cancel_received" targetRef="cancelled"/>
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>"""


def test_an_event_subprocess_message_start_follows_a_key_set_after_the_start(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    # The order id is known only once the first job ran: the stored subscription and the one
    # the engine computes must agree on it, or correlate finds nothing.
    path = tmp_path / "order.bpmn"
    path.write_text(CANCEL_BY_ORDER_ID)
    handlers = HandlerRegistry()
    handlers.register("orders.register", lambda: {"orderId": "SO-1"})
    engine = make_engine(handlers)
    engine.deploy(path)
    order = engine.start("order", business_key="BK-9")
    engine.run()
    assert [s.correlation_key for s in engine.subscriptions(instance=order.id)] == ["SO-1"]
    engine.correlate("cancel", key="SO-1")
    assert "cancelled" in passed(engine, order.id)
