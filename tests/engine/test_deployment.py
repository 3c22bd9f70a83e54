"""Deploying: all or nothing, versioned by content, every problem reported with its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retailflow import DeploymentError, InstanceStatus, NotFoundError, RetailflowError
from scenario_kit import FIXTURES, EngineFactory, Recorder, routed_process

ORDER = FIXTURES / "order_fulfilment_c8.bpmn"


def order_handlers() -> Recorder:
    recorder = Recorder()
    for topic in ("inventory.reserve", "inventory.release", "orders.ship", "crm.notify_customer"):
        recorder.add(topic)
    return recorder


def test_identical_redeploy_changes_nothing_and_a_changed_file_is_a_new_version(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine(order_handlers().registry)
    first = engine.deploy(ORDER)
    assert [d.id for d in first.created] == ["order_fulfilment_c8:1"]
    again = engine.deploy(ORDER)
    assert again.created == [] and [d.id for d in again.unchanged] == ["order_fulfilment_c8:1"]

    running = engine.start(
        "order_fulfilment_c8",
        business_key="SO-1",
        variables={"order_id": "SO-1", "items": [], "customer_id": "C"},
    )
    changed = tmp_path / "order_fulfilment_c8.bpmn"
    changed.write_text(ORDER.read_text().replace("Pick and pack", "Pick, pack and label"))
    second = engine.deploy(changed)
    assert [d.id for d in second.created] == ["order_fulfilment_c8:2"]
    assert (
        engine.start(
            "order_fulfilment_c8", variables={"order_id": "SO-2", "items": [], "customer_id": "C"}
        ).definition_id
        == "order_fulfilment_c8:2"
    )
    assert engine.instance(running.id).definition_id == "order_fulfilment_c8:1"
    engine.run()
    engine.correlate("payment_received", key="SO-1")
    assert [t.element_id for t in engine.tasks(instance=running.id)] == ["pick_and_pack"]


def test_one_broken_file_refuses_the_whole_deployment(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine(order_handlers().registry)
    shutil.copy(ORDER, tmp_path / "good.bpmn")
    (tmp_path / "broken.bpmn").write_text("<bpmn:definitions xmlns:bpmn='x'><unclosed>")
    with pytest.raises(DeploymentError) as refused:
        engine.deploy(tmp_path)
    [finding] = refused.value.findings
    assert finding.rule == "xml-malformed" and finding.file.endswith("broken.bpmn")
    assert finding.line == 1
    assert engine.definitions() == []
    with pytest.raises(NotFoundError, match="deploy its file first"):
        engine.start("order_fulfilment_c8")


def test_a_task_type_without_a_handler_is_an_error_naming_the_element(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    with pytest.raises(DeploymentError) as refused:
        engine.deploy(ORDER)
    missing = {f.element_id: f for f in refused.value.findings if f.rule == "handler-missing"}
    assert set(missing) >= {"reserve_stock", "ship_order", "release_stock"}
    assert missing["reserve_stock"].line is not None
    assert "inventory.reserve" in missing["reserve_stock"].message
    assert engine.deploy(ORDER, require_handlers=False).created


def test_unsupported_elements_are_reported_not_silently_dropped(make_engine: EngineFactory) -> None:
    engine = make_engine()
    with pytest.raises(DeploymentError) as refused:
        engine.deploy(FIXTURES / "unsupported.bpmn", require_handlers=False)
    flagged = {f.element_id for f in refused.value.findings if f.rule == "unsupported-element"}
    assert "complex_split" in flagged
    # link events and compensation run
    assert not {"to_finish", "from_link", "compensate_booking", "undo_booking"} & flagged
    assert all(
        f.file and f.file.endswith("unsupported.bpmn") and f.line for f in refused.value.findings
    )


def test_a_process_marked_not_executable_is_skipped_with_a_warning(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    deployment = engine.deploy(FIXTURES / "not_executable.bpmn")
    assert deployment.created == []
    assert [w.rule for w in deployment.warnings] == ["process-not-executable"]
    with pytest.raises(NotFoundError):
        engine.start("draft_process")


@pytest.mark.parametrize(
    "document",
    [
        """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&xxe;" isExecutable="true"/>
</bpmn:definitions>""",
        """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol3;" isExecutable="true"/>
</bpmn:definitions>""",
    ],
)
def test_xxe_and_entity_expansion_files_are_refused(
    make_engine: EngineFactory, tmp_path: Path, document: str
) -> None:
    path = tmp_path / "evil.bpmn"
    path.write_text(document)
    engine = make_engine()
    with pytest.raises(DeploymentError) as refused:
        engine.deploy(path)
    assert [f.rule for f in refused.value.findings] == ["xml-unsafe"]
    assert "root:" not in str(refused.value)  # nothing of /etc/passwd leaked into the error


@pytest.mark.parametrize(
    "condition",
    [
        "__import__('os').system('touch /tmp/retailflow-pwned')",
        "().__class__.__base__.__subclasses__()",
    ],
)
def test_code_injection_in_a_condition_is_refused_at_deploy(
    make_engine: EngineFactory, tmp_path: Path, condition: str
) -> None:
    path = tmp_path / "injected.bpmn"
    path.write_text(routed_process("injected", condition.replace("'", "&apos;")))
    engine = make_engine()
    with pytest.raises(DeploymentError) as refused:
        engine.deploy(path)
    [finding] = [f for f in refused.value.findings if f.rule == "expression-invalid"]
    assert finding.element_id == "when"
    assert not Path("/tmp/retailflow-pwned").exists()


def test_a_condition_reaching_for_files_is_refused_when_evaluated(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "injected.bpmn"
    path.write_text(routed_process("injected", "open(&apos;/etc/passwd&apos;).read()"))
    engine = make_engine()
    engine.deploy(path)
    with pytest.raises(RetailflowError) as refused:
        engine.start("injected")
    assert "open" in str(refused.value) and "route" in str(refused.value)
    assert engine.instances() == []


def test_code_injection_through_variables_cannot_escape_at_run_time(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "injected.bpmn"
    path.write_text(routed_process("injected", "payload.get(&apos;x&apos;) == 1"))
    engine = make_engine()
    engine.deploy(path)
    with pytest.raises(RetailflowError, match=r"'__builtins__\.open' is of type builtin_function"):
        engine.start("injected", variables={"payload": {"x": 1}, "__builtins__": {"open": open}})
    instance = engine.start(
        "injected", variables={"payload": {"x": 1}, "__builtins__": {"open": "x"}}
    )
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


FAILING_AFTER_JOB = routed_process(
    "after_job",
    "${score &gt; 10}",
    lead_id="work",
    lead="""
    <bpmn:startEvent id="start"/>
    <bpmn:serviceTask id="work"><bpmn:extensionElements>
      <zeebe:taskDefinition type="test.work"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="to_work" sourceRef="start" targetRef="work"/>""",
)


def test_a_condition_failing_after_a_job_leaves_an_incident_and_the_instance_in_place(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "after_job.bpmn"
    path.write_text(FAILING_AFTER_JOB)
    recorder = Recorder()
    recorder.add("test.work", {"done": True})
    engine = make_engine(recorder.registry)
    engine.deploy(path)
    instance = engine.start("after_job")
    engine.run()
    [incident] = engine.incidents(instance=instance.id)
    assert incident.element_id == "work" and "route" in incident.message
    assert "score" in incident.message
    assert engine.instance(instance.id).status == InstanceStatus.RUNNING
    assert [j.element_id for j in engine.jobs(instance=instance.id)] == ["work"]
