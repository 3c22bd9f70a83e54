"""Files as Camunda Modeler 5 writes them: what `retailflow validate` and `Engine.deploy` accept
or refuse, and that they agree (each refusal a finding naming the element)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailflow import Engine, HandlerRegistry, InstanceStatus
from retailflow.bpmn.languages import UnsupportedLanguage, declared_language
from retailflow.model import DeploymentError, Finding, Severity
from retailflow.validation import validate
from scenario_kit import ROOT, EngineFactory, passed

CONFORMANCE = ROOT / "tests" / "conformance"
DIALECTS = [pytest.param(CONFORMANCE / dialect, id=dialect) for dialect in ("c8", "c7")]


def validate_errors(path: Path) -> list[tuple[str, str | None]]:
    report = validate([path])
    return [
        (d.finding.rule, d.finding.element_id)
        for d in report.diagnostics
        if d.finding.severity == Severity.ERROR
    ]


def deploy_errors(path: Path) -> list[tuple[str, str | None]]:
    try:
        Engine(handlers=HandlerRegistry()).deploy(path, require_handlers=False)
    except DeploymentError as error:
        return [(f.rule, f.element_id) for f in error.findings if f.severity == Severity.ERROR]
    return []


def refusals(path: Path) -> list[tuple[str, str | None]]:
    """The errors both validate and deploy report; they must agree."""
    found = deploy_errors(path)
    assert sorted(validate_errors(path)) == sorted(found)
    return found


def findings_of(path: Path) -> list[Finding]:
    """What deploying the file reports: its errors, or the warnings it was deployed with."""
    try:
        deployment = Engine(handlers=HandlerRegistry()).deploy(path, require_handlers=False)
    except DeploymentError as error:
        return list(error.findings)
    return list(deployment.warnings)


# duplicate-id ---------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", DIALECTS)
def test_ids_on_extension_elements_may_repeat_element_ids(folder: Path) -> None:
    # A form field, an embedded form and a team's own audit extension carry ids of their own.
    assert refusals(folder / "extension_ids.bpmn") == []


# data objects and data stores -----------------------------------------------------------------


def run_to_end(path: Path, process_id: str, topic: str, tmp_path: Path) -> dict[str, object]:
    """Deploy on a SQLite file, run with a handler for ``topic`` and complete each user task;
    the variables the instance ended with."""
    handlers = HandlerRegistry()
    handlers.register(topic, lambda: {"reserved": True})
    with Engine(f"sqlite:///{tmp_path / 'engine.db'}", handlers=handlers) as engine:
        engine.deploy(path)
        instance = engine.start(process_id)
        engine.run()
        for task in engine.tasks(instance=instance.id):
            engine.complete_task(task, {})
        finished = engine.instance(instance.id)
        assert finished.status == InstanceStatus.COMPLETED
        return dict(finished.variables)


@pytest.mark.parametrize("folder", DIALECTS)
def test_data_store_of_a_non_executable_participant_is_skipped(
    folder: Path, tmp_path: Path
) -> None:
    # The executable participant's task writes to the store drawn in the other participant.
    path = folder / "data_store_collaboration.bpmn"
    assert refusals(path) == []
    assert run_to_end(path, "Process_1d6c9xa", "inventory.reserve", tmp_path) == {"reserved": True}


def test_a_declared_data_store_does_not_refuse_the_file(tmp_path: Path) -> None:
    # Other tools declare the store itself (bpmn:dataStore); SpiffWorkflow refused any it had
    # no implementation for, naming no element.
    drawn = (CONFORMANCE / "c8" / "data_store_collaboration.bpmn").read_text()
    declared = drawn.replace(
        "  <bpmn:collaboration ",
        '  <bpmn:dataStore id="DataStore_0n3x7kd" name="Stock ledger" />\n  <bpmn:collaboration ',
    ).replace(
        'name="Stock ledger" />\n  </bpmn:process>',
        'name="Stock ledger" dataStoreRef="DataStore_0n3x7kd" />\n  </bpmn:process>',
    )
    path = tmp_path / "declared_store.bpmn"
    path.write_text(declared)
    assert "bpmn:dataStore id" in declared and 'dataStoreRef="DataStore_0n3x7kd"' in declared
    assert refusals(path) == []


@pytest.mark.parametrize("folder", DIALECTS)
def test_data_objects_in_camunda_files_are_documentation(folder: Path, tmp_path: Path) -> None:
    path = folder / "data_objects.bpmn"
    assert refusals(path) == []
    [warning] = [f for f in findings_of(path) if f.severity == Severity.WARNING]
    assert (warning.rule, warning.element_id) == ("data-ignored", "DataObjectReference_0u4c1gd")
    # Nothing is read from or written to the data object: no variable named after it.
    assert run_to_end(path, "Process_0w8n4je", "billing.invoice", tmp_path) == {"reserved": True}


SPIFF_DATA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_1"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="invoice" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="write" />
    <bpmn:scriptTask id="write">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:dataOutputAssociation id="out"><bpmn:targetRef>ref</bpmn:targetRef>
      </bpmn:dataOutputAssociation>
      <bpmn:script>invoice_doc = "INV-1"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="write" targetRef="check" />
    <bpmn:userTask id="check">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:property id="placeholder" name="__targetRef_placeholder" />
      <bpmn:dataInputAssociation id="in"><bpmn:sourceRef>ref</bpmn:sourceRef>
        <bpmn:targetRef>placeholder</bpmn:targetRef></bpmn:dataInputAssociation>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:dataObjectReference id="ref" name="Invoice" dataObjectRef="invoice_doc" />
    <bpmn:dataObject id="invoice_doc" />
    STORE
  </bpmn:process>
</bpmn:definitions>
"""


def test_data_objects_in_spiffworkflow_files_run_as_spiffworkflow_runs_them(tmp_path: Path) -> None:
    path = tmp_path / "invoice.bpmn"
    path.write_text(SPIFF_DATA.replace("STORE", ""))
    with Engine() as engine:
        engine.deploy(path)
        instance = engine.start("invoice")
        [check] = engine.tasks(instance=instance.id)
        # The data object reaches the task that reads it, not the process's variables.
        assert check.variables == {"invoice_doc": "INV-1"}
        engine.complete_task(check, {})
        assert engine.instance(instance.id).variables == {"data_objects": {"invoice_doc": "INV-1"}}


def test_data_store_in_an_executable_spiffworkflow_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "invoice.bpmn"
    path.write_text(
        SPIFF_DATA.replace("STORE", '<bpmn:dataStoreReference id="ledger" name="Ledger" />')
    )
    # (validate adds its modelling rules here: the file is written without labels or DI)
    assert deploy_errors(path) == [("unsupported-element", "ledger")]


# declared expression languages ------------------------------------------------------------------


@pytest.mark.parametrize("folder", DIALECTS)
@pytest.mark.parametrize(
    ("amount", "end"),
    [(250, "Event_0h2w6nb"), (75, "Event_1t8k3ox"), (20, "Event_0c5j9ug"), (5, "Event_1r0p4yd")],
)
def test_conditions_are_read_in_the_language_they_declare(
    folder: Path, amount: int, end: str, make_engine: EngineFactory
) -> None:
    # FEEL without '=' (by URI, by Camunda 7's 'feel', by the definitions' expressionLanguage),
    # JUEL and Python side by side on one gateway.
    path = folder / "condition_language.bpmn"
    assert refusals(path) == []
    engine = make_engine()
    engine.deploy(path)
    order = engine.start("Process_1g2s7wm", variables={"amount": amount})
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert passed(engine, order.id)[-1] == end


@pytest.mark.parametrize(
    ("folder", "flow"),
    [
        pytest.param(CONFORMANCE / "c7", "Flow_0n3c5pz", id="c7-language"),
        pytest.param(CONFORMANCE / "c8", "Flow_1v9y2hf", id="c8-expressionLanguage"),
    ],
)
def test_a_condition_in_xpath_is_refused_naming_the_flow_and_the_language(
    folder: Path, flow: str
) -> None:
    path = folder / "condition_language_xpath.bpmn"
    assert refusals(path) == [("unsupported-language", flow)]
    [finding] = [f for f in findings_of(path) if f.rule == "unsupported-language"]
    assert "http://www.w3.org/1999/XPath" in finding.message


@pytest.mark.parametrize(
    ("declared", "language"),
    [
        ("https://www.omg.org/spec/DMN/20191111/FEEL/", "feel"),
        ("http://www.omg.org/spec/FEEL/20140401", "feel"),
        ("https://www.omg.org/spec/DMN/20230324/FEEL/", "feel"),
        ("feel", "feel"),
        ("juel", "juel"),
        ("python", "python"),
    ],
)
def test_the_names_camunda_modeler_and_the_omg_give_each_language(
    declared: str, language: str
) -> None:
    assert declared_language(declared) == language


@pytest.mark.parametrize("declared", ["http://www.w3.org/1999/XPath", "javascript", "groovy"])
def test_other_languages_are_unsupported(declared: str) -> None:
    with pytest.raises(UnsupportedLanguage):
        declared_language(declared)


# error end events -------------------------------------------------------------------------------


def handlers_for(*topics: str) -> tuple[HandlerRegistry, list[str]]:
    """A registry whose handlers record the job types they ran, returning nothing."""
    handlers, calls = HandlerRegistry(), []
    for topic in topics:
        handlers.register(topic, lambda topic=topic: calls.append(topic))
    return handlers, calls


@pytest.mark.parametrize("folder", DIALECTS)
def test_error_end_event_is_caught_by_the_boundary_of_its_sub_process(
    folder: Path, make_engine: EngineFactory
) -> None:
    handlers, calls = handlers_for("inventory.lookup", "crm.notify")
    engine = make_engine(handlers)
    engine.deploy(folder / "error_end_event.bpmn")
    order = engine.start("Process_0j7c3ya")
    engine.run()
    assert calls == ["inventory.lookup", "crm.notify"]
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert passed(engine, order.id)[-1] == "Event_1d6u8fo"


def test_uncaught_error_end_event_ends_the_path_in_camunda_7(make_engine: EngineFactory) -> None:
    # Camunda 7: "In case no matching error boundary event is found, the execution semantics
    # defaults to the none end event semantics."
    handlers, _ = handlers_for("inventory.lookup")
    engine = make_engine(handlers)
    engine.deploy(CONFORMANCE / "c7" / "error_end_uncaught.bpmn")
    order = engine.start("Process_1u9e4rx")
    engine.run()
    assert engine.instance(order.id).status == InstanceStatus.COMPLETED
    assert engine.incidents() == []


def test_uncaught_error_end_event_is_an_incident_in_camunda_8(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    # The same file drawn for Camunda 8, which raises an incident for an unhandled error.
    drawn = (CONFORMANCE / "c7" / "error_end_uncaught.bpmn").read_text()
    c8 = (
        drawn.replace(
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
            'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"',
        )
        .replace(
            '"Camunda Platform" modeler:executionPlatformVersion="7.21.0"',
            '"Camunda Cloud" modeler:executionPlatformVersion="8.5.0"',
        )
        .replace(' camunda:historyTimeToLive="180"', "")
        .replace(
            ' camunda:type="external" camunda:topic="inventory.lookup">',
            ">\n      <bpmn:extensionElements>\n        <zeebe:taskDefinition "
            'type="inventory.lookup" />\n      </bpmn:extensionElements>',
        )
    )
    assert "camunda:" not in c8
    path = tmp_path / "error_end_uncaught.bpmn"
    path.write_text(c8)
    handlers, calls = handlers_for("inventory.lookup")
    engine = make_engine(handlers)
    engine.deploy(path)
    order = engine.start("Process_1u9e4rx")
    engine.run()
    [incident] = engine.incidents()
    assert "OUT_OF_STOCK" in incident.message and "Event_0s4w8hn" in incident.message
    assert engine.instance(order.id).status == InstanceStatus.RUNNING
    assert "Event_0s4w8hn" not in passed(engine, order.id)
    assert calls == ["inventory.lookup"]


# scripts ----------------------------------------------------------------------------------------


def test_script_in_an_external_resource_is_refused_as_such() -> None:
    path = CONFORMANCE / "c7" / "script_resource.bpmn"
    assert refusals(path) == [("unsupported-element", "Activity_1x7b2ol")]
    [finding] = findings_of(path)
    assert "external resource" in finding.message
    assert "deployment://score_order.py" in finding.message
