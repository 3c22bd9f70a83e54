"""Gateways, boundary events, event-based gateways, timers and event subprocesses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from retailflow import (
    BpmnError,
    HandlerContext,
    InstanceStatus,
    NotFoundError,
    SignalDeliveryError,
    VirtualClock,
)
from scenario_kit import FIXTURES, EngineFactory, Recorder, passed, routed_process


def recorder_for(*topics: str) -> Recorder:
    recorder = Recorder()
    for topic in topics:
        recorder.add(topic)
    return recorder


def add_boundary_paths(recorder: Recorder) -> None:
    """Handlers for the two paths of boundaries.bpmn that branch off the charge."""
    recorder.add("test.decline")
    recorder.add("test.note")


GATEWAY_TOPICS = (
    "test.big",
    "test.small",
    "test.a",
    "test.b",
    "test.express",
    "test.wrap",
    "test.standard",
)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"amount": 250, "express": True, "gift_wrap": True},
            {"test.big", "test.a", "test.b", "test.express", "test.wrap"},
        ),
        (
            {"amount": 50, "express": False, "gift_wrap": False},
            {"test.small", "test.a", "test.b", "test.standard"},
        ),
        (
            {"amount": 50, "express": False, "gift_wrap": True},
            {"test.small", "test.a", "test.b", "test.wrap"},
        ),
    ],
)
def test_exclusive_parallel_and_inclusive_gateways_route_by_feel_conditions(
    make_engine: EngineFactory, variables: dict, expected: set[str]
) -> None:
    handlers = recorder_for(*GATEWAY_TOPICS)
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "gateways.bpmn")
    instance = engine.start("gateways", variables=variables)
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert set(handlers.topics()) == expected
    assert len(handlers.topics()) == len(expected)


def test_event_based_gateway_takes_the_message_when_it_arrives_first(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = recorder_for("test.approved", "test.expired")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "event_gateway.bpmn")
    instance = engine.start("event_gateway", variables={"request_id": "R-1"})
    clock.advance(minutes=30)
    engine.run()
    engine.correlate("approval_given", key="R-1", variables={"approver": "kim"})
    clock.advance(hours=2)
    engine.run()
    assert handlers.topics() == ["test.approved"]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert engine.jobs() == []


def test_event_based_gateway_takes_the_timer_when_no_message_comes(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = recorder_for("test.approved", "test.expired")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "event_gateway.bpmn")
    instance = engine.start("event_gateway", variables={"request_id": "R-1"})
    clock.advance(minutes=61)
    engine.run()
    assert handlers.topics() == ["test.expired"]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    with pytest.raises(Exception, match="no instance waits"):
        engine.correlate("approval_given", key="R-1")


def test_date_timer_fires_only_when_the_virtual_clock_reaches_it(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = recorder_for("test.after", "test.remind", "test.tick")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "timers.bpmn")
    clock.set(clock.now().replace(hour=8))
    instance = engine.start("timer_date")
    engine.run()
    [job] = engine.jobs(instance=instance.id)
    assert job.due_at.isoformat().startswith("2030-01-01T09:00")
    clock.advance(minutes=59)
    engine.run()
    assert "test.after" not in handlers.topics()
    clock.advance(minutes=2)
    engine.run()
    assert handlers.topics().count("test.after") == 1
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_non_interrupting_cycle_timer_reminds_three_times_while_the_task_stays_open(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = recorder_for("test.after", "test.remind", "test.tick")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "timers.bpmn")
    instance = engine.start("timer_cycle")
    for _ in range(6):
        clock.advance(minutes=10)
        engine.run()
    assert handlers.topics().count("test.remind") == 3
    [task] = engine.tasks(instance=instance.id)
    assert task.element_id == "watch"
    engine.complete_task(task.id)
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_bpmn_error_from_a_handler_reaches_the_error_boundary(make_engine: EngineFactory) -> None:
    recorder = Recorder()

    def charge(variables: dict) -> None:
        raise BpmnError("DECLINED", "card declined", {"reason": "insufficient funds"})

    recorder.add("test.charge", charge)
    add_boundary_paths(recorder)
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "boundaries.bpmn")
    instance = engine.start("boundaries", variables={"order_id": "SO-9"})
    engine.run()
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert recorder.topics() == ["test.charge", "test.decline"]
    assert finished.variables["reason"] == "insufficient funds"
    assert passed(engine, instance.id)[-1] == "declined"
    assert engine.incidents() == []


def test_non_interrupting_message_boundary_runs_alongside_the_task(
    make_engine: EngineFactory,
) -> None:
    recorder = Recorder()
    recorder.add("test.charge")
    add_boundary_paths(recorder)
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "boundaries.bpmn")
    instance = engine.start("boundaries", variables={"order_id": "SO-9"})
    engine.correlate("customer_note", key="SO-9", variables={"note": "leave at door"})
    engine.run()
    assert sorted(recorder.topics()) == ["test.charge", "test.note"]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_bpmn_error_nobody_catches_becomes_an_incident(make_engine: EngineFactory) -> None:
    recorder = Recorder()

    def charge(variables: dict) -> None:
        raise BpmnError("UNMODELLED")

    recorder.add("test.charge", charge)
    add_boundary_paths(recorder)
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "boundaries.bpmn")
    instance = engine.start("boundaries", variables={"order_id": "SO-9"})
    engine.run()
    [incident] = engine.incidents()
    assert incident.element_id == "charge" and "UNMODELLED" in incident.message
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING


def test_message_event_subprocess_interrupts_and_refunds(make_engine: EngineFactory) -> None:
    recorder = recorder_for("test.risky", "test.refund", "test.cleanup")
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "event_subprocess.bpmn")
    instance = engine.start("event_subprocess", variables={"order_id": "SO-3"})
    engine.run()
    assert [t.element_id for t in engine.tasks(instance=instance.id)] == ["work"]
    engine.correlate("cancel_order", key="SO-3")
    engine.run()
    assert recorder.topics() == ["test.risky", "test.refund"]
    assert engine.tasks(instance=instance.id) == []
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_error_event_subprocess_catches_a_handler_error(make_engine: EngineFactory) -> None:
    recorder = Recorder()

    def risky(variables: dict) -> None:
        raise BpmnError("FATAL")

    recorder.add("test.risky", risky)
    recorder.add("test.refund")
    recorder.add("test.cleanup")
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "event_subprocess.bpmn")
    instance = engine.start("event_subprocess", variables={"order_id": "SO-3"})
    engine.run()
    assert recorder.topics() == ["test.risky", "test.cleanup"]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert engine.tasks(instance=instance.id) == []


def test_signal_wakes_waiting_instances_and_starts_signal_start_processes(
    make_engine: EngineFactory,
) -> None:
    recorder = recorder_for("test.discount", "test.announce")
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "signals.bpmn")
    waiting = engine.start("signal_catch")
    reached = engine.broadcast_signal("flash_sale", {"discount": 20})
    engine.run()
    assert {i.process_id for i in reached} == {"signal_catch", "signal_start"}
    assert sorted(recorder.topics()) == ["test.announce", "test.discount"]
    assert engine.instance(waiting.id).status == InstanceStatus.COMPLETED
    assert all(call[1]["discount"] == 20 for call in recorder.calls)


def test_message_start_event_starts_an_instance(make_engine: EngineFactory) -> None:
    recorder = recorder_for("test.triage")
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "message_start.bpmn")
    started = engine.correlate("ticket_opened", key="T-1", variables={"subject": "late"})
    assert started is not None and started.process_id == "message_start"
    engine.run()
    assert recorder.calls[0][1]["subject"] == "late"
    assert engine.instance(started.id).status == InstanceStatus.COMPLETED


def test_buffered_message_expires_after_its_time_to_live(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    recorder = recorder_for("test.approved", "test.expired")
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "event_gateway.bpmn")
    engine.correlate("approval_given", key="R-2", ttl=timedelta(minutes=5))
    clock.advance(minutes=6)
    engine.run()
    instance = engine.start("event_gateway", variables={"request_id": "R-2"})
    engine.run()
    assert recorder.topics() == []
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING


def test_a_timer_start_event_starts_an_instance_each_time_its_cycle_fires(
    make_engine: EngineFactory, clock: VirtualClock
) -> None:
    handlers = recorder_for("test.after", "test.remind", "test.tick")
    engine = make_engine(handlers.registry)
    deployed_at = clock.now()
    engine.deploy(FIXTURES / "timers.bpmn")
    [schedule] = [j for j in engine.jobs() if j.element_id == "every_hour"]
    assert schedule.due_at == deployed_at + timedelta(hours=1)
    assert engine.instances(process_id="timer_start") == []

    clock.advance(minutes=59)
    engine.run()
    assert engine.instances(process_id="timer_start") == []
    for hour in (1, 2, 3):
        clock.set(deployed_at + timedelta(hours=hour))
        engine.run()
    started = engine.instances(process_id="timer_start")
    assert len(started) == 2 and all(i.status == InstanceStatus.COMPLETED for i in started)
    assert handlers.topics() == ["test.tick", "test.tick"]
    assert [j for j in engine.jobs() if j.element_id == "every_hour"] == []
    assert "timer_fired" in [e.kind for e in engine.history(started[0])]


def test_a_new_version_replaces_the_previous_versions_start_schedule(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    handlers = recorder_for("test.after", "test.remind", "test.tick")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "timers.bpmn")
    changed = tmp_path / "timers.bpmn"
    changed.write_text((FIXTURES / "timers.bpmn").read_text().replace("R2/PT1H", "R3/PT2H"))
    engine.deploy(changed)
    [schedule] = [j for j in engine.jobs() if j.element_id == "every_hour"]
    assert schedule.topic == "timer_start:2"
    assert schedule.due_at == clock.now() + timedelta(hours=2)


def test_retries_registered_with_the_handler_apply_when_the_diagram_sets_none(
    make_engine: EngineFactory,
) -> None:
    recorder = recorder_for(*[t for t in GATEWAY_TOPICS if t != "test.small"])
    attempts: list[int] = []

    def small(context: HandlerContext) -> None:
        attempts.append(context.attempt)
        raise TimeoutError("carrier API timed out")

    recorder.registry.register("test.small", small, retries=1)
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "gateways.bpmn")
    instance = engine.start(
        "gateways", variables={"amount": 5, "express": False, "gift_wrap": False}
    )
    engine.run()
    assert attempts == [1]
    [incident] = engine.incidents(instance=instance.id)
    assert incident.element_id == "small" and "TimeoutError" in incident.message


def test_a_message_without_a_key_never_reaches_an_instance_waiting_under_a_key(
    make_engine: EngineFactory,
) -> None:
    handlers = recorder_for("test.approved", "test.expired")
    engine = make_engine(handlers.registry)
    engine.deploy(FIXTURES / "event_gateway.bpmn")
    engine.start("event_gateway", variables={"request_id": "R-1"})
    with pytest.raises(NotFoundError, match="no instance waits"):
        engine.correlate("approval_given")
    assert handlers.topics() == []


BROKEN_AFTER_SIGNAL = routed_process(
    "broken_after_signal",
    "${missing &gt; 1}",
    lead_id="wait",
    definitions='<bpmn:signal id="sale" name="flash_sale"/>',
    lead="""
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:signalEventDefinition signalRef="sale"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="to_wait" sourceRef="start" targetRef="wait"/>""",
)


def test_a_signal_reaches_every_instance_even_when_one_cannot_take_it(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    handlers = recorder_for("test.discount", "test.announce")
    engine = make_engine(handlers.registry)
    broken = tmp_path / "broken_after_signal.bpmn"
    broken.write_text(BROKEN_AFTER_SIGNAL)
    engine.deploy(FIXTURES / "signals.bpmn", broken)
    failing = engine.start("broken_after_signal")
    waiting = engine.start("signal_catch")
    with pytest.raises(SignalDeliveryError) as partly:
        engine.broadcast_signal("flash_sale", {"discount": 5})
    assert [target for target, _ in partly.value.failed] == [failing.id]
    assert {i.process_id for i in partly.value.reached} == {"signal_catch", "signal_start"}
    engine.run()
    assert engine.instance(waiting).status == InstanceStatus.COMPLETED
    assert engine.instance(failing).status == InstanceStatus.RUNNING


BROKEN_TIMER_START = routed_process(
    "hourly_report",
    "${missing &gt; 1}",
    lead_id="every_hour",
    lead="""
    <bpmn:startEvent id="every_hour"><bpmn:timerEventDefinition>
      <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>""",
)


def test_a_timer_start_that_cannot_start_its_instance_leaves_an_incident_on_the_schedule(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    path = tmp_path / "hourly_report.bpmn"
    path.write_text(BROKEN_TIMER_START)
    engine = make_engine()
    engine.deploy(path)
    clock.advance(hours=1)
    engine.run()
    [incident] = engine.incidents()
    assert incident.instance_id == "definition:hourly_report:1"
    assert incident.element_id == "every_hour" and "missing" in incident.message
    assert engine.instances() == []
    assert engine.retry(incident) == 1
    assert engine.incidents() == []
