"""History names the sequence flows each token took and the DMN rules each decision hit:
coverage, process mining and audits read them from there."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailflow import BpmnError, Engine, HistoryKind, VirtualClock
from scenario_kit import FIXTURES, EngineFactory, Recorder, routed_process

ORDER = {"order_id": "SO-1", "items": [{"sku": "TEA", "quantity": 2}]}

PARALLEL_PLAIN_TASKS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="both_ways" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:task id="left"/>
    <bpmn:task id="right"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="to_fork" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="to_left" sourceRef="fork" targetRef="left"/>
    <bpmn:sequenceFlow id="to_right" sourceRef="fork" targetRef="right"/>
    <bpmn:sequenceFlow id="left_done" sourceRef="left" targetRef="join"/>
    <bpmn:sequenceFlow id="right_done" sourceRef="right" targetRef="join"/>
    <bpmn:sequenceFlow id="to_end" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

EMBEDDED_SUBPROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="with_sub" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start"/>
      <bpmn:task id="inside"/>
      <bpmn:endEvent id="sub_end"/>
      <bpmn:sequenceFlow id="in_1" sourceRef="sub_start" targetRef="inside"/>
      <bpmn:sequenceFlow id="in_2" sourceRef="inside" targetRef="sub_end"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="to_sub" sourceRef="start" targetRef="sub"/>
    <bpmn:sequenceFlow id="from_sub" sourceRef="sub" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def flows_taken(engine: Engine, instance_id: str) -> list[str]:
    return [
        event.element_id
        for event in engine.history(instance_id)
        if event.kind == HistoryKind.SEQUENCE_FLOW_TAKEN
    ]


@pytest.fixture
def routed(make_engine: EngineFactory, tmp_path: Path) -> Engine:
    """An engine with ``routed`` deployed: ``to_route`` into the gateway, then ``when``
    (amount over 100) or the default ``otherwise``."""
    path = tmp_path / "routed.bpmn"
    path.write_text(routed_process("routed", "=amount > 100"))
    engine = make_engine()
    engine.deploy(path)
    return engine


def test_an_exclusive_gateway_records_only_the_flow_it_took(routed: Engine) -> None:
    big = routed.start("routed", variables={"amount": 500})
    small = routed.start("routed", variables={"amount": 5})
    assert flows_taken(routed, big.id) == ["to_route", "when"]
    assert flows_taken(routed, small.id) == ["to_route", "otherwise"]


def test_each_flow_follows_the_completion_of_its_source(routed: Engine) -> None:
    instance = routed.start("routed", variables={"amount": 500})
    rows = [
        (e.kind, e.element_id)
        for e in routed.history(instance.id)
        if e.kind in (HistoryKind.ELEMENT_COMPLETED, HistoryKind.SEQUENCE_FLOW_TAKEN)
    ]
    assert rows == [
        ("element_completed", "start"),
        ("sequence_flow_taken", "to_route"),
        ("element_completed", "route"),
        ("sequence_flow_taken", "when"),
        ("element_completed", "a"),
    ]


def test_a_parallel_join_records_every_incoming_flow_even_within_one_step(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "both.bpmn"
    path.write_text(PARALLEL_PLAIN_TASKS)
    engine = make_engine()
    engine.deploy(path)
    instance = engine.start("both_ways")
    assert sorted(flows_taken(engine, instance.id)) == sorted(
        ["to_fork", "to_left", "to_right", "left_done", "right_done", "to_end"]
    )


def test_an_error_boundary_records_the_flows_of_the_error_path_only(
    make_engine: EngineFactory,
) -> None:
    handlers = Recorder()

    def out_of_stock(variables: dict) -> None:
        raise BpmnError("OUT_OF_STOCK")

    handlers.add("inventory.reserve", out_of_stock)
    handlers.add("crm.notify_customer")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "order_fulfilment_c8.bpmn", require_handlers=False)
    order = engine.start("order_fulfilment_c8", variables=ORDER)
    engine.run()
    assert flows_taken(engine, order.id) == ["Flow_0lqcl33", "Flow_1llmu0l", "Flow_1jzap67"]


def test_a_business_rule_task_records_the_decision_and_the_rules_it_hit(
    make_engine: EngineFactory,
) -> None:
    handlers = Recorder()
    for topic in ("test.store", "test.warehouse", "test.collect"):
        handlers.add(topic)
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "decision.bpmn", FIXTURES / "fulfilment_route.dmn")
    instance = engine.start("decision_c8", variables={"channel": "web", "distance_km": 25})
    engine.run()
    [evaluated] = [
        e for e in engine.history(instance.id) if e.kind == HistoryKind.DECISION_EVALUATED
    ]
    assert evaluated.element_id == "decide_route"
    assert evaluated.variables["decision_id"] == "fulfilment_route"
    assert evaluated.variables["rule_numbers"] == [3]
    assert len(evaluated.variables["rule_ids"]) == 1


def test_flows_inside_an_embedded_subprocess_and_out_of_it_are_recorded(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "sub.bpmn"
    path.write_text(EMBEDDED_SUBPROCESS)
    engine = make_engine()
    engine.deploy(path)
    instance = engine.start("with_sub")
    assert flows_taken(engine, instance.id) == ["to_sub", "in_1", "in_2", "from_sub"]


def test_each_firing_of_a_repeating_timer_passes_the_event_and_takes_its_flow(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = Recorder()
    handlers.add("test.remind")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "timers.bpmn", require_handlers=False)
    instance = engine.start("timer_cycle")
    for _ in range(3):
        clock.advance(minutes=10)
        engine.run()
    rows = [
        e.element_id
        for e in engine.history(instance.id)
        if e.kind in (HistoryKind.ELEMENT_COMPLETED, HistoryKind.SEQUENCE_FLOW_TAKEN)
        and e.element_id in ("reminder_timer", "Flow_0ba166a", "remind")
    ]
    assert rows == ["reminder_timer", "Flow_0ba166a", "remind"] * 3


def test_history_names_the_process_of_each_element_when_a_called_process_repeats_ids(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("test.prepare")
    recorder.add("test.child")
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "modeler_ids")
    instance = engine.start("drawn_parent")
    engine.run()
    completed = [
        (e.process_id, e.element_id)
        for e in engine.history(instance.id)
        if e.kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert completed == [
        ("drawn_parent", "StartEvent_1"),
        ("drawn_parent", "prepare"),
        ("drawn_child", "StartEvent_1"),
        ("drawn_child", "child_work"),
        ("drawn_child", "EndEvent_1"),
        ("drawn_parent", "call_child"),
        ("drawn_parent", "EndEvent_1"),
    ]
    flows = {
        (e.process_id, e.element_id)
        for e in engine.history(instance.id)
        if e.kind == HistoryKind.SEQUENCE_FLOW_TAKEN
    }
    assert ("drawn_child", "Flow_1lnn85s") in flows
    assert {process for process, _ in flows} == {"drawn_parent", "drawn_child"}
