"""SpiffWorkflow's own log records, which the seam builds only when the ``spiff`` loggers write
them (``retailflow.engine.spiff.workflow``): an application that asks for them still gets every
record, with SpiffWorkflow's extras, on a started and on a restored instance alike."""

from __future__ import annotations

import logging

import pytest

from retailflow import InstanceStatus
from scenario_kit import FIXTURES, EngineFactory, Recorder


def run_call_activity(make_engine: EngineFactory) -> None:
    """A parent process with a job, then a call activity whose child has a job: the parent's
    and the child's tasks change state, and the instance is restored between jobs."""
    recorder = Recorder()
    recorder.add("test.prepare", {"prepared": True})
    recorder.add("test.child", {"done": True})
    engine = make_engine(recorder.registry)
    engine.deploy(FIXTURES / "call_activity.bpmn")
    instance = engine.start("parent_process")
    engine.run()
    assert engine.instance(instance.id).status == InstanceStatus.COMPLETED


def test_at_info_every_state_change_and_the_workflow_start_and_end_are_logged(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spiff")
    run_call_activity(make_engine)
    changes = [r for r in caplog.records if r.name == "spiff.task"]
    completed = {r.task_spec for r in changes if r.getMessage() == "State changed to COMPLETED"}
    assert {"prepare", "child_work", "call_child"} <= completed
    assert all(r.levelno == logging.INFO and r.state and r.task_id for r in changes)
    assert all(hasattr(r, "data") for r in changes)  # spiff.task's own level is below INFO
    workflow = [r.getMessage() for r in caplog.records if r.name == "spiff.workflow"]
    assert workflow.count("Initialized workflow") == 2  # the process and its child
    assert "Workflow completed" in workflow
    started = next(r for r in caplog.records if r.getMessage() == "Initialized workflow")
    assert started.workflow_spec == "parent_process" and started.tasks


def test_at_debug_unchanged_states_are_logged_too(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="spiff")
    run_call_activity(make_engine)
    assert any(r.getMessage().startswith("State set to ") for r in caplog.records)


def test_at_warning_nothing_is_logged(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("spiff").setLevel(logging.WARNING)
    run_call_activity(make_engine)
    assert not [r for r in caplog.records if r.name.startswith("spiff")]
