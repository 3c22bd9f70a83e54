"""Variable mappings on business rule tasks and call activities, in both Modeler dialects.

A decision reads what its input mappings provide and writes only its output mappings' targets;
a call activity hands the called process what Camunda would (the caller's variables unless
``propagateAllParentVariables="false"``, plus its input mappings) and takes back what Camunda
would (the called process's variables unless output mappings or
``propagateAllChildVariables="false"`` say otherwise).
"""

from __future__ import annotations

from typing import Any

import pytest

from retailflow import Engine, InstanceStatus
from scenario_kit import FIXTURES, EngineFactory, Recorder

CUSTOMER = {"days_since_last_order": 12, "orders": 14, "spend": 2400}
ORDER = {"sku": "TEA-01", "quantity": 3}


def _finished_variables(
    engine: Engine, process_id: str, variables: dict[str, Any]
) -> dict[str, Any]:
    instance = engine.start(process_id, variables=variables)
    engine.run()
    finished = engine.instance(instance.id)
    assert finished.status == InstanceStatus.COMPLETED
    return finished.variables


@pytest.mark.parametrize("process_id", ["mapped_decision_c8", "mapped_decision_c7"])
def test_decision_reads_variables_only_its_input_mappings_provide_and_writes_the_renamed_result(
    make_engine: EngineFactory, process_id: str
) -> None:
    engine = make_engine()
    engine.deploy(
        FIXTURES / "mapped_decision.bpmn",
        FIXTURES / "mapped_decision_c7.bpmn",
        FIXTURES / "customer_segment.dmn",
    )
    variables = _finished_variables(engine, process_id, {"customer": CUSTOMER})
    # The table reads recency_days, frequency and monetary: only the input mappings set them.
    assert variables["customer_segment"] == "champion"
    # Inputs are local to the task; with an output mapping the result variable is too.
    assert not {"recency_days", "frequency", "monetary", "segment"} & set(variables)


def _reserving_engine(make_engine: EngineFactory) -> tuple[Engine, Recorder]:
    recorder = Recorder()
    recorder.add("test.reserve", lambda v: {"reserved": v["quantity"], "warehouse": "north"})
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "mapped_call_activity.bpmn", FIXTURES / "mapped_call_activity_c7.bpmn")
    return engine, recorder


def _seen_by_called_process(recorder: Recorder) -> dict[str, Any]:
    [(_, seen, _)] = recorder.calls
    return seen


def test_call_activity_without_parent_propagation_passes_only_mapped_inputs_and_gets_back_only_mapped_outputs(  # noqa: E501
    make_engine: EngineFactory,
) -> None:
    engine, recorder = _reserving_engine(make_engine)
    variables = _finished_variables(
        engine, "call_mapped_only", {"order": ORDER, "customer_note": "leave at the door"}
    )
    assert _seen_by_called_process(recorder) == {"sku": "TEA-01", "quantity": 3}
    # propagateAllChildVariables="true" is overruled by the output mapping, as in Camunda 8.
    assert variables == {
        "order": ORDER,
        "customer_note": "leave at the door",
        "reserved_quantity": 3,
    }


def test_call_activity_by_default_passes_every_variable_plus_its_inputs_and_gets_every_child_variable_back(  # noqa: E501
    make_engine: EngineFactory,
) -> None:
    engine, recorder = _reserving_engine(make_engine)
    variables = _finished_variables(engine, "call_propagating_all", {"order": ORDER})
    assert _seen_by_called_process(recorder) == {"order": ORDER, "sku": "TEA-01", "quantity": 3}
    assert variables["reserved"] == 3 and variables["warehouse"] == "north"
    assert variables["order"] == ORDER


def test_call_activity_without_child_propagation_or_outputs_gets_nothing_back(
    make_engine: EngineFactory,
) -> None:
    engine, recorder = _reserving_engine(make_engine)
    variables = _finished_variables(engine, "call_without_child_variables", {"order": ORDER})
    assert _seen_by_called_process(recorder)["sku"] == "TEA-01"
    assert variables == {"order": ORDER}


def test_camunda7_call_activity_passes_only_camunda_in_and_returns_only_camunda_out(
    make_engine: EngineFactory,
) -> None:
    engine, recorder = _reserving_engine(make_engine)
    variables = _finished_variables(
        engine,
        "call_mapped_only_c7",
        {"order_sku": "TEA-01", "order_quantity": 3, "customer_note": "leave at the door"},
    )
    assert _seen_by_called_process(recorder) == {"sku": "TEA-01", "quantity": 3}
    assert variables == {
        "order_sku": "TEA-01",
        "order_quantity": 3,
        "customer_note": "leave at the door",
        "reserved_quantity": 3,
    }


def test_camunda7_variables_all_passes_and_returns_everything_alongside_the_mappings(
    make_engine: EngineFactory,
) -> None:
    engine, recorder = _reserving_engine(make_engine)
    variables = _finished_variables(
        engine, "call_propagating_all_c7", {"order_sku": "TEA-01", "order_quantity": 3}
    )
    assert _seen_by_called_process(recorder) == {
        "order_sku": "TEA-01",
        "order_quantity": 3,
        "sku": "TEA-01",
        "quantity": 3,
    }
    assert variables["reserved_quantity"] == 3
    assert variables["reserved"] == 3 and variables["warehouse"] == "north"
