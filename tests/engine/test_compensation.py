"""Compensation as Camunda 8 runs it: a compensation throw (or end) event invokes the handlers
of the completed activities of its (sub)process, waits for them, then goes on.

A trip books a hotel and then a flight; each has a compensation boundary event associated with
its handler (cancelling the hotel is a job, cancelling the flight a person's task).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retailflow import DeploymentError, Engine, InstanceStatus
from retailflow.validation import validate
from scenario_kit import EngineFactory, Recorder, passed

C8 = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'


def job(element_id: str, job_type: str, extra: str = "") -> str:
    return (
        f'<bpmn:serviceTask id="{element_id}"{extra}><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/></bpmn:extensionElements>'
        "</bpmn:serviceTask>"
    )


def compensated(element_id: str) -> str:
    return (
        f'<bpmn:boundaryEvent id="{element_id}_compensation" attachedToRef="{element_id}">'
        "<bpmn:compensateEventDefinition/></bpmn:boundaryEvent>"
    )


def association(element_id: str, handler: str) -> str:
    return (
        f'<bpmn:association id="{element_id}_to_{handler}" associationDirection="One" '
        f'sourceRef="{element_id}_compensation" targetRef="{handler}"/>'
    )


def trip(tmp_path: Path, throw: str, *, flight_first: bool = False) -> Path:
    """``book_hotel`` then ``book_flight`` (or the other way round), then ``throw`` with id
    ``undo``, then the user task ``after`` (none when the throw is an end event)."""
    order = ("book_flight", "book_hotel") if flight_first else ("book_hotel", "book_flight")
    after = (
        ""
        if "endEvent" in throw
        else (
            '<bpmn:userTask id="after"/><bpmn:endEvent id="done"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="undo" targetRef="after"/>'
            '<bpmn:sequenceFlow id="f5" sourceRef="after" targetRef="done"/>'
        )
    )
    path = tmp_path / "trip.bpmn"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {C8}
    id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="trip" isExecutable="true">
    <bpmn:startEvent id="start"/>
    {job("book_hotel", "hotel.book")}{compensated("book_hotel")}
    {job("cancel_hotel", "hotel.cancel", ' isForCompensation="true"')}
    {job("book_flight", "flight.book")}{compensated("book_flight")}
    <bpmn:userTask id="cancel_flight" isForCompensation="true"/>
    {throw}{after}
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{order[0]}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="{order[0]}" targetRef="{order[1]}"/>
    <bpmn:sequenceFlow id="f3" sourceRef="{order[1]}" targetRef="undo"/>
    {association("book_hotel", "cancel_hotel")}{association("book_flight", "cancel_flight")}
  </bpmn:process>
</bpmn:definitions>""")
    return path


def throw_event(activity_ref: str | None = None, tag: str = "intermediateThrowEvent") -> str:
    ref = f' activityRef="{activity_ref}"' if activity_ref else ""
    return f'<bpmn:{tag} id="undo"><bpmn:compensateEventDefinition{ref}/></bpmn:{tag}>'


def travel_agency() -> Recorder:
    handlers = Recorder()
    for topic in ("hotel.book", "flight.book"):
        handlers.add(topic)
    handlers.add("hotel.cancel", {"hotel_cancelled": True})
    return handlers


def reloaded(
    make_engine: EngineFactory, store_url: str | None, engine: Engine, handlers: Recorder
) -> Engine:
    return engine if store_url is None else make_engine(handlers.registry)


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(task.element_id for task in engine.tasks(instance=instance_id))


def complete(
    engine: Engine, instance_id: str, element_id: str, variables: dict[str, Any] | None = None
) -> None:
    [task] = [t for t in engine.tasks(instance=instance_id) if t.element_id == element_id]
    engine.complete_task(task.id, variables or {})
    engine.run()


def test_a_compensation_throw_runs_every_handler_and_waits_for_them(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    handlers = travel_agency()
    engine = make_engine(handlers.registry)
    engine.deploy(trip(tmp_path, throw_event()))
    instance = engine.start("trip")
    engine.run()
    assert handlers.topics() == ["hotel.book", "flight.book", "hotel.cancel"]
    assert open_tasks(engine, instance.id) == ["cancel_flight"]  # the throw still waits
    engine = reloaded(make_engine, store_url, engine, handlers)
    complete(engine, instance.id, "cancel_flight", {"flight_cancelled": True})
    assert open_tasks(engine, instance.id) == ["after"]
    complete(engine, instance.id, "after")
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables["hotel_cancelled"] is True
    assert finished.variables["flight_cancelled"] is True
    route = passed(engine, instance.id)
    assert route.index("cancel_hotel") < route.index("undo") < route.index("after")
    assert route.index("cancel_flight") < route.index("undo")


def test_a_compensation_throw_with_an_activity_ref_runs_that_handler_only(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    handlers = travel_agency()
    engine = make_engine(handlers.registry)
    engine.deploy(trip(tmp_path, throw_event("book_flight")))
    instance = engine.start("trip")
    engine.run()
    assert open_tasks(engine, instance.id) == ["cancel_flight"]
    complete(engine, instance.id, "cancel_flight")
    assert "hotel.cancel" not in handlers.topics()
    assert open_tasks(engine, instance.id) == ["after"]


def test_a_compensation_end_event_ends_the_instance_once_its_handlers_are_done(
    make_engine: EngineFactory, store_url: str | None, tmp_path: Path
) -> None:
    handlers = travel_agency()
    engine = make_engine(handlers.registry)
    engine.deploy(trip(tmp_path, throw_event(tag="endEvent")))
    instance = engine.start("trip")
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING
    engine = reloaded(make_engine, store_url, engine, handlers)
    complete(engine, instance.id, "cancel_flight")
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED
    assert handlers.topics().count("hotel.cancel") == 1


def test_an_activity_not_yet_completed_is_not_compensated(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    throw = throw_event()
    process = trip(tmp_path, throw)
    # The throw comes right after the hotel: the flight is never booked, so never cancelled.
    text = process.read_text()
    text = text.replace(
        'sourceRef="book_hotel" targetRef="book_flight"', 'sourceRef="book_hotel" targetRef="undo"'
    )
    text = text.replace('<bpmn:sequenceFlow id="f3" sourceRef="book_flight" targetRef="undo"/>', "")
    process.write_text(text)
    handlers = travel_agency()
    engine = make_engine(handlers.registry)
    engine.deploy(process, require_handlers=False)
    instance = engine.start("trip")
    engine.run()
    assert handlers.topics() == ["hotel.book", "hotel.cancel"]
    assert open_tasks(engine, instance.id) == ["after"]


def test_an_activity_is_compensated_once_however_many_throws_reach_it(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    process = trip(tmp_path, throw_event("book_hotel"))
    text = process.read_text().replace(
        '<bpmn:userTask id="after"/>',
        '<bpmn:intermediateThrowEvent id="after"><bpmn:compensateEventDefinition/>'
        "</bpmn:intermediateThrowEvent>",
    )
    process.write_text(text)
    handlers = travel_agency()
    engine = make_engine(handlers.registry)
    engine.deploy(process)
    instance = engine.start("trip")
    engine.run()
    # The second throw compensates everything not compensated yet: the flight only.
    assert handlers.topics().count("hotel.cancel") == 1
    assert open_tasks(engine, instance.id) == ["cancel_flight"]
    complete(engine, instance.id, "cancel_flight")
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_a_compensation_boundary_without_a_handler_is_refused(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    process = trip(tmp_path, throw_event())
    process.write_text(process.read_text().replace(association("book_hotel", "cancel_hotel"), ""))
    with pytest.raises(DeploymentError) as refused:
        make_engine(travel_agency().registry).deploy(process)
    assert [(f.rule, f.element_id) for f in refused.value.findings] == [
        ("missing-reference", "book_hotel_compensation")
    ]


def test_a_throw_over_a_sub_process_with_compensation_inside_is_refused_saying_why(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested.bpmn"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {C8}
    id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="nested" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:subProcess id="bookings">
      <bpmn:startEvent id="inner_start"/>
      {job("book_hotel", "hotel.book")}{compensated("book_hotel")}
      {job("cancel_hotel", "hotel.cancel", ' isForCompensation="true"')}
      <bpmn:endEvent id="inner_end"/>
      <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="book_hotel"/>
      <bpmn:sequenceFlow id="g2" sourceRef="book_hotel" targetRef="inner_end"/>
      {association("book_hotel", "cancel_hotel")}
    </bpmn:subProcess>
    {throw_event(tag="endEvent")}
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="bookings"/>
    <bpmn:sequenceFlow id="f2" sourceRef="bookings" targetRef="undo"/>
  </bpmn:process>
</bpmn:definitions>""")
    findings = [
        d.finding for d in validate([path]).diagnostics if d.finding.rule == "unsupported-element"
    ]
    assert [f.element_id for f in findings] == ["undo"]
    assert "inside the sub-process 'bookings'" in findings[0].message


def test_a_compensation_event_subprocess_is_refused_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "event_subprocess.bpmn"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {C8}
    id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="with_handler" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:endEvent id="done"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="done"/>
    <bpmn:subProcess id="undo_all" triggeredByEvent="true">
      <bpmn:startEvent id="on_compensation"><bpmn:compensateEventDefinition/></bpmn:startEvent>
      <bpmn:endEvent id="undone"/>
      <bpmn:sequenceFlow id="g1" sourceRef="on_compensation" targetRef="undone"/>
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>""")
    findings = [
        (d.finding.rule, d.finding.element_id)
        for d in validate([path]).diagnostics
        if d.finding.severity.value == "error" and d.finding.rule != "label-required"
    ]
    assert ("unsupported-element", "on_compensation") in findings
