"""The seam's cheaper stepping (``retailflow.engine.spiff.workflow``) gives SpiffWorkflow's own
answers: a copied task tree is the tree SpiffWorkflow plants, and the direct walks find what
SpiffWorkflow's task iterator finds, on every conformance and fixture process and on a chain
deeper than the iterator looks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import RFC_4122, UUID

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskState

from retailflow.bpmn import BpmnDocument, SourceFile, read_document
from retailflow.engine.spiff import (
    CompiledProcess,
    RetailScriptEngine,
    SourceTree,
    compile_processes,
    with_room_for,
)
from retailflow.engine.spiff.workflow import RetailEndJoin, RetailWorkflow
from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import DeploymentError, RetailflowError

TESTS = Path(__file__).resolve().parents[1]
FILES = sorted(
    [
        *(TESTS / "conformance" / "c7").glob("*.bpmn"),
        *(TESTS / "conformance" / "c8").glob("*.bpmn"),
        *(TESTS / "fixtures").glob("*.bpmn"),
    ]
)
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def no_decisions(*_: Any) -> Any:
    raise RetailflowError("no decisions here")


SCRIPTS = RetailScriptEngine(
    ExpressionEngine(default_dialect=Dialect.PYTHON),
    lambda: datetime(2026, 1, 1, tzinfo=UTC),
    no_decisions,
)


def compiled_processes(path: Path) -> list[CompiledProcess]:
    document = read_document(SourceFile.of(path.name, path.read_bytes()))
    assert isinstance(document, BpmnDocument)
    ids = [process.id for process in document.processes if process.executable]
    try:
        return list(compile_processes([SourceTree(document.name, document.root)], ids).values())
    except DeploymentError:
        return []  # a file the conformance suite expects to be refused


def sidecar_variables(path: Path) -> dict[str, Any]:
    """The variables the conformance suite starts the file with."""
    sidecar = path.with_suffix(".json")
    variables: dict[str, Any] = (
        json.loads(sidecar.read_text()).get("variables", {}) if sidecar.exists() else {}
    )
    return variables


def shape(workflow: Any) -> list[tuple[Any, ...]]:
    """Everything of a tree but its ids and times, in the task table's order."""
    order = {task_id: index for index, task_id in enumerate(workflow.tasks)}
    return [
        (
            task.task_spec.name,
            order.get(task._parent),
            [order[child] for child in task._children],
            task._state,
            task.thread_id,
            task.data,
            task.internal_data,
            task.triggered,
        )
        for task in workflow.tasks.values()
    ]


def workflows(workflow: Any) -> Iterator[Any]:
    yield workflow
    yield from workflow.subprocesses.values()


def assert_walks_agree(workflow: Any) -> None:
    for each in workflows(workflow):
        for task in each.tasks.values():
            name = task.task_spec.name
            expected = list(BpmnTaskIterator(task, spec_name=name))
            assert each.get_tasks(task, spec_name=name) == expected
            if isinstance(task.task_spec, _EndJoin):
                spec = task.task_spec
                assert isinstance(spec, RetailEndJoin)
                assert spec._check_threshold_unstructured(
                    task
                ) == _EndJoin._check_threshold_unstructured(spec, task)


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_copied_tree_and_the_direct_walks_match_spiffworkflow(path: Path) -> None:
    for compiled in compiled_processes(path):
        planted = BpmnWorkflow(compiled.spec, compiled.subprocess_specs)
        for _ in range(2):  # the first may learn the tree, the second copies it
            copied = RetailWorkflow(compiled.spec, compiled.subprocess_specs, SCRIPTS)
            assert shape(copied) == shape(planted)
        assert_walks_agree(copied)
        for task in (copied.task_tree, *copied.task_tree.children):
            task.data.update(sidecar_variables(path))
        # Something that needs the engine (a handler, a message) stops it: compared so far.
        with suppress(SpiffWorkflowException, RetailflowError, TypeError):
            copied.do_engine_steps()
        assert_walks_agree(copied)


def chain(count: int) -> str:
    tasks = "".join(
        f'<bpmn:task id="t{n}"/><bpmn:sequenceFlow id="f{n}" sourceRef="t{n}" '
        f'targetRef="{f"t{n + 1}" if n < count - 1 else "e"}"/>'
        for n in range(count)
    )
    return (
        f'<bpmn:definitions xmlns:bpmn="{BPMN}" id="d"><bpmn:process id="chain" '
        'isExecutable="true"><bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" '
        f'targetRef="t0"/>{tasks}<bpmn:endEvent id="e"/></bpmn:process></bpmn:definitions>'
    )


def test_past_the_iterators_depth_the_walks_see_what_it_sees() -> None:
    document = read_document(SourceFile.of("chain.bpmn", chain(1200).encode()))
    assert isinstance(document, BpmnDocument)
    compiled = compile_processes([SourceTree(document.name, document.root)], ["chain"])["chain"]
    assert compiled.deep
    workflow = with_room_for(
        compiled, lambda: RetailWorkflow(compiled.spec, compiled.subprocess_specs)
    )
    root = workflow.task_tree
    deep = next(t for t in workflow.tasks.values() if t.task_spec.name == "t1100")
    assert workflow.get_tasks(root, spec_name="t1100") == []  # beyond the iterator's depth
    assert workflow.get_tasks(root, spec_name="t900") != []
    assert workflow.get_tasks(deep, spec_name="t1100") == [deep]
    joins = [t for t in workflow.tasks.values() if isinstance(t.task_spec, _EndJoin)]
    assert joins
    assert_walks_agree(workflow)
    # Everything the iterator can see has finished: only tasks below its depth are open.
    for task in workflow.tasks.values():
        depth = len(list(_ancestors(task)))
        if depth <= 1000:
            task._state = TaskState.COMPLETED
    join = joins[0]
    join._state = TaskState.WAITING
    assert join.task_spec._check_threshold_unstructured(join)
    assert_walks_agree(workflow)


def _ancestors(task: Any) -> Iterator[Any]:
    parent = task.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def test_the_second_instance_of_a_spec_is_copied_not_predicted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled = compiled_processes(TESTS / "fixtures" / "gateways.bpmn")[0]
    RetailWorkflow(compiled.spec, compiled.subprocess_specs, SCRIPTS)
    predicted: list[Any] = []
    predict = TaskSpec._predict

    def counting(spec: TaskSpec, *args: Any, **kwargs: Any) -> None:
        predicted.append(spec)
        predict(spec, *args, **kwargs)

    monkeypatch.setattr(TaskSpec, "_predict", counting)
    copied = RetailWorkflow(compiled.spec, compiled.subprocess_specs, SCRIPTS)
    assert predicted == []
    assert shape(copied) == shape(BpmnWorkflow(compiled.spec, compiled.subprocess_specs))
    assert predicted  # SpiffWorkflow's own planting predicts


def test_task_ids_are_random_version_4_uuids() -> None:
    compiled = compiled_processes(TESTS / "fixtures" / "gateways.bpmn")[0]
    ids = [
        task.id
        for _ in range(20)
        for task in RetailWorkflow(compiled.spec, compiled.subprocess_specs, SCRIPTS).tasks.values()
    ]
    assert len(set(ids)) == len(ids)
    for task_id in ids:
        assert task_id.version == 4 and task_id.variant == RFC_4122
        assert UUID(str(task_id)) == task_id and hash(UUID(str(task_id))) == hash(task_id)
