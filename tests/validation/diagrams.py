"""Tiny process diagrams for the validation tests, written as compactly as the rules need."""

from __future__ import annotations

from bpmn.bpmn_diagrams import bpmn_file


def node(
    kind: str, node_id: str, name: str | None = "", *, attrs: str = "", inner: str = ""
) -> str:
    """A flow node; ``name=""`` names it after its id, ``None`` leaves it unnamed."""
    label = f' name="{name or node_id.title()}"' if name is not None else ""
    return f'    <bpmn:{kind} id="{node_id}"{label} {attrs}>{inner}</bpmn:{kind}>\n'


def flow(
    flow_id: str, source: str, target: str, condition: str | None = None, name: str | None = None
) -> str:
    """A sequence flow, conditional when ``condition`` is given."""
    label = f' name="{name}"' if name else ""
    body = (
        ""
        if condition is None
        else f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
        "</bpmn:conditionExpression>"
    )
    return (
        f'    <bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" '
        f'targetRef="{target}"{label}>{body}</bpmn:sequenceFlow>\n'
    )


def process(*parts: str, process_id: str = "p", extra: str = "") -> bytes:
    """A Camunda 8 file with one executable process made of ``parts``; ``extra`` goes after
    the process (messages, errors, a diagram)."""
    body = "".join(parts)
    return bpmn_file(
        f'  <bpmn:process id="{process_id}" name="P" isExecutable="true">\n'
        f"{body}  </bpmn:process>\n{extra}"
    )


START_TO_END = (
    node("startEvent", "start"),
    flow("f1", "start", "task"),
    node("task", "task"),
    flow("f2", "task", "end"),
    node("endEvent", "end"),
)
"""start -> task -> end: clean under every rule except no-bpmndi."""
