"""Files far larger than people draw, as generators write them: one line of XML, thousands of
branches, a straight chain of thousands of tasks. Validation finds every element's column, and
a long chain deploys and runs (SpiffWorkflow recurses once per element along a path)."""

from __future__ import annotations

from pathlib import Path

from retailflow import Engine, InstanceStatus
from retailflow.validation import validate

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
    '<bpmn:process id="p" isExecutable="true">'
)
TAIL = "</bpmn:process></bpmn:definitions>"


def one_line_branches(count: int) -> str:
    parts = [
        HEAD,
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" '
        'targetRef="g1"/><bpmn:parallelGateway id="g1"/><bpmn:parallelGateway id="g2"/>'
        '<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="fe" sourceRef="g2" targetRef="e"/>',
    ]
    for n in range(count):
        parts.append(
            f'<bpmn:task id="t{n}"/><bpmn:sequenceFlow id="a{n}" sourceRef="g1" '
            f'targetRef="t{n}"/><bpmn:sequenceFlow id="b{n}" sourceRef="t{n}" '
            'targetRef="g2"/>'
        )
    return "".join([*parts, TAIL])


def chain(count: int) -> str:
    """``count`` tasks in a row, the last one a user task (a wait state after the chain)."""
    parts = [
        HEAD,
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t0"/>',
    ]
    for n in range(count):
        target = f"t{n + 1}" if n < count - 1 else "e"
        kind = "userTask" if n == count - 1 else "task"
        parts.append(
            f'<bpmn:{kind} id="t{n}"/><bpmn:sequenceFlow id="a{n}" sourceRef="t{n}" '
            f'targetRef="{target}"/>'
        )
    return "".join([*parts, '<bpmn:endEvent id="e"/>', TAIL])


def test_every_finding_on_a_one_line_file_points_at_its_own_element(tmp_path: Path) -> None:
    text = one_line_branches(300)
    path = tmp_path / "wide.bpmn"
    path.write_text(text)
    report = validate([path])
    located = [d for d in report.diagnostics if d.finding.element_id]
    assert len(located) > 300
    for diagnostic in located:
        assert diagnostic.finding.line == 1
        opening = text[diagnostic.column - 1 :]
        assert opening.startswith("<")
        assert f'id="{diagnostic.finding.element_id}"' in opening.split(">", 1)[0]


def test_a_chain_of_2000_tasks_deploys_and_runs_to_its_end_after_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "chain.bpmn"
    path.write_text(chain(2000))
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    with Engine(url) as engine:
        engine.deploy(path)
        instance = engine.start("p")
        assert [task.element_id for task in engine.tasks(instance=instance.id)] == ["t1999"]
    with Engine(url) as reopened:  # the state is read back and the instance moved on
        [task] = reopened.tasks(instance=instance.id)
        reopened.complete_task(task)
        assert reopened.instance(instance.id).status == InstanceStatus.COMPLETED
