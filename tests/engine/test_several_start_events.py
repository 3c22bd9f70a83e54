"""A process with a none start, a message start and a timer start (the Camunda way of letting
one process be called, triggered by a message and run on a schedule): each way in starts the
instance at its own start event only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from retailflow import Engine, VirtualClock

PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="restock" name="Restock" isExecutable="true">
    <bpmn:startEvent id="by_message" name="Demand spotted">
      <bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="m1" />
    </bpmn:startEvent>
    <bpmn:startEvent id="by_timer" name="Every quarter">
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R/P90D</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:startEvent id="by_call" name="Called"><bpmn:outgoing>f3</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="merge">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="plan" name="Plan"><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="done" name="Done"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="by_message" targetRef="merge" />
    <bpmn:sequenceFlow id="f2" sourceRef="by_timer" targetRef="merge" />
    <bpmn:sequenceFlow id="f3" sourceRef="by_call" targetRef="merge" />
    <bpmn:sequenceFlow id="f4" sourceRef="merge" targetRef="plan" />
    <bpmn:sequenceFlow id="f5" sourceRef="plan" targetRef="done" />
  </bpmn:process>
  <bpmn:message id="m1" name="demand_spotted" />
  <bpmn:process id="replenish" name="Replenish" isExecutable="true">
    <bpmn:startEvent id="go"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_restock" name="Restock">
      <bpmn:extensionElements><zeebe:calledElement processId="restock" /></bpmn:extensionElements>
      <bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="replenished"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="g1" sourceRef="go" targetRef="call_restock" />
    <bpmn:sequenceFlow id="g2" sourceRef="call_restock" targetRef="replenished" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    (tmp_path / "restock.bpmn").write_text(PROCESS)
    engine = Engine(clock=VirtualClock())
    engine.deploy(tmp_path / "restock.bpmn")
    return engine


def started_at(engine: Engine, instance_id: str) -> list[str]:
    starts = {"by_message", "by_timer", "by_call"}
    return [
        event.element_id
        for event in engine.history(instance_id)
        if event.kind.value == "element_completed" and event.element_id in starts
    ]


def test_a_message_starts_the_instance_at_its_message_start_not_at_the_none_start(
    engine: Engine,
) -> None:
    instance = engine.correlate("demand_spotted", variables={"sku": "TEA-001"})
    assert instance is not None
    assert started_at(engine, instance.id) == ["by_message"]
    assert [task.element_id for task in engine.tasks(instance=instance.id)] == ["plan"]
    assert engine.instance(instance.id).variables["sku"] == "TEA-001"


def test_a_timer_start_starts_the_instance_at_its_timer_start(engine: Engine) -> None:
    engine.clock.advance(timedelta(days=90))
    engine.run()
    [instance] = engine.instances()
    assert started_at(engine, instance.id) == ["by_timer"]


def test_a_plain_start_and_a_call_activity_take_the_none_start(engine: Engine) -> None:
    plain = engine.start("restock")
    assert started_at(engine, plain.id) == ["by_call"]
    caller = engine.start("replenish")
    assert started_at(engine, caller.id) == ["by_call"]
    assert [task.element_id for task in engine.tasks(instance=caller.id)] == ["plan"]
