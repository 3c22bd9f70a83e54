"""Execution and task listeners of both dialects call registered Python handlers (Camunda 7
class / delegate expression / expression names, Camunda 8 job types) or run Python and FEEL
scripts in the sandbox; every invocation is a ``listener_invoked`` row of the history.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from callout_files import Calls, c7_file, chain, flow

from retailflow import CalloutError, InstanceStatus
from retailflow.model import HistoryKind
from scenario_kit import EngineFactory

C8_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" '
    'targetNamespace="http://bpmn.io/schema/bpmn" modeler:executionPlatform="Camunda Cloud" '
    'modeler:executionPlatformVersion="8.5.0">\n'
)


def c8_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "listeners.bpmn"
    path.write_text(
        f'{C8_HEAD}<bpmn:process id="Process_1" isExecutable="true">\n{body}\n'
        "</bpmn:process>\n</bpmn:definitions>\n"
    )
    return path


def listened(engine: object, instance_id: str) -> list[tuple[str | None, str, str]]:
    return [
        (e.element_id, e.variables["event"], e.variables["listener"])
        for e in engine.history(instance_id)  # type: ignore[attr-defined]
        if e.kind == HistoryKind.LISTENER_INVOKED
    ]


def test_camunda7_start_and_end_listeners_run_around_the_element_and_are_in_the_history(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("orderAudit", {"audited": True})
    calls.add("audit.record", {"recorded": True})
    engine = make_engine(calls.registry)
    task = (
        '<bpmn:scriptTask id="Activity_total" scriptFormat="python">'
        "<bpmn:extensionElements>"
        '<camunda:executionListener class="com.acme.OrderAudit" event="start" />'
        '<camunda:executionListener event="start"><camunda:script scriptFormat="python">'
        "base = 10</camunda:script></camunda:executionListener>"
        '<camunda:executionListener expression="${audit.record(execution)}" event="end" />'
        "</bpmn:extensionElements>"
        "<bpmn:script>total = base + 1</bpmn:script></bpmn:scriptTask>"
    )
    engine.deploy(c7_file(tmp_path, chain(task)))

    instance = engine.start("Process_1")

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    # The start script's variable was there for the script task; the end listener saw its total.
    assert finished.variables == {"audited": True, "base": 10, "total": 11, "recorded": True}
    assert calls.calls[1] == ("audit.record", {"audited": True, "base": 10, "total": 11})
    assert listened(engine, instance.id) == [
        ("Activity_total", "start", "com.acme.OrderAudit"),
        ("Activity_total", "start", "python script"),
        ("Activity_total", "end", "${audit.record(execution)}"),
    ]


def test_an_end_listener_writes_variables_the_next_gateway_reads(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("approvalPolicy", {"approved": True})
    engine = make_engine(calls.registry)
    body = "\n".join(
        [
            '<bpmn:startEvent id="StartEvent_1"><bpmn:extensionElements>'
            '<camunda:executionListener delegateExpression="${approvalPolicy}" event="end" />'
            "</bpmn:extensionElements></bpmn:startEvent>",
            '<bpmn:exclusiveGateway id="Gateway_1" />',
            '<bpmn:endEvent id="Event_yes" />',
            '<bpmn:endEvent id="Event_no" />',
            flow("Flow_1", "StartEvent_1", "Gateway_1"),
            '<bpmn:sequenceFlow id="Flow_2" sourceRef="Gateway_1" targetRef="Event_yes">'
            "<bpmn:conditionExpression>${approved}</bpmn:conditionExpression></bpmn:sequenceFlow>",
            '<bpmn:sequenceFlow id="Flow_3" sourceRef="Gateway_1" targetRef="Event_no">'
            "<bpmn:conditionExpression>${!approved}</bpmn:conditionExpression></bpmn:sequenceFlow>",
        ]
    )
    engine.deploy(c7_file(tmp_path, body))

    instance = engine.start("Process_1")

    passed = [
        e.element_id for e in engine.history(instance.id) if e.kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert "Event_yes" in passed and "Event_no" not in passed


def test_camunda7_task_listeners_fire_assignment_create_then_complete_before_the_task_ends(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("notifyApprover", {"notified": True})
    calls.add("assignmentAudit")
    calls.add("approvalRecorder", {"recorded": True})
    engine = make_engine(calls.registry)
    task = (
        '<bpmn:userTask id="Activity_approve" camunda:assignee="demo">'
        "<bpmn:extensionElements>"
        '<camunda:taskListener delegateExpression="${notifyApprover}" event="create" />'
        '<camunda:taskListener class="com.acme.AssignmentAudit" event="assignment" />'
        '<camunda:taskListener delegateExpression="${approvalRecorder}" event="complete" />'
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    engine.deploy(c7_file(tmp_path, chain(task)))

    instance = engine.start("Process_1")

    assert calls.names == ["assignmentAudit", "notifyApprover"]
    [open_task] = engine.tasks(instance=instance.id)
    assert open_task.variables == {"notified": True}
    engine.complete_task(open_task, {"approved": True})
    assert calls.names[-1] == "approvalRecorder"
    # A complete listener sees what the person entered.
    assert calls.calls[-1][1] == {"notified": True, "approved": True}
    finished = engine.instance(instance.id)
    assert finished.variables == {"notified": True, "approved": True, "recorded": True}
    assert [event for _, event, _ in listened(engine, instance.id)] == [
        "assignment",
        "create",
        "complete",
    ]


def test_a_feel_script_listener_is_evaluated_in_the_sandbox(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine()
    task = (
        '<bpmn:manualTask id="Activity_check"><bpmn:extensionElements>'
        '<camunda:executionListener event="start"><camunda:script scriptFormat="feel">'
        "count(items) &gt; 0</camunda:script></camunda:executionListener>"
        "</bpmn:extensionElements></bpmn:manualTask>"
    )
    engine.deploy(c7_file(tmp_path, chain(task)))

    instance = engine.start("Process_1", variables={"items": [1, 2]})

    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert listened(engine, instance.id) == [("Activity_check", "start", "feel script")]


def test_camunda8_execution_and_task_listeners_call_handlers_by_job_type(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("inventory.reserve", {"reserved": True})
    calls.add("audit.start", {"started": True})
    calls.add("audit.end")
    calls.add("approval.completing", {"recorded": True})
    engine = make_engine(calls.registry)
    body = "\n".join(
        [
            '<bpmn:startEvent id="StartEvent_1" />',
            '<bpmn:serviceTask id="Activity_reserve"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="inventory.reserve" /><zeebe:executionListeners>'
            '<zeebe:executionListener eventType="start" retries="3" type="audit.start" />'
            '<zeebe:executionListener eventType="end" retries="3" type="audit.end" />'
            "</zeebe:executionListeners></bpmn:extensionElements></bpmn:serviceTask>",
            '<bpmn:userTask id="Activity_approve"><bpmn:extensionElements><zeebe:userTask />'
            '<zeebe:taskListeners><zeebe:taskListener eventType="completing" '
            'type="approval.completing" /></zeebe:taskListeners>'
            "</bpmn:extensionElements></bpmn:userTask>",
            '<bpmn:endEvent id="Event_end" />',
            flow("Flow_1", "StartEvent_1", "Activity_reserve"),
            '<bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_reserve" '
            'targetRef="Activity_approve" />',
            flow("Flow_3", "Activity_approve", "Event_end"),
        ]
    )
    engine.deploy(c8_file(tmp_path, body))

    instance = engine.start("Process_1")
    # The start listener ran before the job was created; the job waits for a worker.
    assert calls.names == ["audit.start"]
    engine.run()
    assert calls.names == ["audit.start", "inventory.reserve", "audit.end"]
    [task] = engine.tasks(instance=instance.id)
    engine.complete_task(task, {})

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables == {"started": True, "reserved": True, "recorded": True}
    assert listened(engine, instance.id) == [
        ("Activity_reserve", "start", "audit.start"),
        ("Activity_reserve", "end", "audit.end"),
        ("Activity_approve", "complete", "approval.completing"),
    ]


def test_a_failing_listener_undoes_the_step_and_fails_the_call(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("orderAudit", RuntimeError("audit log full"))
    engine = make_engine(calls.registry)
    task = (
        '<bpmn:userTask id="Activity_approve"><bpmn:extensionElements>'
        '<camunda:executionListener class="com.acme.OrderAudit" event="end" />'
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    engine.deploy(c7_file(tmp_path, chain(task)))
    instance = engine.start("Process_1")
    [task_row] = engine.tasks(instance=instance.id)

    with pytest.raises(CalloutError, match="audit log full"):
        engine.complete_task(task_row, {"approved": True})

    assert [t.id for t in engine.tasks(instance=instance.id)] == [task_row.id]
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING


def test_a_boundary_events_start_listener_fires_when_it_triggers_not_while_it_watches(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("escalation")
    engine = make_engine(calls.registry)
    body = "\n".join(
        [
            '<bpmn:startEvent id="StartEvent_1" />',
            '<bpmn:userTask id="Activity_approve" />',
            '<bpmn:boundaryEvent id="Event_late" attachedToRef="Activity_approve">'
            "<bpmn:extensionElements><camunda:executionListener "
            'delegateExpression="${escalation}" event="start" /></bpmn:extensionElements>'
            '<bpmn:timerEventDefinition id="Def_1"><bpmn:timeDuration>PT1H</bpmn:timeDuration>'
            "</bpmn:timerEventDefinition></bpmn:boundaryEvent>",
            '<bpmn:endEvent id="Event_done" />',
            '<bpmn:endEvent id="Event_escalated" />',
            flow("Flow_1", "StartEvent_1", "Activity_approve"),
            flow("Flow_2", "Activity_approve", "Event_done"),
            flow("Flow_3", "Event_late", "Event_escalated"),
        ]
    )
    engine.deploy(c7_file(tmp_path, body))

    on_time = engine.start("Process_1")
    [task] = engine.tasks(instance=on_time.id)
    engine.complete_task(task, {})
    assert calls.names == []

    late = engine.start("Process_1")
    engine.clock.advance(hours=2)  # type: ignore[attr-defined]
    engine.run()
    assert calls.names == ["escalation"]
    assert engine.instance(late.id).status == InstanceStatus.COMPLETED


def test_a_process_start_listener_sets_variables_first_and_its_end_listener_sees_the_last(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("orderOpened", {"channel": "web"})
    calls.add("orderClosed", {"closed": True})
    engine = make_engine(calls.registry)
    body = (
        "<bpmn:extensionElements>"
        '<camunda:executionListener delegateExpression="${orderOpened}" event="start" />'
        '<camunda:executionListener class="com.acme.OrderClosed" event="end" />'
        "</bpmn:extensionElements>\n"
        + chain(
            '<bpmn:scriptTask id="Activity_tag" scriptFormat="python">'
            "<bpmn:script>tag = channel + '-order'</bpmn:script></bpmn:scriptTask>"
        )
    )
    engine.deploy(c7_file(tmp_path, body))

    instance = engine.start("Process_1", variables={"sku": "TEA-01"})

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables == {
        "sku": "TEA-01",
        "channel": "web",
        "tag": "web-order",
        "closed": True,
    }
    assert calls.calls[1] == (
        "orderClosed",
        {"sku": "TEA-01", "channel": "web", "tag": "web-order"},
    )
    assert listened(engine, instance.id) == [
        ("Process_1", "start", "${orderOpened}"),
        ("Process_1", "end", "com.acme.OrderClosed"),
    ]


def test_camunda8_process_execution_listeners_call_their_job_types(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("process.started", {"opened": True})
    engine = make_engine(calls.registry)
    body = (
        "<bpmn:extensionElements><zeebe:executionListeners>"
        '<zeebe:executionListener eventType="start" type="process.started" />'
        "</zeebe:executionListeners></bpmn:extensionElements>\n"
        '<bpmn:startEvent id="StartEvent_1" /><bpmn:endEvent id="Event_end" />'
        + flow("Flow_1", "StartEvent_1", "Event_end")
    )
    engine.deploy(c8_file(tmp_path, body))

    instance = engine.start("Process_1")

    assert engine.instance(instance.id).variables == {"opened": True}
    assert listened(engine, instance.id) == [("Process_1", "start", "process.started")]


def test_a_take_listener_runs_on_the_flow_taken_and_its_variables_travel_with_the_token(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("routeAudit", {"routed": "express"})
    engine = make_engine(calls.registry)
    body = "\n".join(
        [
            '<bpmn:startEvent id="StartEvent_1" />',
            '<bpmn:exclusiveGateway id="Gateway_1" default="Flow_standard" />',
            '<bpmn:scriptTask id="Activity_express" scriptFormat="python">'
            "<bpmn:script>label = routed + '-label'</bpmn:script></bpmn:scriptTask>",
            '<bpmn:endEvent id="Event_express" /><bpmn:endEvent id="Event_standard" />',
            flow("Flow_1", "StartEvent_1", "Gateway_1"),
            '<bpmn:sequenceFlow id="Flow_express" sourceRef="Gateway_1" '
            'targetRef="Activity_express"><bpmn:extensionElements><camunda:executionListener '
            'delegateExpression="${routeAudit}" event="take" /></bpmn:extensionElements>'
            "<bpmn:conditionExpression>${express}</bpmn:conditionExpression></bpmn:sequenceFlow>",
            '<bpmn:sequenceFlow id="Flow_standard" sourceRef="Gateway_1" '
            'targetRef="Event_standard" />',
            '<bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_express" '
            'targetRef="Event_express" />',
        ]
    )
    engine.deploy(c7_file(tmp_path, body))

    standard = engine.start("Process_1", variables={"express": False})
    assert calls.names == []
    express = engine.start("Process_1", variables={"express": True})

    assert calls.names == ["routeAudit"]
    assert engine.instance(express.id).variables == {
        "express": True,
        "routed": "express",
        "label": "express-label",
    }
    assert listened(engine, express.id) == [("Flow_express", "take", "${routeAudit}")]
    assert listened(engine, standard.id) == []
