"""Camunda 7 delegates (``camunda:class``, ``delegateExpression``, ``expression``) run as
registered Python handlers, the way Camunda 7 runs JavaDelegates: synchronously, in the step
that reaches them (no job row), so a failure undoes the step and the call that took it fails;
``camunda:asyncBefore`` / ``asyncAfter`` make a durable wait state, a job, around the element.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from callout_files import Calls, c7_file, chain, flow, service

from retailflow import BpmnError, CalloutError, Engine, InstanceStatus
from retailflow.model import DeploymentError, HistoryKind
from retailflow.validation import validate
from scenario_kit import EngineFactory


@pytest.mark.parametrize(
    ("delegate", "registered"),
    [
        ('camunda:class="com.acme.inventory.ReserveStock"', "ReserveStock"),
        ('camunda:class="com.acme.inventory.ReserveStock"', "reserveStock"),
        ('camunda:class="com.acme.inventory.ReserveStock"', "com.acme.inventory.ReserveStock"),
        ('camunda:delegateExpression="${reserveStock}"', "reserveStock"),
        ('camunda:expression="${inventory.reserve(execution, quantity)}"', "inventory.reserve"),
    ],
)
def test_delegate_runs_its_handler_in_the_step_that_reaches_it_without_a_job(
    make_engine: EngineFactory, tmp_path: Path, delegate: str, registered: str
) -> None:
    calls = Calls()
    calls.add(registered, {"reserved": True})
    engine = make_engine(calls.registry)
    engine.deploy(c7_file(tmp_path, chain(service("Activity_reserve", delegate))))

    instance = engine.start("Process_1", variables={"quantity": 2})

    # No run() needed: Camunda 7 calls a JavaDelegate synchronously, in the caller's step.
    assert calls.calls == [(registered, {"quantity": 2})]
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables == {"quantity": 2, "reserved": True}
    completed = [
        e
        for e in engine.history(instance.id)
        if e.kind == HistoryKind.ELEMENT_COMPLETED and e.element_id == "Activity_reserve"
    ]
    assert [e.variables for e in completed] == [{"reserved": True}]


def test_an_alias_given_at_registration_binds_a_class_whose_name_the_handler_does_not_share(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("inventory.reserve", {"reserved": True}, aliases=("com.acme.legacy.StockBean",))
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            chain(service("Activity_reserve", 'camunda:class="com.acme.legacy.StockBean"')),
        )
    )

    instance = engine.start("Process_1")

    assert calls.names == ["inventory.reserve"]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_input_output_parameters_are_the_delegates_local_variables_and_result_variable_keeps_the_return(  # noqa: E501
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("inventory.reserve", {"units": 3})
    engine = make_engine(calls.registry)
    inner = (
        "<bpmn:extensionElements><camunda:inputOutput>"
        '<camunda:inputParameter name="units">${quantity + 1}</camunda:inputParameter>'
        "</camunda:inputOutput></bpmn:extensionElements>"
    )
    engine.deploy(
        c7_file(
            tmp_path,
            chain(
                service(
                    "Activity_reserve",
                    'camunda:expression="${inventory.reserve(execution)}"',
                    'camunda:resultVariable="reservation"',
                    inner,
                )
            ),
        )
    )

    instance = engine.start("Process_1", variables={"quantity": 2})

    assert calls.calls == [("inventory.reserve", {"quantity": 2, "units": 3})]
    assert engine.instance(instance.id).variables == {"quantity": 2, "reservation": {"units": 3}}


def test_a_failing_delegate_fails_the_start_call_and_leaves_no_instance(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("reserveStock", RuntimeError("warehouse offline"))
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            chain(service("Activity_reserve", 'camunda:delegateExpression="${reserveStock}"')),
        )
    )

    with pytest.raises(CalloutError) as raised:
        engine.start("Process_1")

    message = str(raised.value)
    assert "reserveStock" in message and "Activity_reserve" in message
    assert "warehouse offline" in message
    assert engine.instances() == []


def test_a_failing_delegate_after_a_user_task_rolls_back_to_the_task_and_the_completion_fails(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("reserveStock", RuntimeError("warehouse offline"))
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            chain(
                '<bpmn:userTask id="Activity_approve" />',
                service("Activity_reserve", 'camunda:delegateExpression="${reserveStock}"'),
            ),
        )
    )
    instance = engine.start("Process_1")
    [task] = engine.tasks(instance=instance.id)

    with pytest.raises(CalloutError):
        engine.complete_task(task, {"approved": True})

    # The last wait state stands, as the database transaction rolls back in Camunda 7.
    [still_open] = engine.tasks(instance=instance.id)
    assert still_open.id == task.id
    stored = engine.instance(instance.id)
    assert stored.status == InstanceStatus.RUNNING and "approved" not in stored.variables
    assert engine.jobs(instance=instance.id) == []


def test_a_failing_delegate_reached_by_a_job_retries_that_job_then_opens_an_incident(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("inventory.pick", {"picked": True})
    calls.add("reserveStock", RuntimeError("warehouse offline"))
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            chain(
                '<bpmn:serviceTask id="Activity_pick" camunda:type="external" '
                'camunda:topic="inventory.pick"><bpmn:extensionElements>'
                "<camunda:failedJobRetryTimeCycle>R2/PT0S</camunda:failedJobRetryTimeCycle>"
                "</bpmn:extensionElements></bpmn:serviceTask>",
                service("Activity_reserve", 'camunda:delegateExpression="${reserveStock}"'),
            ),
        )
    )
    instance = engine.start("Process_1")

    for _ in range(3):
        engine.run()
        engine.clock.advance(hours=1)  # type: ignore[attr-defined]

    # The external task's completion took the failing step: it is retried, then an incident.
    assert calls.names == ["inventory.pick", "reserveStock", "inventory.pick", "reserveStock"]
    [incident] = engine.incidents(instance=instance.id)
    assert incident.element_id == "Activity_pick"
    assert "reserveStock" in incident.message and "Activity_reserve" in incident.message
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING


def test_a_bpmn_error_from_a_delegate_takes_the_error_boundary_path(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()

    def reserve() -> None:
        raise BpmnError("OUT_OF_STOCK", "no stock left", variables={"shortage": 2})

    calls.registry.register("reserveStock", reserve)
    calls.add("notifyCustomer")
    engine = make_engine(calls.registry)
    body = "\n".join(
        [
            '<bpmn:startEvent id="StartEvent_1" />',
            service("Activity_reserve", 'camunda:delegateExpression="${reserveStock}"'),
            '<bpmn:boundaryEvent id="Event_out" attachedToRef="Activity_reserve">'
            '<bpmn:errorEventDefinition id="Def_1" errorRef="Error_out" /></bpmn:boundaryEvent>',
            service("Activity_notify", 'camunda:class="com.acme.NotifyCustomer"'),
            '<bpmn:endEvent id="Event_done" />',
            '<bpmn:endEvent id="Event_cancelled" />',
            flow("Flow_1", "StartEvent_1", "Activity_reserve"),
            flow("Flow_2", "Activity_reserve", "Event_done"),
            flow("Flow_3", "Event_out", "Activity_notify"),
            flow("Flow_4", "Activity_notify", "Event_cancelled"),
        ]
    )
    path = c7_file(tmp_path, body)
    path.write_text(
        path.read_text().replace(
            "</bpmn:definitions>",
            '<bpmn:error id="Error_out" errorCode="OUT_OF_STOCK" /></bpmn:definitions>',
        )
    )
    engine.deploy(path)

    instance = engine.start("Process_1")

    assert calls.names == ["notifyCustomer"]
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    passed = [
        e.element_id for e in engine.history(instance.id) if e.kind == HistoryKind.ELEMENT_COMPLETED
    ]
    assert "Event_cancelled" in passed and "Event_done" not in passed


def test_async_before_makes_a_job_that_runs_the_delegate(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("reserveStock", {"reserved": True})
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            chain(
                service(
                    "Activity_reserve",
                    'camunda:class="com.acme.ReserveStock"',
                    'camunda:asyncBefore="true"',
                )
            ),
        )
    )

    instance = engine.start("Process_1")

    assert calls.calls == []
    [job] = engine.jobs(instance=instance.id)
    assert (job.element_id, job.topic) == ("Activity_reserve", "com.acme.ReserveStock")
    engine.run()
    assert calls.names == ["reserveStock"]
    assert engine.instance(instance.id).variables == {"reserved": True}
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_async_after_runs_the_delegate_in_the_step_then_waits_in_a_job_before_leaving(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("reserveStock", {"reserved": True})
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            chain(
                service(
                    "Activity_reserve",
                    'camunda:class="com.acme.ReserveStock"',
                    'camunda:asyncAfter="true"',
                )
            ),
        )
    )

    instance = engine.start("Process_1")

    assert calls.names == ["reserveStock"]
    [job] = engine.jobs(instance=instance.id)
    assert job.element_id == "Activity_reserve"
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING
    engine.run()
    assert calls.names == ["reserveStock"]  # the continuation does not call it again
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables == {"reserved": True}


def test_a_delegate_on_a_message_end_event_runs_its_handler(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    calls = Calls()
    calls.add("notifyCustomer", {"notified": True})
    engine = make_engine(calls.registry)
    engine.deploy(
        c7_file(
            tmp_path,
            "\n".join(
                [
                    '<bpmn:startEvent id="StartEvent_1" />',
                    '<bpmn:endEvent id="Event_notified"><bpmn:messageEventDefinition id="Def_1" '
                    'camunda:delegateExpression="${notifyCustomer}" /></bpmn:endEvent>',
                    flow("Flow_1", "StartEvent_1", "Event_notified"),
                ]
            ),
        )
    )

    instance = engine.start("Process_1")

    assert calls.names == ["notifyCustomer"]
    assert engine.instance(instance.id).variables == {"notified": True}


def test_deploy_and_validate_refuse_a_delegate_with_no_handler_naming_file_line_element_and_names(
    tmp_path: Path,
) -> None:
    calls = Calls()
    calls.add("inventory.reserve")
    path = c7_file(
        tmp_path, chain(service("Activity_reserve", 'camunda:class="com.acme.ReserveStock"'))
    )
    engine = Engine(handlers=calls.registry)

    with pytest.raises(DeploymentError) as raised:
        engine.deploy(path)

    [finding] = raised.value.findings
    assert (finding.rule, finding.file, finding.element_id) == (
        "handler-missing",
        str(path),
        "Activity_reserve",
    )
    assert finding.line == 5
    for name in ("com.acme.ReserveStock", "'ReserveStock'", "'reserveStock'"):
        assert name in finding.message
    assert "aliases=" in (finding.hint or "")

    report = validate([path], handlers=calls.registry)
    missing = [d for d in report.diagnostics if d.rule == "handler-missing"]
    assert [(d.finding.element_id, d.finding.line) for d in missing] == [("Activity_reserve", 5)]
    assert "'reserveStock'" in missing[0].finding.message
