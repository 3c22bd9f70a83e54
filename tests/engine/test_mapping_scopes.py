"""Where variable mappings apply and what they see, as in Camunda: an output mapping is
evaluated in the element's own scope (its input mappings' local variables included), and the
output mappings of message and timer catch events and message start events decide what the
catch writes into the process."""

from __future__ import annotations

import pytest

from retailflow import InstanceStatus, VirtualClock
from scenario_kit import ROOT, EngineFactory, Recorder

CONFORMANCE = ROOT / "tests" / "conformance"


@pytest.mark.parametrize(
    ("dialect", "process_id"), [("c8", "Process_1b8w4mz"), ("c7", "Process_0e4r7yn")]
)
def test_an_output_mapping_reads_the_tasks_input_mapped_variables(
    make_engine: EngineFactory, dialect: str, process_id: str
) -> None:
    recorder = Recorder()
    recorder.add("stock.check", {"available": 5})
    engine = make_engine(recorder.registry)
    engine.deploy(CONFORMANCE / dialect / "output_mapping_reads_input.bpmn")

    instance = engine.start(process_id, variables={"order": {"quantity": 3}})
    engine.run()

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    # `available >= quantity` read quantity (an input mapping) as null before.
    assert finished.variables == {"order": {"quantity": 3}, "in_stock": True}


@pytest.mark.parametrize(
    ("dialect", "process_id", "key"),
    [("c8", "Process_0t5y1gd", "SO-7"), ("c7", "Process_0v3m8qa", None)],
)
def test_message_and_timer_catch_events_write_only_their_output_mappings_targets(
    make_engine: EngineFactory, clock: VirtualClock, dialect: str, process_id: str, key: str | None
) -> None:
    engine = make_engine()
    deployment = engine.deploy(CONFORMANCE / dialect / "catch_event_output_mapping.bpmn")
    assert deployment.warnings == []  # no "mapping-ignored" any more
    variables = {"order_id": "SO-7"} if key else {}
    instance = engine.start(process_id, variables=variables)

    engine.correlate("payment-received", key=key, variables={"amount": 42, "card": "visa"})
    clock.advance(minutes=15)
    engine.run()

    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    # The payload's card stays local to the catch: only the mapped targets are written.
    assert finished.variables == {**variables, "paid_amount": 42, "cooling_off_passed": True}


@pytest.mark.parametrize(
    ("dialect", "process_id"), [("c8", "Process_1r9d4kw"), ("c7", "Process_1w6z0tk")]
)
def test_a_message_start_event_writes_its_output_mappings(
    make_engine: EngineFactory, dialect: str, process_id: str
) -> None:
    engine = make_engine()
    engine.deploy(CONFORMANCE / dialect / "message_start_output_mapping.bpmn")

    instance = engine.correlate("order-placed", variables={"order": {"id": "SO-9", "lines": []}})

    assert instance is not None and instance.process_id == process_id
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    assert finished.variables == {"order_id": "SO-9"}
