"""Camunda 8 job workers as Modeler 5 draws them: message throw and end events that are jobs,
job types and retries written as expressions, multi-instance collections written as
expressions, and wait states whose setup fails (the incident belongs to the element that
failed, and a retry sets it up again without running the step before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retailflow import (
    BpmnError,
    DeploymentError,
    Engine,
    HistoryKind,
    InstanceStatus,
    VirtualClock,
)
from scenario_kit import FIXTURES, ROOT, EngineFactory, Recorder, passed

CONFORMANCE = ROOT / "tests" / "conformance"
THROW_JOB = "message_throw_job.bpmn"


def _file(tmp_path: Path, source: Path, *replacements: tuple[str, str]) -> Path:
    """A copy of ``source`` with text replaced, for a variation of a Modeler file."""
    text = source.read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / source.name
    path.write_text(text)
    return path


def _incidents_at(engine: Engine, instance_id: str) -> list[str]:
    return [incident.element_id for incident in engine.incidents(instance=instance_id)]


# -- message throw and end events with a job type ------------------------------------------
@pytest.mark.parametrize(
    ("dialect", "process_id"), [("c8", "Process_0m5k2ht"), ("c7", "Process_1k2j3h4")]
)
def test_message_throw_and_end_events_with_a_job_type_call_their_handlers_like_service_tasks(
    make_engine: EngineFactory, dialect: str, process_id: str
) -> None:
    recorder = Recorder()
    recorder.add("warehouse.notify", {"notified": True})
    recorder.add("crm.confirm", {})
    engine = make_engine(recorder.registry)
    engine.deploy(CONFORMANCE / dialect / THROW_JOB)  # refused before: "needs a messageRef"

    instance = engine.start(process_id, variables={"order": {"id": "SO-1"}})
    engine.run()

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert recorder.topics() == ["warehouse.notify", "crm.confirm"]
    _, seen, context = recorder.calls[0]
    assert seen["order_id"] == "SO-1"  # the input mapping
    assert context.element_id == "Event_0x2kf9d"
    if dialect == "c8":
        assert context.headers == {"channel": "edi"}
    # the output mapping wrote its target only
    assert finished.variables == {"order": {"id": "SO-1"}, "warehouse_notified": True}
    assert passed(engine, instance.id)[-1] == "Event_1h0ek2v"


def test_a_message_throw_job_with_a_message_ref_is_a_job_not_a_silent_throw(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = _file(
        tmp_path,
        CONFORMANCE / "c8" / THROW_JOB,
        (
            '<bpmn:messageEventDefinition id="MessageEventDefinition_1l4v8kq" />',
            '<bpmn:messageEventDefinition id="MessageEventDefinition_1l4v8kq" '
            'messageRef="Message_3b1kq0d" />',
        ),
        (
            "  <bpmndi:BPMNDiagram",
            '  <bpmn:message id="Message_3b1kq0d" name="stock-request" />\n  <bpmndi:BPMNDiagram',
        ),
    )
    recorder = Recorder()
    recorder.add("warehouse.notify", {"notified": True})
    recorder.add("crm.confirm", {})
    engine = make_engine(recorder.registry)
    engine.deploy(path)

    instance = engine.start("Process_0m5k2ht", variables={"order": {"id": "SO-1"}})
    engine.run()

    # Before, the message was thrown instead, the handler never called, the instance done.
    assert recorder.topics() == ["warehouse.notify", "crm.confirm"]
    assert engine.instance(instance.id).variables["warehouse_notified"] is True


def test_a_failing_message_throw_job_is_retried_as_drawn_then_waits_with_an_incident(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()

    def unreachable(variables: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("warehouse EDI gateway unreachable")

    recorder.add("warehouse.notify", unreachable)
    recorder.add("crm.confirm", {})
    engine = make_engine(recorder.registry)
    engine.deploy(CONFORMANCE / "c8" / THROW_JOB)
    instance = engine.start("Process_0m5k2ht", variables={"order": {"id": "SO-1"}})

    engine.run()
    clock.advance(hours=1)  # past the retry's backoff
    engine.run()

    assert _incidents_at(engine, instance.id) == ["Event_0x2kf9d"]
    assert [context.attempt for _, _, context in recorder.calls] == [1, 2]  # retries="2"
    engine.retry(instance.id)
    engine.run()
    assert len(recorder.calls) == 3


def test_a_bpmn_error_from_a_message_throw_job_starts_the_error_event_subprocess(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()

    def down(variables: dict[str, Any]) -> dict[str, Any]:
        raise BpmnError("WAREHOUSE_DOWN")

    recorder.add("warehouse.notify", down)
    engine = make_engine(recorder.registry)
    engine.deploy(CONFORMANCE / "c8" / "message_throw_job_bpmn_error.bpmn")

    instance = engine.start("Process_0g2w9yt")
    engine.run()

    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert "Event_0p5x1hv" in passed(engine, instance.id)
    assert "Event_1h0ek2v" not in passed(engine, instance.id)


def test_a_message_throw_job_needs_a_handler_at_deploy_time_like_a_service_task() -> None:
    engine = Engine()
    with pytest.raises(DeploymentError, match=r"handler-missing .*warehouse\.notify"):
        engine.deploy(CONFORMANCE / "c8" / THROW_JOB)


# -- job type and retries as expressions ----------------------------------------------------
def test_a_job_type_expression_is_evaluated_when_the_job_is_created(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("ship.dhl", {"shipped": True})
    engine = make_engine(recorder.registry)
    # No handler is registered for the text "=..." itself: deploy cannot know the type.
    engine.deploy(CONFORMANCE / "c8" / "job_type_expression.bpmn")

    instance = engine.start("Process_1x4c9qe", variables={"carrier": "dhl", "max_retries": 2})
    [job] = engine.jobs(instance=instance.id)
    assert (job.topic, job.retries_left) == ("ship.dhl", 2)
    engine.run()

    assert recorder.topics() == ["ship.dhl"]
    assert engine.instance(instance.id).variables["shipped"] is True


def test_a_job_type_that_evaluates_to_no_text_opens_an_incident_on_its_own_task(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(Recorder().registry)
    engine.deploy(CONFORMANCE / "c8" / "job_type_expression.bpmn")

    instance = engine.start("Process_1x4c9qe", variables={"max_retries": 2})  # no carrier

    [incident] = engine.incidents(instance=instance.id)
    assert incident.element_id == "Activity_0x8f7d2"
    assert "job type" in incident.message
    assert engine.retry(instance.id) == 1
    engine.run()
    assert _incidents_at(engine, instance.id) == ["Activity_0x8f7d2"]  # evaluated again


def test_a_job_type_no_handler_is_registered_for_becomes_an_incident_when_the_job_runs(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(Recorder().registry)
    engine.deploy(CONFORMANCE / "c8" / "job_type_expression.bpmn")

    instance = engine.start("Process_1x4c9qe", variables={"carrier": "ups", "max_retries": 2})
    engine.run()

    [incident] = engine.incidents(instance=instance.id)
    assert incident.element_id == "Activity_0x8f7d2"
    assert "'ship.ups'" in incident.message


# -- a wait state whose setup fails -----------------------------------------------------------
def test_a_failing_timer_expression_opens_the_incident_on_the_timer_and_retry_skips_the_handler(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("test.reserve", {"reserved": True})
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "timer_after_job.bpmn")
    instance = engine.start("timer_after_job")  # no cooling_off_period: the timer fails

    engine.run()

    # Before: the incident opened on reserve_stock, and retry called its handler again.
    assert _incidents_at(engine, instance.id) == ["cooling_off"]
    assert recorder.topics() == ["test.reserve"]
    assert passed(engine, instance.id)[-1] == "reserve_stock"  # its completion is kept
    assert engine.instance(instance.id).variables["reserved"] is True

    engine.retry(instance.id)
    engine.run()

    assert recorder.topics() == ["test.reserve"]
    assert _incidents_at(engine, instance.id) == ["cooling_off"]
    opened = [
        event.element_id
        for event in engine.history(instance.id)
        if event.kind == HistoryKind.INCIDENT_OPENED
    ]
    assert opened == ["cooling_off", "cooling_off"]


def test_a_timer_that_evaluates_waits_as_before(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = Recorder()
    recorder.add("test.reserve", {})
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "timer_after_job.bpmn")
    instance = engine.start("timer_after_job", variables={"cooling_off_period": "PT1H"})
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING

    clock.advance(hours=1)
    engine.run()

    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert engine.incidents(instance=instance.id) == []


# -- multi-instance over expressions ----------------------------------------------------------
def test_multi_instance_collections_and_output_elements_may_be_any_feel_expression(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("warehouse.pack", {"packed": True})
    recorder.add("warehouse.label", {})
    engine = make_engine(recorder.registry)
    engine.deploy(CONFORMANCE / "c8" / "multi_instance_expression.bpmn")  # refused before

    lines = [{"sku": "TEA-01"}, {"sku": "MUG-02"}]
    instance = engine.start("Process_0h6t2wn", variables={"order": {"lines": lines}})
    engine.run()

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert sorted(
        seen["line"]["sku"] for topic, seen, _ in recorder.calls if topic == "warehouse.pack"
    ) == ["MUG-02", "TEA-01"]
    assert [seen["attempt"] for topic, seen, _ in recorder.calls if topic == "warehouse.label"] == [
        1,
        2,
        3,
    ]
    assert finished.variables["packed_lines"] == [
        {"sku": "TEA-01", "packed": True},
        {"sku": "MUG-02", "packed": True},
    ]
    assert finished.variables["labels"] == ["label-1", "label-2", "label-3"]


@pytest.mark.parametrize("max_retries", [0, "three", 10**30])
def test_retries_that_do_not_evaluate_to_a_number_of_runs_open_an_incident_on_the_task(
    make_engine: EngineFactory, max_retries: object
) -> None:
    recorder = Recorder()
    recorder.add("ship.dhl", {"shipped": True})
    engine = make_engine(recorder.registry)
    engine.deploy(CONFORMANCE / "c8" / "job_type_expression.bpmn")

    instance = engine.start(
        "Process_1x4c9qe", variables={"carrier": "dhl", "max_retries": max_retries}
    )
    engine.run()

    assert _incidents_at(engine, instance.id) == ["Activity_0x8f7d2"]
    assert recorder.calls == []
