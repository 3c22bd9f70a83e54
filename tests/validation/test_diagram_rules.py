"""BPMN DI rules: every element drawn, no shape hiding another."""

from __future__ import annotations

from diagrams import START_TO_END, process
from lxml import etree

from retailflow.validation.diagram_rules import check_diagram


def diagram(shapes: dict[str, tuple[int, int, int, int]], edges: tuple[str, ...] = ("f1", "f2")
            ) -> str:
    drawn = "".join(
        f'      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
        f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" /></bpmndi:BPMNShape>\n'
        for element, (x, y, w, h) in shapes.items())
    drawn += "".join(
        f'      <bpmndi:BPMNEdge id="{edge}_di" bpmnElement="{edge}">'
        '<di:waypoint x="0" y="0" /><di:waypoint x="1" y="1" /></bpmndi:BPMNEdge>\n'
        for edge in edges)
    return ('  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="plane" bpmnElement="p">\n'
            f"{drawn}  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n")


APART = {"start": (100, 100, 36, 36), "task": (200, 78, 100, 80), "end": (350, 100, 36, 36)}


def found(content: bytes) -> list[tuple[str, str | None, str]]:
    root = etree.fromstring(content)
    return [(f.rule, f.element_id, f.message) for f in check_diagram("p.bpmn", root)]


def test_a_fully_drawn_tidy_diagram_has_no_findings() -> None:
    assert found(process(*START_TO_END, extra=diagram(APART))) == []


def test_an_element_without_a_shape_or_edge_is_reported_as_no_bpmndi() -> None:
    shapes = {key: value for key, value in APART.items() if key != "task"}

    assert found(process(*START_TO_END, extra=diagram(shapes, edges=("f1",)))) == [
        ("no-bpmndi", "task", "Element is missing bpmndi"),
        ("no-bpmndi", "f2", "Element is missing bpmndi"),
    ]


def test_a_file_without_any_diagram_reports_every_element() -> None:
    assert {element for _, element, _ in found(process(*START_TO_END))} == {
        "start", "f1", "task", "f2", "end"}


def test_overlapping_shapes_are_both_reported() -> None:
    shapes = {**APART, "end": (250, 100, 36, 36)}  # drawn on top of the task

    assert found(process(*START_TO_END, extra=diagram(shapes))) == [
        ("no-overlapping-elements", "task", "Element overlaps with other element"),
        ("no-overlapping-elements", "end", "Element overlaps with other element"),
    ]


def test_a_boundary_event_on_its_host_is_not_an_overlap() -> None:
    boundary = ('    <bpmn:boundaryEvent id="late" name="Late" attachedToRef="task">'
                '<bpmn:timerEventDefinition id="t" /></bpmn:boundaryEvent>\n')
    shapes = {**APART, "late": (232, 140, 36, 36)}

    assert found(process(*START_TO_END, boundary, extra=diagram(shapes))) == []
