"""Cron time cycles: Camunda 8's Spring cron and Camunda 7's Quartz cron, on the virtual clock.

The virtual clock starts on Tuesday 1 January 2030, 00:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retailflow import DeploymentError, InstanceStatus, VirtualClock
from retailflow.validation import validate
from scenario_kit import EngineFactory, Recorder

C8 = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
C7 = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def timer_file(tmp_path: Path, body: str, namespace: str = C8) -> Path:
    path = tmp_path / "cron.bpmn"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {namespace}
    id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="cron" isExecutable="true">{body}</bpmn:process>
</bpmn:definitions>""")
    return path


def cycle(text: str) -> str:
    return (
        f"<bpmn:timerEventDefinition><bpmn:timeCycle>{text}</bpmn:timeCycle>"
        "</bpmn:timerEventDefinition>"
    )


def weekday_start(cron: str) -> str:
    return f"""<bpmn:startEvent id="weekdays">{cycle(cron)}</bpmn:startEvent>
    <bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="weekdays" targetRef="done"/>"""


def reminder_boundary(cron: str) -> str:
    return f"""<bpmn:startEvent id="start"/>
    <bpmn:userTask id="pack"/>
    <bpmn:boundaryEvent id="remind_timer" cancelActivity="false" attachedToRef="pack">
      {cycle(cron)}</bpmn:boundaryEvent>
    <bpmn:serviceTask id="remind">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="test.remind"/>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="done"/>
    <bpmn:endEvent id="reminded"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pack"/>
    <bpmn:sequenceFlow id="f2" sourceRef="pack" targetRef="done"/>
    <bpmn:sequenceFlow id="f3" sourceRef="remind_timer" targetRef="remind"/>
    <bpmn:sequenceFlow id="f4" sourceRef="remind" targetRef="reminded"/>"""


def at(day: int, hour: int) -> datetime:
    return datetime(2030, 1, day, hour, tzinfo=UTC)


def schedule_due(engine: object, element_id: str) -> list[datetime]:
    return [job.due_at for job in engine.jobs() if job.element_id == element_id]  # type: ignore[attr-defined]


def test_a_camunda_8_cron_start_event_starts_an_instance_each_weekday_at_nine(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.deploy(timer_file(tmp_path, weekday_start("0 0 9 * * MON-FRI")))
    assert schedule_due(engine, "weekdays") == [at(1, 9)]
    for day in (1, 2, 3, 4):  # Tuesday to Friday
        clock.set(at(day, 9))
        engine.run()
    assert schedule_due(engine, "weekdays") == [at(7, 9)]  # the weekend is skipped
    started = engine.instances(process_id="cron")
    assert len(started) == 4
    assert all(instance.status == InstanceStatus.COMPLETED for instance in started)


def test_a_spring_macro_starts_an_instance_daily_at_midnight(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.deploy(timer_file(tmp_path, weekday_start("@daily")))
    assert schedule_due(engine, "weekdays") == [at(2, 0)]


def test_a_camunda_7_quartz_boundary_cycle_reads_day_2_as_monday_and_repeats(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    handlers = Recorder()
    handlers.add("test.remind")
    engine = make_engine(handlers.registry)
    body = (
        reminder_boundary("0 0 9 ? * 2")
        .replace('<zeebe:taskDefinition type="test.remind"/>', "")
        .replace(
            '<bpmn:serviceTask id="remind">',
            '<bpmn:serviceTask id="remind" camunda:type="external" camunda:topic="test.remind">',
        )
    )
    engine.deploy(timer_file(tmp_path, body, C7))
    instance = engine.start("cron")
    assert schedule_due(engine, "remind_timer") == [at(7, 9)]  # Monday, not Tuesday
    clock.set(at(7, 9))
    engine.run()
    assert handlers.topics() == ["test.remind"]
    assert schedule_due(engine, "remind_timer") == [at(14, 9)]
    clock.set(at(14, 9))
    engine.run()
    assert handlers.topics() == ["test.remind", "test.remind"]
    [task] = engine.tasks(instance=instance.id)
    engine.complete_task(task.id)
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert schedule_due(engine, "remind_timer") == []


def test_a_quartz_last_friday_of_the_month_with_a_year(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine()
    engine.deploy(timer_file(tmp_path, weekday_start("0 30 17 ? * 6L 2031"), C7))
    assert schedule_due(engine, "weekdays") == [datetime(2031, 1, 31, 17, 30, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("namespace", "cron"),
    [
        (C8, "0 0 25 * * *"),  # hour 25
        (C8, "0 9 * * MON"),  # Unix cron: no seconds
        (C8, "@fortnightly"),
        (C7, "0 0 9 ? * 8"),  # Quartz days are 1-7
        (C7, "0 0 9 LW * ?"),  # not supported by the cron library
        (C8, "0 0 0 31 2 *"),  # 31 February never comes
    ],
)
def test_an_invalid_cron_is_refused_at_validate_and_deploy_naming_the_element(
    make_engine: EngineFactory, tmp_path: Path, namespace: str, cron: str
) -> None:
    path = timer_file(tmp_path, weekday_start(cron), namespace)
    with pytest.raises(DeploymentError) as refused:
        make_engine().deploy(path)
    assert [(f.rule, f.element_id) for f in refused.value.findings] == [
        ("expression-invalid", "weekdays")
    ]
    assert [
        (d.finding.rule, d.finding.element_id)
        for d in validate([path]).diagnostics
        if d.finding.rule == "expression-invalid"
    ] == [("expression-invalid", "weekdays")]


def test_a_cron_event_subprocess_timer_runs_the_subprocess_each_morning(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path
) -> None:
    handlers = Recorder()
    handlers.add("test.remind")
    engine = make_engine(handlers.registry)
    body = f"""<bpmn:startEvent id="start"/><bpmn:userTask id="pack"/><bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pack"/>
    <bpmn:sequenceFlow id="f2" sourceRef="pack" targetRef="done"/>
    <bpmn:subProcess id="mornings" triggeredByEvent="true">
      <bpmn:startEvent id="nine" isInterrupting="false">{cycle("0 0 9 * * *")}</bpmn:startEvent>
      <bpmn:serviceTask id="remind"><bpmn:extensionElements>
        <zeebe:taskDefinition type="test.remind"/></bpmn:extensionElements></bpmn:serviceTask>
      <bpmn:endEvent id="reminded"/>
      <bpmn:sequenceFlow id="g1" sourceRef="nine" targetRef="remind"/>
      <bpmn:sequenceFlow id="g2" sourceRef="remind" targetRef="reminded"/>
    </bpmn:subProcess>"""
    engine.deploy(timer_file(tmp_path, body))
    instance = engine.start("cron")
    for day in (1, 2, 3):
        assert schedule_due(engine, "nine") == [at(day, 9)]
        clock.set(at(day, 9))
        engine.run()
    assert handlers.topics() == ["test.remind"] * 3
    assert [task.element_id for task in engine.tasks(instance=instance.id)] == ["pack"]


@pytest.mark.parametrize("cycle_text", ["0 0 9 ? * *", "R/PT24H"])
def test_an_intermediate_catch_with_a_cycle_fires_once_at_its_first_time(
    make_engine: EngineFactory, clock: VirtualClock, tmp_path: Path, cycle_text: str
) -> None:
    """It used to fire again at every later time, each firing a new token past the event."""
    handlers = Recorder()
    handlers.add("test.after")
    engine = make_engine(handlers.registry)
    body = f"""<bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait">{cycle(cycle_text)}</bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="after" camunda:type="external" camunda:topic="test.after"/>
    <bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="done"/>"""
    engine.deploy(timer_file(tmp_path, body, C7))
    instance = engine.start("cron")
    for day in (2, 3, 4):
        clock.set(at(day, 9))
        engine.run()
    assert handlers.topics() == ["test.after"]
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert schedule_due(engine, "wait") == []


def test_a_quartz_cron_bound_to_one_year_fires_once_and_its_schedule_ends(
    tmp_path: Path, make_engine: EngineFactory, clock: VirtualClock
) -> None:
    engine = make_engine()
    engine.deploy(timer_file(tmp_path, weekday_start("0 0 12 1 1 ? 2031"), C7))
    clock.set(datetime(2031, 2, 1, tzinfo=UTC))
    engine.run()
    assert [i.status for i in engine.instances()] == [InstanceStatus.COMPLETED]
    assert engine.incidents() == []
    assert schedule_due(engine, "weekdays") == []  # no later firing: the schedule is done
