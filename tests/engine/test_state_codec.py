"""The instance state checkpoint restores exactly the run it was written from.

Every state a run stores is read back at once and compared with the live run field by field:
each workflow's task table in order (ids, tree, states, times of change, specs, data with its
types, internal data), its own attributes, its sub-workflows and the events it waits for. The
conformance files drive the runs, so timers, messages, signals, boundary events,
sub-processes, call activities and multi-instance activities all go through it; the store a
release wrote in format 2 (``tests/fixtures/states``) is read back the same way.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from uuid import uuid4

import orjson
import pytest

from conformance.suite import Case, cases
from conformance.test_conformance import SuiteHandlers, _drive_to_end, _start
from retailflow import Engine, InstanceStatus, VirtualClock
from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.engine.spiff import CompiledProcess, SourceTree, StateCodec, compile_processes
from retailflow.engine.spiff.workflow import RetailWorkflow
from scenario_kit import FIXTURES

RUNNING = [case for case in cases() if not case.drive.refused]


def plain(value: Any) -> Any:
    """A value as nested tuples that compare equal only when the values are the same: types
    kept (1, 1.0 and True differ), dict keys in any order, objects by class and attributes.
    A tuple is a list: the engine's own bookkeeping holds some, and JSON has only lists."""
    if isinstance(value, dict):
        return ("dict", sorted(((repr(key), plain(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        return ("list", [plain(item) for item in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted(plain(item) for item in value))
    if isinstance(value, int | float | str | bytes | type(None)) or not hasattr(value, "__dict__"):
        return (type(value).__name__, repr(value))
    return (type(value).__name__, plain(vars(value)))


def snapshot(workflow: Any) -> Any:
    """What a restored workflow must have the same as the live one."""

    def one(flow: Any) -> Any:
        return (
            type(flow).__name__,
            [
                (
                    type(task).__name__,
                    task.id,
                    task._parent,
                    list(task._children),
                    task.state,
                    task.last_state_change,
                    task.task_spec.name,
                    task.triggered,
                    plain(task.data),
                    plain(task.internal_data),
                )
                for task in flow.tasks.values()
            ],
            flow.task_tree.id,
            flow.last_task.id if flow.last_task is not None else None,
            flow.success,
            flow.completed,
            plain(flow.correlations),
            plain(flow.data),
        )

    return (
        one(workflow),
        [(task_id, one(sub)) for task_id, sub in workflow.subprocesses.items()],
        sorted(workflow.event_manager.tasks),
        workflow.bpmn_events,
    )


class RoundTrips:
    """``StateCodec`` with each dump read back and compared with the run it came from, and
    each state restored from an older format written again and read back the same."""

    def __init__(self) -> None:
        self.dumped = 0
        self.upgraded = 0
        self._dump = StateCodec.dump
        self._load = StateCodec.load

    def dump(self, codec: StateCodec, workflow: Any) -> bytes:
        state = self._dump(codec, workflow)
        assert orjson.loads(state)["format"] == "retailflow-state/3"
        specs = SimpleNamespace(spec=workflow.spec, subprocess_specs=workflow.subprocess_specs)
        restored = self._load(codec, state, cast(CompiledProcess, specs))
        assert snapshot(restored) == snapshot(workflow)
        self.dumped += 1
        return state

    def load(self, codec: StateCodec, state: bytes, compiled: CompiledProcess) -> Any:
        workflow = self._load(codec, state, compiled)
        if orjson.loads(state)["format"] != "retailflow-state/3":
            again = self._load(codec, self._dump(codec, workflow), compiled)
            assert snapshot(again) == snapshot(workflow)
            self.upgraded += 1
        return workflow


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    checked = RoundTrips()
    # Functions, not bound methods: the engine calls them as its codec's methods.
    monkeypatch.setattr(StateCodec, "dump", lambda codec, workflow: checked.dump(codec, workflow))
    monkeypatch.setattr(
        StateCodec, "load", lambda codec, state, compiled: checked.load(codec, state, compiled)
    )
    yield checked


@pytest.mark.parametrize("case", RUNNING, ids=str)
def test_every_state_a_conformance_run_stores_restores_to_the_same_run(
    case: Case, round_trips: RoundTrips
) -> None:
    """(A run that never waits stores no state: nothing to compare.)"""
    with Engine(handlers=SuiteHandlers(case.drive.handlers), clock=VirtualClock()) as engine:
        started = _start(engine, engine.deploy(*case.files), case.drive)
        assert _drive_to_end(engine, started.id, case).status == InstanceStatus.COMPLETED


def test_states_a_release_stored_in_format_2_are_written_again_the_same(
    tmp_path: Path, round_trips: RoundTrips
) -> None:
    database = tmp_path / "release.db"
    shutil.copy(FIXTURES / "states" / "release_states.db", database)
    clock = VirtualClock(datetime(2030, 1, 1, tzinfo=UTC))
    with Engine(f"sqlite:///{database}", clock=clock) as engine:
        for instance in engine.instances():
            engine.set_variables(instance, {"touched": True})
    assert (round_trips.upgraded, round_trips.dumped) == (5, 5)


def test_a_task_naming_one_not_in_its_table_restores_naming_the_same_id() -> None:
    """SpiffWorkflow looks a task's parent and children up with ``get``: one it names may be
    gone from the table. The state names it by its id, not by a place in the list."""
    path = FIXTURES / "gateways.bpmn"
    document = read_document(SourceFile.of(path.name, path.read_bytes()))
    assert isinstance(document, BpmnDocument)
    [process_id] = [p.get("id") for p in document.root.iter("{*}process")]
    compiled = compile_processes([SourceTree(document.name, document.root)], [process_id])
    workflow = RetailWorkflow(compiled[process_id].spec, compiled[process_id].subprocess_specs)
    codec = StateCodec()
    codec.dump(workflow)  # the entries are kept, then changed under them
    root = workflow.task_tree
    root._children.append(uuid4())
    orphan = next(task for task in workflow.tasks.values() if task is not root)
    orphan._parent = uuid4()
    restored = codec.load(codec.dump(workflow), compiled[process_id])
    assert snapshot(restored) == snapshot(workflow)
