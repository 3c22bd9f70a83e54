"""Link events, escalation events and signal end events, as Camunda runs them.

Each scenario waits at a user task, and the engine that goes on is a new one on the same store
(SQLite, PostgreSQL), so the state the construct left behind must survive a reload.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retailflow import DeploymentError, Engine, InstanceStatus
from scenario_kit import EngineFactory, passed

ESCALATION = '<bpmn:escalation id="Escalation_late" name="Late" escalationCode="LATE"/>'
OTHER_ESCALATION = '<bpmn:escalation id="Escalation_lost" name="Lost" escalationCode="LOST"/>'
SIGNAL = '<bpmn:signal id="Signal_restock" name="restock"/>'


def write(tmp_path: Path, processes: str, definitions: str = "") -> Path:
    path = tmp_path / "events.bpmn"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  {definitions}{processes}
</bpmn:definitions>""")
    return path


def flows(*pairs: str) -> str:
    return "".join(
        f'<bpmn:sequenceFlow id="{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
        for pair in pairs
        for a, b in [pair.split(">")]
    )


def escalation(ref: str | None = "Escalation_late") -> str:
    attribute = f' escalationRef="{ref}"' if ref else ""
    return f"<bpmn:escalationEventDefinition{attribute}/>"


def reloaded(make_engine: EngineFactory, store_url: str | None, engine: Engine) -> Engine:
    """The same engine in memory; a fresh one on the same database otherwise."""
    return engine if store_url is None else make_engine()


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(task.element_id for task in engine.tasks(instance=instance_id))


def finish(engine: Engine, instance_id: str, element_id: str) -> None:
    [task] = [t for t in engine.tasks(instance=instance_id) if t.element_id == element_id]
    engine.complete_task(task.id)
    engine.run()


# -- link events ---------------------------------------------------------------------------

LINKED = f"""<bpmn:process id="linked" isExecutable="true">
  <bpmn:startEvent id="start"/>
  <bpmn:userTask id="check"/>
  <bpmn:intermediateThrowEvent id="go_to_packing">
    <bpmn:linkEventDefinition name="packing"/></bpmn:intermediateThrowEvent>
  <bpmn:intermediateCatchEvent id="packing">
    <bpmn:linkEventDefinition name="packing"/></bpmn:intermediateCatchEvent>
  <bpmn:subProcess id="pack">
    <bpmn:startEvent id="pack_start"/>
    <bpmn:intermediateThrowEvent id="go_to_label">
      <bpmn:linkEventDefinition name="label"/></bpmn:intermediateThrowEvent>
    <bpmn:intermediateCatchEvent id="label">
      <bpmn:linkEventDefinition name="label"/></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="print_label"/>
    <bpmn:endEvent id="pack_end"/>
    {flows("pack_start>go_to_label", "label>print_label", "print_label>pack_end")}
  </bpmn:subProcess>
  <bpmn:endEvent id="done"/>
  {flows("start>check", "check>go_to_packing", "packing>pack", "pack>done")}
</bpmn:process>"""


def test_a_link_throw_continues_at_its_catch_in_the_process_and_in_a_sub_process(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.deploy(write(tmp_path, LINKED))
    instance = engine.start("linked")
    engine = reloaded(make_engine, store_url, engine)
    finish(engine, instance.id, "check")
    assert open_tasks(engine, instance.id) == ["print_label"]
    engine = reloaded(make_engine, store_url, engine)
    finish(engine, instance.id, "print_label")
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert passed(engine, instance.id) == [
        "start",
        "check",
        "go_to_packing",
        "packing",
        "pack_start",
        "go_to_label",
        "label",
        "print_label",
        "pack_end",
        "pack",
        "done",
    ]


def test_a_link_does_not_cross_into_a_sub_process(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    crossing = LINKED.replace(
        'name="label"/></bpmn:intermediateThrowEvent>',
        'name="packing"/></bpmn:intermediateThrowEvent>',
    )
    with pytest.raises(DeploymentError) as refused:
        make_engine().deploy(write(tmp_path, crossing))
    assert [(f.rule, f.element_id) for f in refused.value.findings] == [
        ("link-event", "go_to_label")
    ]


# -- escalation events ---------------------------------------------------------------------


def escalating_sub_process(throw: str, boundary: str, cancel: bool) -> str:
    """``order`` runs ``pack``, whose ``throw`` escalates; ``late`` on ``pack`` catches it."""
    return f"""<bpmn:process id="order" isExecutable="true">
  <bpmn:startEvent id="start"/>
  <bpmn:subProcess id="pack">
    <bpmn:startEvent id="pack_start"/>
    {throw}
    <bpmn:userTask id="wrap"/>
    <bpmn:endEvent id="pack_end"/>
    {flows("pack_start>escalate", "escalate>wrap", "wrap>pack_end")}
  </bpmn:subProcess>
  <bpmn:boundaryEvent id="late" attachedToRef="pack" cancelActivity="{str(cancel).lower()}">
    {boundary}</bpmn:boundaryEvent>
  <bpmn:userTask id="call_customer"/>
  <bpmn:endEvent id="shipped"/>
  <bpmn:endEvent id="called"/>
  {flows("start>pack", "pack>shipped", "late>call_customer", "call_customer>called")}
</bpmn:process>"""


THROW = f'<bpmn:intermediateThrowEvent id="escalate">{escalation()}</bpmn:intermediateThrowEvent>'


def test_a_non_interrupting_escalation_boundary_runs_beside_the_escalating_sub_process(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.deploy(write(tmp_path, escalating_sub_process(THROW, escalation(), False), ESCALATION))
    instance = engine.start("order")
    assert open_tasks(engine, instance.id) == ["call_customer", "wrap"]
    engine = reloaded(make_engine, store_url, engine)
    finish(engine, instance.id, "wrap")
    finish(engine, instance.id, "call_customer")
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert {"shipped", "called"} <= set(passed(engine, instance.id))


def test_an_interrupting_escalation_boundary_ends_the_sub_process(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.deploy(write(tmp_path, escalating_sub_process(THROW, escalation(), True), ESCALATION))
    instance = engine.start("order")
    assert open_tasks(engine, instance.id) == ["call_customer"]
    engine = reloaded(make_engine, store_url, engine)
    finish(engine, instance.id, "call_customer")
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert "shipped" not in passed(engine, instance.id)


def test_an_escalation_end_event_is_caught_by_a_catch_all_boundary(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    end = f'<bpmn:endEvent id="escalate">{escalation()}</bpmn:endEvent>'
    process = escalating_sub_process(end, escalation(None), True)
    engine = make_engine()
    engine.deploy(write(tmp_path, process, ESCALATION))
    instance = engine.start("order")
    assert open_tasks(engine, instance.id) == ["call_customer"]


def test_a_boundary_for_another_escalation_code_lets_the_escalation_pass(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    process = escalating_sub_process(THROW, escalation("Escalation_lost"), True)
    engine = make_engine()
    engine.deploy(write(tmp_path, process, ESCALATION + OTHER_ESCALATION))
    instance = engine.start("order")
    assert open_tasks(engine, instance.id) == ["wrap"]


@pytest.mark.parametrize(("delay", "caught"), [(3, True), (0, False)])
def test_a_camunda_8_escalation_code_expression_is_evaluated_when_thrown(
    make_engine: EngineFactory, tmp_path: Path, delay: int, caught: bool
) -> None:
    computed = (
        '<bpmn:escalation id="Escalation_computed" name="Computed" '
        'escalationCode="=if delay &gt; 0 then &quot;LATE&quot; else &quot;OK&quot;"/>'
    )
    throw = (
        '<bpmn:intermediateThrowEvent id="escalate">'
        f"{escalation('Escalation_computed')}</bpmn:intermediateThrowEvent>"
    )
    engine = make_engine()
    engine.deploy(
        write(tmp_path, escalating_sub_process(throw, escalation(), True), ESCALATION + computed)
    )
    instance = engine.start("order", variables={"delay": delay})
    assert open_tasks(engine, instance.id) == (["call_customer"] if caught else ["wrap"])


def test_a_catch_event_with_an_escalation_code_expression_is_refused(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    computed = '<bpmn:escalation id="Escalation_computed" name="Computed" escalationCode="=code"/>'
    process = escalating_sub_process(THROW, escalation("Escalation_computed"), True)
    with pytest.raises(DeploymentError) as refused:
        make_engine().deploy(write(tmp_path, process, ESCALATION + computed))
    assert [(f.rule, f.element_id) for f in refused.value.findings] == [
        ("expression-invalid", "late")
    ]


def test_an_escalation_nobody_catches_lets_the_instance_go_on_as_in_camunda_8(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    process = f"""<bpmn:process id="order" isExecutable="true">
  <bpmn:startEvent id="start"/>{THROW}<bpmn:endEvent id="done"/>
  {flows("start>escalate", "escalate>done")}</bpmn:process>"""
    engine = make_engine()
    engine.deploy(write(tmp_path, process, ESCALATION))
    instance = engine.start("order")
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


@pytest.mark.parametrize("interrupting", [True, False])
def test_an_escalation_starts_an_event_sub_process(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path, interrupting: bool
) -> None:
    process = f"""<bpmn:process id="order" isExecutable="true">
  <bpmn:startEvent id="start"/>
  <bpmn:parallelGateway id="fork"/>
  {THROW}
  <bpmn:endEvent id="escalated"/>
  <bpmn:userTask id="pick"/>
  <bpmn:endEvent id="picked"/>
  {flows("start>fork", "fork>escalate", "escalate>escalated", "fork>pick", "pick>picked")}
  <bpmn:subProcess id="on_late" triggeredByEvent="true">
    <bpmn:startEvent id="late" isInterrupting="{str(interrupting).lower()}">
      {escalation()}</bpmn:startEvent>
    <bpmn:userTask id="apologise"/>
    <bpmn:endEvent id="apologised"/>
    {flows("late>apologise", "apologise>apologised")}
  </bpmn:subProcess>
</bpmn:process>"""
    engine = make_engine()
    engine.deploy(write(tmp_path, process, ESCALATION))
    instance = engine.start("order")
    expected = ["apologise"] if interrupting else ["apologise", "pick"]
    assert open_tasks(engine, instance.id) == expected
    engine = reloaded(make_engine, store_url, engine)
    for element_id in expected:
        finish(engine, instance.id, element_id)
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    route = passed(engine, instance.id)
    assert ("picked" in route) is not interrupting
    # An interrupting start ends the throw's own path too, as Camunda terminates the throw.
    assert ("escalated" in route) is not interrupting


# -- signal end events ---------------------------------------------------------------------


def test_a_signal_end_event_broadcasts_its_signal(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    processes = f"""<bpmn:process id="restock" isExecutable="true">
  <bpmn:startEvent id="start"/>
  <bpmn:endEvent id="restocked"><bpmn:signalEventDefinition signalRef="Signal_restock"/>
  </bpmn:endEvent>
  {flows("start>restocked")}</bpmn:process>
<bpmn:process id="backorder" isExecutable="true">
  <bpmn:startEvent id="ordered"/>
  <bpmn:intermediateCatchEvent id="wait_for_stock">
    <bpmn:signalEventDefinition signalRef="Signal_restock"/></bpmn:intermediateCatchEvent>
  <bpmn:endEvent id="shipped"/>
  {flows("ordered>wait_for_stock", "wait_for_stock>shipped")}</bpmn:process>"""
    engine = make_engine()
    engine.deploy(write(tmp_path, processes, SIGNAL))
    waiting = engine.start("backorder")
    assert engine.instance(waiting.id).status == InstanceStatus.RUNNING
    engine = reloaded(make_engine, store_url, engine)
    restock = engine.start("restock")
    engine.run()
    assert engine.instance(restock.id).status == InstanceStatus.COMPLETED
    assert engine.instance(waiting.id).status == InstanceStatus.COMPLETED


SIGNAL_TO_A_FAILING_RECEIVER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:signal id="Signal_done" name="packed" />
  <bpmn:process id="packer" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="pack" />
    <bpmn:endEvent id="announce"><bpmn:signalEventDefinition signalRef="Signal_done" />
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pack" />
    <bpmn:sequenceFlow id="f2" sourceRef="pack" targetRef="announce" />
  </bpmn:process>
  <bpmn:process id="listener" isExecutable="true">
    <bpmn:startEvent id="heard"><bpmn:signalEventDefinition signalRef="Signal_done" />
    </bpmn:startEvent>
    <bpmn:scriptTask id="bad_script"><bpmn:script>x = {1, 2}</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="listened" />
    <bpmn:sequenceFlow id="g1" sourceRef="heard" targetRef="bad_script" />
    <bpmn:sequenceFlow id="g2" sourceRef="bad_script" targetRef="listened" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_receiver_that_cannot_take_a_thrown_signal_does_not_fail_the_throwers_call(
    make_engine: EngineFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "signal.bpmn"
    path.write_text(SIGNAL_TO_A_FAILING_RECEIVER)
    engine = make_engine()
    engine.deploy(path)
    packer = engine.start("packer")
    [task] = engine.tasks(instance=packer.id)
    # The packer's step is committed before the signal goes out: its call succeeds, and the
    # receiver's failure (a set is no variable type) is logged, not raised into it.
    assert engine.complete_task(task).status == InstanceStatus.COMPLETED
    assert [i.process_id for i in engine.instances()] == ["packer"]
    assert "thrown signal 'packed' could not be delivered" in caplog.text
